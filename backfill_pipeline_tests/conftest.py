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
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

TEST_TODAY_ENV = "BACKFILL_TEST_TODAY"
TEST_TODAY_ALL_ENV = "BACKFILL_TEST_TODAY_ALL"  # =1: move the clock for every test (finds unmarked ones)

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Seconds per test: a daemon tick is 30 s, a deployment starts in ~1 min on this machine.
TIER_TIMEOUTS = {"slow": 600, "bench": 600, "smoke": 900, "browser": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            budgets = [seconds for tier, seconds in TIER_TIMEOUTS.items() if item.get_closest_marker(tier)]
            if budgets:
                item.add_marker(pytest.mark.timeout(max(budgets)))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a fresh database on the PostgreSQL server, dropped after the session."""
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
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests on SQLite and PostgreSQL, each starting from an empty warehouse."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    url = request.getfixturevalue("pg_server_url")
    yield url
    engine = sa.create_engine(url)
    reflected = sa.MetaData()
    reflected.reflect(engine)
    reflected.drop_all(engine)
    engine.dispose()


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
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
