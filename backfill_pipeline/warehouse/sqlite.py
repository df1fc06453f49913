"""SQLite connection set-up shared by the warehouse and the rate limiter's file, and the
warehouse's write transaction."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection, Engine

_BUSY_TIMEOUT_MS = 120_000


def configure_connection(dbapi_conn: Any) -> None:
    """Explicit transactions, a long busy timeout, WAL (readers never block the writer).

    Switching to WAL needs a moment with no other connection in a transaction and does not
    wait on the busy handler, so several processes opening a new file at once can see
    "database is locked" there: retry briefly, and skip it once the file is already WAL.
    """
    dbapi_conn.isolation_level = None  # transactions are begun explicitly (BEGIN IMMEDIATE)
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        deadline = time.monotonic() + 30
        while True:
            try:
                if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes. On SQLite it is BEGIN IMMEDIATE, which takes the write lock
    up front and waits for it (busy timeout) instead of failing later with "database is
    locked" when a deferred reader turns writer; elsewhere an ordinary transaction."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
