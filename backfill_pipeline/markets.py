"""Markets: a name, an exchange calendar, a symbol partition set and a default vendor.

Calendars are built lazily and cached: every run and step subprocess imports this module,
and building an exchange calendar costs ~0.1-0.5 s, so nothing is built at import.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

import pandas as pd

# exchange-calendars' default window reaches only 20 years back; ours is explicit, and a
# date outside it is an error (see `check_in_calendar`), never a silent empty grid.
CALENDAR_START = dt.date(2000, 1, 3)
CALENDAR_YEARS_AHEAD = 2


@dataclass(frozen=True)
class Market:
    name: str
    calendar_name: str
    timezone: str  # the timezone whose dates are this market's session labels
    asset_classes: tuple[str, ...]
    demo_symbols: tuple[str, ...]

    @property
    def symbols_partitions_name(self) -> str:
        return f"{self.name}_symbols"

    @property
    def is_24_7(self) -> bool:
        return self.calendar_name == "24/7"


MARKETS: dict[str, Market] = {
    "us_equities": Market(
        name="us_equities",
        calendar_name="XNYS",
        timezone="America/New_York",
        asset_classes=("stock", "etf"),
        demo_symbols=("AAPL", "MSFT", "NVDA", "JPM", "SPY"),
    ),
    "crypto": Market(
        name="crypto",
        calendar_name="24/7",
        timezone="UTC",
        asset_classes=("crypto",),
        demo_symbols=("BTC-USD", "ETH-USD"),
    ),
}

# Upper-case tickers with the separators real symbologies use (BRK.B, BTC-USD, X:BTCUSD).
# "|" and "," are excluded: Dagster uses them inside multi-partition keys and ranges.
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-:/_^=]{0,23}$")


class UnknownMarketError(ValueError):
    pass


class InvalidSymbolError(ValueError):
    pass


class OutsideCalendarError(ValueError):
    pass


def get_market(name: str) -> Market:
    try:
        return MARKETS[name]
    except KeyError:
        raise UnknownMarketError(
            f"unknown market {name!r}; known markets: {', '.join(sorted(MARKETS))}"
        ) from None


def validate_symbol(symbol: str) -> str:
    """Return the symbol if it is well formed, else raise naming the problem."""
    if not _SYMBOL_RE.match(symbol):
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: use upper-case letters, digits and . - : / _ ^ = "
            "(1-24 characters, starting with a letter or digit)"
        )
    return symbol


def calendar_end() -> dt.date:
    return dt.date(dt.date.today().year + CALENDAR_YEARS_AHEAD, 12, 31)


@functools.cache
def get_calendar(calendar_name: str):  # -> exchange_calendars.ExchangeCalendar
    import exchange_calendars as xcals  # deferred: 0.4 s import, only where needed

    return xcals.get_calendar(calendar_name, start=CALENDAR_START, end=calendar_end())


def check_in_calendar(market: Market, start: dt.date, end: dt.date) -> None:
    last = calendar_end()
    if start < CALENDAR_START or end > last:
        raise OutsideCalendarError(
            f"dates {start}..{end} fall outside the {market.calendar_name} calendar window "
            f"{CALENDAR_START}..{last} of market {market.name}"
        )


def sessions_in_range(market: Market, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Session labels (tz-naive midnight) of `market` with start <= session <= end."""
    check_in_calendar(market, start, end)
    if end < start:
        return pd.DatetimeIndex([])
    return get_calendar(market.calendar_name).sessions_in_range(start, end)


def is_session(market: Market, day: dt.date) -> bool:
    check_in_calendar(market, day, day)
    return bool(get_calendar(market.calendar_name).is_session(pd.Timestamp(day)))


def session_bounds(market: Market, sessions: pd.DatetimeIndex) -> tuple[pd.Series, pd.Series]:
    """UTC open and close instants of each session (DST and early closes included)."""
    cal = get_calendar(market.calendar_name)
    schedule = cal.schedule.loc[sessions]
    return schedule["open"], schedule["close"]


def last_closed_sessions(market: Market, count: int, now: pd.Timestamp | None = None) -> pd.DatetimeIndex:
    """The `count` most recent sessions whose close is at or before `now` (UTC)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    cal = get_calendar(market.calendar_name)
    if now.date() <= CALENDAR_START:
        raise OutsideCalendarError(f"{now.date()} is before the calendar start {CALENDAR_START} of market {market.name}")
    closes = cal.schedule["close"]
    closed = closes.index[closes <= now]
    return closed[-count:]
