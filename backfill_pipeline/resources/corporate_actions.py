"""Corporate-actions source resources: configuration only; each builds a source per market."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.corporate_actions.demo import DemoCorporateActions
from backfill_pipeline.corporate_actions.source import CorporateActionsSource
from backfill_pipeline.markets import Market
from backfill_pipeline.resources.http_vendors import EodhdResource, PolygonResource
from backfill_pipeline.resources.warehouse import WarehouseResource


class DemoCorporateActionsResource(dg.ConfigurableResource):
    """Offline splits and dividends: quarterly dividends for most symbols, a split about
    every `1 / split_rate` years (0 for none)."""

    seed: int = 0
    split_rate: float = 0.1

    def source(self, market: Market) -> CorporateActionsSource:
        return DemoCorporateActions(market, self.seed, self.split_rate)


class PolygonCorporateActionsResource(PolygonResource):
    """Splits and dividends from Polygon's /v3/reference endpoints (same keys and shared
    limiter as the bars)."""

    def source(self, market: Market) -> CorporateActionsSource:
        return self.client(market)  # type: ignore[return-value]  # PolygonClient has list_splits/list_dividends


class EodhdCorporateActionsResource(EodhdResource):
    """Splits and dividends from EODHD's /api/splits and /api/div (same keys and limiter)."""

    def source(self, market: Market) -> CorporateActionsSource:
        return self.client(market)  # type: ignore[return-value]  # EodhdClient has list_splits/list_dividends


def corporate_actions_resource(vendor: str, warehouse: WarehouseResource) -> dg.ConfigurableResource:
    """BACKFILL_CORPORATE_ACTIONS_VENDOR: demo (default), polygon or eodhd."""
    if vendor == "polygon":
        return PolygonCorporateActionsResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"))
    if vendor == "eodhd":
        return EodhdCorporateActionsResource(warehouse=warehouse, api_keys=dg.EnvVar("EODHD_API_KEYS"))
    return DemoCorporateActionsResource()
