"""Check specs and results of the feature assets, evaluated inside the asset's own step."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from backfill_pipeline.features.store import FeatureOutcome
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.names import CHECK_FEATURES_FINITE, CHECK_LOOKBACK

_LIST = 50


def check_specs(key: dg.AssetKey, windows: FeatureWindows) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            CHECK_FEATURES_FINITE,
            asset=key,
            description=f"ERROR when a feature is NaN or infinite on a bar past the warm-up "
            f"({windows.warmup_bars} bars from the start of the stored series).",
        ),
        dg.AssetCheckSpec(
            CHECK_LOOKBACK,
            asset=key,
            description=f"WARN when fewer than {windows.lookback_bars} stored bars precede a symbol's first "
            "materialised session, so its first features are in warm-up or not converged (EMA, ATR).",
        ),
    ]


def materialize_metadata(outcomes: list[FeatureOutcome], windows: FeatureWindows) -> dict[str, dg.RawMetadataValue]:
    missing = [f"{o.symbol} {day}" for o in outcomes for day in o.sessions_without_bars]
    return {
        "symbols": len(outcomes),
        "rows_written": sum(o.rows_written for o in outcomes),
        "dagster/row_count": sum(o.rows_written for o in outcomes),
        "windows": dg.MetadataValue.json({k: v for k, v in vars(windows).items() if v is not None}),
        "lookback_bars": windows.lookback_bars,
        "warmup_bars": windows.warmup_bars,
        "splits_applied": sum(o.splits_applied for o in outcomes),
        "sessions_without_bars": len(missing),
        "sessions_without_bars_list": dg.MetadataValue.json(missing[:_LIST]),
    }


def check_results(key: dg.AssetKey, outcomes: list[FeatureOutcome]) -> Iterator[dg.AssetCheckResult]:
    examples = [e for o in outcomes for e in o.examples][:_LIST]
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_FEATURES_FINITE,
        passed=all(o.nonfinite_rows == 0 for o in outcomes),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_checked": sum(o.rows_written for o in outcomes),
            "nonfinite_rows": sum(o.nonfinite_rows for o in outcomes),
            "examples": dg.MetadataValue.json(examples),
        },
    )
    short = [o for o in outcomes if o.lookback_short and o.sessions]
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_LOOKBACK,
        passed=not short,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "symbols_checked": len(outcomes),
            "symbols_short": len(short),
            "short_lookback_list": dg.MetadataValue.json(
                [f"{o.symbol}: {o.lookback_available}/{o.lookback_required} bars before {o.first_session}"
                 for o in short[:_LIST]]
            ),
        },
    )
