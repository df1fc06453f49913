"""Throwaway PostgreSQL databases for the benchmarks: created, used, dropped.

The one module of the benchmarks that opens its own engines (test_one_door.py allows it):
a throwaway database is created and dropped from the server's admin database, and a
throwaway Dagster instance's run table is read back here. The warehouse inside a
throwaway database is written and counted through warehouse/ like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from backfill_pipeline.warehouse.urls import with_database

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_database(admin_url: str, prefix: str = "bp_bench") -> Iterator[str]:
    """URL of a fresh database on the server of `admin_url`, dropped afterwards (even if in use)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def instance_runs(instance_url: str) -> tuple[float, float, dict[str, int]]:
    """(first run start, last run end, runs per status) of a throwaway PostgreSQL Dagster
    instance, from its `runs` table (timestamps as Dagster stores them: epoch seconds)."""
    instance = sa.create_engine(instance_url)
    try:
        with instance.connect() as conn:
            first, last = conn.execute(sa.text("SELECT min(start_time), max(end_time) FROM runs")).one()
            runs: dict[str, int] = dict(conn.execute(sa.text("SELECT status, count(*) FROM runs GROUP BY status")).all())
    finally:
        instance.dispose()
    return float(first), float(last), runs
