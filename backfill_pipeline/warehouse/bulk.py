"""The one bulk-load path: COPY on PostgreSQL (psycopg 3 or psycopg2), executemany on SQLite.

SQLAlchemy Core executemany with dicts is 3-8x slower than these paths (DESIGN.md), and a
backfill's cost is mostly this write. Bars and the derived tables (features, macro) all load
through `copy_rows`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from backfill_pipeline.warehouse.schema import BAR_INSERT_COLUMNS, bars


def _nullable(values: list[Any], missing: Any) -> list[Any]:
    return [None if m else v for v, m in zip(values, missing, strict=True)]


def session_values(sessions: pd.Series, dialect: str) -> list[Any]:
    """Session dates as the bulk path binds them: ISO text for COPY, day numbers on SQLite."""
    days = pd.to_datetime(sessions).to_numpy().astype("datetime64[D]").astype("int64")
    if dialect == "sqlite":
        return days.tolist()
    codes, uniques = pd.factorize(days)  # few sessions, many bars
    text = np.asarray([f"{np.datetime64(int(d), 'D')}" for d in uniques], dtype=object)
    return text[codes].tolist()


def bar_rows(series_id: int, frame: pd.DataFrame, dialect: str) -> list[tuple[Any, ...]]:
    """Rows in BAR_INSERT_COLUMNS order as plain Python values (None for missing)."""
    n = len(frame)
    ts = frame["ts"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000
    vwap = frame["vwap"].to_numpy(dtype="float64", na_value=float("nan"))
    vwap_missing = pd.isna(vwap)
    vwap_list = _nullable(vwap.tolist(), vwap_missing) if vwap_missing.any() else vwap.tolist()
    trades = frame["trades"].astype("Int64")
    trades_missing = trades.isna().to_numpy()
    trades_list = trades.to_numpy(dtype="int64", na_value=0).tolist()
    if trades_missing.any():
        trades_list = _nullable(trades_list, trades_missing)
    columns: list[Sequence[Any]] = [
        ts.tolist(),
        *(frame[c].to_numpy(dtype="float64").tolist() for c in ("open", "high", "low", "close", "volume")),
        vwap_list,
        trades_list,
        [series_id] * n,
        session_values(frame["session"], dialect),
    ]
    return list(zip(*columns, strict=True))


def copy_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Bulk insert tuples of str/int/float/None (dates as 'YYYY-MM-DD' text, or day numbers
    for a SQLite SessionDay column)."""
    if not rows:
        return 0
    cols = ", ".join(columns)
    dialect, driver = conn.dialect.name, conn.dialect.driver
    if dialect == "postgresql" and driver == "psycopg":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
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
            cur.copy_expert(f"COPY {table.name} ({cols}) FROM STDIN", buf)
    elif dialect == "sqlite":
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", list(rows))
    else:
        def typed(name: str, value: Any) -> Any:
            if isinstance(value, str) and isinstance(table.c[name].type, sa.Date):
                return dt.date.fromisoformat(value)
            return value

        conn.execute(table.insert(), [{c: typed(c, v) for c, v in zip(columns, r, strict=True)} for r in rows])
    return len(rows)


def insert_bars(conn: Connection, series_id: int, frame: pd.DataFrame) -> int:
    """Load one series' bars (a frame with a `session` column), nothing deleted first."""
    return copy_rows(conn, bars, BAR_INSERT_COLUMNS, bar_rows(series_id, frame, conn.dialect.name))
