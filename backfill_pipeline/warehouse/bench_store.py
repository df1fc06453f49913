"""Warehouse writes, counts and sizes for the benchmarks, through the same bulk path as the assets.

The benchmarks build big warehouses fast (no slice deletes on a fresh warehouse) and measure
the raw write ceiling (the pipeline's rows bulk-loaded into an emptied `bars`); both load
through `bulk.insert_bars`, the pipeline's only bar load. The database keeps `bar_sessions`
(its triggers) whichever way bars arrive.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.bulk import bar_rows, copy_rows, insert_bars, prepare_bars, write
from backfill_pipeline.warehouse.features import feature_rows
from backfill_pipeline.warehouse.migrations import v1_tables
from backfill_pipeline.warehouse.schema import (
    bar_sessions,
    bars,
    fetch_log,
    series,
    vendor_requests,
)
from backfill_pipeline.warehouse.storage import TableStorage, table_storage, vacuum_analyze
from backfill_pipeline.warehouse.store import Warehouse

V1_BAR_COLUMNS = ("market", "symbol", "timeframe", "ts", "session", "open", "high", "low", "close", "volume", "vwap",
                  "trades")
V1_FEATURE_COLUMNS = ("market", "symbol", "timeframe", "ts", "session", *v1_tables.FEATURE_COLUMNS)


def load_fresh(warehouse: Warehouse, market: str, timeframe: str, frames: Mapping[str, pd.DataFrame],
               fetch_rows: Sequence[dict[str, Any]] = ()) -> int:
    """Insert many symbols' bars of one timeframe in one transaction (fresh warehouse only:
    nothing is deleted first), with their fetch-log rows."""
    ids = {symbol: warehouse.series_id(market, timeframe, symbol) for symbol in frames}  # before the write lock
    written = 0
    with warehouse.transaction() as conn:
        for symbol, frame in frames.items():
            if len(frame):
                written += insert_bars(conn, ids[symbol], frame)
        if fetch_rows:
            conn.execute(fetch_log.insert(), list(fetch_rows))
    return written


def load_series(warehouse: Warehouse, market: str, timeframe: str, symbol: str, frame: pd.DataFrame) -> int:
    """Bulk-load one series' bars in one transaction, nothing else (the raw write ceiling)."""
    series_id = warehouse.series_id(market, timeframe, symbol)
    with warehouse.transaction() as conn:
        return insert_bars(conn, series_id, frame)


def timed_raw_load(warehouse: Warehouse, blocks: Sequence[tuple[str, str, str, pd.DataFrame]]) -> tuple[int, float]:
    """Empty `bars`, then load (market, timeframe, symbol, bars) blocks with rows prebuilt
    (untimed), one transaction per series: the raw write ceiling of the same rows."""
    prebuilt = [prepare_bars(warehouse.engine, warehouse.series_id(m, tf, s), frame) for m, tf, s, frame in blocks]
    delete_all_bars(warehouse)
    vacuum_analyze(warehouse)
    started, rows = time.perf_counter(), 0
    for block in prebuilt:
        with warehouse.transaction() as conn:
            rows += write(conn, block)
    return rows, time.perf_counter() - started


def v1_layout_storage(url: str, blocks: Sequence[tuple[str, str, str, pd.DataFrame]]) -> TableStorage:
    """The same rows in the v1 layout (text keys, 4-column primary key, session index) in the
    empty database at `url`: what they cost before storage v2."""
    engine = sa.create_engine(url)
    v1_tables.metadata.create_all(engine, tables=[v1_tables.bars])
    with engine.begin() as conn:
        for market, timeframe, symbol, frame in blocks:
            rows = bar_rows(0, frame, "postgresql")  # ISO session text, as v1 stored it on both databases
            copy_rows(conn, v1_tables.bars, V1_BAR_COLUMNS,
                      [(market, symbol, timeframe, r[0], r[9], *r[1:8]) for r in rows])
    engine.dispose()
    v1 = Warehouse(url, check_schema=False)
    try:
        return table_storage(v1, vacuum=True)
    finally:
        v1.dispose()


def v1_features_storage(url: str, blocks: Sequence[tuple[str, str, str, pd.DataFrame, pd.DataFrame]]) -> TableStorage:
    """(market, timeframe, symbol, bars, computed features) blocks in the v1 features layout
    (text keys, 4-column primary key, session index) in the database at `url` (which may hold
    v1 bars already): what they cost before revision 0003."""
    engine = sa.create_engine(url)
    v1_tables.metadata.create_all(engine, tables=[v1_tables.features])
    with engine.begin() as conn:
        for market, timeframe, symbol, frame, computed in blocks:
            rows = feature_rows(0, frame, computed, "postgresql")  # ISO session text, as v1 stored it
            copy_rows(conn, v1_tables.features, V1_FEATURE_COLUMNS,
                      [(market, symbol, timeframe, r[0], r[-1], *r[1:-2]) for r in rows])
    engine.dispose()
    v1 = Warehouse(url, check_schema=False)
    try:
        return table_storage(v1, "features", vacuum=True)
    finally:
        v1.dispose()


def stored_series(warehouse: Warehouse) -> list[tuple[str, str, str]]:
    """Every (market, timeframe, symbol) with stored bars."""
    query = sa.select(series.c.market, series.c.timeframe, series.c.symbol).where(
        series.c.id.in_(sa.select(bar_sessions.c.series_id).distinct()))
    with warehouse.engine.connect() as conn:
        return [(m, tf, s) for m, tf, s in conn.execute(query).all()]


def delete_all_bars(warehouse: Warehouse) -> None:
    """Empty `bars` (and nothing else: the ceiling loads into the same table without the
    pipeline; the summary empties with it)."""
    with warehouse.transaction() as conn:
        conn.execute(bars.delete())


def totals(warehouse: Warehouse) -> dict[str, int]:
    """bars, bars_1m and requests (vendor requests logged)."""
    s = bar_sessions
    one_minute = s.c.series_id.in_(sa.select(series.c.id).where(series.c.timeframe == "1m"))
    with warehouse.engine.connect() as conn:
        return {
            "bars": conn.execute(sa.select(sa.func.count()).select_from(bars)).scalar_one(),
            "bars_1m": int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(s.c.bars), 0)).where(one_minute))
                           .scalar_one()),
            "requests": conn.execute(sa.select(sa.func.count()).select_from(vendor_requests)).scalar_one(),
        }
