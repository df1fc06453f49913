"""OHLCV assets: ohlcv/<market>/<timeframe>, one per market and timeframe.

Fetched timeframes call the market's vendor; the others are resampled from a finer
timeframe on calendar-anchored bins. A fetched timeframe and the timeframes resampled from
it share one step (a subsettable multi-asset), so the fetched bars are resampled from
memory; each asset keeps its own partitions, materialisations and checks. Every step runs
ranged (one run covers a symbol's whole date range) and writes the warehouse itself.
"""


import warnings
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from backfill_pipeline.assets.ohlcv_checks import check_results, check_specs, materialize_metadata
from backfill_pipeline.assets.partition_input import checked_partition_keys, invalid_symbols_message
from backfill_pipeline.assets.retries import fetch_retry_policy
from backfill_pipeline.gaps import GRID_COLUMNS, scan
from backfill_pipeline.ingest import (
    Derived,
    FetchedRun,
    SymbolOutcome,
    derive,
    derive_and_store,
    fetch_runs,
    fetched_bars,
    store_derived,
    store_fetched,
)
from backfill_pipeline.markets import Market, get_calendar, last_closed_sessions
from backfill_pipeline.names import OHLCV_GROUP, RATE_LIMITED_TAG, bars_resource_key, ohlcv_key, vendor_pool
from backfill_pipeline.partitions import (
    effective_grain,
    ohlcv_partitions,
    sessions_by_symbol,
    source_mapping,
    split_key,
)
from backfill_pipeline.prefetch import Prefetcher
from backfill_pipeline.resample import week_labels
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources, get_timeframe
from backfill_pipeline.warehouse.store import Warehouse


def _describe(market: Market, timeframe: str, source: str | None, vendor: str) -> str:
    origin = f"fetched from the `{vendor}` vendor" if source is None else f"resampled from `{source}` bars"
    return (
        f"{timeframe} OHLCV bars of {market.name} ({market.calendar_name} calendar, {market.hours} hours), {origin}. "
        "One row per bar start (UTC) and symbol; intraday bins start at the session open and "
        "are cut at the close. Partitioned by session date x symbol."
    )


