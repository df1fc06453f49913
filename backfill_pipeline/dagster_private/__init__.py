"""Every use of Dagster's private API (`dagster._core`, `dagster._utils`, dagster-postgres'
storage internals), in one place: this package.

Dagster does not re-export these names, so a Dagster upgrade may move or change them.
`backfill_pipeline_tests/test_dagster_private.py` imports and exercises each one, so an
upgrade that breaks them fails that test loudly instead of a sensor or the CLI at run time.
Pinned release: dagster 1.13.27 (pyproject.toml).

- names.py: private names used as they are (job class, cron arithmetic, config validation);
- backfills.py: asset backfills read and written as the UI and the daemon do;
- event_batches.py, planned_ranges.py: what both event log storages share (a batch of asset
  events in one transaction; one planned event per asset and run, read back per partition);
- sqlite_event_log.py, postgres_event_log.py: the event log storages the instances use
  (dagster.yaml, docker/dagster.yaml). The PostgreSQL one is imported when first named
  (dagster-postgres costs 0.2 s of import in every run process of the embedded instance).
"""

from typing import Any

from backfill_pipeline.dagster_private.backfills import (
    AssetKeyPartitionKey,
    BackfillPartitions,
    add_asset_backfill,
    backfill_partitions,
    requested_backfill_targets,
    ui_backfill_targets,
)
from backfill_pipeline.dagster_private.event_batches import EVENT_BATCHING_ENV
from backfill_pipeline.dagster_private.names import (
    AssetJob,
    EngineEventData,
    cron_ticks_before,
    dagster_instance_config,
    is_valid_cron_string,
    partition_loading_context,
)
from backfill_pipeline.dagster_private.sqlite_event_log import BatchedSqliteEventLogStorage

__all__ = [
    "EVENT_BATCHING_ENV",
    "AssetJob",
    "AssetKeyPartitionKey",
    "BackfillPartitions",
    "BatchedPostgresEventLogStorage",
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


def __getattr__(name: str) -> Any:
    if name == "BatchedPostgresEventLogStorage":
        from backfill_pipeline.dagster_private.postgres_event_log import BatchedPostgresEventLogStorage

        return BatchedPostgresEventLogStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
