"""Warehouse tables (SQLAlchemy Core), schema v2; the same tables on SQLite and PostgreSQL.

Alembic owns the DDL (warehouse/migrations/); these objects are what queries are built from.

- `series`: one row per (market, symbol, timeframe); bars refer to it by a 4-byte id, so no
  bar row repeats text keys.
- `bars`: one row per (series_id, ts). `ts` is the bar start in UTC epoch seconds; `session`
  the exchange session the bar belongs to (for 1w bars, the first session of the week), so
  completeness is one GROUP BY. Column order puts the 8-byte columns first (no alignment
  padding on PostgreSQL); see docs/storage.md for the measured layout choices.
- `bar_sessions`: bars per (series, session), kept by the database's own triggers on `bars`
  (warehouse/summary_sql.py), so it equals the stored bars whatever wrote or deleted them.
  On SQLite it also has the guard's marks `adding_ts` / `removing_ts` (NULL between two
  writes; only the triggers use them, so they are not columns of the Table below).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

EPOCH_DAY = dt.date(1970, 1, 1)


class SessionDay(sa.types.TypeDecorator[dt.date]):
    """A session date: `date` on PostgreSQL (4 bytes), days since 1970-01-01 on SQLite (an
    integer record field of 2-3 bytes instead of 10 bytes of ISO text, in the row and its index)."""

    impl = sa.Date
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        return dialect.type_descriptor(sa.Integer() if dialect.name == "sqlite" else sa.Date())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return (value - EPOCH_DAY).days

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, int):
            return EPOCH_DAY + dt.timedelta(days=value)
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        return value


series = sa.Table(
    "series",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("market", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.UniqueConstraint("market", "timeframe", "symbol", name="uq_series_key"),
)

bars = sa.Table(
    "bars",
    metadata,
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("open", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("close", sa.Float, nullable=False),
    sa.Column("volume", sa.Float, nullable=False),
    sa.Column("vwap", sa.Float),
    sa.Column("trades", sa.BigInteger),
    sa.Column("series_id", sa.Integer, nullable=False),
    sa.Column("session", SessionDay, nullable=False),
)
BAR_INSERT_COLUMNS: tuple[str, ...] = (
    "ts", "open", "high", "low", "close", "volume", "vwap", "trades", "series_id", "session",
)

bar_sessions = sa.Table(
    "bar_sessions",
    metadata,
    sa.Column("series_id", sa.Integer, primary_key=True),
    sa.Column("session", SessionDay, primary_key=True),
    sa.Column("bars", sa.Integer, nullable=False),
)

# What each derived partition was built from: per derived (series, session label; for 1w the
# week's first session), the source bars it was resampled from and the bars it wrote. A derived partition whose
# source count in `bar_sessions` differs now is `stale` (gaps.py).
derived_sources = sa.Table(
    "derived_sources",
    metadata,
    sa.Column("series_id", sa.Integer, primary_key=True),
    sa.Column("session", SessionDay, primary_key=True),
    sa.Column("source_bars", sa.Integer, nullable=False),
    sa.Column("bars", sa.Integer, nullable=False),  # derived bars written: fewer stored now = lost
)

# Bars with their series' text keys, for readers that think in (market, symbol, timeframe):
# the SQL view `bars_by_series` (a join, not a table: never written).
def series_view(name: str, *values: sa.Column[Any]) -> sa.Table:
    """A `<table>_by_series` view as a readable Table: the series' text keys, ts, session,
    the table's `values`, series_id (on its own MetaData: the views are never created from it)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("market", sa.String(32)),
        sa.Column("symbol", sa.String(32)),
        sa.Column("timeframe", sa.String(8)),
        sa.Column("ts", sa.BigInteger),
        sa.Column("session", SessionDay),
        *values,
        sa.Column("series_id", sa.Integer),
    )


bars_by_series = series_view(
    "bars_by_series",
    *(sa.Column(name, sa.Float) for name in ("open", "high", "low", "close", "volume", "vwap")),
    sa.Column("trades", sa.BigInteger),
)

# One row per fetched partition slice (symbol x timeframe x session) per attempt.
fetch_log = sa.Table(
    "fetch_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fetch_id", sa.String(36), nullable=False, index=True),
    sa.Column("market", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("session", sa.Date, nullable=False),
    sa.Column("vendor", sa.String(16), nullable=False),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("window_end", sa.BigInteger, nullable=False),
    sa.Column("bars", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # ok | error | rate_limited
    sa.Column("finalized", sa.Boolean, nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Index("ix_fetch_log_slice", "market", "timeframe", "symbol", "session"),
)

# One row per vendor request, so request counts can be audited against the floor.
vendor_requests = sa.Table(
    "vendor_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fetch_id", sa.String(36), nullable=False, index=True),
    sa.Column("vendor", sa.String(16), nullable=False),
    sa.Column("market", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("window_end", sa.BigInteger, nullable=False),
    sa.Column("request_id", sa.String(128)),
    sa.Column("http_status", sa.Integer),  # None: no response (timeout) or an offline vendor
    sa.Column("bars", sa.Integer),  # rows the page carried, when it decoded
    sa.Column("attempt", sa.Integer),
    sa.Column("api_key", sa.String(32)),  # "key #1 of 2": by position, never the key
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    # why the request did not give a page: the vendor's (redacted) words, "timeout", or why
    # the body did not decode; None for a good page
    sa.Column("error", sa.Text),
)
