"""Warehouse access: idempotent per-slice writes, reads and set-based counts.

A write replaces exactly the (series, sessions) slice it covers, in one transaction
together with its fetch-log rows, so re-runs, overlapping runs and crashes never duplicate
or half-write. Writers of the same series are serialised: SQLite by BEGIN IMMEDIATE,
PostgreSQL by a transaction-scoped advisory lock per series (derived_rows.lock). Counts per
(series, session) come from `bar_sessions`, which the database keeps equal to `bars`
(summary_sql.py); `recount=True` aggregates `bars` itself, as an audit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from backfill_pipeline.warehouse import macro_tables, schema_derived  # noqa: F401  (register their tables on metadata)
from backfill_pipeline.warehouse.bulk import prepare_bars, write
from backfill_pipeline.warehouse.derived_rows import delete_in, lock
from backfill_pipeline.warehouse.migrate import ensure_schema
from backfill_pipeline.warehouse.schema import (
    bar_sessions,
    bars,
    derived_sources,
    fetch_log,
    series,
    vendor_requests,
)
from backfill_pipeline.warehouse.sqlite import configure_connection, write_transaction


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


class Warehouse:
    def __init__(self, url: str, *, check_schema: bool = True):
        """Open the warehouse; an empty one is created at the current schema revision, an
        older one raises migrate.WarehouseOutdated (`check_schema=False`: for the upgrade)."""
        self.url = url
        self.engine = _engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._series: dict[tuple[str, str, str], int] = {}
        if check_schema:
            ensure_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    # -- series ---------------------------------------------------------------------------

    def series_id(self, market: str, timeframe: str, symbol: str) -> int:
        """The id of (market, timeframe, symbol), registered on first use (ids never change)."""
        key = (market, timeframe, symbol)
        if key not in self._series:
            self.register_series(market, [(timeframe, symbol)])
        return self._series[key]

    def register_series(self, market: str, keys: Iterable[tuple[str, str]]) -> None:
        """Register the (timeframe, symbol) series of `market` a step is about to write, in one
        write transaction: registered one by one on first write, each new series waited for
        SQLite's write lock once more (about 0.1 s behind another run's write, 40 times a step)."""
        wanted = {(market, tf, sym) for tf, sym in keys} - set(self._series)
        if not wanted:
            return
        symbols = sorted({sym for _, _, sym in wanted})
        select = sa.select(series.c.id, series.c.timeframe, series.c.symbol).where(
            series.c.market == market, series.c.symbol.in_(symbols))

        def remember(rows: Iterable[Any]) -> None:
            for sid, tf, sym in rows:
                self._series[(market, tf, sym)] = int(sid)

        with self.engine.connect() as conn:  # what exists needs no write lock
            remember(conn.execute(select).all())
        missing = sorted(wanted - set(self._series))
        if missing:
            dialect_insert = sqlite_insert if self.is_sqlite else pg_insert
            with self.transaction() as conn:
                conn.execute(dialect_insert(series).on_conflict_do_nothing(),
                             [{"market": m, "timeframe": tf, "symbol": sym} for m, tf, sym in missing])
                remember(conn.execute(select).all())

    def series_filter(self, market: str, timeframe: str | None = None,
                      symbols: Sequence[str] | None = None) -> sa.Select[Any]:
        """SELECT of the ids of the market's series (of `timeframe`, of `symbols`), registering none."""
        query = sa.select(series.c.id).where(series.c.market == market)
        if timeframe is not None:
            query = query.where(series.c.timeframe == timeframe)
        if symbols is not None:
            query = query.where(series.c.symbol.in_(list(symbols)))
        return query

    # -- writes ---------------------------------------------------------------------------

    def replace_bars(
        self,
        market: str,
        timeframe: str,
        symbol: str,
        sessions: Sequence[dt.date],
        frame: pd.DataFrame,
        fetch_rows: Sequence[dict[str, Any]] = (),
        request_rows: Sequence[dict[str, Any]] = (),
        built_from: Mapping[dt.date, tuple[int, int]] | None = None,
    ) -> int:
        """Replace the bars of `symbol` in `sessions` by `frame` (which has a `session` column).

        `built_from` (derived timeframes): per session, (source bars it was resampled from,
        bars written), recorded in `derived_sources` in the same transaction.
        """
        sid = self.series_id(market, timeframe, symbol)
        # rows are built first: the write lock covers only the writes
        load = prepare_bars(self.engine, sid, frame)
        with self.transaction() as conn:
            lock(conn, market, timeframe, symbol)
            delete_in(conn, bars, (bars.c.series_id == sid,), bars.c.session, list(sessions))
            written = write(conn, load)
            if built_from is not None:
                d = derived_sources
                delete_in(conn, d, (d.c.series_id == sid,), d.c.session, list(sessions))
                if built_from:
                    conn.execute(d.insert(), [{"series_id": sid, "session": day, "source_bars": int(n), "bars": int(m)}
                                              for day, (n, m) in built_from.items()])
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

    # -- reads ----------------------------------------------------------------------------

    def read_bars(
        self, market: str, timeframe: str, symbol: str, first_session: dt.date, last_session: dt.date
    ) -> pd.DataFrame:
        b = bars
        session = raw_session(b.c.session, self.engine.dialect.name)
        query = (
            sa.select(b.c.ts, session, b.c.open, b.c.high, b.c.low, b.c.close, b.c.volume, b.c.vwap, b.c.trades)
            .where(b.c.series_id.in_(self.series_filter(market, timeframe, [symbol]).scalar_subquery()),
                   b.c.session >= first_session, b.c.session <= last_session)
            .order_by(b.c.ts)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return bar_frame(rows, self.engine.dialect.name)

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

        From `bar_sessions` (kept equal to `bars` by the database); `recount=True`
        aggregates `bars` itself (GROUP BY), as an audit of the summary.
        """
        ids = self.series_filter(market, timeframe, symbols).subquery()
        if recount:
            b = bars
            inner = (sa.select(b.c.series_id, b.c.session, sa.func.count().label("bars"))
                     .where(b.c.series_id.in_(sa.select(ids.c.id)), b.c.session >= first_session,
                            b.c.session <= last_session)
                     .group_by(b.c.series_id, b.c.session)).subquery()
        else:
            s = bar_sessions
            inner = (sa.select(s.c.series_id, s.c.session, s.c.bars)
                     .where(s.c.series_id.in_(sa.select(ids.c.id)), s.c.session >= first_session,
                            s.c.session <= last_session)).subquery()
        query = sa.select(series.c.symbol, inner.c.session, inner.c.bars).join(inner, inner.c.series_id == series.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "session", "bars"])
        frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
        frame["bars"] = frame["bars"].astype("int64")
        return frame

    def built_from(self, market: str, timeframe: str, first_session: dt.date, last_session: dt.date,
                   symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """symbol, session, built_from, built_bars: the source bars each derived partition was
        resampled from, and the bars it wrote."""
        d = derived_sources
        query = (sa.select(series.c.symbol, d.c.session, d.c.source_bars, d.c.bars).join(series, series.c.id == d.c.series_id)
                 .where(d.c.series_id.in_(self.series_filter(market, timeframe, symbols)),
                        d.c.session >= first_session, d.c.session <= last_session))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "session", "built_from", "built_bars"])
        frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
        for col in ("built_from", "built_bars"):
            frame[col] = frame[col].astype("int64")
        return frame

    def latest_sessions(self, market: str, timeframe: str, symbols: Sequence[str]) -> dict[str, dt.date]:
        """Newest stored session per symbol (symbols with no bars are absent)."""
        s = bar_sessions
        query = (
            sa.select(series.c.symbol, sa.func.max(s.c.session))
            .join(series, series.c.id == s.c.series_id)
            .where(series.c.market == market, series.c.timeframe == timeframe, series.c.symbol.in_(list(symbols)))
            .group_by(series.c.symbol)
        )
        with self.engine.connect() as conn:
            return {symbol: _as_date(day) for symbol, day in conn.execute(query).all()}

    def series_bounds(self, market: str, first: dt.date, last: dt.date) -> pd.DataFrame:
        """First and last stored bar (UTC) per (symbol, timeframe) within the sessions: the
        summary finds each series' first and last session, the index their first/last bar."""
        s, b = bar_sessions, bars
        spans = (sa.select(s.c.series_id, sa.func.min(s.c.session).label("lo"), sa.func.max(s.c.session).label("hi"))
                 .where(s.c.series_id.in_(self.series_filter(market)), s.c.session >= first, s.c.session <= last)
                 .group_by(s.c.series_id)).subquery()
        first_ts = (sa.select(sa.func.min(b.c.ts)).where(b.c.series_id == spans.c.series_id, b.c.session == spans.c.lo)
                    .scalar_subquery())
        last_ts = (sa.select(sa.func.max(b.c.ts)).where(b.c.series_id == spans.c.series_id, b.c.session == spans.c.hi)
                   .scalar_subquery())
        query = sa.select(series.c.symbol, series.c.timeframe, first_ts, last_ts).join(
            spans, spans.c.series_id == series.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=["symbol", "timeframe", "first_ts", "last_ts"])
        for col in ("first_ts", "last_ts"):
            frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="s", utc=True)
        return frame


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else pd.Timestamp(value).date()


