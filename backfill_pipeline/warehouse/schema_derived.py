"""Tables derived from bars or fetched beside them: features and corporate actions (macro: macro_tables.py).

They live on the same `metadata` as `bars` (the queries' tables; Alembic owns their DDL, migrations/).
Conventions follow `bars`: `ts` is epoch seconds (UTC bar start), `session` the exchange
session, and a NULL feature or macro value means "not defined here" (warm-up, stale,
missing at the source), never zero.
"""

from __future__ import annotations

import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import SessionDay, metadata, series_view

FEATURE_COLUMNS: tuple[str, ...] = (
    "close_adj", "ret", "log_ret", "realized_vol", "atr", "ema_fast", "ema_slow", "trend_spread", "trend_slope",
    "volume_z",
)

# One row per bar of ohlcv/<market>/<timeframe>, computed on split-adjusted prices, keyed
# like the bars it was computed from: (series_id, ts), `session` a SessionDay; the 8-byte
# columns first (no alignment padding on PostgreSQL). Layout and indexes: docs/storage.md.
features = sa.Table(
    "features",
    metadata,
    sa.Column("ts", sa.BigInteger, nullable=False),
    *(sa.Column(name, sa.Float) for name in FEATURE_COLUMNS),
    sa.Column("series_id", sa.Integer, nullable=False),
    sa.Column("session", SessionDay, nullable=False),
)
FEATURE_INSERT_COLUMNS: tuple[str, ...] = ("ts", *FEATURE_COLUMNS, "series_id", "session")

# Features with their series' text keys: the SQL view `features_by_series` (never written).
features_by_series = series_view("features_by_series", *(sa.Column(name, sa.Float) for name in FEATURE_COLUMNS))

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
