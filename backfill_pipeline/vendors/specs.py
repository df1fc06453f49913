"""Each vendor's facts in one place: what it serves, how it pages, its free-tier limits,
when its bars are final, how it names tickers, and what its errors mean.

Light on purpose (no HTTP client imported): settings, the launch planner and the sensors
read it at definitions load; the clients take their figures from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..markets import Market
from .limits import DEFAULT_LIMITS, VendorLimits
from .symbols import binance_symbol, eodhd_ticker, polygon_ticker

INTRADAY = ("1m", "5m", "15m", "30m", "1h", "4h")


@dataclass(frozen=True)
class VendorSpec:
    name: str
    timeframes: tuple[str, ...]  # what its bar endpoint serves
    page_bars: int  # bars one request of the bar endpoint returns at most (0: no paging, offline)
    finalization_delay: pd.Timedelta  # after a session's close, when its bars stop changing
    key_variable: str | None  # the environment variable holding its key pool (None: no key)
    ticker: Callable[[str, Market], str] | None  # our symbol -> the vendor's ticker
    errors: str  # what its error answers mean (the clients' judge_response implement it)

    @property
    def limits(self) -> VendorLimits:
        """The documented free tier per key (vendors/limits.py); a plan's budget comes from
        the environment (limits.limits_from_env)."""
        return DEFAULT_LIMITS[self.name]


SPECS: dict[str, VendorSpec] = {
    "demo": VendorSpec("demo", (*INTRADAY, "1d"), 0, pd.Timedelta(0), None, None,
                       "offline: fails only where told to (fail_symbols)"),
    "polygon": VendorSpec(
        "polygon", (*INTRADAY, "1d"), 50_000,
        # after-hours trading runs to 20:00 New York (4 h after the close) and free plans
        # are 15 min delayed; late-reported trades may amend bars until then
        pd.Timedelta(hours=4, minutes=30), "POLYGON_API_KEYS", polygon_ticker,
        "401 refused key; 403 NOT_AUTHORIZED 'not entitled' / 'plan doesn't include' = plan; 429 throttled",
    ),
    "eodhd": VendorSpec(
        "eodhd", ("1m", "5m", "1h", "1d"), 120 * 390, pd.Timedelta(hours=3), "EODHD_API_KEYS", eodhd_ticker,
        "401 refused key; 403 'Only EOD data allowed for free users' = plan; 402 daily limit = this key's "
        "quota until midnight GMT, other 402 = plan; 200 with `warning` = free plan's 1-year cut (plan)",
    ),
    "binance": VendorSpec(
        "binance", (*INTRADAY, "1d"), 1_000,
        pd.Timedelta(minutes=1),  # klines are final when their interval closes
        None, binance_symbol, "400 {code, msg} (-1121 invalid symbol, -1120 interval) fatal; 429/418 + Retry-After",
    ),
}
FRED_KEY_VARIABLE = "FRED_API_KEYS"  # FRED serves series, not bars: see vendors/fred.py


def vendor_spec(name: str) -> VendorSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown vendor {name!r}; expected one of {', '.join(SPECS)}") from None
