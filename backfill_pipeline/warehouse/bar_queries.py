"""Reads of `bars` beyond a plain session range (which is `Warehouse.read_bars`): a range
with its lookback, the daily closes before ex-dates, and which markets store a symbol.

Here so the features, corporate-actions and read-API code above the warehouse never name
a table or hold a connection. Series are found by their text keys in `series`, bars by
(series_id, session), the index every bar read uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.timeframes import DAILY
from backfill_pipeline.warehouse.schema import bar_sessions, bars, series
from backfill_pipeline.warehouse.store import Warehouse

LOOKBACK_COLUMNS = ("ts", "session", "open", "high", "low", "close", "volume")


def _lookback_frame(rows: list[sa.Row]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(LOOKBACK_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    for col in LOOKBACK_COLUMNS[2:]:
        frame[col] = frame[col].astype("float64")
    return frame


def _series_id(warehouse: Warehouse, market: str, timeframe: str, symbol: str) -> sa.ScalarSelect[Any]:
    """The series' id as a subquery (Warehouse.series_filter: the one series lookup, registering none)."""
    return warehouse.series_filter(market, timeframe, [symbol]).scalar_subquery()


def _lookback_floor(conn: sa.Connection, sid: sa.ScalarSelect[Any], first: dt.date, lookback: int) -> dt.date | None:
    """The earliest session the `lookback` bars before `first` can come from: walking back
    from `first` through the summary (one row a session, exact: the database keeps it), the
    session where the bars counted reach `lookback`; the oldest stored one if they never do.
    None when nothing is stored before `first`."""
    s = bar_sessions
    rows = conn.execute(sa.select(s.c.session, s.c.bars).where(s.c.series_id == sid, s.c.session < first, s.c.bars > 0)
                        .order_by(s.c.session.desc()).limit(lookback)).all()  # every row holds a bar at least
    counted = 0
    for session, stored in rows:
        counted += stored
        if counted >= lookback:
            return session
    return rows[-1][0] if rows else None


def read_with_lookback(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date, lookback: int
) -> tuple[pd.DataFrame, int]:
    """Bars (LOOKBACK_COLUMNS) of sessions first..last, preceded by up to `lookback` earlier
    bars; and how many earlier bars there were. The earlier bars are read from the sessions
    the summary says hold them, not from the series' whole history before `first`."""
    b = bars
    cols = [b.c[c] for c in LOOKBACK_COLUMNS]
    sid = _series_id(warehouse, market, timeframe, symbol)
    inside = (sa.select(*cols).where(b.c.series_id == sid, b.c.session >= first, b.c.session <= last)
              .order_by(b.c.ts))
    with warehouse.engine.connect() as conn:
        head: list[sa.Row] = []
        floor = _lookback_floor(conn, sid, first, lookback) if lookback > 0 else None
        if floor is not None:
            # by (session, ts), the (series_id, session) index's order (a session's bars follow the
            # earlier sessions' in time): both databases walk back from `first`, not from the newest bar
            before = (sa.select(*cols).where(b.c.series_id == sid, b.c.session >= floor, b.c.session < first)
                      .order_by(b.c.session.desc(), b.c.ts.desc()).limit(lookback))
            head = list(conn.execute(before).all())[::-1]
        body = list(conn.execute(inside).all())
    return _lookback_frame(head + body), len(head)


def daily_closes(warehouse: Warehouse, market: str, symbol: str, first: dt.date, before: dt.date) -> pd.DataFrame:
    """session (datetime64), close: the stored raw 1d closes of sessions first..before (exclusive)."""
    b = bars
    query = sa.select(b.c.session, b.c.close).where(
        b.c.series_id == _series_id(warehouse, market, DAILY.name, symbol), b.c.session >= first, b.c.session < before,
    ).order_by(b.c.session)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    daily = pd.DataFrame(rows, columns=["session", "close"])
    daily["session"] = pd.to_datetime(daily["session"]).astype("datetime64[ns]")
    return daily


def markets_storing(warehouse: Warehouse, symbol: str, timeframe: str) -> list[str]:
    """The markets that store bars of (symbol, timeframe), sorted."""
    stored = sa.select(bar_sessions.c.series_id).where(bar_sessions.c.series_id == series.c.id).exists()
    query = sa.select(series.c.market).where(series.c.symbol == symbol, series.c.timeframe == timeframe, stored)
    with warehouse.engine.connect() as conn:
        return sorted({r[0] for r in conn.execute(query)})


def has_bars(warehouse: Warehouse, market: str, symbol: str, timeframe: str) -> bool:
    """Whether any bar of the series is stored."""
    query = sa.select(bar_sessions.c.series_id).where(
        bar_sessions.c.series_id == _series_id(warehouse, market, timeframe, symbol)).limit(1)
    with warehouse.engine.connect() as conn:
        return conn.execute(query).first() is not None
