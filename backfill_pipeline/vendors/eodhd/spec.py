"""EODHD's facts: intraday 1m/5m/1h and EOD bars, windows of 120 days of minutes a request."""

from __future__ import annotations

import pandas as pd

from ...markets import Market
from ..limits import Rate, VendorLimits
from ..spec import VendorSpec
from ..symbols import crypto_pair


def eodhd_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"{base}-{quote}.CC"
    return f"{symbol.replace('.', '-')}.US"  # EODHD writes share classes BRK-B


SPEC = VendorSpec(
    "eodhd", ("1m", "5m", "1h", "1d"), 120 * 390, pd.Timedelta(hours=3), "EODHD_API_KEYS", eodhd_ticker,
    "401 refused key; 403 'Only EOD data allowed for free users' = plan; 402 daily limit = this key's "
    "quota until midnight GMT, other 402 = plan; 200 with `warning` = free plan's 1-year cut (plan)",
    # 1000 requests/minute on every plan, and a daily quota of "API calls" where an intraday
    # request costs 5 calls (the request weight): 20 a day on the free plan, 100000 on paid plans
    VendorLimits((Rate(1000, 60.0, weighted=False), Rate(20, 86_400.0))),
)
