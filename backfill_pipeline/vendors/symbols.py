"""Our symbols -> each vendor's ticker.

Our symbology: equities as listed (AAPL, BRK.B), crypto pairs as BASE-QUOTE (BTC-USD).
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


def polygon_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"X:{base}{quote}"
    return symbol  # Polygon writes share classes like we do (BRK.B)


def eodhd_ticker(symbol: str, market: Market) -> str:
    if market.name == "crypto":
        base, quote = crypto_pair(symbol)
        return f"{base}-{quote}.CC"
    return f"{symbol.replace('.', '-')}.US"  # EODHD writes share classes BRK-B


def binance_symbol(symbol: str, market: Market) -> str:
    """BTC-USD -> BTCUSDT: Binance has no USD spot books, so USD means its USDT book.
    USDT is a stablecoin whose price drifts slightly from the dollar; callers that need
    exact USD prices should use another vendor."""
    if market.name != "crypto":
        raise ValueError(f"binance serves crypto only, not {symbol!r} ({market.name})")
    base, quote = crypto_pair(symbol)
    return f"{base}{'USDT' if quote == 'USD' else quote}"
