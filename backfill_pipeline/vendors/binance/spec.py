"""Binance's facts: spot klines (crypto only), 1,000 a request, limited per IP (no keys)."""

from __future__ import annotations

import pandas as pd

from ...markets import Market
from ...timeframes import get_timeframe
from ..limits import Rate, VendorLimits
from ..spec import INTRADAY, VendorSpec
from ..symbols import crypto_pair
from ..windows import page_count, to_label, to_utc


def binance_symbol(symbol: str, market: Market) -> str:
    """BTC-USD -> BTCUSDT: Binance has no USD spot books, so USD means its USDT book.
    USDT is a stablecoin whose price drifts slightly from the dollar; callers that need
    exact USD prices should use another vendor."""
    if market.name != "crypto":
        raise ValueError(f"binance serves crypto only, not {symbol!r} ({market.name})")
    base, quote = crypto_pair(symbol)
    return f"{base}{'USDT' if quote == 'USD' else quote}"


def binance_requests(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp,
                     page: int | None = None) -> int:
    """Requests of one fetch_bars call: pages of `page` (the client's limit, SPEC.page_bars)
    klines walked forward by open time until one comes back short. Binance sends a kline
    for every interval, trades or not, so the intervals starting in the window (on UTC
    multiples of their length, days at 00:00 UTC) are the klines: an upper bound, less only
    where the pair has no klines (before its listing, or not yet)."""
    page = page or SPEC.page_bars
    tf = get_timeframe(timeframe)
    if tf.daily:
        lo, hi, step = to_label(start).tz_localize("UTC"), to_label(end).tz_localize("UTC"), pd.Timedelta(days=1)
    else:
        assert tf.minutes is not None
        lo, hi, step = to_utc(start), to_utc(end), pd.Timedelta(minutes=tf.minutes)
    if hi <= lo:
        return 0
    first = -(-lo.value // step.value) * step.value
    klines = max(0, -(-(hi.value - first) // step.value))
    return page_count(klines, page)


# Request weight of one /api/v3/klines request, whatever its limit (Binance's spot REST docs,
# "Kline/Candlestick data": "Weight: 2"); the client passes it to the limiter.
KLINES_WEIGHT = 2


def binance_weight(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Request weight of one fetch_bars call: its requests (binance_requests) at KLINES_WEIGHT each."""
    return KLINES_WEIGHT * binance_requests(market, timeframe, start, end)


SPEC = VendorSpec(
    "binance", (*INTRADAY, "1d"), 1_000,
    pd.Timedelta(minutes=1),  # klines are final when their interval closes
    None, binance_symbol, "400 {code, msg} (-1121 invalid symbol, -1120 interval) fatal; 429/418 + Retry-After",
    # spot: 6000 request weight per minute per IP; klines weigh 2
    VendorLimits((Rate(6000, 60.0),)),
    requests=binance_requests,
    weights=binance_weight,
    weight_unit="units of Binance's request weight",
)
