"""Ranged runs executed in this process against the Dagster instance (demo, benchmarks).

Each run covers a contiguous block of a market's registered symbols x a session range for
every OHLCV asset sharing one date grain, so the runs show in the UI like any other.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from backfill_pipeline.markets import Market
from backfill_pipeline.names import RANGE_END_TAG, RANGE_START_TAG, RUN_BARS_WRITTEN, RUN_REQUESTS, ohlcv_key
from backfill_pipeline.partitions import date_key, effective_grain
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunSummary:
    run_id: str
    success: bool
    assets: list[str]
    bars_written: int
    requests: int
    range_start: str  # its first and last partition keys ("date|symbol": the range tags)
    range_end: str


def contiguous_groups(order: list[str], wanted: list[str]) -> list[list[str]]:
    """Blocks of `wanted` that are contiguous in `order` (a Dagster key range is contiguous)."""
    positions = sorted(order.index(s) for s in set(wanted))
    groups: list[list[str]] = []
    for pos in positions:
        if groups and order.index(groups[-1][-1]) == pos - 1:
            groups[-1].append(order[pos])
        else:
            groups.append([order[pos]])
    return groups


def materialize_range(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    market: Market,
    symbols: list[str],
    sessions: pd.DatetimeIndex,
    timeframes: tuple[str, ...] = TIMEFRAME_NAMES,
    quiet: bool = True,
    on_start: Callable[[list[str], str, str], None] | None = None,
) -> list[RunSummary]:
    """One ranged run per date grain and contiguous symbol block; `on_start(asset keys, first
    partition key, last partition key)` is called before each run starts."""
    order = list(instance.get_dynamic_partitions(market.symbols_partitions_name))
    missing = [s for s in symbols if s not in order]
    if missing:
        raise ValueError(f"not registered in {market.name}: {', '.join(missing)}")
    by_grain: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for timeframe in timeframes:
        by_grain[effective_grain(settings.partition_grain, timeframe)].append(ohlcv_key(market.name, timeframe))
    all_assets = list(defs.assets or [])
    summaries: list[RunSummary] = []
    for grain, keys in by_grain.items():  # finer grains first: derived 1w reads stored 1d
        first, last = date_key(grain, sessions[0]), date_key(grain, sessions[-1])
        for group in contiguous_groups(order, symbols):
            tags = {
                RANGE_START_TAG: f"{first}|{group[0]}",
                RANGE_END_TAG: f"{last}|{group[-1]}",
                "backfill_pipeline/origin": "local",
            }
            if on_start is not None:
                on_start([k.to_user_string() for k in keys], tags[RANGE_START_TAG], tags[RANGE_END_TAG])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = dg.materialize(
                    all_assets,  # type: ignore[arg-type]
                    selection=keys,
                    instance=instance,
                    resources=defs.resources,
                    tags=tags,
                    run_config=QUIET_RUN_CONFIG if quiet else None,
                    raise_on_error=False,
                )
            per_asset: dict[str, tuple[int, int]] = {}  # a ranged run repeats an asset's metadata per partition
            for event in result.get_asset_materialization_events():
                meta = event.step_materialization_data.materialization.metadata
                per_asset[event.asset_key.to_user_string() if event.asset_key else ""] = (
                    int(meta[RUN_BARS_WRITTEN].value) if RUN_BARS_WRITTEN in meta else 0,  # type: ignore[arg-type]
                    int(meta[RUN_REQUESTS].value) if RUN_REQUESTS in meta else 0,  # type: ignore[arg-type]
                )
            bars = sum(b for b, _ in per_asset.values())
            requests = sum(r for _, r in per_asset.values())
            summaries.append(RunSummary(result.run_id, result.success, [k.to_user_string() for k in keys], bars,
                                        requests, tags[RANGE_START_TAG], tags[RANGE_END_TAG]))
    return summaries
