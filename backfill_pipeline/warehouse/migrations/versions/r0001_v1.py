"""v1: the schema of the release before storage v2 (text-keyed bars, pipeline-written summary).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from backfill_pipeline.warehouse.migrations import v1_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    v1_tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    v1_tables.metadata.drop_all(op.get_bind())
