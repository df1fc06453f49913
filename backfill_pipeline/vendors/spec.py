"""The shape of a vendor's facts (one VendorSpec per vendor package, in its spec.py).

Light on purpose (no HTTP client imported): settings, the launch planner and the sensors
read the specs at definitions load; the clients take their figures from them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..markets import Market
from .limits import VendorLimits

INTRADAY = ("1m", "5m", "15m", "30m", "1h", "4h")


@dataclass(frozen=True)
class VendorSpec:
    name: str
    timeframes: tuple[str, ...]  # what its bar endpoint serves (empty: serves no bars, e.g. FRED)
    page_bars: int  # bars (FRED: observations) one request returns at most (0: no paging, offline)
    finalization_delay: pd.Timedelta  # after a session's close, when its bars stop changing
    key_variable: str | None  # the environment variable holding its key pool (None: no key)
    ticker: Callable[[str, Market], str] | None  # our symbol -> the vendor's ticker
    errors: str  # what its error answers mean (the clients' judge_response implement it)
    # The documented free tier per key (Binance: per IP); None: offline, unlimited. A plan's
    # budget comes from the environment (limits.limits_from_env).
    limits: VendorLimits | None = None
