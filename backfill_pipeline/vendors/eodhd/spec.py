"""EODHD's facts: intraday 1m/5m/1h and EOD bars, windows of 120 days of minutes a request,
and what each request costs of the daily quota of API calls."""

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


# "API calls" of the daily quota one request costs, by endpoint (/api/<endpoint>/<ticker>),
# as EODHD's "API Limits: calls, requests, consumption" (https://eodhd.com/financial-apis/api-limits)
# puts it: "Each request to Technical API, Intraday API and News API consumes 5 API calls", and
# "Each symbol request costs 1 API call" (EOD, splits, dividends). The client passes these to
# the limiter as each request's weight; eodhd_calls counts them ahead.
CALLS = {"intraday": 5, "eod": 1, "splits": 1, "div": 1}


def eodhd_endpoint_requests(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, int]:
    """Requests of one fetch_bars call by endpoint. Intraday: the window cut into back-to-back
    spans of SPEC.request_days, one request each (exact: an empty span is asked for too).
    Daily: one EOD request, and for stocks and ETFs one /api/splits request to un-adjust the
    volume, made only when bars came back (an upper bound)."""
    if get_timeframe(timeframe).daily:
        if to_label(end) <= to_label(start):
            return {}
        splits = any(kind in market.asset_classes for kind in ("stock", "etf"))
        return {"eod": 1, "splits": 1} if splits else {"eod": 1}
    return {"intraday": chunk_count(to_utc(start), to_utc(end), pd.Timedelta(days=SPEC.request_days[timeframe]))}


def eodhd_requests(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Requests of one fetch_bars call (eodhd_endpoint_requests, all endpoints)."""
    return sum(eodhd_endpoint_requests(market, timeframe, start, end).values())


def eodhd_calls(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """API calls of the daily quota one fetch_bars call costs: its requests at CALLS each."""
    return sum(CALLS[endpoint] * n for endpoint, n in eodhd_endpoint_requests(market, timeframe, start, end).items())


SPEC = VendorSpec(
    # no paging: one request per window of request_days
    "eodhd", ("1m", "5m", "1h", "1d"), 0, pd.Timedelta(hours=3), "EODHD_API_KEYS", eodhd_ticker,
    "401 refused key; 403 'Only EOD data allowed for free users' = plan; 402 daily limit = this key's "
    "quota until midnight GMT, other 402 = plan; 200 with `warning` = free plan's 1-year cut (plan)",
    # 1000 requests/minute on every plan, and a daily quota of "API calls" where a request
    # costs its endpoint's CALLS (the request weight): 20 a day on the free plan, 100000 on paid plans
    VendorLimits((Rate(1000, 60.0, weighted=False), Rate(20, 86_400.0))),
    # the longest span of one intraday request
    request_days={"1m": 120, "5m": 600, "1h": 7200},
    requests=eodhd_requests,
    weights=eodhd_calls,
    weight_unit="EODHD API calls of the daily quota",
)
