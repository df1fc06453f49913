"""Reads of `bars` beyond a plain session range (which is `Warehouse.read_bars`): a range
with its lookback, the daily closes before ex-dates, and which markets store a symbol.

Here so the features, corporate-actions and read-API code above the warehouse never name
a table or hold a connection.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import bars
from backfill_pipeline.warehouse.store import Warehouse

LOOKBACK_COLUMNS = ("ts", "session", "open", "high", "low", "close", "volume")


def _lookback_frame(rows: list[sa.Row]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(LOOKBACK_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    for col in LOOKBACK_COLUMNS[2:]:
        frame[col] = frame[col].astype("float64")
    return frame


def read_with_lookback(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date, lookback: int
) -> tuple[pd.DataFrame, int]:
    """Bars (LOOKBACK_COLUMNS) of sessions first..last, preceded by up to `lookback` earlier
    bars; and how many earlier bars there were."""
    cols = [bars.c[c] for c in LOOKBACK_COLUMNS]
    series = (bars.c.market == market, bars.c.timeframe == timeframe, bars.c.symbol == symbol)
    before = sa.select(*cols).where(*series, bars.c.session < first).order_by(bars.c.ts.desc()).limit(lookback)
    inside = sa.select(*cols).where(*series, bars.c.session >= first, bars.c.session <= last).order_by(bars.c.ts)
    with warehouse.engine.connect() as conn:
        head = list(conn.execute(before).all())[::-1]
        body = list(conn.execute(inside).all())
    return _lookback_frame(head + body), len(head)


def daily_closes(warehouse: Warehouse, market: str, symbol: str, first: dt.date, before: dt.date) -> pd.DataFrame:
    """session (datetime64), close: the stored raw 1d closes of sessions first..before (exclusive)."""
    query = sa.select(bars.c.session, bars.c.close).where(
        bars.c.market == market, bars.c.symbol == symbol, bars.c.timeframe == "1d",
        bars.c.session >= first, bars.c.session < before,
    ).order_by(bars.c.session)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    daily = pd.DataFrame(rows, columns=["session", "close"])
    daily["session"] = pd.to_datetime(daily["session"]).astype("datetime64[ns]")
    return daily


def markets_storing(warehouse: Warehouse, symbol: str, timeframe: str) -> list[str]:
    """The markets that store bars of (symbol, timeframe), sorted."""
    query = sa.select(bars.c.market).where(bars.c.symbol == symbol, bars.c.timeframe == timeframe).distinct()
    with warehouse.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(query))


def has_bars(warehouse: Warehouse, market: str, symbol: str, timeframe: str) -> bool:
    """Whether any bar of the series is stored."""
    query = sa.select(bars.c.ts).where(bars.c.market == market, bars.c.symbol == symbol,
                                       bars.c.timeframe == timeframe).limit(1)
    with warehouse.engine.connect() as conn:
        return conn.execute(query).first() is not None
