"""Alembic environment: migrations run on the connection `warehouse/migrate.py` hands over
(already inside its transaction and schema lock), never on a URL of their own."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
