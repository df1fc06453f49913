"""Polygon's facts: aggregates for stocks, ETFs and crypto (X:BTCUSD), 50,000 base bars a page."""

from __future__ import annotations

import pandas as pd

from ...markets import Market, sessions_in_range
from ...timeframes import get_timeframe
from ..limits import Rate, VendorLimits
from ..spec import INTRADAY, VendorSpec
from ..symbols import crypto_pair
from ..windows import page_count, to_label, to_utc, vendor_minutes


def polygon_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"X:{base}{quote}"
    return symbol  # Polygon writes share classes like we do (BRK.B)


def polygon_requests(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp,
                     page: int | None = None) -> int:
    """Requests of one fetch_bars call: one query for the whole window, then `next_url` to its
    end, in pages of `page` (the client's limit, SPEC.page_bars) *base* aggregates. Intraday,
    those are minutes, and Polygon sends the pre- and after-market ones too (the client drops
    them afterwards); a page ends between bars, so it holds at least page - (bar minutes - 1)
    minutes. Daily, they are the days. An upper bound, met when every minute has a trade."""
    page = page or SPEC.page_bars
    tf = get_timeframe(timeframe)
    if tf.daily:
        lo, hi = to_label(start), to_label(end)
        if lo >= hi:
            return 0
        return page_count(len(sessions_in_range(market, lo.date(), (hi - pd.Timedelta(days=1)).date())), page)
    if to_utc(end) <= to_utc(start):
        return 0
    assert tf.minutes is not None
    return page_count(vendor_minutes(market, start, end), page - tf.minutes + 1)


SPEC = VendorSpec(
    "polygon", (*INTRADAY, "1d"), 50_000,
    # after-hours trading runs to 20:00 New York (4 h after the close) and free plans
    # are 15 min delayed; late-reported trades may amend bars until then
    pd.Timedelta(hours=4, minutes=30), "POLYGON_API_KEYS", polygon_ticker,
    "401 refused key; 403 NOT_AUTHORIZED 'not entitled' / 'plan doesn't include' = plan; 429 throttled",
    # free tier: 5 requests per minute per key
    VendorLimits((Rate(5, 60.0),), max_wait_seconds=180.0),
    requests=polygon_requests,
)
