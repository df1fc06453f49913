"""Check specs and results of the OHLCV assets, evaluated inside the asset's own step.

In a ranged run a check records one evaluation for the whole range, so the partitions
that fail are named in its metadata. Structural errors are ERROR; completeness and
freshness are WARN (thin symbols and late vendors are normal, not broken).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backfill_pipeline.gaps import COMPLETE, FILLABLE, NO_TRADES, summarize
from backfill_pipeline.ingest import SymbolOutcome
from backfill_pipeline.names import (
    CHECK_COMPLETE,
    CHECK_FRESH,
    CHECK_INSIDE_SESSION,
    CHECK_OHLC_VALID,
    CHECK_UNIQUE,
    RUN_BARS_WRITTEN,
    RUN_REQUESTS,
)
from backfill_pipeline.quality import Validity

_LIST_LIMIT = 50
_SPECS = {
    CHECK_OHLC_VALID: "ERROR when a bar has high < max(open, close), low > min(open, close), negative volume "
    "or a missing price.",
    CHECK_UNIQUE: "ERROR when the vendor sent the same bar timestamp twice (the last one is kept).",
    CHECK_INSIDE_SESSION: "ERROR when the vendor sent bars outside the session (they are not stored).",
    CHECK_COMPLETE: "WARN when a materialised partition has a gap to fill (not_fetched, unfinalized, "
    "vendor_error) or more no_trades bars than BACKFILL_NO_TRADES_TOLERANCE allows; lists the partitions, "
    "their missing counts and classes.",
    CHECK_FRESH: "WARN when a symbol's newest stored session lags the last closed session by more than "
    "BACKFILL_FRESHNESS_SESSIONS sessions.",
}


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=key, description=text) for name, text in _SPECS.items()]




def materialize_metadata(outcomes: list[SymbolOutcome], vendor: str | None) -> dict[str, dg.RawMetadataValue]:
    """Totals of the step that materialised this asset (all its partitions in the run)."""
    written = sum(o.bars_written for o in outcomes)
    meta: dict[str, dg.RawMetadataValue] = {"run_symbols": len(outcomes), RUN_BARS_WRITTEN: written}
    if vendor is not None:
        meta["vendor"] = vendor
        meta[RUN_REQUESTS] = sum(o.requests for o in outcomes)
        meta["run_failed_fetches"] = sum(len(o.errors) for o in outcomes)
    return meta


def _structural(key: dg.AssetKey, name: str, count: int, rows: int, examples: list[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key, check_name=name, passed=count == 0, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"violations": count, "rows_checked": rows, "examples": dg.MetadataValue.json(examples)},
    )


def completeness_result(key: dg.AssetKey, table: pd.DataFrame, tolerance: float) -> dg.AssetCheckResult:
    """`table`: gaps.scan rows of the partitions this run materialised."""
    missing = (table["expected"] - table["present"]).clip(lower=0)
    thin = (table["gap_class"] == NO_TRADES) & (missing > table["expected"] * tolerance)
    failing = table[table["gap_class"].isin(FILLABLE) | thin]
    short = table[table["gap_class"] != COMPLETE]
    listing = [
        f"{r.symbol} {r.session:%Y-%m-%d}: {r.present}/{r.expected} {r.gap_class}"
        for r in short.head(_LIST_LIMIT).itertuples()
    ]
    summary = summarize(table)
    expected = int(table["expected"].sum())
    return dg.AssetCheckResult(
        asset_key=key, check_name=CHECK_COMPLETE, passed=failing.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "expected_bars": expected,
            "present_bars": expected - summary["missing_bars"],
            "completeness_pct": round(100 * (1 - summary["missing_bars"] / expected), 3) if expected else 100.0,
            "partitions_checked": summary["partitions"],
            "failing_partitions": len(failing),
            "no_trades_tolerance": tolerance,
            **{f"partitions_{cls}": summary[cls] for cls in ("no_trades", *FILLABLE)},
            "short_partition_list": dg.MetadataValue.json(listing),
        },
    )


def freshness_result(
    key: dg.AssetKey, lag_by_symbol: dict[str, int | None], allowed: int, newest: str
) -> dg.AssetCheckResult:
    stale = {s: lag for s, lag in sorted(lag_by_symbol.items()) if lag is None or lag > allowed}
    described = {s: "nothing stored" if lag is None else f"{lag} behind" for s, lag in stale.items()}
    return dg.AssetCheckResult(
        asset_key=key, check_name=CHECK_FRESH, passed=not stale, severity=dg.AssetCheckSeverity.WARN,
        metadata={"last_closed_session": newest, "allowed_lag_sessions": allowed,
                  "stale_symbols": dg.MetadataValue.json(described)},
    )


def check_results(
    key: dg.AssetKey, outcomes: list[SymbolOutcome], table: pd.DataFrame, tolerance: float,
    lag_by_symbol: dict[str, int | None], allowed_lag: int, newest: str,
) -> Iterator[dg.AssetCheckResult]:
    validity = Validity()
    for outcome in outcomes:
        validity.add(outcome.validity)
    price_rules = (validity.high_below_open_close + validity.low_above_open_close
                   + validity.negative_volume + validity.missing_prices)
    yield _structural(key, CHECK_OHLC_VALID, price_rules, validity.rows, validity.examples)
    yield _structural(key, CHECK_UNIQUE, validity.duplicate_timestamps, validity.rows, [])
    yield _structural(key, CHECK_INSIDE_SESSION, validity.outside_session, validity.rows, [])
    yield completeness_result(key, table, tolerance)
    yield freshness_result(key, lag_by_symbol, allowed_lag, newest)
