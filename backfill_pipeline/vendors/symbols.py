"""Our symbology, shared by the vendors (each maps it to its own tickers in its spec.py):
equities as listed (AAPL, BRK.B), crypto pairs as BASE-QUOTE (BTC-USD).
"""

from __future__ import annotations

import re

from ..markets import Market, get_market, validate_symbol

CRYPTO_QUOTES: tuple[str, ...] = ("USD", "USDT", "USDC", "EUR", "GBP", "BTC", "ETH")
_CRYPTO_RE = re.compile(r"^(?P<base>[A-Z0-9]{2,12})-(?P<quote>" + "|".join(CRYPTO_QUOTES) + r")$")


def market_for_symbol(symbol: str, market: Market | str | None = None) -> Market:
    """The market a symbol trades in: explicit, else crypto for BASE-QUOTE pairs, else US equities."""
    validate_symbol(symbol)
    if isinstance(market, Market):
        return market
    if market is not None:
        return get_market(market)
    return get_market("crypto" if _CRYPTO_RE.match(symbol) else "us_equities")


def crypto_pair(symbol: str) -> tuple[str, str]:
    match = _CRYPTO_RE.match(symbol)
    if not match:
        raise ValueError(f"{symbol!r} is not a crypto pair (BASE-QUOTE with quote in {', '.join(CRYPTO_QUOTES)})")
    return match["base"], match["quote"]
