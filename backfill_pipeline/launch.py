"""Turn gap entries into a Dagster asset backfill: a plan, then a launch.

A launch creates a real asset backfill (the UI's Backfills page shows it; the daemon runs
it with the assets' single-run backfill policies and it can be re-executed from failure
there), either through the webserver's GraphQL API or, without a webserver, by adding it
to the instance directly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from backfill_pipeline.gap_file import GapEntry
from backfill_pipeline.ingest import consecutive_runs, fetch_window
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.partitions import (
    date_key,
    date_partitions,
    effective_grain,
    multi_key,
    partition_window,
    sessions_by_symbol,
    split_key,
)
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources, duration_rank
from backfill_pipeline.vendors.spec import RequestCount
from backfill_pipeline.vendors.specs import vendor_spec

BACKFILL_TAG = "backfill_pipeline/source"


@dataclass
class Plan:
    partitions: dict[str, list[str]]  # asset key -> partition keys
    runs_estimate: int
    # At most this many vendor requests (fetch_requests): exact when the vendor has every bar
    # the calendar allows, fewer where it has fewer; retried requests (429s, errors) come on top.
    requests_estimate: int
    # The weight those requests charge each vendor that weighs its requests (fetch_weight:
    # EODHD's API calls of the daily quota, Binance's request weight), with the same bounds.
    weights_estimate: dict[str, int] = field(default_factory=dict)

    @property
    def partition_count(self) -> int:
        return sum(len(v) for v in self.partitions.values())

    @property
    def requests_text(self) -> str:
        weights = "".join(f", {n:,} {vendor_spec(vendor).weight_unit}" for vendor, n in self.weights_estimate.items())
        return f"at most {self.requests_estimate:,} vendor requests{weights} (retries not counted)"


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


def fetch_requests(settings: Settings, market_name: str, timeframe: str, symbol: str, keys: Iterable[str]) -> int:
    """The vendor requests the fetch of `timeframe` for `symbol`'s partitions `keys` makes,
    followed the way the asset goes: it fetches every session of its partitions (on a weekly
    or monthly grain, the whole week or month, not only the sessions of a gap), one client
    call per run of consecutive sessions (ingest.fetch_runs), each split into requests by the
    vendor's own rule (its spec's `requests`: Polygon's pages of base minutes, extended hours
    included; EODHD's windows of days; Binance's pages of klines).

    An upper bound: exact when the vendor has every bar the calendar allows (every minute of
    the extended session traded), lower where it has fewer (fewer pages), and retries of
    throttled or failed requests are not counted."""
    return _per_client_call(settings, market_name, timeframe, symbol, keys,
                            vendor_spec(settings.vendor(market_name)).requests)


def fetch_weight(settings: Settings, market_name: str, timeframe: str, symbol: str, keys: Iterable[str]) -> int | None:
    """The weight fetch_requests' requests charge the vendor's weighted rates, by its spec's
    `weights` rule (EODHD: the API calls of the daily quota, 5 an intraday request; Binance:
    its request weight), the same per-request weights its client gives the limiter; None
    where the vendor weighs no request. Same bounds as fetch_requests."""
    rule = vendor_spec(settings.vendor(market_name)).weights
    return None if rule is None else _per_client_call(settings, market_name, timeframe, symbol, keys, rule)


def _per_client_call(settings: Settings, market_name: str, timeframe: str, symbol: str, keys: Iterable[str],
                     rule: RequestCount) -> int:
    market = settings.market(market_name)
    sessions = sessions_by_symbol(market, effective_grain(settings.partition_grain, timeframe), keys).get(symbol)
    if sessions is None:
        return 0
    return sum(rule(market, timeframe, *fetch_window(market, timeframe, run))
               for run in consecutive_runs(market, sessions))


def range_requests(settings: Settings, market_name: str, timeframe: str, start: str, end: str,
                   symbols: Sequence[str]) -> int:
    """The vendor requests a ranged run of ohlcv/<market>/<timeframe> from partition `start` to
    `end` ("date|symbol", its dagster/asset_partition_range_start/_end tags) makes: Dagster
    takes every date partition from the first date key to the last, for every symbol from the
    first to the last in `symbols` (the symbol partitions, in their registration order), and
    each symbol's fetch is counted by fetch_requests."""
    (first_date, first_symbol), (last_date, last_symbol) = split_key(start), split_key(end)
    grain = effective_grain(settings.partition_grain, timeframe)
    dates = date_partitions(settings.market(market_name), grain, settings.partitions_start)
    date_keys = dates.get_partition_keys_in_range(dg.PartitionKeyRange(first_date, last_date))
    chosen = symbols[symbols.index(first_symbol):symbols.index(last_symbol) + 1]
    return sum(fetch_requests(settings, market_name, timeframe, symbol, [f"{d}|{symbol}" for d in date_keys])
               for symbol in chosen)


def plan(entries: Iterable[GapEntry], settings: Settings) -> Plan:
    """The partitions of `entries` by asset, the runs the daemon will make (one per symbol and
    dependency level), the vendor requests their fetches make at most (fetch_requests) and
    what they weigh where a vendor weighs requests (fetch_weight)."""
    partitions: dict[str, set[str]] = defaultdict(set)
    fetched: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # fetched series -> its partition keys
    run_groups: set[tuple[str, int, str]] = set()
    sources_of: dict[str, dict[str, str | None]] = {}
    for e in entries:
        grain = effective_grain(settings.partition_grain, e.timeframe)
        key = ohlcv_key(e.market, e.timeframe).to_user_string()
        partition = str(multi_key(date_key(grain, pd.Timestamp(e.session)), e.symbol))
        partitions[key].add(partition)
        if e.market not in sources_of:
            sources_of[e.market] = derivation_sources(settings.fetched_timeframes(e.market))
        sources = sources_of[e.market]
        run_groups.add((e.market, _level(sources, e.timeframe), e.symbol))
        if sources[e.timeframe] is None:  # derived timeframes are resampled, never fetched
            fetched[(e.market, e.timeframe, e.symbol)].add(partition)
    requests = sum(fetch_requests(settings, *series, keys) for series, keys in fetched.items())
    weights: dict[str, int] = defaultdict(int)
    for series, keys in fetched.items():
        weight = fetch_weight(settings, *series, keys)
        if weight is not None:
            weights[settings.vendor(series[0])] += weight
    # assets by market, then timeframe duration (1m before 15m before 1d), as everywhere else
    order = sorted(partitions, key=lambda k: (k.split("/")[1], duration_rank(k.split("/")[-1]), k))
    return Plan({k: sorted(partitions[k]) for k in order}, len(run_groups), requests, dict(sorted(weights.items())))


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
