"""The bar vendors' resources the settings need (each vendor's class is in
vendors/<vendor>/resource.py); definitions.py puts each market's under `bars_<market>`."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.vendors.binance.resource import BinanceResource
from backfill_pipeline.vendors.eodhd.resource import EodhdResource
from backfill_pipeline.vendors.polygon.resource import PolygonResource
from backfill_pipeline.warehouse.resource import WarehouseResource


def vendor_resources(vendors: set[str], warehouse: WarehouseResource) -> dict[str, dg.ConfigurableResource]:
    """The resources of the vendors the settings use (a vendor nobody uses needs no key)."""
    out: dict[str, dg.ConfigurableResource] = {}
    if "polygon" in vendors:
        out["polygon"] = PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"))
    if "eodhd" in vendors:
        out["eodhd"] = EodhdResource(warehouse=warehouse, api_keys=dg.EnvVar("EODHD_API_KEYS"))
    if "binance" in vendors:
        out["binance"] = BinanceResource(warehouse=warehouse)
    return out
