"""Production's event log: dagster-postgres' storage, batched over kept connections
(docker/dagster.yaml)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from dagster._core.events.log import EventLogEntry
from dagster_postgres.event_log.event_log import PostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_connection,
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

from backfill_pipeline.dagster_private.event_batches import (
    EVENT_BATCHING_ENV,
    index_asset_events,
    insert_events,
    stretches,
)
from backfill_pipeline.dagster_private.planned_ranges import PlannedRangesMixin


class BatchedPostgresEventLogStorage(PlannedRangesMixin, PostgresEventLogStorage):
    """dagster-postgres' event log storage with three changes, each measured on a ranged run:

    - it keeps one connection per process (a pool of one, checked with a ping before use)
      where dagster-postgres opens a new one for every event (NullPool: a connect and a
      backend start; a fifth of its storage time on a daily-grain ranged run);
    - a batch of asset events is one executemany per table (the events' RETURNING their ids),
      in one transaction with their tags and the asset's entry (dagster-postgres compiles a
      new multi-row INSERT per batch, another quarter, and stores any kind but
      materialisations and observations one by one);
    - a run records one planned event per asset carrying its partition range, read back per
      partition (planned_ranges.py), where DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS
      alone would show a failed run's partitions as missing.

    Built in a process, it turns Dagster's batching on (EVENT_BATCHING_ENV) unless the
    environment sets it. Configured like dagster-postgres' storage (`postgres_url` or
    `postgres_db`), as `event_log_storage` in docker/dagster.yaml. The webserver still swaps in
    its own pooled engine (`optimize_for_webserver`).
    """

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data: Any = None,
                 token_provider: Any = None):
        for name, value in EVENT_BATCHING_ENV.items():
            os.environ.setdefault(name, value)
        self._engine_pid = os.getpid()
        super().__init__(postgres_url, should_autocreate_tables=should_autocreate_tables, inst_data=inst_data,
                         token_provider=token_provider)
        self._engine.dispose()
        self._engine = create_pg_engine(self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT",
                                        pool_size=1, max_overflow=8, pool_pre_ping=True, pool_recycle=3600)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> BatchedPostgresEventLogStorage:
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))

    def _connect(self) -> AbstractContextManager[sa.Connection]:
        if os.getpid() != self._engine_pid:  # a forked child must not use the parent's connection
            self._engine.dispose(close=False)
            self._engine_pid = os.getpid()
        return create_pg_connection(self._engine)

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store events in order: each stretch of asset events in one transaction, anything else
        one by one."""
        for stretch in stretches(events):
            if len(stretch) < 2:
                self.store_event(stretch[0])
                continue
            rows = [self._event_to_row(e) for e in stretch]
            with self.index_transaction() as conn:
                index_asset_events(self, conn, stretch, insert_events(conn, rows))

