"""Turn gap entries into a Dagster asset backfill: a plan, then a launch.

A launch creates a real asset backfill (the UI's Backfills page shows it; the daemon runs
it with the assets' single-run backfill policies and it can be re-executed from failure
there), either through the webserver's GraphQL API or, without a webserver, by adding it
to the instance directly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from backfill_pipeline.calendar_grid import expected_counts
from backfill_pipeline.gap_file import GapEntry
from backfill_pipeline.ingest import consecutive_runs
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.partitions import date_key, effective_grain, multi_key, partition_window
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources, duration_rank
from backfill_pipeline.vendors.specs import SPECS

# Bars per request of each vendor's bar endpoint (demo: one request per call): vendors/specs.py.
PAGE_BARS = {name: spec.page_bars for name, spec in SPECS.items()}
BACKFILL_TAG = "backfill_pipeline/source"


@dataclass
class Plan:
    partitions: dict[str, list[str]]  # asset key -> partition keys
    runs_estimate: int
    requests_estimate: int

    @property
    def partition_count(self) -> int:
        return sum(len(v) for v in self.partitions.values())


def _level(sources: dict[str, str | None], timeframe: str) -> int:
    depth = 0
    while sources.get(timeframe):
        timeframe, depth = sources[timeframe], depth + 1  # type: ignore[assignment]
    return depth


def partition_check(settings: Settings) -> Callable[[str, str, dt.date], str | None]:
    """Why a session has no partition of ohlcv/<market>/<timeframe> (None: it has one).

    A backfill naming a partition that does not exist is accepted by Dagster and then fails
    whole in the daemon ("partitions have been removed"), so such entries are refused
    before anything is launched: sessions before BACKFILL_PARTITIONS_START, and sessions
    after the period in progress.
    """
    windows: dict[tuple[str, str], tuple[str, str]] = {}

    def check(market: str, timeframe: str, session: dt.date) -> str | None:
        grain = effective_grain(settings.partition_grain, timeframe)
        if (market, grain) not in windows:
            windows[(market, grain)] = partition_window(settings.market(market), grain, settings.partitions_start)
        first, last = windows[(market, grain)]
        key = date_key(grain, pd.Timestamp(session))
        asset = ohlcv_key(market, timeframe).to_user_string()
        if key < first:
            return (f"{session} is before the first partition {first} of {asset} "
                    f"(BACKFILL_PARTITIONS_START={settings.partitions_start})")
        if key > last:
            return f"{session} is after the last partition {last} of {asset}: it has no partition yet"
        return None

    return check


def plan(entries: Iterable[GapEntry], settings: Settings) -> Plan:
    partitions: dict[str, set[str]] = defaultdict(set)
    sessions: dict[tuple[str, str, str], set[pd.Timestamp]] = defaultdict(set)
    run_groups: set[tuple[str, int, str]] = set()
    sources_of: dict[str, dict[str, str | None]] = {}
    for e in entries:
        grain = effective_grain(settings.partition_grain, e.timeframe)
        key = ohlcv_key(e.market, e.timeframe).to_user_string()
        partitions[key].add(str(multi_key(date_key(grain, pd.Timestamp(e.session)), e.symbol)))
        if e.market not in sources_of:
            sources_of[e.market] = derivation_sources(settings.fetched_timeframes(e.market))
        sources = sources_of[e.market]
        run_groups.add((e.market, _level(sources, e.timeframe), e.symbol))
        if sources[e.timeframe] is None:
            sessions[(e.market, e.timeframe, e.symbol)].add(pd.Timestamp(e.session))
    requests = 0
    for (market_name, timeframe, _symbol), days in sessions.items():
        market = settings.market(market_name)
        page = PAGE_BARS.get(settings.vendor(market_name), 0)
        for run in consecutive_runs(market, pd.DatetimeIndex(sorted(days))):
            bars = int(expected_counts(market, timeframe, run, pd.Timestamp.max.tz_localize("UTC")).sum())
            requests += max(1, math.ceil(bars / page)) if page else 1
    # assets by market, then timeframe duration (1m before 15m before 1d), as everywhere else
    order = sorted(partitions, key=lambda k: (k.split("/")[1], duration_rank(k.split("/")[-1]), k))
    return Plan({k: sorted(partitions[k]) for k in order}, len(run_groups), requests)


def launch_in_instance(instance: dg.DagsterInstance, defs: dg.Definitions, the_plan: Plan, title: str) -> str:
    """Add an asset backfill to the instance; the daemon (dagster dev / dagster-daemon) runs it."""
    from backfill_pipeline.dagster_private import add_asset_backfill

    return add_asset_backfill(
        instance, defs,
        ((dg.AssetKey.from_user_string(key), pk) for key, keys in the_plan.partitions.items() for pk in keys),
        tags={BACKFILL_TAG: "cli"},
        title=title,
        description=f"{the_plan.partition_count} partitions launched by backfill-pipeline",
    )
