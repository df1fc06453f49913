"""A CLI test's state (a Dagster home and a SQLite warehouse in one folder) built once per
module and copied into each test's tmp_path, for state that costs Dagster runs to make.

The layout is conftest.py's: `<root>/dagster_home` (the `dagster_home` fixture) and
`<root>/wh.db` (the `cli_run` fixture's BACKFILL_WAREHOUSE_URL), so a copy into tmp_path is
exactly what those fixtures would have built, with the runs already in it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backfill_pipeline.dagster_private import EVENT_BATCHING_ENV
from backfill_pipeline_tests.instances import shipped_instance_yaml


@contextmanager
def cli_in(root: Path) -> Iterator[Callable[..., Result]]:
    """`backfill-pipeline` in-process on the home and warehouse under `root` (created)."""
    from backfill_pipeline.cli.main import cli

    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(shipped_instance_yaml())
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("BACKFILL_WAREHOUSE_URL", f"sqlite:///{root / 'wh.db'}")
        for name, value in EVENT_BATCHING_ENV.items():
            env.setenv(name, value)
        yield lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def copy_state(template: Path, tmp_path: Path) -> None:
    """The template's home and warehouse into this test's tmp_path (over the fixtures' empty ones)."""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
