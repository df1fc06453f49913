"""All `features` SQL: replace a symbol's features of some sessions, read them back.

Features are keyed like the bars they were computed from: the series id (`Warehouse.series_id`,
the same `series` row as the bars') and ts. A replace deletes exactly the (series, sessions)
slice and inserts the new rows in one transaction under the series' writer lock, as
`Warehouse.replace_bars` does for bars, so re-runs and overlapping runs never duplicate or
half-write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.bulk import column_rows, prepare, session_days, write
from backfill_pipeline.warehouse.copy_binary import Column
from backfill_pipeline.warehouse.derived_rows import delete_in, lock
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, FEATURE_INSERT_COLUMNS, features
from backfill_pipeline.warehouse.store import Warehouse, raw_session, session_column


def feature_columns(series_id: int, frame: pd.DataFrame, computed: pd.DataFrame) -> list[Column]:
    """FEATURE_INSERT_COLUMNS: the bars' ts, the computed values (non-finite values are NULL),
    the series id and the bars' session."""
    ts = frame["ts"].astype("datetime64[ns, UTC]").astype("int64").to_numpy() // 1_000_000_000
    values = computed.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    finite = np.isfinite(values)
    return [
        Column("int8", ts),
        *(Column("float8", values[:, j], ~finite[:, j]) for j in range(values.shape[1])),
        Column("int4", np.full(len(frame), series_id, dtype=np.int64)),
        Column("date", session_days(frame["session"])),
    ]


def feature_rows(series_id: int, frame: pd.DataFrame, computed: pd.DataFrame, dialect: str) -> list[tuple[Any, ...]]:
    """Rows in FEATURE_INSERT_COLUMNS order as plain Python values (None for NULL)."""
    return column_rows(feature_columns(series_id, frame, computed), dialect)


def replace_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, sessions: list[dt.date],
    frame: pd.DataFrame, computed: pd.DataFrame,
) -> int:
    """Replace the features of `symbol` in `sessions` (idempotent; one transaction)."""
    sid = warehouse.series_id(market, timeframe, symbol)  # registered before the write lock
    load = prepare(warehouse.engine, features, FEATURE_INSERT_COLUMNS, feature_columns(sid, frame, computed))
    with warehouse.transaction() as conn:
        lock(conn, "features", market, timeframe, symbol)
        delete_in(conn, features, (features.c.series_id == sid,), features.c.session, sessions)
        return write(conn, load)


def read_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """ts (UTC), session and FEATURE_COLUMNS of sessions first..last, by ts."""
    f, dialect = features, warehouse.engine.dialect.name
    query = (
        sa.select(f.c.ts, raw_session(f.c.session, dialect), *(f.c[c] for c in FEATURE_COLUMNS))
        .where(f.c.series_id.in_(warehouse.series_filter(market, timeframe, [symbol]).scalar_subquery()),
               f.c.session >= first, f.c.session <= last)
        .order_by(f.c.ts)
    )
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    ts, session, *values = (list(col) for col in zip(*rows, strict=True)) if rows else ([],) * (2 + len(FEATURE_COLUMNS))
    return pd.DataFrame({
        "ts": pd.to_datetime(np.asarray(ts, dtype="int64"), unit="s", utc=True).astype("datetime64[ns, UTC]"),
        "session": session_column(session, dialect),
        # NULL (not defined here) reads as NaN
        **{c: np.asarray(col, dtype="float64")
           for c, col in zip(FEATURE_COLUMNS, values, strict=True)},
    })
