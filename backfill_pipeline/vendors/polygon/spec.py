"""Polygon's facts: aggregates for stocks, ETFs and crypto (X:BTCUSD), 50,000 base bars a page."""

from __future__ import annotations

import pandas as pd

from ...markets import Market
from ..limits import Rate, VendorLimits
from ..spec import INTRADAY, VendorSpec
from ..symbols import crypto_pair


def polygon_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"X:{base}{quote}"
    return symbol  # Polygon writes share classes like we do (BRK.B)


SPEC = VendorSpec(
    "polygon", (*INTRADAY, "1d"), 50_000,
    # after-hours trading runs to 20:00 New York (4 h after the close) and free plans
    # are 15 min delayed; late-reported trades may amend bars until then
    pd.Timedelta(hours=4, minutes=30), "POLYGON_API_KEYS", polygon_ticker,
    "401 refused key; 403 NOT_AUTHORIZED 'not entitled' / 'plan doesn't include' = plan; 429 throttled",
    # free tier: 5 requests per minute per key
    VendorLimits((Rate(5, 60.0),), max_wait_seconds=180.0),
)
