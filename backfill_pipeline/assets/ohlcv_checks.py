"""Check specs and results of the OHLCV assets, evaluated inside the asset's own step.

In a ranged run a check records one evaluation for the whole range, so the partitions
that fail are named in its metadata.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backfill_pipeline.ingest import SymbolOutcome
from backfill_pipeline.names import CHECK_COMPLETE, CHECK_OHLC_VALID
from backfill_pipeline.quality import Validity, short_partitions


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            CHECK_OHLC_VALID,
            asset=key,
            description="ERROR when any bar has high < max(open, close), low > min(open, close), "
            "negative volume, a missing price, a duplicate timestamp or a timestamp outside its session.",
        ),
        dg.AssetCheckSpec(
            CHECK_COMPLETE,
            asset=key,
            description="WARN when a materialised partition holds fewer bars than the exchange calendar "
            "expects (BACKFILL_COMPLETENESS_MIN sets the share required); short partitions are listed.",
        ),
    ]


def materialize_metadata(outcomes: list[SymbolOutcome], vendor: str | None) -> dict[str, dg.RawMetadataValue]:
    meta: dict[str, dg.RawMetadataValue] = {
        "symbols": len(outcomes),
        "bars_written": sum(o.bars_written for o in outcomes),
        "dagster/row_count": sum(o.bars_written for o in outcomes),
    }
    if vendor is not None:
        meta["vendor"] = vendor
        meta["requests"] = sum(o.requests for o in outcomes)
        meta["failed_fetches"] = sum(len(o.errors) for o in outcomes)
    return meta


def check_results(
    key: dg.AssetKey, outcomes: list[SymbolOutcome], completeness_min: float
) -> Iterator[dg.AssetCheckResult]:
    validity = Validity()
    for outcome in outcomes:
        validity.add(outcome.validity)
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_OHLC_VALID,
        passed=validity.violations == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": validity.rows,
            "high_below_open_close": validity.high_below_open_close,
            "low_above_open_close": validity.low_above_open_close,
            "negative_volume": validity.negative_volume,
            "missing_prices": validity.missing_prices,
            "duplicate_timestamps": validity.duplicate_timestamps,
            "outside_session": validity.outside_session,
            "examples": dg.MetadataValue.json(validity.examples),
        },
    )
    tables = [o.completeness for o in outcomes if o.completeness is not None]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["symbol", "session", "expected", "present"])
    expected, present = int(table["expected"].sum()), int(table["present"].clip(upper=table["expected"]).sum())
    ratio = present / expected if expected else 1.0
    per_partition = (table["present"] >= table["expected"] * completeness_min) | (table["expected"] == 0)
    short = short_partitions(table)
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_COMPLETE,
        passed=bool(per_partition.all()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "expected_bars": expected,
            "present_bars": present,
            "completeness_pct": round(100 * ratio, 3),
            "partitions_checked": len(table),
            "short_partitions": int((table["present"] < table["expected"]).sum()),
            "short_partition_list": dg.MetadataValue.json(short),
        },
    )
