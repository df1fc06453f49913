"""EODHD's facts: intraday 1m/5m/1h and EOD bars, windows of 120 days of minutes a request."""

from __future__ import annotations

import pandas as pd

from ...markets import Market
from ...timeframes import get_timeframe
from ..limits import Rate, VendorLimits
from ..spec import VendorSpec
from ..symbols import crypto_pair
from ..windows import chunk_count, to_label, to_utc


def eodhd_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"{base}-{quote}.CC"
    return f"{symbol.replace('.', '-')}.US"  # EODHD writes share classes BRK-B


def eodhd_requests(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Requests of one fetch_bars call. Intraday: the window cut into back-to-back spans of
    SPEC.request_days, one request each (exact: an empty span is asked for too). Daily: one
    EOD request, and for stocks and ETFs one /api/splits request to un-adjust the volume,
    made only when bars came back (an upper bound)."""
    if get_timeframe(timeframe).daily:
        if to_label(end) <= to_label(start):
            return 0
        return 1 + any(kind in market.asset_classes for kind in ("stock", "etf"))
    return chunk_count(to_utc(start), to_utc(end), pd.Timedelta(days=SPEC.request_days[timeframe]))


SPEC = VendorSpec(
    # no paging: one request per window of request_days
    "eodhd", ("1m", "5m", "1h", "1d"), 0, pd.Timedelta(hours=3), "EODHD_API_KEYS", eodhd_ticker,
    "401 refused key; 403 'Only EOD data allowed for free users' = plan; 402 daily limit = this key's "
    "quota until midnight GMT, other 402 = plan; 200 with `warning` = free plan's 1-year cut (plan)",
    # 1000 requests/minute on every plan, and a daily quota of "API calls" where an intraday
    # request costs 5 calls (the request weight): 20 a day on the free plan, 100000 on paid plans
    VendorLimits((Rate(1000, 60.0, weighted=False), Rate(20, 86_400.0))),
    # the longest span of one intraday request
    request_days={"1m": 120, "5m": 600, "1h": 7200},
    requests=eodhd_requests,
)
