"""One "materialisation planned" event per asset and run, read back per partition.

When Dagster creates a run it records, per asset, the partitions the run plans to
materialise. By default that is one event per partition: a ranged run of a year of 10
symbols on the daily grain writes 2,520 of them per asset before it starts, a third of the
run's bookkeeping. Dagster can write one event carrying the partition range instead
(`supports_partition_subset_in_asset_materialization_planned_events`, what
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS switches on), but its readers only look at
per-partition events, so a failed ranged run's partitions then show as missing, not failed,
and no partition of a running one shows as in progress.

This mixin turns the range on and teaches the two readers the UI, the asset status cache and
the sensors use (`get_latest_asset_partition_materialization_attempts_without_materializations`,
`get_latest_planned_materialization_info`) to count a range event for each of its partitions,
so the statuses are what per-partition events would give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.base import PlannedMaterializationInfo
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster_shared.serdes import deserialize_value

_PLANNED = DagsterEventType.ASSET_MATERIALIZATION_PLANNED
_MATERIALIZED = DagsterEventType.ASSET_MATERIALIZATION


class PlannedRangesMixin:
    """For a SqlEventLogStorage subclass (SQLite or PostgreSQL): planned events as ranges."""

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        return True

    def _ranged_planned_events(self, asset_key: dg.AssetKey, after_storage_id: int | None = None,
                               newest_first: bool = False) -> list[tuple[int, str, set[str]]]:
        """(storage id, run id, partition keys) of the asset's planned events that carry a range."""
        table = SqlEventLogStorageTable
        query = sa.select(table.c.id, table.c.run_id, table.c.event).where(
            table.c.asset_key == asset_key.to_string(),
            table.c.dagster_event_type == _PLANNED.value,
            table.c.partition.is_(None),
        )
        if after_storage_id is not None:
            query = query.where(table.c.id > after_storage_id)
        storage: Any = self
        query = storage._add_assets_wipe_filter_to_query(query, storage._get_assets_details([asset_key]), [asset_key])
        query = query.order_by(table.c.id.desc() if newest_first else table.c.id.asc())
        out = []
        with storage.index_connection() as conn:
            rows = conn.execute(query).all()
        for storage_id, run_id, body in rows:
            planned = deserialize_value(body, EventLogEntry).get_dagster_event().event_specific_data
            subset = getattr(planned, "partitions_subset", None)
            if subset is not None:
                out.append((int(storage_id), str(run_id), {str(k) for k in subset.get_partition_keys()}))
        return out

    def get_latest_asset_partition_materialization_attempts_without_materializations(
        self, asset_key: dg.AssetKey, after_storage_id: int | None = None
    ) -> Mapping[str, tuple[str, int]]:
        """Partition -> (run id, planned event id) of the partitions whose newest event is a
        planned one (in progress, or failed if that run failed), range events included."""
        storage: Any = self
        attempts = {p: v for p, v in super().get_latest_asset_partition_materialization_attempts_without_materializations(  # type: ignore[misc]
            asset_key, after_storage_id=after_storage_id).items() if p is not None}
        ranges = self._ranged_planned_events(asset_key, after_storage_id)
        if not ranges:
            return attempts
        latest_range: dict[str, tuple[str, int]] = {}
        for storage_id, run_id, partitions in ranges:  # oldest first: the newest range wins
            for partition in partitions:
                latest_range[partition] = (run_id, storage_id)
        newest_per_partition: dict[str, int] = {}
        subquery = storage._latest_event_ids_by_partition_subquery(asset_key, [_MATERIALIZED, _PLANNED],
                                                                    after_cursor=after_storage_id)
        with storage.index_connection() as conn:
            for partition, storage_id in conn.execute(sa.select(subquery.c.partition, subquery.c.id)).all():
                newest_per_partition[partition] = max(int(storage_id), newest_per_partition.get(partition, 0))
        for partition, (run_id, storage_id) in latest_range.items():
            if storage_id > newest_per_partition.get(partition, 0):
                attempts[partition] = (run_id, storage_id)
        return attempts

    def get_latest_planned_materialization_info(
        self, asset_key: dg.AssetKey, partition: str | None = None
    ) -> PlannedMaterializationInfo | None:
        """The newest planned event of the asset (of the partition, range events included)."""
        own = super().get_latest_planned_materialization_info(asset_key, partition)  # type: ignore[misc]
        if partition is None:
            return own
        for storage_id, run_id, partitions in self._ranged_planned_events(
                asset_key, own.storage_id if own else None, newest_first=True):
            if partition in partitions:
                return PlannedMaterializationInfo(storage_id=storage_id, run_id=run_id)
        return own
