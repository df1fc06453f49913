"""Macro source resources: configuration only; each builds a MacroSource per run.

The resource key is `macro` whichever implementation BACKFILL_MACRO_VENDOR picks, so the
macro assets never name a vendor.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import dagster as dg
from pydantic import Field

from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.macro.source import MacroSource
from backfill_pipeline.resources.http_vendors import HttpVendorResource, require_keys
from backfill_pipeline.resources.warehouse import WarehouseResource


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


class FredMacroResource(HttpVendorResource):
    """FRED (api.stlouisfed.org): one request per series per backfill range, through the
    shared rate limiter (120 requests/min per key by default); keys from FRED_API_KEYS."""

    api_keys: str = Field(repr=False, description="Comma-separated keys; wire with dg.EnvVar('FRED_API_KEYS').")
    vendor_name: ClassVar[str] = "fred"

    def source(self) -> MacroSource:
        from backfill_pipeline.vendors.fred import FredClient  # deferred: HTTP stack only when used

        return FredClient(require_keys("fred", self.api_keys), **self.client_kwargs())


def macro_resource(config: MacroConfig, warehouse: WarehouseResource) -> dg.ConfigurableResource:
    if config.vendor == "fred":
        return FredMacroResource(warehouse=warehouse, api_keys=dg.EnvVar("FRED_API_KEYS"))
    return DemoMacroResource()
