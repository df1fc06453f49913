"""OHLCV assets: ohlcv/<market>/<timeframe>, one per market and timeframe.

Fetched timeframes call the market's vendor; the others are resampled from a finer stored
timeframe on calendar-anchored bins. Every asset runs ranged (one run covers a symbol's
whole date range), writes the warehouse itself and evaluates its checks in its own step.
"""


import warnings
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backfill_pipeline.assets.ohlcv_checks import check_results, check_specs, materialize_metadata
from backfill_pipeline.automation.retries import fetch_retry_policy
from backfill_pipeline.gaps import scan
from backfill_pipeline.ingest import SymbolOutcome, derive_and_store, fetch_and_store
from backfill_pipeline.markets import Market, get_calendar, last_closed_sessions
from backfill_pipeline.resample import week_labels
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline.names import OHLCV_GROUP, RATE_LIMITED_TAG, ohlcv_key, vendor_pool
from backfill_pipeline.partitions import effective_grain, ohlcv_partitions, sessions_by_symbol, source_mapping
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources


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
        elif timeframe == "1w":
            lags[symbol] = max(0, (newest - pd.Timestamp(stored)).days // 7)
        else:
            lags[symbol] = max(0, int(sessions.get_loc(newest)) - int(sessions.searchsorted(pd.Timestamp(stored))))
    return lags, f"{newest:%Y-%m-%d}"


def build_ohlcv_asset(market: Market, timeframe: str, sources: dict[str, str | None], settings: Settings) -> dg.AssetsDefinition:
    key = ohlcv_key(market.name, timeframe)
    source = sources[timeframe]
    grain = effective_grain(settings.partition_grain, timeframe)
    vendor = settings.vendor(market.name)

    @dg.asset(
        key=key,
        description=_describe(market, timeframe, source, vendor),
        partitions_def=ohlcv_partitions(market, grain, settings.partitions_start),
        deps=[dg.AssetDep(ohlcv_key(market.name, source), partition_mapping=source_mapping())] if source else [],
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=OHLCV_GROUP,
        check_specs=check_specs(key),
        required_resource_keys={"warehouse", vendor} if source is None else {"warehouse"},
        pool=vendor_pool(vendor) if source is None else None,
        retry_policy=fetch_retry_policy(settings, vendor) if source is None else None,
        kinds={"pandas", "sql"},
        tags={"market": market.name, "timeframe": timeframe},
    )
    def _ohlcv(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        warehouse = context.resources.warehouse.get()
        now = pd.Timestamp.now(tz="UTC")
        by_symbol = sessions_by_symbol(market, grain, context.partition_keys)
        outcomes: list[SymbolOutcome] = []
        client = getattr(context.resources, vendor).client(market) if source is None else None
        try:
            for symbol, sessions in sorted(by_symbol.items()):
                if client is not None:
                    outcome = fetch_and_store(warehouse, client, market, timeframe, symbol, sessions, context.run_id, now)
                else:
                    assert source is not None
                    outcome = derive_and_store(warehouse, market, timeframe, source, symbol, sessions, now)
                context.log.info(f"{key.to_user_string()} {symbol}: {outcome.bars_written} bars over {len(sessions)} sessions")
                outcomes.append(outcome)
        finally:
            if client is not None:
                client.close()
        symbols = sorted(by_symbol)
        all_sessions = pd.DatetimeIndex(sorted(set().union(*by_symbol.values()))) if by_symbol else pd.DatetimeIndex([])
        table = scan(warehouse, market, symbols, [timeframe], all_sessions, sources, now)
        if timeframe == "1w":
            by_symbol = {s: pd.DatetimeIndex(week_labels(market, pd.Series(v)).unique()) for s, v in by_symbol.items()}
        wanted = {(s, d) for s, days in by_symbol.items() for d in days}
        table = table[[(s, d) in wanted for s, d in zip(table["symbol"], table["session"], strict=True)]]
        lags, newest = _freshness(warehouse, market, timeframe, symbols)
        yield dg.MaterializeResult(metadata=materialize_metadata(outcomes, vendor if source is None else None))
        yield from check_results(key, outcomes, table, settings.tolerance(market.name, timeframe),
                                 lags, settings.freshness_sessions, newest)
        errors = [e for o in outcomes for e in o.errors]
        if any(o.rate_limited for o in outcomes):
            # resuming the backfill re-runs exactly these partitions; the tag makes them findable
            context.instance.add_run_tags(context.run_id, {RATE_LIMITED_TAG: "true"})
        if errors:
            raise dg.Failure(
                description=f"{len(errors)} fetch(es) failed for {key.to_user_string()}: " + "; ".join(errors[:5]),
                metadata={"failed_fetches": len(errors)},
                allow_retries=not any(o.auth_failed for o in outcomes),
            )

    return _ohlcv


def build_ohlcv_assets(markets: list[Market], settings: Settings) -> list[dg.AssetsDefinition]:
    assets = []
    with warnings.catch_warnings():
        # backfill_policy is marked beta in Dagster 1.13; ranged runs are the point here.
        warnings.simplefilter("ignore", dg.BetaWarning)
        for market in markets:
            sources = derivation_sources(settings.fetched_timeframes(market.name))
            for timeframe in sources:
                assets.append(build_ohlcv_asset(market, timeframe, sources, settings))
    return assets
