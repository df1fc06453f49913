"""All `features` SQL: replace a symbol's features of some sessions, read them back.

A replace deletes exactly the (market, timeframe, symbol, sessions) slice and inserts the
new rows in one transaction under the series' writer lock, as `Warehouse.replace_bars`
does for bars, so re-runs and overlapping runs never duplicate or half-write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.derived_rows import delete_in, insert_rows, lock
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, FEATURE_INSERT_COLUMNS, features
from backfill_pipeline.warehouse.store import Warehouse


def feature_rows(
    market: str, timeframe: str, symbol: str, frame: pd.DataFrame, computed: pd.DataFrame
) -> list[tuple[Any, ...]]:
    """Rows in FEATURE_INSERT_COLUMNS order: the bars' ts and session, the computed values
    (non-finite values become NULL)."""
    n = len(frame)
    ts = (frame["ts"].astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000).tolist()
    session = frame["session"].dt.strftime("%Y-%m-%d").tolist()
    values = computed.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    values = np.where(np.isfinite(values), values, np.nan).astype(object)
    values[pd.isna(values)] = None
    columns = [[market] * n, [symbol] * n, [timeframe] * n, ts, session, *values.T.tolist()]
    return list(zip(*columns, strict=True))


def replace_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, sessions: list[dt.date],
    frame: pd.DataFrame, computed: pd.DataFrame,
) -> int:
    """Replace the features of `symbol` in `sessions` (idempotent; one transaction)."""
    rows = feature_rows(market, timeframe, symbol, frame, computed)
    with warehouse.transaction() as conn:
        lock(conn, "features", market, timeframe, symbol)
        where = (features.c.market == market, features.c.timeframe == timeframe, features.c.symbol == symbol)
        delete_in(conn, features, where, features.c.session, sessions)
        return insert_rows(conn, features, FEATURE_INSERT_COLUMNS, rows)


def read_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """ts (UTC), session and FEATURE_COLUMNS of sessions first..last, by ts."""
    query = (
        sa.select(features.c.ts, features.c.session, *(features.c[c] for c in FEATURE_COLUMNS))
        .where(features.c.market == market, features.c.timeframe == timeframe, features.c.symbol == symbol,
               features.c.session >= first, features.c.session <= last)
        .order_by(features.c.ts)
    )
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["ts", "session", *FEATURE_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    for col in FEATURE_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame
