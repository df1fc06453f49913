"""Bulk insert of bars at the driver's speed: COPY on PostgreSQL, executemany on SQLite.

SQLAlchemy Core executemany with dicts is 3-8x slower than these paths (DESIGN.md), and a
backfill's cost is mostly this write.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from backfill_pipeline.warehouse.schema import BAR_INSERT_COLUMNS, bars


def _nullable(values: list[Any], missing: Any) -> list[Any]:
    return [None if m else v for v, m in zip(values, missing, strict=True)]


def bar_rows(market: str, timeframe: str, symbol: str, frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows in BAR_INSERT_COLUMNS order as plain Python values (None for missing)."""
    n = len(frame)
    ts = frame["ts"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000
    codes, days = pd.factorize(pd.to_datetime(frame["session"]))  # few sessions, many bars
    session = np.asarray([f"{d:%Y-%m-%d}" for d in days], dtype=object)[codes]
    vwap = frame["vwap"].to_numpy(dtype="float64", na_value=float("nan"))
    vwap_missing = pd.isna(vwap)
    vwap_list = _nullable(vwap.tolist(), vwap_missing) if vwap_missing.any() else vwap.tolist()
    trades = frame["trades"].astype("Int64")
    trades_missing = trades.isna().to_numpy()
    trades_list = trades.to_numpy(dtype="int64", na_value=0).tolist()
    if trades_missing.any():
        trades_list = _nullable(trades_list, trades_missing)
    columns: list[Iterable[Any]] = [
        [market] * n,
        [symbol] * n,
        [timeframe] * n,
        ts.tolist(),
        session.tolist(),
        *(frame[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close", "volume")),
        vwap_list,
        trades_list,
    ]
    return list(zip(*columns, strict=True))


def insert_bars(conn: Connection, market: str, timeframe: str, symbol: str, frame: pd.DataFrame) -> int:
    return insert_rows(conn, bar_rows(market, timeframe, symbol, frame))


def insert_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Load rows made by `bar_rows` (made before the transaction, so locks are held only
    for the load itself)."""
    dialect = conn.dialect.name
    driver = conn.dialect.driver
    cols = ", ".join(BAR_INSERT_COLUMNS)
    if dialect == "postgresql" and driver == "psycopg":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {bars.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    elif dialect == "postgresql" and driver == "psycopg2":
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(r"\N" if v is None else str(v) for v in row))
            buf.write("\n")
        buf.seek(0)
        raw2: Any = conn.connection.driver_connection
        with raw2.cursor() as cur:
            cur.copy_expert(f"COPY {bars.name} ({cols}) FROM STDIN", buf)
    elif dialect == "sqlite":
        marks = ", ".join("?" * len(BAR_INSERT_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO {bars.name} ({cols}) VALUES ({marks})", rows)
    else:
        conn.execute(bars.insert(), [dict(zip(BAR_INSERT_COLUMNS, r, strict=False)) for r in rows])
    return len(rows)

