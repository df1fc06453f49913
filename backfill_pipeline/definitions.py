"""The code location: assets, checks and resources, built from the environment at load."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.assets.corporate_actions import build_corporate_actions_assets
from backfill_pipeline.assets.features import build_features_assets
from backfill_pipeline.assets.macro import build_macro_assets
from backfill_pipeline.assets.ohlcv import build_ohlcv_assets
from backfill_pipeline.assets.reports import build_report_assets
from backfill_pipeline.automation.build import build_automation
from backfill_pipeline.executors import executor_for
from backfill_pipeline.names import bars_resource_key
from backfill_pipeline.resources.bar_vendors import vendor_resources
from backfill_pipeline.resources.corporate_actions import corporate_actions_resource
from backfill_pipeline.resources.macro import macro_resource
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.resource import WarehouseResource


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources under stable keys: `bars_<market>` is that market's vendor (whichever
    BACKFILL_VENDOR_<MARKET> names), so switching vendors leaves the asset graph alone."""
    warehouse = WarehouseResource()
    vendors = {settings.vendor(market.name) for market in settings.markets()}
    by_vendor: dict[str, object] = {"demo": DemoVendorResource(), **vendor_resources(vendors, warehouse)}
    bars = {bars_resource_key(m.name): by_vendor[settings.vendor(m.name)] for m in settings.markets()}
    return {"warehouse": warehouse, **bars,
            "macro": macro_resource(settings.macro, warehouse), "corporate_actions": corporate_actions_resource(settings.corporate_actions_vendor, warehouse)}


def build_definitions(settings: Settings, executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """`executor`: where every job's steps run (None: Dagster's default, see executors.py)."""
    automation = build_automation(settings)
    markets = settings.markets()  # with the hours option applied: every asset sees the same hours
    return dg.Definitions(
        assets=[*build_ohlcv_assets(markets, settings), *build_features_assets(markets, settings),
                *build_corporate_actions_assets(markets), *build_macro_assets(settings),
                *build_report_assets(settings), *automation.assets],
        jobs=automation.jobs, schedules=automation.schedules, sensors=automation.sensors,
        resources=build_resources(settings), executor=executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    return build_definitions(settings, executor_for(settings.executor))
