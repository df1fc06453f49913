"""Macro source resources: configuration only; each builds a MacroSource per run.

The resource key is `macro` whichever implementation BACKFILL_MACRO_VENDOR picks, so the
macro assets never name a vendor.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
from pydantic import Field

from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.vendors.fred.resource import FredMacroResource
from backfill_pipeline.vendors.series_source import MacroSource
from backfill_pipeline.warehouse.resource import WarehouseResource


class DemoMacroResource(dg.ConfigurableResource):
    """Offline FRED/ALFRED look-alike: deterministic series with FRED's holes ("." on holidays), published
    after realistic lags and some revised later (vintages)."""

    seed: int = 0
    today: str | None = Field(default=None, description="YYYY-MM-DD to stand for today (what is released by then); "
                              "default: the real today.")

    def source(self) -> MacroSource:
        if self.today is None:
            return DemoMacroSource(self.seed)
        fixed = dt.date.fromisoformat(self.today)
        return DemoMacroSource(self.seed, now=lambda: fixed)


def macro_resource(config: MacroConfig, warehouse: WarehouseResource) -> dg.ConfigurableResource:
    if config.vendor == "fred":
        return FredMacroResource(warehouse=warehouse, api_keys=dg.EnvVar("FRED_API_KEYS"))
    return DemoMacroResource()
