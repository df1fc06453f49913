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

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from backfill_pipeline.warehouse import macro_tables, schema_derived  # noqa: F401  (register their tables on metadata)
from backfill_pipeline.warehouse.bulk import bar_rows, insert_rows
from backfill_pipeline.warehouse.schema import bar_sessions, bars, fetch_log, metadata, vendor_requests
from backfill_pipeline.warehouse.sqlite import configure_connection

_IN_CHUNK = 500
_SCHEMA_LOCK = 0x0BA5_5C4E_3A  # arbitrary: the advisory lock serialising schema creation


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
            configure_connection(dbapi_conn)

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def series_lock_key(*parts: str) -> int:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def session_stats(market: str, timeframe: str, symbol: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    epoch = frame["ts"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000
    grouped = epoch.groupby(pd.to_datetime(frame["session"]).to_numpy()).agg(["size", "min", "max"])
    return [
        {"market": market, "timeframe": timeframe, "symbol": symbol, "session": session.date(),
         "bars": int(n), "first_ts": int(lo), "last_ts": int(hi)}
        for session, n, lo, hi in zip(grouped.index, grouped["size"], grouped["min"], grouped["max"], strict=True)
    ]


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.begin() as conn:
            if not self.is_sqlite:
                # Steps on several machines open a new warehouse at once; concurrent CREATE
                # TABLE on PostgreSQL fails (pg_type unique violation), so they take turns.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            had_stats = sa.inspect(conn).has_table(bar_sessions.name)
            metadata.create_all(conn)
        if not had_stats:
            self.rebuild_session_stats()
        self._add_request_error_column()

    def _add_request_error_column(self) -> None:
        """vendor_requests.error arrived after the table; add it to older warehouses (nullable)."""
        names = {c["name"] for c in sa.inspect(self.engine).get_columns(vendor_requests.name)}
        if "error" not in names:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE {vendor_requests.name} ADD COLUMN error TEXT"))

    def rebuild_session_stats(self) -> None:
        """Recompute `bar_sessions` from `bars` (for warehouses written before it existed)."""
        columns = [bars.c.market, bars.c.timeframe, bars.c.symbol, bars.c.session]
        select = sa.select(*columns, sa.func.count(), sa.func.min(bars.c.ts), sa.func.max(bars.c.ts)).group_by(*columns)
        with self.transaction() as conn:
            conn.execute(bar_sessions.delete())
            conn.execute(bar_sessions.insert().from_select(
                ["market", "timeframe", "symbol", "session", "bars", "first_ts", "last_ts"], select))

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
        # rows and per-session stats are built first: the write lock covers only the writes
        rows = bar_rows(market, timeframe, symbol, frame) if len(frame) else []
        stats = session_stats(market, timeframe, symbol, frame) if rows else []
        with self.transaction() as conn:
            self._lock_series(conn, market, timeframe, symbol)
            for table in (bars, bar_sessions):
                for i in range(0, len(sessions), _IN_CHUNK):
                    conn.execute(
                        table.delete().where(
                            table.c.market == market,
                            table.c.timeframe == timeframe,
                            table.c.symbol == symbol,
                            table.c.session.in_(list(sessions[i : i + _IN_CHUNK])),
                        )
                    )
            written = insert_rows(conn, rows) if rows else 0
            if written:
                conn.execute(bar_sessions.insert(), stats)
            if fetch_rows:
                conn.execute(fetch_log.insert(), list(fetch_rows))
            if request_rows:
                conn.execute(vendor_requests.insert(), list(request_rows))
        return written

    def log_fetches(self, fetch_rows: Sequence[dict[str, Any]], request_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Record fetch attempts that wrote nothing (failures), with the requests they made."""
        if fetch_rows or request_rows:
            with self.transaction() as conn:
                if fetch_rows:
                    conn.execute(fetch_log.insert(), list(fetch_rows))
                if request_rows:
                    conn.execute(vendor_requests.insert(), list(request_rows))

    def read_bars(
        self, market: str, timeframe: str, symbol: str, first_session: dt.date, last_session: dt.date
    ) -> pd.DataFrame:
        # the session as ISO text: SQLAlchemy's per-row date objects cost more than the rest
        session_text = sa.cast(bars.c.session, sa.String).label("session")
        query = (
            sa.select(bars.c.ts, session_text, bars.c.open, bars.c.high, bars.c.low, bars.c.close,
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
        # column-wise from the row tuples: DataFrame(rows) infers per cell and costs 5x more
        ts, session, o, h, l, c, v, vwap, trades = (list(col) for col in zip(*rows, strict=False)) if rows else ([],) * 9
        codes, days = pd.factorize(pd.Series(session, dtype="object"))  # few sessions, many bars
        day_index = pd.DatetimeIndex(pd.to_datetime(pd.Series(days, dtype="object"), format="%Y-%m-%d"))
        frame = pd.DataFrame({
            "ts": pd.to_datetime(np.asarray(ts, dtype="int64"), unit="s", utc=True).astype("datetime64[ns, UTC]"),
            "session": day_index.astype("datetime64[ns]")[codes] if len(codes) else pd.DatetimeIndex([], dtype="datetime64[ns]"),
            **{name: np.asarray(col, dtype="float64") for name, col in
               (("open", o), ("high", h), ("low", l), ("close", c), ("volume", v), ("vwap", vwap))},
            "trades": pd.array(trades, dtype="Int64"),
        })
        return frame

    def bar_counts(
        self,
        market: str,
        timeframe: str,
        first_session: dt.date,
        last_session: dt.date,
        symbols: Sequence[str] | None = None,
        recount: bool = False,
    ) -> pd.DataFrame:
        """Stored bars per (symbol, session), never a query per symbol-day.

        From the `bar_sessions` summary kept in step with every write; `recount=True`
        aggregates `bars` itself (GROUP BY), for auditing the summary.
        """
        if recount:
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
            column = bars.c.symbol
        else:
            query = sa.select(bar_sessions.c.symbol, bar_sessions.c.session, bar_sessions.c.bars).where(
                bar_sessions.c.market == market,
                bar_sessions.c.timeframe == timeframe,
                bar_sessions.c.session >= first_session,
                bar_sessions.c.session <= last_session,
            )
            column = bar_sessions.c.symbol
        if symbols is not None:
            query = query.where(column.in_(list(symbols)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "session", "bars"])
        frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
        frame["bars"] = frame["bars"].astype("int64")
        return frame

    def latest_sessions(self, market: str, timeframe: str, symbols: Sequence[str]) -> dict[str, dt.date]:
        """Newest stored session per symbol (symbols with no bars are absent)."""
        query = (
            sa.select(bar_sessions.c.symbol, sa.func.max(bar_sessions.c.session))
            .where(bar_sessions.c.market == market, bar_sessions.c.timeframe == timeframe,
                   bar_sessions.c.symbol.in_(list(symbols)))
            .group_by(bar_sessions.c.symbol)
        )
        with self.engine.connect() as conn:
            return {symbol: pd.Timestamp(day).date() for symbol, day in conn.execute(query).all()}

    def series_bounds(self, market: str, first: dt.date, last: dt.date) -> pd.DataFrame:
        """First and last stored bar (UTC) per (symbol, timeframe) within the sessions."""
        query = (
            sa.select(bar_sessions.c.symbol, bar_sessions.c.timeframe,
                      sa.func.min(bar_sessions.c.first_ts), sa.func.max(bar_sessions.c.last_ts))
            .where(bar_sessions.c.market == market, bar_sessions.c.session >= first, bar_sessions.c.session <= last)
            .group_by(bar_sessions.c.symbol, bar_sessions.c.timeframe)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "timeframe", "first_ts", "last_ts"])
        for col in ("first_ts", "last_ts"):
            frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="s", utc=True)
        return frame
