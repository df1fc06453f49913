"""Every use of Dagster's private API (`dagster._core`, `dagster._utils`), in one place.

Dagster does not re-export these names, so a Dagster upgrade may move or change them.
`backfill_pipeline_tests/test_dagster_private.py` imports and exercises each one, so an
upgrade that breaks them fails that test loudly instead of a sensor or the CLI at run time.
Pinned release: dagster 1.13.27 (pyproject.toml).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._config import Field, StringSource
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.events import DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.utils import make_new_backfill_id
from dagster._utils.schedules import is_valid_cron_string, reverse_cron_string_iterator

# What define_asset_job returns; `dagster` does not export the class.
AssetJob = UnresolvedAssetJobDefinition

__all__ = [
    "AssetJob",
    "AssetKeyPartitionKey",
    "BackfillPartitions",
    "BatchedSqliteEventLogStorage",
    "EngineEventData",  # tests: report a run worker's pid as Dagster's launchers do
    "add_asset_backfill",
    "backfill_partitions",
    "cron_ticks_before",
    "dagster_instance_config",  # validates a dagster.yaml against the instance schema
    "is_valid_cron_string",
    "partition_loading_context",  # needed to resolve dynamic partitions outside a run
    "requested_backfill_targets",
    "ui_backfill_targets",
]


def cron_ticks_before(cron: str, timestamp: float, timezone: str = "UTC") -> Iterator:
    """Dagster's own cron arithmetic: the ticks of `cron` strictly before `timestamp`, newest first."""
    return reverse_cron_string_iterator(timestamp, cron, timezone)


def requested_backfill_targets(instance: dg.DagsterInstance, limit: int = 100) -> list:
    """The target subsets (AssetGraphSubset) of the asset backfills still in progress."""
    out = []
    for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED, limit=limit):
        data = backfill.asset_backfill_data
        if data is not None:
            out.append(data.target_subset)
    return out


@dataclass(frozen=True)
class BackfillPartitions:
    """Where an asset backfill stands, as the daemon records it (updated each backfill tick)."""

    backfill_id: str
    status: str  # BulkActionStatus value: REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, FAILED, CANCELED, ...
    title: str
    created: float  # epoch seconds
    targeted: int
    materialized: int
    failed: dict[str, list[str]]  # asset key -> partition keys that failed (or sit downstream of a failure)

    @property
    def failed_count(self) -> int:
        return sum(len(v) for v in self.failed.values())

    @property
    def done(self) -> bool:
        return self.status not in ("REQUESTED", "CANCELING", "FAILING")


