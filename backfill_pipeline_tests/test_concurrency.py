"""Automation and a manual backfill on the same partitions at the same time cannot duplicate or
corrupt rows: two processes (as two Dagster runs are) write overlapping ranges of the same
assets into one warehouse, SQLite and PostgreSQL; the result equals a clean sequential run."""

import datetime as dt
import multiprocessing
import os

import dagster as dg
import pytest
import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import bar_sessions, bars, bars_by_series, fetch_log, vendor_requests
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.instances import shipped_instance

SYMBOLS = ["AAPL", "MSFT", "SPY"]
MANUAL = {"start": "2024-03-06|AAPL", "end": "2024-03-12|MSFT"}  # overlaps the schedule's 03-06..03-08 x AAPL..MSFT
MANUAL_TIMEFRAMES = ["1m", "5m", "1h", "1d"]
WEEKLY_TICK = dt.datetime(2024, 3, 9, 2, tzinfo=dt.UTC)  # "0 2 * * 6": Monday..Friday 2024-03-04..08

pytestmark = pytest.mark.slow  # two writer processes, each building the definitions


def _run(kind: str, url: str) -> tuple[str, bool, str]:
    """One writer: the schedule's run request executed as its job, or a manual ranged materialisation."""
    from backfill_pipeline.automation_settings import AutomationConfig
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.settings import Settings
    from backfill_pipeline_tests.helpers import materialize

    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", SYMBOLS)
        if kind == "schedule":
            defs = build_definitions(Settings(automation=AutomationConfig(schedule_cron="0 2 * * 6")))
            schedule = defs.resolve_schedule_def("us_equities_daily_schedule")
            (request,) = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=WEEKLY_TICK))
            job = defs.resolve_job_def(request.job_name)
            span = request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]
            result = job.execute_in_process(instance=instance, tags=request.tags, asset_selection=request.asset_selection,
                                            raise_on_error=False)
            return kind, result.success, "..".join(span)
        result = materialize(instance, url, "us_equities", MANUAL_TIMEFRAMES, **MANUAL)
        return kind, result.success, f"{MANUAL['start']}..{MANUAL['end']}"


def _worker(kind: str, url: str, barrier, results) -> None:
    import backfill_pipeline.definitions  # noqa: F401  (imports and calendars before the barrier)
    from backfill_pipeline.markets import MARKETS, get_calendar

    get_calendar(MARKETS["us_equities"].calendar_name)
    os.environ["BACKFILL_WAREHOUSE_URL"] = url  # the job's WarehouseResource() reads it
    barrier.wait(timeout=120)
    try:
        results.put(_run(kind, url))
    except BaseException as exc:  # noqa: BLE001  reported to the parent, which fails the test with it
        results.put((kind, False, repr(exc)))


def _snapshot(url: str) -> dict[str, list[tuple]]:
    return {"bars": table_rows(url), "bar_sessions": table_rows(url, bar_sessions)}


def _wipe(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in (bars, fetch_log, vendor_requests):  # the database empties bar_sessions itself
            conn.execute(table.delete())
    engine.dispose()


def test_concurrent_schedule_run_and_manual_backfill_leave_the_rows_of_a_clean_run(warehouse_url, monkeypatch):
    Warehouse(warehouse_url).dispose()  # create the schema once, before the writers race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(kind, warehouse_url, barrier, results)) for kind in ("schedule", "manual")]
    for w in workers:
        w.start()
    outcomes = sorted(results.get(timeout=600) for _ in workers)
    for w in workers:
        w.join(60)
    assert outcomes == [("manual", True, "2024-03-06|AAPL..2024-03-12|MSFT"),
                        ("schedule", True, "2024-03-04|AAPL..2024-03-08|SPY")], outcomes
    concurrent = _snapshot(warehouse_url)

    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        view = bars_by_series
        keys = [view.c.market, view.c.symbol, view.c.timeframe, view.c.ts]
        total = conn.execute(sa.select(sa.func.count()).select_from(view)).scalar()
        distinct = conn.execute(sa.select(sa.func.count()).select_from(sa.select(*keys).distinct().subquery())).scalar()
    engine.dispose()
    assert total == distinct > 0  # exactly one row per (market, symbol, timeframe, ts)
    wh = Warehouse(warehouse_url)
    for tf in ("1m", "5m", "1h", "1d"):
        fast = wh.bar_counts("us_equities", tf, dt.date(2024, 3, 4), dt.date(2024, 3, 12))
        slow = wh.bar_counts("us_equities", tf, dt.date(2024, 3, 4), dt.date(2024, 3, 12), recount=True)
        assert fast.sort_values(["symbol", "session"]).to_numpy().tolist() == \
            slow.sort_values(["symbol", "session"]).to_numpy().tolist()  # the summary agrees with the rows
    minutes = wh.bar_counts("us_equities", "1m", dt.date(2024, 3, 4), dt.date(2024, 3, 12))
    wh.dispose()
    # overlap 03-06..08 x AAPL, MSFT written twice; SPY 03-04..08; AAPL/MSFT 03-04..12 (7 sessions)
    assert len(minutes) == 2 * 7 + 5 and set(minutes["bars"]) == {390}

    _wipe(warehouse_url)  # the same writes, one after the other, in this process
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    for kind in ("schedule", "manual"):
        assert _run(kind, warehouse_url)[1]
    assert _snapshot(warehouse_url) == concurrent
