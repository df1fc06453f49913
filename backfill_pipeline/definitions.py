"""The code location: assets, checks and resources, built from the environment at load."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.assets.ohlcv import build_ohlcv_assets
from backfill_pipeline.markets import MARKETS
from backfill_pipeline.resources.vendors import DemoVendorResource
from backfill_pipeline.resources.warehouse import WarehouseResource
from backfill_pipeline.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
    return {"warehouse": WarehouseResource(), "demo": DemoVendorResource()}


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=build_ohlcv_assets(list(MARKETS.values()), settings),
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
