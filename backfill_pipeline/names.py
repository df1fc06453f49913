"""Names used across definitions, tests and the CLI: one place for each."""

from __future__ import annotations

import dagster as dg

OHLCV_GROUP = "ohlcv"
CHECK_OHLC_VALID = "ohlc_valid"
CHECK_COMPLETE = "complete"
OHLCV_CHECKS: tuple[str, ...] = (CHECK_OHLC_VALID, CHECK_COMPLETE)


def ohlcv_key(market: str, timeframe: str) -> dg.AssetKey:
    return dg.AssetKey(["ohlcv", market, timeframe])


def vendor_pool(vendor: str) -> str:
    """Concurrency pool of the assets that call `vendor` (sized in dagster.yaml)."""
    return f"vendor_{vendor}"
