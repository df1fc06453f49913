"""The one bulk-load path: binary COPY on PostgreSQL with psycopg 3 (copy_binary.py), text
COPY with psycopg2, executemany on SQLite.

SQLAlchemy Core executemany with dicts is 3-8x slower than these paths (DESIGN.md), and a
backfill's cost is mostly this write. Bars and features are columns (`Column`), encoded for
the driver by `prepare` before the writer's lock and written by `write`; row tuples (macro,
corporate actions, the v1 layout of the benchmarks) load through `copy_rows`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from backfill_pipeline.warehouse.copy_binary import Column, encode
from backfill_pipeline.warehouse.schema import BAR_INSERT_COLUMNS, bars


def bar_columns(series_id: int, frame: pd.DataFrame) -> list[Column]:
    """A frame of bars (with a `session` column) as BAR_INSERT_COLUMNS: ts in epoch seconds,
    NaN vwap and NA trades as NULL, the series id and the session's day number."""
    n = len(frame)
    ts = frame["ts"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy() // 1_000_000_000
    vwap = frame["vwap"].to_numpy(dtype="float64", na_value=np.nan)
    trades = frame["trades"].astype("Int64")
    return [
        Column("int8", ts),
        *(Column("float8", frame[c].to_numpy(dtype="float64")) for c in ("open", "high", "low", "close", "volume")),
        Column("float8", vwap, np.isnan(vwap)),
        Column("int8", trades.to_numpy(dtype="int64", na_value=0), trades.isna().to_numpy()),
        Column("int4", np.full(n, series_id, dtype=np.int64)),
        Column("date", session_days(frame["session"])),
    ]


def session_days(sessions: pd.Series) -> np.ndarray:
    """Session dates as day numbers since 1970-01-01."""
    return pd.to_datetime(sessions).to_numpy().astype("datetime64[D]").astype("int64")


def column_rows(columns: Sequence[Column], dialect: str) -> list[tuple[Any, ...]]:
    """Rows as plain Python values (None for NULL; dates as ISO text, or day numbers for a
    SQLite SessionDay column), for the drivers without binary COPY."""
    lists: list[list[Any]] = []
    for column in columns:
        if column.kind == "date":
            values = _date_values(column.values, dialect)
        else:
            values = column.values.tolist()
        if column.missing is not None and column.missing.any():
            values = [None if m else v for v, m in zip(values, column.missing.tolist(), strict=True)]
        lists.append(values)
    return list(zip(*lists, strict=True))


def _date_values(days: np.ndarray, dialect: str) -> list[Any]:
    if dialect == "sqlite":
        return days.tolist()
    codes, uniques = pd.factorize(days)  # few sessions, many rows
    text = np.asarray([f"{np.datetime64(int(d), 'D')}" for d in uniques], dtype=object)
    return text[codes].tolist()


def bar_rows(series_id: int, frame: pd.DataFrame, dialect: str) -> list[tuple[Any, ...]]:
    """Rows in BAR_INSERT_COLUMNS order as plain Python values (None for missing)."""
    return column_rows(bar_columns(series_id, frame), dialect)


@dataclass(frozen=True)
class Load:
    """Rows for one table, encoded for the driver that will write them (prepare()), so the
    encoding happens before the writer's lock is taken."""

    table: sa.Table
    columns: tuple[str, ...]
    count: int
    binary: bytes | None = None  # psycopg 3: the COPY ... (FORMAT BINARY) stream
    rows: list[tuple[Any, ...]] | None = None  # any other driver: tuples for copy_rows


def binary_copy(dialect: str, driver: str) -> bool:
    return dialect == "postgresql" and driver == "psycopg"


def prepare(engine: sa.Engine | Connection, table: sa.Table, names: Sequence[str], columns: Sequence[Column]) -> Load:
    """Encode columnar rows for `engine`'s driver: binary COPY on psycopg 3, tuples otherwise."""
    dialect, driver = engine.dialect.name, engine.dialect.driver
    count = len(columns[0].values) if columns else 0
    if binary_copy(dialect, driver):
        return Load(table, tuple(names), count, binary=encode(columns) if count else None)
    return Load(table, tuple(names), count, rows=column_rows(columns, dialect) if count else [])


def write(conn: Connection, load: Load) -> int:
    """Write a prepared load (nothing is deleted first)."""
    if not load.count:
        return 0
    if load.binary is not None:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
            f"COPY {load.table.name} ({', '.join(load.columns)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(load.binary)
        return load.count
    return copy_rows(conn, load.table, load.columns, load.rows or [])


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


def prepare_bars(engine: sa.Engine | Connection, series_id: int, frame: pd.DataFrame) -> Load:
    """One series' bars (a frame with a `session` column), encoded for `engine`'s driver."""
    if not len(frame):  # nothing to encode (a replace that only deletes)
        return Load(bars, BAR_INSERT_COLUMNS, 0)
    return prepare(engine, bars, BAR_INSERT_COLUMNS, bar_columns(series_id, frame))


def insert_bars(conn: Connection, series_id: int, frame: pd.DataFrame) -> int:
    """Load one series' bars (a frame with a `session` column), nothing deleted first."""
    return write(conn, prepare_bars(conn, series_id, frame))
