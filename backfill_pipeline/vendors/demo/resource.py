"""Vendor resources: configuration only; each builds a plain-Python client per market."""

from __future__ import annotations

import dagster as dg

from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.base import BarsClient
from backfill_pipeline.vendors.demo.client import DemoClient, DemoConfig


class DemoVendorResource(dg.ConfigurableResource):
    """Offline, deterministic vendor: realistic bars with no API key and no network.

    Fault knobs exist to produce gaps on purpose: `illiquid_symbols` have no-trade minutes,
    `drop_sessions` ("SYMBOL@YYYY-MM-DD") return nothing, `fail_symbols` raise.
    """

    seed: int = 0
    illiquid_symbols: list[str] = []
    no_trade_share: float = 0.3
    drop_sessions: list[str] = []
    fail_symbols: list[str] = []
    finalization_delay_minutes: int = 0

    def client(self, market: Market) -> BarsClient:
        drops = frozenset(tuple(item.split("@", 1)) for item in self.drop_sessions)
        config = DemoConfig(
            seed=self.seed,
            illiquid_symbols=frozenset(self.illiquid_symbols),
            no_trade_share=self.no_trade_share,
            drop_sessions=drops,  # type: ignore[arg-type]
            fail_symbols=frozenset(self.fail_symbols),
            finalization_delay_minutes=self.finalization_delay_minutes,
        )
        return DemoClient(market, config)
