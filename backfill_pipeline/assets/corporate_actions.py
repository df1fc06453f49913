"""Corporate-action assets: corporate_actions/<market>, partitioned by symbol.

A partition is a symbol's full history of splits and dividends, replaced whole on each run
(sources revise and add events). The feature assets depend on it, so a new split shows
their partitions of that symbol as stale in the UI, to be re-materialised.
"""


import datetime as dt
import warnings
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backfill_pipeline.corporate_actions.store import has_corporate_actions, replace_actions
from backfill_pipeline.markets import CALENDAR_START, Market, get_calendar
from backfill_pipeline.names import CHECK_ACTIONS_VALID, CORPORATE_ACTIONS_GROUP, corporate_actions_key, vendor_pool
from backfill_pipeline.partitions import symbol_partitions
from backfill_pipeline.vendors.actions_source import CorporateActionsSource

_LIST = 50


def _valid(market: Market, splits: pd.DataFrame, dividends: pd.DataFrame) -> tuple[pd.Series, pd.Series, list[str]]:
    """Masks of the usable rows, and a description of each rejected one."""
    sessions = get_calendar(market.calendar_name).sessions
    ok_split = (splits["split_from"] > 0) & (splits["split_to"] > 0) & splits["execution_date"].isin(sessions)
    ok_div = (dividends["cash_amount"] > 0) & dividends["ex_dividend_date"].isin(sessions)
    problems = [f"split {r.symbol} {r.execution_date:%Y-%m-%d} {r.split_to}:{r.split_from}"
                for r in splits[~ok_split].itertuples()]
    problems += [f"dividend {r.symbol} {r.ex_dividend_date:%Y-%m-%d} {r.cash_amount}"
                 for r in dividends[~ok_div].itertuples()]
    return ok_split, ok_div, problems


def build_corporate_actions_asset(market: Market, vendor: str = "demo") -> dg.AssetsDefinition:
    key = corporate_actions_key(market.name)

    @dg.asset(
        key=key,
        description=(
            f"Splits and cash dividends of each {market.name} symbol, by ex-date, as the source reports them "
            "(raw; bars stay raw). Adjustment factors are computed from them on read: a split of ratio r "
            "divides earlier prices by r, a dividend c multiplies them by 1 - c / previous close."
        ),
        partitions_def=symbol_partitions(market),
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=CORPORATE_ACTIONS_GROUP,
        check_specs=[dg.AssetCheckSpec(
            CHECK_ACTIONS_VALID, asset=key,
            description="ERROR when the source returned a split with a non-positive ratio, a dividend of "
            "zero or less, or an ex-date that is not a session; such rows are not stored.",
        )],
        required_resource_keys={"warehouse", "corporate_actions"},
        pool=vendor_pool(vendor),
        kinds={"pandas", "sql"},
        tags={"market": market.name},
    )
    def _corporate_actions(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        warehouse = context.resources.warehouse.get()
        source: CorporateActionsSource = context.resources.corporate_actions.source(market)
        today, fetched_at = dt.datetime.now(dt.UTC).date(), dt.datetime.now(dt.UTC)
        counts: dict[str, str] = {}
        problems: list[str] = []
        requests = 0
        try:
            for symbol in sorted(context.partition_keys):
                split_result = source.list_splits(symbol, CALENDAR_START, today)
                dividend_result = source.list_dividends(symbol, CALENDAR_START, today)
                requests += split_result.requests + dividend_result.requests
                splits, dividends = split_result.frame, dividend_result.frame
                ok_split, ok_div, bad = _valid(market, splits, dividends)
                problems += bad
                n_splits, n_divs = replace_actions(
                    warehouse, market.name, symbol, splits[ok_split], dividends[ok_div], source.vendor, fetched_at
                )
                counts[symbol] = f"{n_splits} splits, {n_divs} dividends"
                context.log.info(f"{key.to_user_string()} {symbol}: {counts[symbol]}")
        finally:
            source.close()
        yield dg.MaterializeResult(metadata={
            "symbols": len(counts), "requests": requests, "vendor": source.vendor,
            "actions": dg.MetadataValue.json(dict(list(counts.items())[:_LIST])),
        })
        yield dg.AssetCheckResult(
            asset_key=key, check_name=CHECK_ACTIONS_VALID, passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rejected": len(problems), "rejected_list": dg.MetadataValue.json(problems[:_LIST])},
        )

    return _corporate_actions


def build_corporate_actions_assets(markets: list[Market]) -> list[dg.AssetsDefinition]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return [build_corporate_actions_asset(m) for m in markets if has_corporate_actions(m)]
