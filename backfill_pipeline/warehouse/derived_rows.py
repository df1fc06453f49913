"""Row plumbing for the derived tables: writer locks, slice deletes and bulk inserts.

The same pattern as `Warehouse.replace_bars`: inside one transaction, lock the series,
delete the slice being replaced, insert the new rows. Bulk inserts take the driver's fast
path (COPY on psycopg 3, executemany on SQLite), as bulk.py does for bars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from backfill_pipeline.warehouse.store import series_lock_key

IN_CHUNK = 500


def lock(conn: Connection, *parts: str) -> None:
    """Serialise writers of one slice on PostgreSQL (SQLite already holds BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": series_lock_key(*parts)})


def delete_in(conn: Connection, table: sa.Table, where: Sequence[Any], column: sa.Column, values: Sequence[Any]) -> None:
    """DELETE the rows matching `where` whose `column` is in `values` (chunked IN lists)."""
    for i in range(0, len(values), IN_CHUNK):
        conn.execute(table.delete().where(*where, column.in_(list(values[i : i + IN_CHUNK]))))


def plain(value: Any) -> Any:
    """A value the drivers bind natively: NaN/NA -> None, numpy scalars -> Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def insert_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    """Bulk insert tuples of str/int/float/None (dates as 'YYYY-MM-DD' strings)."""
    if not rows:
        return 0
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    elif conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", rows)
    else:
        import datetime as dt

        def typed(name: str, value: Any) -> Any:
            if value is not None and isinstance(table.c[name].type, sa.Date):
                return dt.date.fromisoformat(value)
            return value

        conn.execute(table.insert(), [{c: typed(c, v) for c, v in zip(columns, r, strict=True)} for r in rows])
    return len(rows)
