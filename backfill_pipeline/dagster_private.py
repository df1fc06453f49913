"""Every use of Dagster's private API (`dagster._core`, `dagster._utils`), in one place.

Dagster does not re-export these names, so a Dagster upgrade may move or change them.
`backfill_pipeline_tests/test_dagster_private.py` imports and exercises each one, so an
upgrade that breaks them fails that test loudly instead of a sensor or the CLI at run time.
Pinned release: dagster 1.13.27 (pyproject.toml).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.events import EngineEventData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.instance.config import dagster_instance_config
from dagster._core.utils import make_new_backfill_id
from dagster._utils.schedules import is_valid_cron_string, reverse_cron_string_iterator

# What define_asset_job returns; `dagster` does not export the class.
AssetJob = UnresolvedAssetJobDefinition

__all__ = [
    "AssetJob",
    "AssetKeyPartitionKey",
    "EngineEventData",  # tests: report a run worker's pid as Dagster's launchers do
    "add_asset_backfill",
    "cron_ticks_before",
    "dagster_instance_config",  # validates a dagster.yaml against the instance schema
    "is_valid_cron_string",
    "partition_loading_context",  # needed to resolve dynamic partitions outside a run
    "requested_backfill_targets",
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
