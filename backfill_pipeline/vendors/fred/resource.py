"""FRED's Dagster resource: configuration only; it builds a FredClient (a MacroSource) per run."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from backfill_pipeline.vendors.http_resource import HttpVendorResource, require_keys
from backfill_pipeline.vendors.series_source import MacroSource


class FredMacroResource(HttpVendorResource):
    """FRED (api.stlouisfed.org): one request per series per backfill range, through the
    shared rate limiter (120 requests/min per key by default); keys from FRED_API_KEYS."""

    api_keys: str = Field(repr=False, description="Comma-separated keys; wire with dg.EnvVar('FRED_API_KEYS').")
    vendor_name: ClassVar[str] = "fred"

    def source(self) -> MacroSource:
        from backfill_pipeline.vendors.fred.client import FredClient  # deferred: HTTP stack only when used

        return FredClient(require_keys("fred", self.api_keys), **self.client_kwargs())
