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
from backfill_pipeline.ingest import SymbolOutcome, derive_and_store, fetch_and_store
from backfill_pipeline.markets import Market
from backfill_pipeline.names import OHLCV_GROUP, ohlcv_key, vendor_pool
from backfill_pipeline.partitions import effective_grain, ohlcv_partitions, sessions_by_symbol
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources


def _describe(market: Market, timeframe: str, source: str | None, vendor: str) -> str:
    origin = f"fetched from the `{vendor}` vendor" if source is None else f"resampled from `{source}` bars"
    return (
        f"{timeframe} OHLCV bars of {market.name} ({market.calendar_name} calendar), {origin}. "
        "One row per bar start (UTC) and symbol; intraday bins start at the session open and "
        "are cut at the close. Partitioned by session date x symbol."
    )


def build_ohlcv_asset(market: Market, timeframe: str, source: str | None, settings: Settings) -> dg.AssetsDefinition:
    key = ohlcv_key(market.name, timeframe)
    grain = effective_grain(settings.partition_grain, timeframe)
    vendor = settings.vendor(market.name)

    @dg.asset(
        key=key,
        description=_describe(market, timeframe, source, vendor),
        partitions_def=ohlcv_partitions(market, grain, settings.partitions_start),
        deps=[ohlcv_key(market.name, source)] if source else [],
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=OHLCV_GROUP,
        check_specs=check_specs(key),
        required_resource_keys={"warehouse", vendor} if source is None else {"warehouse"},
        pool=vendor_pool(vendor) if source is None else None,
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
        yield dg.MaterializeResult(metadata=materialize_metadata(outcomes, vendor if source is None else None))
        yield from check_results(key, outcomes, settings.completeness_min)
        errors = [e for o in outcomes for e in o.errors]
        if errors:
            raise dg.Failure(
                description=f"{len(errors)} fetch(es) failed for {key.to_user_string()}: " + "; ".join(errors[:5]),
                metadata={"failed_fetches": len(errors)},
            )

    return _ohlcv


def build_ohlcv_assets(markets: list[Market], settings: Settings) -> list[dg.AssetsDefinition]:
    assets = []
    with warnings.catch_warnings():
        # backfill_policy is marked beta in Dagster 1.13; ranged runs are the point here.
        warnings.simplefilter("ignore", dg.BetaWarning)
        for market in markets:
            for timeframe, source in derivation_sources(settings.fetched_timeframes(market.name)).items():
                assets.append(build_ohlcv_asset(market, timeframe, source, settings))
    return assets
