"""Several processes (a backfill's runs started together by the daemon, steps on different
Celery workers) opening one new warehouse at the same instant, SQLite and PostgreSQL: the
first creates the schema at head under the schema lock (advisory lock / BEGIN IMMEDIATE),
the others wait and find it there. Before migrations, concurrent CREATE TABLE raced: a
pg_type unique violation on PostgreSQL, `table bars already exists` on SQLite."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from backfill_pipeline.warehouse.migrate import HEAD, revision
from backfill_pipeline.warehouse.store import Warehouse

PROCESSES = 4
pytestmark = pytest.mark.slow


def _open(url: str, barrier: object, out: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        Warehouse(url).dispose()
        out.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001  reported to the test, which names it
        out.put(f"{type(exc).__name__}: {str(exc)[:200]}")  # type: ignore[attr-defined]


def _empty(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(sa.engine.make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    from backfill_pipeline_tests.conftest import empty_pg_database

    empty_pg_database(url)


def test_processes_opening_a_new_warehouse_at_once_all_succeed(warehouse_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    for _ in range(3):  # each round starts from an empty database
        _empty(warehouse_url)
        barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(warehouse_url, barrier, out)) for _ in range(PROCESSES)]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(30)
        assert results == ["ok"] * PROCESSES
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        assert revision(conn) == HEAD and sa.inspect(conn).has_table("bars")
    wh.dispose()
