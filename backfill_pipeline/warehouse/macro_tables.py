"""Macro tables: every vintage of every observation, and the point-in-time daily table.

They live on the warehouse's `metadata` (store.py imports this module), so `Warehouse`
creates them with the rest. Dates are calendar dates; a NULL value is FRED's "." (no
observation in that vintage), never zero.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import metadata

# FRED's realtime_end of the vintage still in force today, stored as FRED sends it.
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
