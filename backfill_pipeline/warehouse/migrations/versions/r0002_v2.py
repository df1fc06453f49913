"""v2: series-keyed bars, a summary kept by database triggers, derived bars' sources, the bars_by_series view.

Revision ID: 0002
Revises: 0001

Every v1 bar is copied (its market/symbol/timeframe become a `series` row), the summary is
recomputed from the copied bars, and only then are the triggers and the summary's guard
created. fetch_log, vendor_requests, features and the other tables are kept as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from backfill_pipeline.warehouse.summary_sql import GUARD_MESSAGE, PG_DDL, rebuild_summary_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BAR_VALUES = "ts, open, high, low, close, volume, vwap, trades"

_SQLITE = (
    """CREATE TABLE series (id INTEGER PRIMARY KEY AUTOINCREMENT, market VARCHAR(32) NOT NULL,
       symbol VARCHAR(32) NOT NULL, timeframe VARCHAR(8) NOT NULL,
       CONSTRAINT uq_series_key UNIQUE (market, timeframe, symbol))""",
    # session: days since 1970-01-01; the table is its primary key (series_id, ts)
    """CREATE TABLE bars_v2 (ts BIGINT NOT NULL, open FLOAT NOT NULL, high FLOAT NOT NULL, low FLOAT NOT NULL,
       close FLOAT NOT NULL, volume FLOAT NOT NULL, vwap FLOAT, trades BIGINT, series_id INTEGER NOT NULL,
       session INTEGER NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID""",
    f"""INSERT INTO bars_v2 ({_BAR_VALUES}, series_id, session)
       SELECT {", ".join("b." + c.strip() for c in _BAR_VALUES.split(","))}, s.id,
              CAST(julianday(b.session) - 2440587.5 AS INTEGER)
       FROM bars b JOIN series s ON s.market = b.market AND s.symbol = b.symbol AND s.timeframe = b.timeframe
       ORDER BY s.id, b.ts""",
    """CREATE TABLE bar_sessions_v2 (series_id INTEGER NOT NULL, session INTEGER NOT NULL, bars INTEGER NOT NULL,
       PRIMARY KEY (series_id, session)) WITHOUT ROWID""",
    """CREATE TABLE derived_sources (series_id INTEGER NOT NULL, session INTEGER NOT NULL,
       source_bars INTEGER NOT NULL, bars INTEGER NOT NULL, PRIMARY KEY (series_id, session)) WITHOUT ROWID""",
)

_PG = (
    """CREATE TABLE series (id SERIAL PRIMARY KEY, market VARCHAR(32) NOT NULL, symbol VARCHAR(32) NOT NULL,
       timeframe VARCHAR(8) NOT NULL, CONSTRAINT uq_series_key UNIQUE (market, timeframe, symbol))""",
    # 8-byte columns first, then the two 4-byte ones: no alignment padding (docs/storage.md)
    """CREATE TABLE bars_v2 (ts BIGINT NOT NULL, open DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
       low DOUBLE PRECISION NOT NULL, close DOUBLE PRECISION NOT NULL, volume DOUBLE PRECISION NOT NULL,
       vwap DOUBLE PRECISION, trades BIGINT, series_id INTEGER NOT NULL, session DATE NOT NULL)""",
    f"""INSERT INTO bars_v2 ({_BAR_VALUES}, series_id, session)
       SELECT {", ".join("b." + c.strip() for c in _BAR_VALUES.split(","))}, s.id, b.session
       FROM bars b JOIN series s ON s.market = b.market AND s.symbol = b.symbol AND s.timeframe = b.timeframe
       ORDER BY s.id, b.ts""",
    """CREATE TABLE bar_sessions_v2 (series_id INTEGER NOT NULL, session DATE NOT NULL, bars INTEGER NOT NULL,
       PRIMARY KEY (series_id, session))""",
    """CREATE TABLE derived_sources (series_id INTEGER NOT NULL, session DATE NOT NULL,
       source_bars INTEGER NOT NULL, bars INTEGER NOT NULL, PRIMARY KEY (series_id, session))""",
)
_KEY = "series_id = {row}.series_id AND session = {row}.session"

# v2's SQLite triggers as released (revision 0004 replaces them): a fresh warehouse passes
# through them, so they stay here as they were, not in summary_sql.py.
_SQLITE_TRIGGERS: tuple[str, ...] = (
    f"""
CREATE TRIGGER bars_inserted AFTER INSERT ON bars BEGIN
  UPDATE bar_sessions SET bars = bars + 1 WHERE {_KEY.format(row="NEW")};
  INSERT INTO bar_sessions (series_id, session, bars) SELECT NEW.series_id, NEW.session, 1
    WHERE NOT EXISTS (SELECT 1 FROM bar_sessions WHERE {_KEY.format(row="NEW")});
END""",
    f"""
CREATE TRIGGER bars_deleted AFTER DELETE ON bars BEGIN
  UPDATE bar_sessions SET bars = bars - 1 WHERE {_KEY.format(row="OLD")};
  DELETE FROM bar_sessions WHERE {_KEY.format(row="OLD")} AND bars = 0;
END""",
    f"""
CREATE TRIGGER bars_updated AFTER UPDATE OF series_id, session ON bars BEGIN
  UPDATE bar_sessions SET bars = bars + 1 WHERE {_KEY.format(row="NEW")};
  INSERT INTO bar_sessions (series_id, session, bars) SELECT NEW.series_id, NEW.session, 1
    WHERE NOT EXISTS (SELECT 1 FROM bar_sessions WHERE {_KEY.format(row="NEW")});
  UPDATE bar_sessions SET bars = bars - 1 WHERE {_KEY.format(row="OLD")};
  DELETE FROM bar_sessions WHERE {_KEY.format(row="OLD")} AND bars = 0;
END""",
    f"""
CREATE TRIGGER bar_sessions_guard_insert BEFORE INSERT ON bar_sessions
WHEN NEW.bars <> 1 OR NOT EXISTS (SELECT 1 FROM bars WHERE {_KEY.format(row="NEW")}) BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
    f"""
CREATE TRIGGER bar_sessions_guard_update BEFORE UPDATE ON bar_sessions
WHEN NEW.bars - OLD.bars NOT IN (1, -1) OR NEW.series_id IS NOT OLD.series_id OR NEW.session IS NOT OLD.session BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
    f"""
CREATE TRIGGER bar_sessions_guard_delete BEFORE DELETE ON bar_sessions WHEN OLD.bars <> 0 BEGIN
  SELECT RAISE(ABORT, '{GUARD_MESSAGE}');
END""",
)

_VIEW = """CREATE VIEW bars_by_series AS
    SELECT s.market, s.symbol, s.timeframe, b.ts, b.session, b.open, b.high, b.low, b.close, b.volume, b.vwap,
           b.trades, b.series_id
    FROM bars b JOIN series s ON s.id = b.series_id"""


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    columns = {c["name"] for c in sa.inspect(bind).get_columns("vendor_requests")}
    if "error" not in columns:  # added late in v1: warehouses made before it lack it
        op.execute("ALTER TABLE vendor_requests ADD COLUMN error TEXT")
    create_series, create_bars, copy_bars, create_summary, create_derived = _SQLITE if dialect == "sqlite" else _PG
    op.execute(create_series)
    op.execute("INSERT INTO series (market, symbol, timeframe) "
               "SELECT DISTINCT market, symbol, timeframe FROM bars ORDER BY market, timeframe, symbol")
    op.execute(create_bars)
    op.execute(copy_bars)
    op.execute("DROP TABLE bars")
    op.execute("ALTER TABLE bars_v2 RENAME TO bars")
    # reads, replaces and the summary triggers go by (series, session); on PostgreSQL the
    # btree deduplicates it to ~7 bytes a bar
    op.execute("CREATE INDEX ix_bars_series_session ON bars (series_id, session)")
    op.execute("DROP TABLE bar_sessions")
    op.execute(create_summary)
    op.execute("ALTER TABLE bar_sessions_v2 RENAME TO bar_sessions")
    op.execute(rebuild_summary_sql())
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else PG_DDL:
        op.execute(statement)
    # v1 kept no record of what derived bars were built from (its 1w bars could hold part of
    # their week): source unknown (-1), so scan calls them stale and a backfill resamples
    # them again, at no vendor request. Fetched timeframes ignore these rows; 1m is never derived.
    op.execute(create_derived)
    op.execute("INSERT INTO derived_sources (series_id, session, source_bars, bars) "
               "SELECT s.series_id, s.session, -1, s.bars FROM bar_sessions s JOIN series ON series.id = s.series_id "
               "WHERE series.timeframe <> '1m'")
    op.execute(_VIEW)


def downgrade() -> None:
    raise NotImplementedError("storage v2 has no downgrade: restore the v1 backup instead")
