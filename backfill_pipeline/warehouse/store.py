"""Warehouse access: idempotent per-slice writes, reads and set-based counts.

A write replaces exactly the (market, timeframe, symbol, sessions) slice it covers, in one
transaction together with its fetch-log rows, so re-runs, overlapping runs and crashes
never duplicate or half-write. Writers of the same slice are serialised: SQLite by
BEGIN IMMEDIATE, PostgreSQL by a transaction-scoped advisory lock per series.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from backfill_pipeline.warehouse.bulk import insert_bars
from backfill_pipeline.warehouse.schema import bars, fetch_log, metadata, vendor_requests

_IN_CHUNK = 500


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            import pathlib

            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 120})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Transactions are begun explicitly (BEGIN IMMEDIATE for writes), so readers
            # never hold the write lock and writers never deadlock on lock upgrades.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=120000")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def series_lock_key(*parts: str) -> int:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _lock_series(self, conn: Connection, market: str, timeframe: str, symbol: str) -> None:
        if not self.is_sqlite:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": series_lock_key(market, timeframe, symbol)})

    def replace_bars(
        self,
        market: str,
        timeframe: str,
        symbol: str,
        sessions: Sequence[dt.date],
        frame: pd.DataFrame,
        fetch_rows: Sequence[dict[str, Any]] = (),
        request_rows: Sequence[dict[str, Any]] = (),
    ) -> int:
        """Replace the bars of `symbol` in `sessions` by `frame` (which has a `session` column)."""
        with self.transaction() as conn:
            self._lock_series(conn, market, timeframe, symbol)
            for i in range(0, len(sessions), _IN_CHUNK):
                conn.execute(
                    bars.delete().where(
                        bars.c.market == market,
                        bars.c.timeframe == timeframe,
                        bars.c.symbol == symbol,
                        bars.c.session.in_(list(sessions[i : i + _IN_CHUNK])),
                    )
                )
            written = insert_bars(conn, market, timeframe, symbol, frame) if len(frame) else 0
            if fetch_rows:
                conn.execute(fetch_log.insert(), list(fetch_rows))
            if request_rows:
                conn.execute(vendor_requests.insert(), list(request_rows))
        return written

    def log_fetches(self, fetch_rows: Sequence[dict[str, Any]]) -> None:
        """Record fetch attempts that wrote nothing (failures)."""
        if fetch_rows:
            with self.transaction() as conn:
                conn.execute(fetch_log.insert(), list(fetch_rows))

    def read_bars(
        self, market: str, timeframe: str, symbol: str, first_session: dt.date, last_session: dt.date
    ) -> pd.DataFrame:
        query = (
            sa.select(bars.c.ts, bars.c.session, bars.c.open, bars.c.high, bars.c.low, bars.c.close,
                      bars.c.volume, bars.c.vwap, bars.c.trades)
            .where(
                bars.c.market == market,
                bars.c.timeframe == timeframe,
                bars.c.symbol == symbol,
                bars.c.session >= first_session,
                bars.c.session <= last_session,
            )
            .order_by(bars.c.ts)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["ts", "session", "open", "high", "low", "close", "volume", "vwap", "trades"])
        frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
        frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
        for col in ("open", "high", "low", "close", "volume", "vwap"):
            frame[col] = frame[col].astype("float64")
        frame["trades"] = pd.array(frame["trades"], dtype="Int64")
        return frame

    def bar_counts(
        self,
        market: str,
        timeframe: str,
        first_session: dt.date,
        last_session: dt.date,
        symbols: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Stored bars per (symbol, session): one GROUP BY, never a query per symbol-day."""
        query = (
            sa.select(bars.c.symbol, bars.c.session, sa.func.count().label("bars"))
            .where(
                bars.c.market == market,
                bars.c.timeframe == timeframe,
                bars.c.session >= first_session,
                bars.c.session <= last_session,
            )
            .group_by(bars.c.symbol, bars.c.session)
        )
        if symbols is not None:
            query = query.where(bars.c.symbol.in_(list(symbols)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "session", "bars"])
        frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
        frame["bars"] = frame["bars"].astype("int64")
        return frame
