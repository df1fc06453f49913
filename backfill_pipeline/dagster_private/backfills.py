"""Asset backfills read and written as the UI and the daemon do (Dagster has no public API for them)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

__all__ = ["AssetKeyPartitionKey", "BackfillPartitions", "add_asset_backfill", "backfill_partitions",
           "requested_backfill_targets", "ui_backfill_targets"]


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
