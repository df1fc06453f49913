"""Shared fixtures: warehouses on SQLite and on a real PostgreSQL, a throwaway Dagster home.

PostgreSQL: BACKFILL_TEST_PG_URL names a server database (SQLAlchemy URL); otherwise the
local server (postgresql://postgres@127.0.0.1:5432/postgres) is used. Either way the
session creates its own database and drops it at the end. With BACKFILL_REQUIRE_PG=1 (CI)
an unreachable server fails the run instead of skipping the PostgreSQL cases.

Tests marked `date_sensitive` read "today" (the last closed sessions, `--days N`). They
compute their expectations from the calendar, and with BACKFILL_TEST_TODAY=YYYY-MM-DDTHH:MM
(UTC) they run with the clock moved to that instant (time-machine, ticking from there), so
CI can run them on the day after an early close, in a DST week and on a holiday.
With BACKFILL_TEST_TODAY_ALL=1 as well, every test runs on the moved clock: a test that
fails then but passes on the real clock reads today without the marker.

Timeouts (pytest-timeout): pyproject's default covers the fast tier; tests of the marked
tiers get TIER_TIMEOUTS unless they set their own `@pytest.mark.timeout`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

TEST_TODAY_ENV = "BACKFILL_TEST_TODAY"
TEST_TMPDIR_ENV = "BACKFILL_TEST_TMPDIR"
TEST_TODAY_ALL_ENV = "BACKFILL_TEST_TODAY_ALL"  # =1: move the clock for every test (finds unmarked ones)

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Seconds per test: a daemon tick is 30 s, a deployment starts in ~1 min on this machine.
TIER_TIMEOUTS = {"slow": 600, "bench": 600, "smoke": 900, "browser": 900}


def pytest_configure(config: pytest.Config) -> None:
    """Temporary files (tmp_path, Dagster's test instances, subprocesses' TMPDIR) on a RAM disk
    when there is one: the tests' SQLite warehouses and Dagster homes commit thousands of
    times, and on this machine's disk the fsyncs doubled the wall time of the CLI tests.
    BACKFILL_TEST_TMPDIR names another directory; `BACKFILL_TEST_TMPDIR=system` keeps the default."""
    chosen = os.environ.get(TEST_TMPDIR_ENV) or _ram_disk()
    if not chosen or chosen == "system" or config.option.basetemp:
        return
    Path(chosen).mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = chosen
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def _ram_disk(path: str = "/dev/shm", min_free: int = 4 << 30) -> str | None:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return os.path.join(path, "backfill_pipeline_tests") if usage.free >= min_free and os.access(path, os.W_OK) else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            budgets = [seconds for tier, seconds in TIER_TIMEOUTS.items() if item.get_closest_marker(tier)]
            if budgets:
                item.add_marker(pytest.mark.timeout(max(budgets)))


@contextmanager
def _fresh_pg_database() -> Iterator[str]:
    """URL of a new database on the PostgreSQL server, dropped afterwards."""
    admin_url = os.environ.get("BACKFILL_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
    name = f"bp_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        if os.environ.get("BACKFILL_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable at {sa.engine.make_url(admin_url).render_as_string()}: {exc.orig}")
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a fresh database on the PostgreSQL server, dropped after the session."""
    with _fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests on SQLite and PostgreSQL, each starting from an empty warehouse."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    url = request.getfixturevalue("pg_server_url")
    yield url
    empty_pg_database(url)


def empty_pg_database(url: str) -> None:
    """Drop everything a warehouse made (tables, the view, trigger functions, alembic_version)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_warehouse_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty warehouse on SQLite and on PostgreSQL (its own database) shared by a module's
    tests: for data that is expensive to build and that the tests only read (or restore)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module_warehouse') / 'warehouse.db'}"
        return
    with _fresh_pg_database() as url:
        yield url


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway DAGSTER_HOME on the shipped event log storage (instances.py)."""
    from backfill_pipeline.dagster_private import EVENT_BATCHING_ENV
    from backfill_pipeline_tests.instances import shipped_instance_yaml

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(shipped_instance_yaml())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in EVENT_BATCHING_ENV.items():  # what the storage sets, undone after the test
        monkeypatch.setenv(name, value)
    return home


@pytest.fixture
def cli_run(dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke `backfill-pipeline` in-process against a throwaway home and SQLite warehouse."""
    from click.testing import CliRunner

    from backfill_pipeline.cli.main import cli

    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'wh.db'}")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(autouse=True)
def _moved_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Move the clock to BACKFILL_TEST_TODAY for date_sensitive tests (see the module docstring)."""
    when = os.environ.get(TEST_TODAY_ENV)
    marked = request.node.get_closest_marker("date_sensitive") is not None
    if not when or not (marked or os.environ.get(TEST_TODAY_ALL_ENV) == "1"):
        yield
        return
    import datetime as dt

    import time_machine

    try:
        instant = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    except ValueError:
        raise pytest.UsageError(f"{TEST_TODAY_ENV}={when!r} is not an ISO date or date-time (UTC)") from None
    with time_machine.travel(instant, tick=True):
        yield
