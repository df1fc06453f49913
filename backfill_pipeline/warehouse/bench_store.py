"""Warehouse writes and counts for the benchmarks, through the same bulk path as the assets.

The benchmarks build big warehouses fast (no slice deletes on a fresh warehouse) and measure
the raw write ceiling (the pipeline's rows bulk-loaded into an emptied `bars`); both load
through `bulk.insert_bars`, the pipeline's only bar load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.bulk import insert_bars
from backfill_pipeline.warehouse.schema import bar_sessions, bars, fetch_log, vendor_requests
from backfill_pipeline.warehouse.store import Warehouse, session_stats


def load_fresh(warehouse: Warehouse, market: str, timeframe: str, frames: Mapping[str, pd.DataFrame],
               fetch_rows: Sequence[dict[str, Any]] = ()) -> int:
    """Insert many symbols' bars of one timeframe in one transaction (fresh warehouse only:
    nothing is deleted first), with their session summary and fetch-log rows."""
    written = 0
    with warehouse.transaction() as conn:
        for symbol, frame in frames.items():
            if len(frame):
                written += insert_bars(conn, market, timeframe, symbol, frame)
                conn.execute(bar_sessions.insert(), session_stats(market, timeframe, symbol, frame))
        if fetch_rows:
            conn.execute(fetch_log.insert(), list(fetch_rows))
    return written


def load_series(warehouse: Warehouse, market: str, timeframe: str, symbol: str, frame: pd.DataFrame) -> int:
    """Bulk-load one series' bars in one transaction, nothing else (the raw write ceiling)."""
    with warehouse.transaction() as conn:
        return insert_bars(conn, market, timeframe, symbol, frame)


def stored_series(warehouse: Warehouse) -> list[tuple[str, str, str]]:
    """Every (market, timeframe, symbol) with stored bars."""
    query = sa.select(bars.c.market, bars.c.timeframe, bars.c.symbol).distinct()
    with warehouse.engine.connect() as conn:
        return [(m, tf, s) for m, tf, s in conn.execute(query).all()]


def delete_all_bars(warehouse: Warehouse) -> None:
    """Empty `bars` (and nothing else: the ceiling loads into the same table without the pipeline)."""
    with warehouse.transaction() as conn:
        conn.execute(bars.delete())


def totals(warehouse: Warehouse) -> dict[str, int]:
    """bars, bars_1m, requests (vendor requests logged) and sessions_1m (distinct sessions of 1m bars)."""
    count = sa.select(sa.func.count()).select_from(bars)
    with warehouse.engine.connect() as conn:
        return {
            "bars": conn.execute(count).scalar_one(),
            "bars_1m": conn.execute(count.where(bars.c.timeframe == "1m")).scalar_one(),
            "requests": conn.execute(sa.select(sa.func.count()).select_from(vendor_requests)).scalar_one(),
            "sessions_1m": conn.execute(sa.select(sa.func.count(sa.distinct(bars.c.session)))
                                        .where(bars.c.timeframe == "1m")).scalar_one(),
        }
