"""The v1 schema (release before storage v2), frozen: what revision 0001 creates, and what a
warehouse made by that release holds (with no alembic_version table). Never edit: a
migration's starting point must stay what it was.
"""

from __future__ import annotations

import datetime as dt

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
FEATURE_COLUMNS: tuple[str, ...] = (
    "close_adj", "ret", "log_ret", "realized_vol", "atr", "ema_fast", "ema_slow", "trend_spread", "trend_slope",
    "volume_z",
)

# One row per bar of ohlcv/<market>/<timeframe>, computed on split-adjusted prices.
features = sa.Table(
    "features",
    metadata,
    sa.Column("market", sa.String(32), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("ts", sa.BigInteger, primary_key=True),
    sa.Column("session", sa.Date, nullable=False),
    *(sa.Column(name, sa.Float) for name in FEATURE_COLUMNS),
    sa.Index("ix_features_session", "market", "timeframe", "symbol", "session"),
)
FEATURE_INSERT_COLUMNS: tuple[str, ...] = ("market", "symbol", "timeframe", "ts", "session", *FEATURE_COLUMNS)

# Splits by ex-date: bars before ex_date are divided by ratio (= split_to / split_from).
splits = sa.Table(
    "splits",
    metadata,
    sa.Column("market", sa.String(32), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("ex_date", sa.Date, primary_key=True),
    sa.Column("split_from", sa.Float, nullable=False),
    sa.Column("split_to", sa.Float, nullable=False),
    sa.Column("ratio", sa.Float, nullable=False),
    sa.Column("vendor", sa.String(16), nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)

# Cash dividends by ex-date, in the share basis of their ex-date (as vendors report them).
dividends = sa.Table(
    "dividends",
    metadata,
    sa.Column("market", sa.String(32), primary_key=True),
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("ex_date", sa.Date, primary_key=True),
    sa.Column("dividend_type", sa.String(8), primary_key=True),  # CD regular, SC special, ...
    sa.Column("cash_amount", sa.Float, nullable=False),
    sa.Column("currency", sa.String(8)),
    sa.Column("pay_date", sa.Date),
    sa.Column("record_date", sa.Date),
    sa.Column("declaration_date", sa.Date),
    sa.Column("vendor", sa.String(16), nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)
OPEN_REALTIME_END = dt.date(9999, 12, 31)

# One row per (observation, real-time period) as FRED/ALFRED serves it: `value` was the
# published value of `date` from realtime_start to realtime_end (both inclusive).
macro_vintages = sa.Table(
    "macro_vintages",
    metadata,
    sa.Column("series_id", sa.String(64), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("realtime_start", sa.Date, primary_key=True),
    sa.Column("realtime_end", sa.Date, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("vendor", sa.String(16), nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("realtime_end >= realtime_start", name="ck_macro_vintages_period"),
)

# The point-in-time daily table (asset macro/daily), one row per (XNYS session, field):
# the latest observation known at the session's close. Stored long so the series list
# stays configuration; the CHECK makes a value released after its session unstorable.
macro_daily_pit = sa.Table(
    "macro_daily_pit",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("field", sa.String(64), primary_key=True),
    sa.Column("series_id", sa.String(64), nullable=False),
    sa.Column("value", sa.Float),  # NULL when missing or staler than allowed
    sa.Column("observation_date", sa.Date),  # the observation the value belongs to
    sa.Column("release_date", sa.Date),  # realtime_start of the vintage the value comes from
    sa.Column("age_days", sa.Integer),  # session - observation_date, calendar days
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # ok | stale | missing
    sa.CheckConstraint("release_date IS NULL OR release_date <= date", name="ck_macro_daily_pit_no_lookahead"),
)
