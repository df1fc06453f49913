"""Schema revisions of the warehouse (Alembic): create at head, refuse an old one, upgrade.

- A new (empty) warehouse is created at head by the first process that opens it; the others
  wait for it on the schema lock (PostgreSQL: a transaction-scoped advisory lock; SQLite:
  BEGIN IMMEDIATE, the database's write lock) and then find it at head. DDL runs in the
  same transaction on both databases, so a crash leaves the old revision, never half of one.
- A warehouse at an older revision (v1 warehouses, made before migrations, have no
  alembic_version table and count as revision 0001) is not touched on open: opening it
  raises WarehouseOutdated naming `backfill-pipeline warehouse upgrade`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

from backfill_pipeline.warehouse.sqlite import write_transaction

HEAD = "0005"
V1 = "0001"
UPGRADE_COMMAND = "backfill-pipeline warehouse upgrade"
_SCHEMA_LOCK = 0x0BA5_5C4E_3A  # arbitrary: the advisory lock serialising schema changes


class WarehouseOutdated(RuntimeError):
    """The warehouse's schema is older than this release's."""


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def revision(conn: Connection) -> str | None:
    """The warehouse's schema revision; None for an empty database."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current is None and sa.inspect(conn).has_table("bars"):
        return V1  # made by the release before migrations
    return current


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    with write_transaction(engine) as conn:
        if engine.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already serialises writers
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        yield conn


def ensure_schema(engine: Engine) -> None:
    """Create an empty warehouse at head; raise WarehouseOutdated for an older one."""
    with engine.connect() as conn:
        current = revision(conn)
        conn.rollback()
    if current == HEAD:
        return
    if current is None:
        with _schema_lock(engine) as conn:
            current = revision(conn)  # another process may have created it meanwhile
            if current is None:
                command.upgrade(_config(conn), "head")
                return
    if current != HEAD:
        raise WarehouseOutdated(
            f"the warehouse is at schema revision {current}, this release needs {HEAD}: "
            f"run `{UPGRADE_COMMAND}` (back the warehouse up first)")


def upgrade(engine: Engine, to: str = HEAD) -> tuple[str | None, str]:
    """Bring the warehouse to revision `to` (default head) in one transaction; returns
    (revision before, after). An older `to` serves the tests' warehouses of past releases."""
    with _schema_lock(engine) as conn:
        before = revision(conn)
        cfg = _config(conn)
        if before is not None and MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(cfg, before)  # a v1 warehouse: record where it starts
        if before != to:
            command.upgrade(cfg, to)
    return before, to
