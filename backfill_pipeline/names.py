"""Names used across definitions, tests and the CLI: one place for each."""

from __future__ import annotations

import dagster as dg

OHLCV_GROUP = "ohlcv"
RATE_LIMITED_TAG = "backfill_pipeline/rate_limited"  # on runs whose fetches hit the rate-limit bound
# The node (host / pid namespace, local_process.node_id) a run executes on: its worker pid is
# judged only there (run_liveness.py).
RUN_NODE_TAG = "backfill_pipeline/run_node"
CHECK_OHLC_VALID = "ohlc_valid"
CHECK_UNIQUE = "unique_timestamps"
CHECK_INSIDE_SESSION = "inside_session"
CHECK_COMPLETE = "complete"
CHECK_FRESH = "fresh"
OHLCV_CHECKS: tuple[str, ...] = (CHECK_OHLC_VALID, CHECK_UNIQUE, CHECK_INSIDE_SESSION, CHECK_COMPLETE, CHECK_FRESH)


def ohlcv_key(market: str, timeframe: str) -> dg.AssetKey:
    return dg.AssetKey(["ohlcv", market, timeframe])


def bars_resource_key(market: str) -> str:
    """Resource key of a market's bar vendor (`bars_us_equities`): stable whichever vendor
    BACKFILL_VENDOR_<MARKET> names, so switching vendors changes configuration, not the
    asset definitions' resource requirements."""
    return f"bars_{market}"


def vendor_pool(vendor: str) -> str:
    """Concurrency pool of the assets that call `vendor` (sized by docker/init_instance.sh;
    the embedded default gives every pool dagster.yaml's default_limit)."""
    return f"vendor_{vendor}"


FEATURES_GROUP = "features"
MACRO_GROUP = "macro"
CORPORATE_ACTIONS_GROUP = "corporate_actions"
CHECK_FEATURES_FINITE = "features_finite"
CHECK_LOOKBACK = "lookback_available"
CHECK_MACRO_REQUIRED = "required_fields"
CHECK_MACRO_POINT_IN_TIME = "point_in_time"
CHECK_ACTIONS_VALID = "actions_valid"
MACRO_OBSERVATIONS_KEY = dg.AssetKey(["macro", "fred_observations"])
MACRO_DAILY_KEY = dg.AssetKey(["macro", "daily"])


def features_key(market: str, timeframe: str) -> dg.AssetKey:
    return dg.AssetKey(["features", market, timeframe])


def corporate_actions_key(market: str) -> dg.AssetKey:
    return dg.AssetKey(["corporate_actions", market])


# Automation (backfill_pipeline/automation/): jobs, schedules, sensors and run tags.
GAP_SENSOR = "gap_fill_48h_sensor"
UNIVERSE_SENSOR = "universe_sync_sensor"
WEEKLY_SENSOR = "weekly_rollup_sensor"
SYMBOL_RULE_SENSOR = "symbol_rule_sensor"


def ui_selection(market: str) -> str:
    """The asset selection (Dagster's selection syntax) the README gives for backfilling every
    timeframe of a market from the UI in one launch."""
    return f"group:{OHLCV_GROUP} and tag:market={market}"
BACKFILL_STATUS_KEY = dg.AssetKey(["reports", "backfill_status"])
# Dagster's tags of a ranged run (one run for a range of partitions).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

TAG_ORIGIN = "backfill_pipeline/origin"  # schedule | gap_sensor | universe_sync | weekly_rollup | local
TAG_BATCH = "backfill_pipeline/batch"  # the runs one tick requested, listed together by `status`
TAG_MARKET = "backfill_pipeline/market"


def ohlcv_job_name(market: str) -> str:
    """The market's OHLCV assets on the configured date grain (1m .. 1d by default)."""
    return f"{market}_ohlcv_job"


def ohlcv_weekly_job_name(market: str) -> str:
    """The market's 1w asset, when its weekly partitions differ from the configured grain."""
    return f"{market}_ohlcv_weekly_job"


def daily_schedule_name(market: str) -> str:
    return f"{market}_daily_schedule"


# A ranged run records one materialisation per partition, all carrying the metadata of the
# MaterializeResult (Dagster 1.13 has no per-partition metadata on it), so every figure is
# named for what it counts: the whole run's step, not the partition it is shown on. No
# `dagster/row_count`: the UI would show the run's total as the partition's row count.
RUN_BARS_WRITTEN = "run_bars_written"
RUN_REQUESTS = "run_requests"
