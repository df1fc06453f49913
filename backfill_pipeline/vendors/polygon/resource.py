"""Polygon's Dagster resources: configuration only; each builds a PolygonClient per market."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.actions_source import CorporateActionsSource
from backfill_pipeline.vendors.base import BarsClient
from backfill_pipeline.vendors.http_resource import EXTENDED_HOURS, HttpVendorResource, require_keys


class PolygonResource(HttpVendorResource):
    """Polygon aggregates (stocks, ETFs, crypto as X:BTCUSD); 5 requests/min per key unless
    BACKFILL_POLYGON_REQUESTS_PER_WINDOW / _WINDOW_SECONDS say what the plan allows."""

    api_keys: str = Field(repr=False, description="Comma-separated keys; wire with dg.EnvVar('POLYGON_API_KEYS').")
    vendor_name: ClassVar[str] = "polygon"
    extended_hours: bool | None = Field(default=None, description=EXTENDED_HOURS)

    def client(self, market: Market) -> BarsClient:
        from backfill_pipeline.vendors.polygon.client import PolygonClient

        return PolygonClient(require_keys("polygon", self.api_keys), market=market, extended_hours=self.extended_hours,
                             **self.client_kwargs())


class PolygonCorporateActionsResource(PolygonResource):
    """Splits and dividends from Polygon's /v3/reference endpoints (same keys and shared
    limiter as the bars)."""

    def source(self, market: Market) -> CorporateActionsSource:
        return self.client(market)  # type: ignore[return-value]  # PolygonClient has list_splits/list_dividends
