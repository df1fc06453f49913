"""The shape of a vendor's facts (one VendorSpec per vendor package, in its spec.py).

Light on purpose (no HTTP client imported): settings, the launch planner and the sensors
read the specs at definitions load; the clients take their figures from them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..markets import Market
from .limits import VendorLimits

INTRADAY = ("1m", "5m", "15m", "30m", "1h", "4h")
# (market, timeframe, start, end) -> the requests one fetch_bars call of [start, end) makes
RequestCount = Callable[[Market, str, pd.Timestamp, pd.Timestamp], int]


def one_request(market: Market, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """A vendor that answers any window with one request (the offline demo)."""
    return 1


@dataclass(frozen=True)
class VendorSpec:
    name: str
    timeframes: tuple[str, ...]  # what its bar endpoint serves (empty: serves no bars, e.g. FRED)
    page_bars: int  # bars (FRED: observations) one request returns at most (0: no paging)
    finalization_delay: pd.Timedelta  # after a session's close, when its bars stop changing
    key_variable: str | None  # the environment variable holding its key pool (None: no key)
    ticker: Callable[[str, Market], str] | None  # our symbol -> the vendor's ticker
    errors: str  # what its error answers mean (the clients' judge_response implement it)
    # The documented free tier per key (Binance: per IP); None: offline, unlimited. A plan's
    # budget comes from the environment (limits.limits_from_env).
    limits: VendorLimits | None = None
    # The longest span one request may cover, in days per timeframe (EODHD's intraday
    # windows); a timeframe not named is asked for in one query (paged by page_bars).
    request_days: Mapping[str, int] = field(default_factory=dict)
    # How many requests its client makes for one window, computed from the facts above the
    # way the client splits it (the backfill plan's estimate; vendors/windows.py's helpers).
    requests: RequestCount = one_request
    # Where the vendor weighs its requests (EODHD's "API calls" of the daily quota, Binance's
    # request weight): the weight those requests charge the limiter's weighted rates, from the
    # per-request weights the client passes it (both defined next to the rule); None: every
    # request weighs 1. `weight_unit` names it in the backfill plan ("EODHD API calls ...").
    weights: RequestCount | None = None
    weight_unit: str = ""
