"""A batch of asset events written as one, for both event log storages.

Dagster hands a ranged step's materialisations to `store_event_batch` (up to
DAGSTER_EVENT_BATCH_SIZE at a time). Its SQLite storage then stores them one by one, and
dagster-postgres compiles one multi-row INSERT per batch (a new statement each time, about a
quarter of its cost) and stores any other kind one by one. Both storages here write each
stretch of asset events with one executemany per table, and the asset's entry once per
(asset, event kind), as storing them one by one would leave it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

# Dagster's own switch (read from the environment by the run worker and the process that
# creates a run): a ranged step's materialisations handed to store_event_batch up to 1000 at a
# time. Both storages here turn it on where they are built.
EVENT_BATCHING_ENV = {"DAGSTER_EVENT_BATCH_SIZE": "1000"}

# The asset events a storage mirrors into its asset index (check events also write
# asset_check_executions, run-status events have no asset: those take Dagster's own path).
ASSET_EVENT_KINDS = frozenset({
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_FAILED_TO_MATERIALIZE,
})


def is_asset_event(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return dagster_event is not None and dagster_event.event_type in ASSET_EVENT_KINDS and dagster_event.asset_key is not None


def stretches(events: Sequence[EventLogEntry]) -> Iterator[list[EventLogEntry]]:
    """The events in order, as runs of consecutive asset events of one run (written together)
    and single other events."""
    stretch: list[EventLogEntry] = []
    for event in events:
        if is_asset_event(event) and (not stretch or stretch[0].run_id == event.run_id):
            stretch.append(event)
            continue
        if stretch:
            yield stretch
        stretch = [event] if is_asset_event(event) else []
        if not stretch:
            yield [event]
    if stretch:
        yield stretch


def insert_events(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """The rows inserted into event_logs with one executemany; their ids, in order."""
    result = conn.execute(
        SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True), rows)
    return [int(row[0]) for row in result.all()]


def index_asset_events(storage: Any, conn: sa.Connection, events: Sequence[EventLogEntry], event_ids: list[int]) -> None:
    """What a storage's store_event adds to the asset index for each asset event: its tags, and
    the asset's entry. Each event kind sets its own columns of the entry, so applying the newest
    event of each (asset, kind) in order leaves what storing them one by one would."""
    storage._store_asset_event_tags(conn, events, event_ids)
    newest = {(e.get_dagster_event().asset_key, e.get_dagster_event().event_type): i for i, e in enumerate(events)}
    for i in sorted(newest.values()):
        storage._store_asset_event(conn, events[i], event_ids[i])
