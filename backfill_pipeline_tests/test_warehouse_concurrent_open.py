"""Several processes (steps on different Celery workers) opening a new PostgreSQL warehouse at
the same instant: concurrent CREATE TABLE raced there (a pg_type unique violation in the
`bench workers` run with 3 workers); schema creation now takes an advisory lock."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa

from backfill_pipeline.warehouse.store import Warehouse

PROCESSES = 6
pytestmark = pytest.mark.slow


def _open(url: str, barrier: object, out: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        Warehouse(url).dispose()
        out.put("ok")  # type: ignore[attr-defined]
    except sa.exc.SQLAlchemyError as exc:  # reported to the test, which names it
        out.put(f"{type(exc).__name__}: {str(exc)[:200]}")  # type: ignore[attr-defined]


def _empty(url: str) -> None:
    engine = sa.create_engine(url)
    reflected = sa.MetaData()
    reflected.reflect(engine)
    reflected.drop_all(engine)
    engine.dispose()


def test_processes_opening_a_new_warehouse_at_once_all_succeed(pg_server_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    # Without the lock, 2 of 3 such rounds failed here; each round starts from an empty database.
    for _ in range(3):
        _empty(pg_server_url)
        barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(pg_server_url, barrier, out)) for _ in range(PROCESSES)]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(30)
        assert results == ["ok"] * PROCESSES
    wh = Warehouse(pg_server_url)
    with wh.engine.connect() as conn:
        assert sa.inspect(conn).has_table("bars")
    wh.dispose()
    _empty(pg_server_url)
