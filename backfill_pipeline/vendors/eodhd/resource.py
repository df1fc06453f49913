"""EODHD's Dagster resources: configuration only; each builds an EodhdClient per market."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.actions_source import CorporateActionsSource
from backfill_pipeline.vendors.base import BarsClient
from backfill_pipeline.vendors.http_resource import EXTENDED_HOURS, HttpVendorResource, require_keys


class EodhdResource(HttpVendorResource):
    """EODHD intraday (1m/5m/1h) and EOD bars; 1000 requests/min per key, and the daily call quota of
    BACKFILL_EODHD_DAILY_CALLS (default 20, the free plan; paid plans 100000)."""

    api_keys: str = Field(repr=False, description="Comma-separated keys; wire with dg.EnvVar('EODHD_API_KEYS').")
    vendor_name: ClassVar[str] = "eodhd"
    extended_hours: bool | None = Field(default=None, description=EXTENDED_HOURS)

    def client(self, market: Market) -> BarsClient:
        from backfill_pipeline.vendors.eodhd.client import EodhdClient

        return EodhdClient(require_keys("eodhd", self.api_keys), market=market, extended_hours=self.extended_hours,
                           **self.client_kwargs())


class EodhdCorporateActionsResource(EodhdResource):
    """Splits and dividends from EODHD's /api/splits and /api/div (same keys and limiter)."""

    def source(self, market: Market) -> CorporateActionsSource:
        return self.client(market)  # type: ignore[return-value]  # EodhdClient has list_splits/list_dividends
