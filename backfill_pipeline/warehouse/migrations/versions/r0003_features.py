"""v2 features: keyed by the bars' series id and ts, no text columns; the features_by_series view.

Revision ID: 0003
Revises: 0002

Every feature row is copied: its (market, symbol, timeframe) becomes the id of that `series`
row (the series of the bars it was computed from; a series with features but no bars gets
its row here), its session a SessionDay (days since 1970-01-01 on SQLite, date on
PostgreSQL). The layout follows `bars` (docs/storage.md, `features`).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_VALUES = ("close_adj", "ret", "log_ret", "realized_vol", "atr", "ema_fast", "ema_slow", "trend_spread", "trend_slope",
           "volume_z")

_SERIES_OF_FEATURES = """INSERT INTO series (market, symbol, timeframe)
    SELECT DISTINCT f.market, f.symbol, f.timeframe FROM features f
    WHERE NOT EXISTS (SELECT 1 FROM series s
                      WHERE s.market = f.market AND s.symbol = f.symbol AND s.timeframe = f.timeframe)
    ORDER BY f.market, f.timeframe, f.symbol"""

# SQLite: the table is its primary key, (series_id, session, ts): replaces and reads go by
# (series, session range) and need no second index (docs/storage.md); session in days since 1970-01-01.
_SQLITE = (f"""CREATE TABLE features_v2 (ts BIGINT NOT NULL, {", ".join(c + " FLOAT" for c in _VALUES)},
    series_id INTEGER NOT NULL, session INTEGER NOT NULL, PRIMARY KEY (series_id, session, ts)) WITHOUT ROWID""",)

# PostgreSQL: 8-byte columns first, then the two 4-byte ones (no alignment padding); no
# unique btree, the deduplicated (series_id, session) btree that replaces and reads use.
_PG = (f"""CREATE TABLE features_v2 (ts BIGINT NOT NULL, {", ".join(c + " DOUBLE PRECISION" for c in _VALUES)},
    series_id INTEGER NOT NULL, session DATE NOT NULL)""",)

# PostgreSQL has no unique index on (series_id, ts) (docs/storage.md): a statement whose
# rows repeat a (series, ts), or repeat one stored in the sessions it wrote, is refused.
DUPLICATE_MESSAGE = "duplicate feature row: (series_id, ts) already stored"
_PG_UNIQUE = (
    f"""CREATE FUNCTION bp_features_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE dup record;
BEGIN
  SELECT series_id, ts INTO dup FROM new_rows GROUP BY series_id, ts HAVING count(*) > 1 LIMIT 1;
  IF NOT FOUND THEN
    SELECT f.series_id, f.ts INTO dup FROM features f
      JOIN (SELECT DISTINCT series_id, session FROM new_rows) t ON f.series_id = t.series_id AND f.session = t.session
      GROUP BY f.series_id, f.ts HAVING count(*) > 1 LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION '{DUPLICATE_MESSAGE} (series % ts %)', dup.series_id, dup.ts USING ERRCODE = 'unique_violation';
  END IF;
  RETURN NULL;
END $$""",
    ("CREATE TRIGGER features_inserted AFTER INSERT ON features REFERENCING NEW TABLE AS new_rows "
     "FOR EACH STATEMENT EXECUTE FUNCTION bp_features_written()"),
    ("CREATE TRIGGER features_updated AFTER UPDATE ON features REFERENCING NEW TABLE AS new_rows "
     "FOR EACH STATEMENT EXECUTE FUNCTION bp_features_written()"),
)

_VIEW = f"""CREATE VIEW features_by_series AS
    SELECT s.market, s.symbol, s.timeframe, f.ts, f.session, {", ".join("f." + c for c in _VALUES)}, f.series_id
    FROM features f JOIN series s ON s.id = f.series_id"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(_SERIES_OF_FEATURES)
    for statement in _SQLITE if dialect == "sqlite" else _PG:
        op.execute(statement)
    session = "CAST(julianday(f.session) - 2440587.5 AS INTEGER)" if dialect == "sqlite" else "f.session"
    op.execute(f"""INSERT INTO features_v2 (ts, {", ".join(_VALUES)}, series_id, session)
        SELECT f.ts, {", ".join("f." + c for c in _VALUES)}, s.id, {session}
        FROM features f JOIN series s ON s.market = f.market AND s.symbol = f.symbol AND s.timeframe = f.timeframe
        ORDER BY s.id, f.session, f.ts""")
    op.execute("DROP TABLE features")
    op.execute("ALTER TABLE features_v2 RENAME TO features")
    if dialect != "sqlite":
        op.execute("CREATE INDEX ix_features_series_session ON features (series_id, session)")
        for statement in _PG_UNIQUE:
            op.execute(statement)
    op.execute(_VIEW)


def downgrade() -> None:
    raise NotImplementedError("storage v2 has no downgrade: restore the backup instead")
