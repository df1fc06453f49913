"""Row plumbing shared by every writer: the writer lock, chunked slice deletes, bulk inserts.

The same pattern everywhere (`Warehouse.replace_bars` included): inside one transaction,
lock the series, delete the slice being replaced, insert the new rows through bulk.py.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from backfill_pipeline.warehouse.bulk import copy_rows

IN_CHUNK = 500


def lock_key(*parts: str) -> int:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock(conn: Connection, *parts: str) -> None:
    """The one writer lock: serialise writers of one slice on PostgreSQL (a transaction-scoped
    advisory lock); SQLite already holds BEGIN IMMEDIATE, the database's write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})


def delete_in(conn: Connection, table: sa.Table, where: Sequence[Any], column: sa.Column, values: Sequence[Any]) -> None:
    """The one chunked delete: rows matching `where` whose `column` is in `values`."""
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
    return copy_rows(conn, table, columns, rows)
