"""SQLite: a summary guard that refuses every hand edit of bar_sessions, a one-bar one included.

Revision ID: 0004
Revises: 0003

v2's SQLite guard let a summary count move by exactly one, so `UPDATE bar_sessions SET
bars = bars - 1` passed and the summary drifted from `bars`; `INSERT OR REPLACE INTO bars`
onto a stored bar counted it twice (SQLite deletes the replaced row without its delete
trigger). The summary gains the two marks the new triggers pass through (adding_ts,
removing_ts; warehouse/summary_sql.py), is recomputed from `bars` (repairing any drift
either hole made), and the new triggers replace v2's. PostgreSQL's guard had neither hole:
nothing changes there.
"""

from __future__ import annotations

from alembic import op

from backfill_pipeline.warehouse.summary_sql import SQLITE_DDL, rebuild_summary_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_V2_TRIGGERS = ("bars_inserted", "bars_deleted", "bars_updated",
                "bar_sessions_guard_insert", "bar_sessions_guard_update", "bar_sessions_guard_delete")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _V2_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("ALTER TABLE bar_sessions ADD COLUMN adding_ts BIGINT")
    op.execute("ALTER TABLE bar_sessions ADD COLUMN removing_ts BIGINT")
    op.execute("DELETE FROM bar_sessions")
    op.execute(rebuild_summary_sql())
    for statement in SQLITE_DDL:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("no downgrade: restore a backup taken before the upgrade")
