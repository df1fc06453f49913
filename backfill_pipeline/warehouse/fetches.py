"""Fetch-log reads for the gap classes and the gap sensor (the writes go with the bars, store.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import fetch_log
from backfill_pipeline.warehouse.store import Warehouse


def latest_fetches(
    warehouse: Warehouse, market: str, timeframe: str, first: dt.date, last: dt.date,
    symbols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The last fetch-log row of each (symbol, session): status, finalized, bars logged."""
    last_ids = (
        sa.select(sa.func.max(fetch_log.c.id).label("id"))
        .where(fetch_log.c.market == market, fetch_log.c.timeframe == timeframe,
               fetch_log.c.session >= first, fetch_log.c.session <= last)
        .group_by(fetch_log.c.symbol, fetch_log.c.session)
    )
    if symbols is not None:
        last_ids = last_ids.where(fetch_log.c.symbol.in_(list(symbols)))
    sub = last_ids.subquery()
    query = sa.select(fetch_log.c.symbol, fetch_log.c.session, fetch_log.c.status, fetch_log.c.finalized,
                      fetch_log.c.bars.label("logged")).join(sub, fetch_log.c.id == sub.c.id)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["symbol", "session", "status", "finalized", "logged"])
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    frame["finalized"] = frame["finalized"].astype(bool)
    return frame


def window_fetches(warehouse: Warehouse, market: str, timeframes: list[str], first: dt.date, last: dt.date) -> pd.DataFrame:
    """Status and time of the newest fetch per (symbol, timeframe, session) of sessions first..last,
    indexed by (symbol, timeframe, session)."""
    query = sa.select(fetch_log.c.id, fetch_log.c.symbol, fetch_log.c.timeframe, fetch_log.c.session,
                      fetch_log.c.status, fetch_log.c.fetched_at).where(
        fetch_log.c.market == market, fetch_log.c.timeframe.in_(timeframes),
        fetch_log.c.session >= first, fetch_log.c.session <= last)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["id", "symbol", "timeframe", "session", "status", "fetched_at"])
    frame = frame.sort_values("id").drop_duplicates(["symbol", "timeframe", "session"], keep="last")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    return frame.set_index(["symbol", "timeframe", "session"])
