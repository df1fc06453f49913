"""Feature assets: features/<market>/<timeframe>, one per OHLCV asset, on its partitions.

Each partition reads its bars plus a fixed number of bars before them (the lookback the
EMAs, ATR and rolling windows need), which the dependency on the OHLCV asset declares
with a TimeWindowPartitionMapping on the date dimension. Runs are ranged like the OHLCV
assets: one run per symbol range writes the warehouse and evaluates the checks in its step.
"""


import warnings
from collections.abc import Iterator

import dagster as dg

from backfill_pipeline.assets.features_checks import check_results, check_specs, materialize_metadata
from backfill_pipeline.assets.partition_input import checked_partition_keys, invalid_symbols_message
from backfill_pipeline.corporate_actions.store import has_corporate_actions
from backfill_pipeline.features.lookback import bars_per_year, lookback_partitions
from backfill_pipeline.features.store import FeatureOutcome, compute_and_store
from backfill_pipeline.markets import Market
from backfill_pipeline.names import FEATURES_GROUP, corporate_actions_key, features_key, ohlcv_key
from backfill_pipeline.partitions import DATE_DIM, SYMBOL_DIM, effective_grain, ohlcv_partitions, sessions_by_symbol
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES


def _describe(market: Market, timeframe: str, settings: Settings, adjusted: bool) -> str:
    w = settings.features
    prices = "split-adjusted prices (the symbol's stored splits)" if adjusted else "prices"
    return (
        f"Features of the {timeframe} bars of {market.name}, one row per bar, computed on {prices}: "
        f"simple and log return; realised volatility (sd of the last {w.vol} log returns, annualised by "
        f"{bars_per_year(market, timeframe):g} bars a year); Wilder ATR({w.atr}); EMA({w.ema_fast}) and "
        f"EMA({w.ema_slow}) with their relative spread and the slow EMA's log slope over {w.slope} bars; "
        f"volume z-score over {w.volume} bars. Each partition reads the {w.lookback_bars} bars before it, so "
        "its first bars equal a computation over the whole history. NULL only in the warm-up."
    )


def _ohlcv_dep(market: Market, timeframe: str, grain: str, settings: Settings) -> dg.AssetDep:
    offset = lookback_partitions(market, timeframe, grain, settings.features.lookback_bars)
    mapping = dg.MultiPartitionMapping(
        {
            DATE_DIM: dg.DimensionPartitionMapping(
                DATE_DIM,
                # the first partitions have no earlier ones; the lookback check reports them
                dg.TimeWindowPartitionMapping(start_offset=-offset, allow_nonexistent_upstream_partitions=True),
            ),
            SYMBOL_DIM: dg.DimensionPartitionMapping(SYMBOL_DIM, dg.IdentityPartitionMapping()),
        }
    )
    return dg.AssetDep(ohlcv_key(market.name, timeframe), partition_mapping=mapping)


def build_features_asset(market: Market, timeframe: str, settings: Settings) -> dg.AssetsDefinition:
    key = features_key(market.name, timeframe)
    grain = effective_grain(settings.partition_grain, timeframe)
    adjusted = has_corporate_actions(market)
    deps = [_ohlcv_dep(market, timeframe, grain, settings)]
    if adjusted:
        # a new split rescales the symbol's whole history: every date partition depends on it
        deps.append(dg.AssetDep(
            corporate_actions_key(market.name),
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=SYMBOL_DIM),
        ))

    @dg.asset(
        key=key,
        description=_describe(market, timeframe, settings, adjusted),
        partitions_def=ohlcv_partitions(market, grain, settings.partitions_start),
        deps=deps,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=FEATURES_GROUP,
        check_specs=check_specs(key, settings.features),
        required_resource_keys={"warehouse"},
        kinds={"pandas", "sql"},
        tags={"market": market.name, "timeframe": timeframe},
    )
    def _features(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        warehouse = context.resources.warehouse.get()
        outcomes: list[FeatureOutcome] = []
        partition_keys, invalid = checked_partition_keys(context, market)
        for symbol, sessions in sorted(sessions_by_symbol(market, grain, partition_keys).items()):
            outcome = compute_and_store(warehouse, market, timeframe, symbol, sessions, settings.features)
            context.log.info(
                f"{key.to_user_string()} {symbol}: {outcome.rows_written} rows over {outcome.sessions} sessions, "
                f"lookback {outcome.lookback_available}/{outcome.lookback_required} bars"
            )
            outcomes.append(outcome)
        yield dg.MaterializeResult(metadata=materialize_metadata(outcomes, settings.features))
        yield from check_results(key, outcomes)
        if invalid:
            raise dg.Failure(invalid_symbols_message(market, invalid), allow_retries=False)

    return _features


def build_features_assets(markets: list[Market], settings: Settings) -> list[dg.AssetsDefinition]:
    with warnings.catch_warnings():
        # backfill_policy and the multi-dimension mappings are beta in Dagster 1.13
        warnings.simplefilter("ignore", dg.BetaWarning)
        return [build_features_asset(m, tf, settings) for m in markets for tf in TIMEFRAME_NAMES]
