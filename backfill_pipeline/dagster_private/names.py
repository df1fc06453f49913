"""Private Dagster names used as they are."""

from __future__ import annotations

from collections.abc import Iterator

from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.events import EngineEventData
from dagster._core.instance.config import dagster_instance_config
from dagster._utils.schedules import is_valid_cron_string, reverse_cron_string_iterator

# What define_asset_job returns; `dagster` does not export the class.
AssetJob = UnresolvedAssetJobDefinition

__all__ = ["AssetJob", "EngineEventData", "cron_ticks_before", "dagster_instance_config", "is_valid_cron_string",
           "partition_loading_context"]


def cron_ticks_before(cron: str, timestamp: float, timezone: str = "UTC") -> Iterator:
    """Dagster's own cron arithmetic: the ticks of `cron` strictly before `timestamp`, newest first."""
    return reverse_cron_string_iterator(timestamp, cron, timezone)