def session_column(values: Sequence[Any], dialect: str) -> pd.DatetimeIndex:
    """Sessions (datetime64) from the raw `session` values a query selected: day numbers on
    SQLite, dates or ISO text on PostgreSQL (converted once per distinct session)."""
    codes, days = pd.factorize(pd.Series(values, dtype="object"))  # few sessions, many rows
    if not len(codes):
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    if dialect == "sqlite":
        day_index = pd.DatetimeIndex(pd.to_datetime(np.asarray(days, dtype="int64"), unit="D"))
    else:
        day_index = pd.DatetimeIndex(pd.to_datetime(pd.Series(days, dtype="object")))
    return day_index.astype("datetime64[ns]")[codes]


def raw_session(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """A SessionDay column selected as raw day numbers (SQLite) or ISO text, for session_column:
    per-row date objects cost more than the rest of a read."""
    return sa.type_coerce(column, sa.Integer) if dialect == "sqlite" else sa.cast(column, sa.String)


def bar_frame(rows: Sequence[Any], dialect: str) -> pd.DataFrame:
    """Bars from (ts, session, open, high, low, close, volume, vwap, trades) row tuples."""
    # column-wise from the row tuples: DataFrame(rows) infers per cell and costs 5x more
    ts, session, o, h, l, c, v, vwap, trades = (list(col) for col in zip(*rows, strict=False)) if rows else ([],) * 9
    return pd.DataFrame({
        "ts": pd.to_datetime(np.asarray(ts, dtype="int64"), unit="s", utc=True).astype("datetime64[ns, UTC]"),
        "session": session_column(session, dialect),
        **{name: np.asarray(col, dtype="float64") for name, col in
           (("open", o), ("high", h), ("low", l), ("close", c), ("volume", v), ("vwap", vwap))},
        "trades": pd.array(trades, dtype="Int64"),
    })