def backfill_partitions(instance: dg.DagsterInstance, backfill_id: str) -> BackfillPartitions | None:
    """The partition counts of an asset backfill; None when the instance has no such asset backfill."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None or backfill.asset_backfill_data is None:
        return None
    data = backfill.asset_backfill_data
    failed: dict[str, list[str]] = {}
    for item in data.failed_and_downstream_subset.iterate_asset_partitions():
        failed.setdefault(item.asset_key.to_user_string(), []).append(str(item.partition_key))
    return BackfillPartitions(
        backfill_id=backfill.backfill_id, status=backfill.status.value, title=backfill.title or backfill.backfill_id,
        created=backfill.backfill_timestamp, targeted=data.target_subset.num_partitions_and_non_partitioned_assets,
        materialized=data.materialized_subset.num_partitions_and_non_partitioned_assets,
        failed={k: sorted(v) for k, v in sorted(failed.items())},
    )


def ui_backfill_targets(instance: dg.DagsterInstance, defs: dg.Definitions, asset_keys: Sequence[dg.AssetKey],
                        partition_names: Sequence[str]) -> set[tuple[str, str]]:
    """(asset key, partition key) pairs that a backfill launched from the UI targets: its launch
    dialog sends the selected assets and the partitions picked for their roots
    (launchPartitionBackfill with assetSelection and partitionNames), and Dagster maps those to
    the downstream assets (the 1w weeks of the picked sessions)."""
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(), asset_graph=defs.get_repository_def().asset_graph,
        partition_names=list(partition_names), asset_selection=list(asset_keys), backfill_timestamp=time.time(),
        tags={}, dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None,
    )
    assert backfill.asset_backfill_data is not None
    return {(k.to_user_string(), str(pk)) for k, pk in backfill.asset_backfill_data.target_subset.iterate_asset_partitions()}


def add_asset_backfill(instance: dg.DagsterInstance, defs: dg.Definitions,
                       partitions: Iterable[tuple[dg.AssetKey, str]], *, tags: dict[str, str],
                       title: str, description: str) -> str:
    """Add an asset backfill of (asset key, partition key) pairs to the instance, as the UI's
    launchPartitionBackfill does; the daemon runs it. Returns the backfill id."""
    graph = defs.get_repository_def().asset_graph
    wanted = {AssetKeyPartitionKey(key, pk) for key, pk in partitions}
    subset = AssetGraphSubset.from_asset_partition_set(wanted, graph)
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=make_new_backfill_id(),
        backfill_timestamp=time.time(),
        tags=tags,
        dynamic_partitions_store=instance,
        asset_graph_subset=subset,
        title=title,
        description=description,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


# Dagster's own switch (read from the environment by the run worker and the process that
# creates a run): a ranged step's materialisations, and a run's planned events, handed to
# store_event_batch up to 1000 at a time. Not DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS:
# with it the UI shows a failed run's partitions as missing instead of failed.
EVENT_BATCHING_ENV = {"DAGSTER_EVENT_BATCH_SIZE": "1000"}
_OPEN_SHARDS = 8  # shard engines kept open per process (the index shard and the newest runs')
# The asset events SqliteEventLogStorage.store_event mirrors into the index shard (and
# nothing else: check events also write asset_check_executions; run-status events, no asset).
_ASSET_EVENT_KINDS = frozenset({
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_FAILED_TO_MATERIALIZE,
})


def _sqlite_synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def default_event_log_dir() -> str:
    """Where Dagster's default SQLite storage keeps the event log ($DAGSTER_HOME/history/runs/),
    so switching an existing DAGSTER_HOME to the batched storage keeps its history."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError("BatchedSqliteEventLogStorage without base_dir needs $DAGSTER_HOME")
    return os.path.join(home, "history", "runs", "")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, writing a batch of asset events in one transaction
    per shard, over connections it keeps open.

    Dagster 1.13's SqliteEventLogStorage inherits the base `store_event_batch`, which stores
    events one by one, each opening a new engine and committing in the run shard and again in
    the index shard (~15 ms a materialisation here): a ranged run of one asset over 2,520
    daily partitions spent 40 s on it. This class writes the run shard rows in one INSERT and
    the index shard rows, their asset tags and the asset's latest-materialisation entry in one
    transaction, as dagster-postgres does. Batches of other event kinds (planned events mixed
    with check-planned ones, failed materialisations) take Dagster's own path.

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
        """Store events in order: each stretch of asset events (materialised, observed, planned,
        failed) with one INSERT per shard, anything else (check-planned events) one by one."""
        stretch: list[EventLogEntry] = []
        for event in events:
            if _is_asset_event(event) and (not stretch or stretch[0].run_id == event.run_id):
                stretch.append(event)
                continue
            self._store_asset_events(stretch)
            stretch = []
            if _is_asset_event(event):
                stretch.append(event)
            else:
                self.store_event(event)
        self._store_asset_events(stretch)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        # what SqliteEventLogStorage.store_event does for an asset event, for all of them at once
        rows = [self._event_to_row(e) for e in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            result = conn.execute(
                SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True),
                rows,
            )
            event_ids = [int(row[0]) for row in result.all()]
            self._store_asset_event_tags(conn, events, event_ids)
            # The asset's entry: each event kind sets its own columns, so applying the newest
            # event of each (asset, kind) in order leaves what storing them one by one would.
            newest = {(e.get_dagster_event().asset_key, e.get_dagster_event().event_type): i
                      for i, e in enumerate(events)}
            for i in sorted(newest.values()):
                self._store_asset_event(conn, events[i], event_ids[i])


def _is_asset_event(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return dagster_event is not None and dagster_event.event_type in _ASSET_EVENT_KINDS and dagster_event.asset_key is not None
