"""The embedded instance's event log: Dagster's SQLite storage, batched (dagster.yaml)."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._config import Field, StringSource
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

from backfill_pipeline.dagster_private.event_batches import (
    EVENT_BATCHING_ENV,
    index_asset_events,
    insert_events,
    stretches,
)
from backfill_pipeline.dagster_private.planned_ranges import PlannedRangesMixin

_OPEN_SHARDS = 8  # shard engines kept open per process (the index shard and the newest runs')


def _sqlite_synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def default_event_log_dir() -> str:
    """Where Dagster's default SQLite storage keeps the event log ($DAGSTER_HOME/history/runs/),
    so switching an existing DAGSTER_HOME to the batched storage keeps its history."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError("BatchedSqliteEventLogStorage without base_dir needs $DAGSTER_HOME")
    return os.path.join(home, "history", "runs", "")


class BatchedSqliteEventLogStorage(PlannedRangesMixin, SqliteEventLogStorage):
    """Dagster's SQLite event log storage, writing a batch of asset events in one transaction
    per shard, over connections it keeps open.

    Dagster 1.13's SqliteEventLogStorage inherits the base `store_event_batch`, which stores
    events one by one, each opening a new engine and committing in the run shard and again in
    the index shard (~15 ms a materialisation here): a ranged run of one asset over 2,520
    daily partitions spent 40 s on it. This class writes the run shard rows in one INSERT and
    the index shard rows, their asset tags and the asset's latest-materialisation entry in one
    transaction (event_batches.py). Other events (check evaluations, step events, logs) take
    Dagster's own path.

    A run records one planned event per asset carrying its partition range, not one per
    partition, and failed or in-progress partitions are still read back per partition
    (planned_ranges.py).

    Every other event still costs a connection: Dagster opens a new one each time, and
    closing the last connection to a WAL database checkpoints it (two fsyncs). This class
    keeps one engine per shard (the index and the newest runs', per process) and runs them
    with `synchronous=NORMAL`, SQLite's recommended setting in WAL mode: a commit no longer
    waits for an fsync; a power cut (not a crashed process) can lose the last transactions,
    never corrupt the file. Acceptable for the embedded instance; production uses PostgreSQL.

    Built in a process, it switches Dagster's batching on (EVENT_BATCHING_ENV, unless the
    environment already sets it), so every process that uses the instance (CLI, webserver,
    daemon, run workers) batches without extra setup. Configured in the repository's
    dagster.yaml as `event_log_storage`; `base_dir` defaults to Dagster's own location.
    """

    def __init__(self, base_dir: str | None = None, inst_data: Any = None, should_autocreate_tables: bool = True):
        for name, value in EVENT_BATCHING_ENV.items():
            os.environ.setdefault(name, value)
        self._shard_engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir or default_event_log_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _shard_engine(self, shard: str) -> sa.Engine:
        if os.getpid() != self._engines_pid:  # a forked child must not share the parent's connections
            self._shard_engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._shard_engines.get(shard)
        if engine is None:
            engine = sa.create_engine(self.conn_string_for_shard(shard), pool_size=1, max_overflow=4,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            sa.event.listen(engine, "connect", _sqlite_synchronous_normal)
            self._shard_engines[shard] = engine
            while len(self._shard_engines) > _OPEN_SHARDS:
                self._shard_engines.popitem(last=False)[1].dispose()
        self._shard_engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        # Dagster's _connect with a kept engine instead of a new NullPool engine each time
        with self._db_lock:
            engine = self._shard_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def wipe(self) -> None:
        # Dagster's wipe deletes the run shard files: no kept connection may point at them
        with self._db_lock:
            for shard in [s for s in self._shard_engines if s != INDEX_SHARD_NAME]:
                self._shard_engines.pop(shard).dispose()
        super().wipe()

    def dispose(self) -> None:
        for engine in self._shard_engines.values():
            engine.dispose()
        self._shard_engines.clear()
        super().dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store events in order: each stretch of asset events (materialised, observed, planned)
        with one INSERT per shard, anything else (check-planned events) one by one."""
        for stretch in stretches(events):
            if len(stretch) < 2:
                self.store_event(stretch[0])
                continue
            # what SqliteEventLogStorage.store_event does for an asset event, for all of them at once
            rows = [self._event_to_row(e) for e in stretch]
            with self.run_connection(stretch[0].run_id) as conn:
                conn.execute(SqlEventLogStorageTable.insert(), rows)
            with self.index_transaction() as conn:
                index_asset_events(self, conn, stretch, insert_events(conn, rows))
