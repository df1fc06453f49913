"""Corporate-actions source resources: configuration only; each builds a source per market.

The offline demo source is here; Polygon's and EODHD's live in their vendor packages
(vendors/<vendor>/resource.py). The resource key is `corporate_actions` whichever is chosen."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.corporate_actions.demo import DemoCorporateActions
from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.actions_source import CorporateActionsSource
from backfill_pipeline.vendors.eodhd.resource import EodhdCorporateActionsResource
from backfill_pipeline.vendors.polygon.resource import PolygonCorporateActionsResource
from backfill_pipeline.warehouse.resource import WarehouseResource


class DemoCorporateActionsResource(dg.ConfigurableResource):
    """Offline splits and dividends: quarterly dividends for most symbols, a split about
    every `1 / split_rate` years (0 for none)."""

    seed: int = 0
    split_rate: float = 0.1

    def source(self, market: Market) -> CorporateActionsSource:
        return DemoCorporateActions(market, self.seed, self.split_rate)


def corporate_actions_resource(vendor: str, warehouse: WarehouseResource) -> dg.ConfigurableResource:
    """BACKFILL_CORPORATE_ACTIONS_VENDOR: demo (default), polygon or eodhd."""
    if vendor == "polygon":
        return PolygonCorporateActionsResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"))
    if vendor == "eodhd":
        return EodhdCorporateActionsResource(warehouse=warehouse, api_keys=dg.EnvVar("EODHD_API_KEYS"))
    return DemoCorporateActionsResource()
