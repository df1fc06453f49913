"""Binance's facts: spot klines (crypto only), 1,000 a request, limited per IP (no keys)."""

from __future__ import annotations

import pandas as pd

from ...markets import Market
from ..limits import Rate, VendorLimits
from ..spec import INTRADAY, VendorSpec
from ..symbols import crypto_pair


def binance_symbol(symbol: str, market: Market) -> str:
    """BTC-USD -> BTCUSDT: Binance has no USD spot books, so USD means its USDT book.
    USDT is a stablecoin whose price drifts slightly from the dollar; callers that need
    exact USD prices should use another vendor."""
    if market.name != "crypto":
        raise ValueError(f"binance serves crypto only, not {symbol!r} ({market.name})")
    base, quote = crypto_pair(symbol)
    return f"{base}{'USDT' if quote == 'USD' else quote}"


SPEC = VendorSpec(
    "binance", (*INTRADAY, "1d"), 1_000,
    pd.Timedelta(minutes=1),  # klines are final when their interval closes
    None, binance_symbol, "400 {code, msg} (-1121 invalid symbol, -1120 interval) fatal; 429/418 + Retry-After",
    # spot: 6000 request weight per minute per IP; klines weigh 2
    VendorLimits((Rate(6000, 60.0),)),
)