def _freshness(warehouse: Warehouse, market: Market, timeframe: str, symbols: list[str]) -> tuple[dict[str, int | None], str]:
    """Sessions (weeks for 1w) by which each symbol's newest stored bar lags the last closed
    session; None when nothing is stored."""
    newest = last_closed_sessions(market, 1)[-1]
    sessions = get_calendar(market.calendar_name).sessions
    latest = warehouse.latest_sessions(market.name, timeframe, symbols)
    lags: dict[str, int | None] = {}
    for symbol in symbols:
        stored = latest.get(symbol)
        if stored is None:
            lags[symbol] = None
        elif get_timeframe(timeframe).weekly:
            lags[symbol] = max(0, (newest - pd.Timestamp(stored)).days // 7)
        else:
            lags[symbol] = max(0, int(sessions.get_loc(newest)) - int(sessions.searchsorted(pd.Timestamp(stored))))
    return lags, f"{newest:%Y-%m-%d}"


def families(sources: dict[str, str | None], grain: str) -> list[list[str]]:
    """Timeframes computed in one step: a root (fetched, or derived from another step's
    timeframe) followed by the timeframes resampled from a fetched root on the same grain.

    With the default fetched 1m and 1d: [1m, 5m, 15m, 30m, 1h, 4h], [1d], [1w] (1w joins
    1d on a weekly or monthly grain). One step fetches a year of 1m bars once and resamples
    them from memory, instead of five more steps each reading them back from the warehouse.
    """
    def joins(tf: str) -> bool:
        src = sources[tf]
        return src is not None and sources[src] is None and effective_grain(grain, tf) == effective_grain(grain, src)

    return [[root] + [tf for tf in sources if joins(tf) and sources[tf] == root] for root in sources if not joins(root)]


def _stored_sessions(warehouse: Warehouse, market: Market, timeframe: str, symbol: str,
                     sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The sessions whose `timeframe` partition (1w: the session's week) holds bars or was built."""
    labels = pd.DatetimeIndex(week_labels(market, pd.Series(sessions))) if get_timeframe(timeframe).weekly else sessions
    first, last = labels.min().date(), labels.max().date()
    stored = set(warehouse.bar_counts(market.name, timeframe, first, last, [symbol])["session"])
    stored |= set(warehouse.built_from(market.name, timeframe, first, last, [symbol])["session"])
    return sessions[labels.isin(list(stored))]


def _covered(market: Market, timeframe: str, by_symbol: dict[str, pd.DatetimeIndex],
             table: pd.DataFrame) -> np.ndarray:
    """Which scan rows are partitions this run materialised (1w: the weeks of its sessions)."""
    parts = []
    for symbol, days in by_symbol.items():
        labels = pd.DatetimeIndex(week_labels(market, pd.Series(days)).unique()) if get_timeframe(timeframe).weekly else days
        parts.append(pd.DataFrame({"symbol": symbol, "session": labels.astype("datetime64[ns]")}))
    wanted = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["symbol", "session"])
    keys = pd.MultiIndex.from_frame(table[["symbol", "session"]].astype({"session": "datetime64[ns]"}))
    return keys.isin(pd.MultiIndex.from_frame(wanted))


def dependents(sources: dict[str, str | None], root: str) -> list[str]:
    """Timeframes resampled from `root`, directly or through another, sources first."""
    out: list[str] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop(0)
        children = [tf for tf, src in sources.items() if src == parent]
        out += children
        frontier += children
    return out


def build_ohlcv_family(market: Market, members: list[str], sources: dict[str, str | None],
                       settings: Settings) -> dg.AssetsDefinition:
    root = members[0]
    fetched = sources[root] is None
    grain = effective_grain(settings.partition_grain, root)
    vendor = settings.vendor(market.name)
    partitions = ohlcv_partitions(market, grain, settings.partitions_start)
    keys = {tf: ohlcv_key(market.name, tf) for tf in members}
    specs = [
        dg.AssetSpec(
            key=keys[tf],
            description=_describe(market, tf, sources[tf], vendor),
            partitions_def=partitions,
            deps=[dg.AssetDep(ohlcv_key(market.name, sources[tf]), partition_mapping=source_mapping())]  # type: ignore[arg-type]
            if sources[tf] else [],
            group_name=OHLCV_GROUP,
            kinds={"pandas", "sql"},
            tags={"market": market.name, "timeframe": tf},
            skippable=True,
        )
        for tf in members
    ]

    @dg.multi_asset(
        name=f"ohlcv_{market.name}_{root}" + ("_and_derived" if len(members) > 1 else ""),
        specs=specs,
        check_specs=[spec for tf in members for spec in check_specs(keys[tf])],
        can_subset=True,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={"warehouse", bars_resource_key(market.name)} if fetched else {"warehouse"},
        pool=vendor_pool(vendor) if fetched else None,
        retry_policy=fetch_retry_policy(settings, vendor) if fetched else None,
    )
    def _family(
        context: dg.AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckResult]:
        warehouse = context.resources.warehouse.get()
        now = pd.Timestamp.now(tz="UTC")
        selected = [tf for tf in members if keys[tf] in context.selected_asset_keys]
        partition_keys, invalid = checked_partition_keys(context, market)
        by_symbol = sessions_by_symbol(market, grain, partition_keys)
        outcomes: dict[str, list[SymbolOutcome]] = {tf: [] for tf in selected}
        outside = [tf for tf in dependents(sources, root) if tf not in selected]
        warehouse.register_series(market.name, [(tf, sym) for sym in by_symbol for tf in selected])
        client = (getattr(context.resources, bars_resource_key(market.name)).client(market)
                  if fetched and root in selected else None)
        # resampled from the fetched bars in memory, ahead of the writes (1w reads whole weeks back)
        in_memory = [tf for tf in selected if tf != root and not get_timeframe(tf).weekly]

        def fetch_and_derive(sym: str) -> tuple[list[FetchedRun], dict[str, Derived]]:
            runs = fetch_runs(client, market, root, sym, by_symbol[sym], context.run_id, now)  # type: ignore[arg-type]
            src = fetched_bars(runs)  # None: a run failed, and its derived bars stay as they were
            return runs, {} if src is None else {tf: derive(market, tf, sym, by_symbol[sym], src, now)
                                                    for tf in in_memory}

        # the next symbol is fetched and resampled while this one is written (one thread, same
        # request order); the writes keep their order
        ahead = Prefetcher(fetch_and_derive, sorted(by_symbol)) if client is not None else None
        try:
            for symbol, sessions in sorted(by_symbol.items()):
                root_bars = None  # the root's bars as stored by this step, when it wrote them
                derived: dict[str, Derived] = {}
                for tf in selected:
                    if tf == root and client is not None and ahead is not None:
                        runs, derived = ahead.get(symbol)
                        outcome = store_fetched(warehouse, client, market, tf, symbol, runs, now)
                    elif tf != root and root in selected and outcomes[root][-1].errors:
                        outcome = SymbolOutcome(symbol)  # its fetch failed: derived bars stay as they were
                    elif tf in derived:
                        outcome = store_derived(warehouse, market, derived.pop(tf))
                    elif tf == root or root_bars is None:
                        outcome = derive_and_store(warehouse, market, tf, sources[tf], symbol, sessions, now)  # type: ignore[arg-type]
                    else:
                        outcome = derive_and_store(warehouse, market, tf, root, symbol, sessions, now, source_bars=root_bars)
                    if tf == root:
                        root_bars = outcome.stored
                    outcome.stored = None  # frames are not kept past their symbol
                    outcomes[tf].append(outcome)
                # timeframes resampled from the root outside this step (e.g. the 1w of a week
                # a 1d step touched), where they are stored: rebuilt now from the new bars, so
                # none is left built from old ones (what was never built stays a gap to fill)
                rebuilt = []
                if root in selected and not outcomes[root][-1].errors:
                    for tf in outside:
                        # only the partitions already there: what was never built is not
                        # built behind the asset's back (and the result is order-independent)
                        stored = _stored_sessions(warehouse, market, tf, symbol, sessions)
                        if not len(stored):
                            continue
                        source_bars = root_bars if sources[tf] == root else None
                        again = derive_and_store(warehouse, market, tf, sources[tf], symbol, stored, now,  # type: ignore[arg-type]
                                                 source_bars=source_bars)
                        rebuilt.append(f"{tf} {again.bars_written:,} (rebuilt)")
                # one line per symbol: each log line is an event-log row in the instance
                written = ", ".join([f"{tf} {outcomes[tf][-1].bars_written:,}" for tf in selected] + rebuilt)
                context.log.info(f"{symbol}: {len(sessions)} sessions; bars written: {written}")
        finally:
            if ahead is not None:
                ahead.close()
            if client is not None:
                client.close()
        symbols = sorted(by_symbol)
        # symbols whose partitions this run did not fill: a failed fetch, or a refused symbol
        failed_symbols = {o.symbol for tf in selected for o in outcomes[tf] if o.errors} | set(invalid)
        all_sessions = pd.DatetimeIndex(sorted(set().union(*by_symbol.values()))) if by_symbol else pd.DatetimeIndex([])
        checks = context.selected_asset_check_keys
        # one scan for every selected timeframe (a timeframe's source is scanned once, not per dependent)
        tables = dict(tuple(scan(warehouse, market, symbols, selected, all_sessions, sources, now).groupby("timeframe")))
        for tf in selected:
            key = keys[tf]
            table = tables.get(tf, pd.DataFrame(columns=GRID_COLUMNS))
            table = table[_covered(market, tf, by_symbol, table)].reset_index(drop=True)
            lags, newest = _freshness(warehouse, market, tf, symbols)
            is_fetched = sources[tf] is None
            metadata = materialize_metadata(outcomes[tf], vendor if is_fetched else None)
            if failed_symbols:
                # Only the partitions of the symbols that worked are materialised, so the UI and
                # the backfill show the failed symbols' partitions as failed, not as done.
                for partition_key in context.partition_keys:
                    if split_key(partition_key)[1] not in failed_symbols:
                        yield dg.AssetMaterialization(asset_key=key, partition=partition_key, metadata=metadata)
            else:
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            for result in check_results(key, outcomes[tf], table, settings.tolerance(market.name, tf),
                                        lags, settings.freshness_sessions, newest):
                if dg.AssetCheckKey(key, result.check_name) in checks:  # type: ignore[arg-type]
                    yield result
        failed = [o for tf in selected for o in outcomes[tf] if o.errors]
        errors = [e for o in failed for e in o.errors]
        if any(o.rate_limited for o in failed):
            # resuming the backfill re-runs exactly these partitions; the tag makes them findable
            context.instance.add_run_tags(context.run_id, {RATE_LIMITED_TAG: "true"})
        if errors or invalid:
            names = ", ".join(keys[tf].to_user_string() for tf in selected if any(o.errors for o in outcomes[tf]))
            parts = [invalid_symbols_message(market, invalid)] if invalid else []
            if errors:
                parts.append(f"{len(errors)} fetch(es) failed for {names}: " + "; ".join(errors[:5]))
            raise dg.Failure(
                description="; ".join(parts),
                metadata={"failed_fetches": len(errors), "invalid_symbols": len(invalid)},
                # a refused key or an invalid symbol fails the same way again
                allow_retries=not invalid and not any(o.auth_failed for o in failed),
            )

    return _family


def build_ohlcv_assets(markets: list[Market], settings: Settings) -> list[dg.AssetsDefinition]:
    assets = []
    with warnings.catch_warnings():
        # backfill_policy is marked beta in Dagster 1.13; ranged runs are the point here.
        warnings.simplefilter("ignore", dg.BetaWarning)
        for market in markets:
            sources = derivation_sources(settings.fetched_timeframes(market.name))
            for members in families(sources, settings.partition_grain):
                assets.append(build_ohlcv_family(market, members, sources, settings))
    return assets
