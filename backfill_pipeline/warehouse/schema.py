"""Warehouse tables (SQLAlchemy Core); the same schema on SQLite and PostgreSQL.

`bars.ts` is the bar start in UTC epoch seconds (integers compare, sort and bulk-load the
same way on every database); `bars.session` is the exchange session the bar belongs to
(for 1w bars, the first session of the week), so completeness is one GROUP BY.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

bars = sa.Table(
    "bars",
    metadata,
    sa.Column("market", sa.String(32), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("session", sa.Date, nullable=False),
    sa.Column("open", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("close", sa.Float, nullable=False),
    sa.Column("volume", sa.Float, nullable=False),
    sa.Column("vwap", sa.Float),
    sa.Column("trades", sa.BigInteger),
    sa.Index("ix_bars_session", "market", "timeframe", "session", "symbol"),
)
BAR_INSERT_COLUMNS: tuple[str, ...] = (
    "market", "symbol", "timeframe", "ts", "session", "open", "high", "low", "close", "volume", "vwap", "trades",
)

# Bars per (series, session), maintained in the same transaction as `bars`, so gap scans
# read one row per symbol-session instead of aggregating millions of bars.
bar_sessions = sa.Table(
    "bar_sessions",
    metadata,
    sa.Column("market", sa.String(32), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("session", sa.Date, primary_key=True),
    sa.Column("bars", sa.Integer, nullable=False),
    sa.Column("first_ts", sa.BigInteger, nullable=False),
    sa.Column("last_ts", sa.BigInteger, nullable=False),
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
