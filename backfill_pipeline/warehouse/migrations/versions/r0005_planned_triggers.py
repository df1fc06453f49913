"""PostgreSQL: the triggers plan their joins for each statement's own rows.

Revision ID: 0005
Revises: 0004

PL/pgSQL cached each trigger query's plan for the connection, made for the first statement's
transition table: after a year-long series was written, a 53-row write of features joined
its rows with the whole (series_id, session) index (45-110 ms a write on a 400,000-row table,
growing with it), and the bars' summary updates could do the same on `bar_sessions`. The
functions now EXECUTE those joins (planned per statement; warehouse/summary_sql.py,
PLANNED_PER_STATEMENT). Only function bodies change: no row is touched. SQLite's triggers
are row triggers: nothing changes there.
"""

from __future__ import annotations

from alembic import op

from backfill_pipeline.warehouse.migrations.versions.r0003_features import DUPLICATE_MESSAGE as DUPLICATE_FEATURE
from backfill_pipeline.warehouse.summary_sql import PG_DDL

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FEATURES_WRITTEN = f"""CREATE OR REPLACE FUNCTION bp_features_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE dup_series integer; dup_ts bigint;
BEGIN
  SELECT series_id, ts INTO dup_series, dup_ts FROM new_rows GROUP BY series_id, ts HAVING count(*) > 1 LIMIT 1;
  IF dup_series IS NULL THEN
    EXECUTE 'SELECT f.series_id, f.ts FROM features f
      JOIN (SELECT DISTINCT series_id, session FROM new_rows) t ON f.series_id = t.series_id AND f.session = t.session
      GROUP BY f.series_id, f.ts HAVING count(*) > 1 LIMIT 1' INTO dup_series, dup_ts;
  END IF;
  IF dup_series IS NOT NULL THEN
    RAISE EXCEPTION '{DUPLICATE_FEATURE} (series % ts %)', dup_series, dup_ts USING ERRCODE = 'unique_violation';
  END IF;
  RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for statement in PG_DDL:
        if statement.lstrip().startswith("CREATE OR REPLACE FUNCTION"):
            op.execute(statement)
    op.execute(FEATURES_WRITTEN)


def downgrade() -> None:
    raise NotImplementedError("no downgrade: restore a backup taken before the upgrade")
