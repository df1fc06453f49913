"""Binance's Dagster resource: configuration only; it builds a BinanceClient per market."""

from __future__ import annotations

from typing import ClassVar

from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.base import BarsClient
from backfill_pipeline.vendors.http_resource import HttpVendorResource


class BinanceResource(HttpVendorResource):
    """Binance spot klines (crypto; BTC-USD maps to BTCUSDT); limited per IP, so no keys."""

    vendor_name: ClassVar[str] = "binance"

    def client(self, market: Market) -> BarsClient:
        from backfill_pipeline.vendors.binance.client import BinanceClient

        return BinanceClient(market=market, **self.client_kwargs())
