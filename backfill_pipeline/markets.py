"""Markets: a name, an exchange calendar, trading hours, a symbol partition set.

Calendars are built lazily and cached: every run and step subprocess imports this module,
and building an exchange calendar costs ~0.1-0.5 s, so nothing is built at import.

`session_bounds` (and `schedule_bounds` for the whole calendar) is the one source of
session open and close instants: everything that needs session hours (grids, resampling,
vendors, checks, automation) goes through it, so the hours option of a market is honoured
everywhere at once. `MARKETS` is the catalogue in its default (regular) hours; the
configured markets, with the hours option applied, come from `Settings.market(s)`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

# exchange-calendars' default window reaches only 20 years back; ours is explicit, and a
# date outside it is an error (see `check_in_calendar`), never a silent empty grid.
CALENDAR_START = dt.date(2000, 1, 3)
CALENDAR_YEARS_AHEAD = 2

HOURS = ("regular", "extended")
# Extended hours (US equities), in the market's local time: pre-market from 04:00, after-hours
# to 20:00, or to 17:00 on the calendar's early-close days (the regular session ends 13:00).
EXTENDED_OPEN = dt.timedelta(hours=4)
EXTENDED_CLOSE = dt.timedelta(hours=20)
EXTENDED_EARLY_CLOSE = dt.timedelta(hours=17)


@dataclass(frozen=True)
class Market:
    name: str
    calendar_name: str
    timezone: str  # the timezone whose dates are this market's session labels
    asset_classes: tuple[str, ...]
    demo_symbols: tuple[str, ...]
    hours: str = "regular"  # "regular" (the calendar's session) or "extended" (EXTENDED_*)

    def __post_init__(self) -> None:
        if self.hours not in HOURS:
            raise ValueError(f"market {self.name}: hours {self.hours!r} is not one of {', '.join(HOURS)}")
        if self.hours == "extended" and self.is_24_7:
            raise ValueError(f"market {self.name} trades 24/7 ({self.calendar_name} calendar): "
                             "it has no extended hours, only 'regular'")

    @property
    def symbols_partitions_name(self) -> str:
        return f"{self.name}_symbols"

    @property
    def is_24_7(self) -> bool:
        return self.calendar_name == "24/7"

    @property
    def extended_hours(self) -> bool:
        return self.hours == "extended"


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

# A symbol holds only what a vendor ticker can: upper-case letters and digits, joined by
# single separators . - : ^ = _ (BRK.B, BTC-USD, X:BTCUSD, ES=F), 1-24 characters, starting
# and ending with a letter or digit. No "/", no "..", no whitespace: a symbol ends up in
# vendor URL paths, where "X/../MSFT" would fetch (and store under its own name) MSFT's
# bars. "|" and "," are excluded too: Dagster uses them inside multi-partition keys and
# ranges. The CLI, the universe file, the gap file and the assets (partition keys added in
# the UI) all apply this one rule.
_SYMBOL_RE = re.compile(r"^[A-Z0-9]+(?:[.\-:^=_][A-Z0-9]+)*$")
_SYMBOL_MAX = 24
SYMBOL_RULE = ("upper-case letters and digits, joined by single . - : ^ = _ separators "
               f"(1-{_SYMBOL_MAX} characters, starting and ending with a letter or digit)")


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


def with_hours(market: Market, hours: str) -> Market:
    """The market with another hours option; ValueError for an unknown one or extended 24/7."""
    return market if market.hours == hours else replace(market, hours=hours)


def is_valid_symbol(symbol: str) -> bool:
    return len(symbol) <= _SYMBOL_MAX and _SYMBOL_RE.match(symbol) is not None


def validate_symbol(symbol: str) -> str:
    """Return the symbol if it is well formed, else raise naming the problem."""
    if not is_valid_symbol(symbol):
        raise InvalidSymbolError(f"invalid symbol {symbol!r}: use {SYMBOL_RULE}")
    return symbol


def normalize_symbol(raw: str) -> str:
    """The symbol as the project keys it: stripped, upper case, and valid (else InvalidSymbolError).
    The CLI, the universe file and the symbol-rule sensor (for symbols added in the UI) all use it."""
    return validate_symbol(raw.strip().upper())


def calendar_end() -> dt.date:
    return dt.date(dt.datetime.now(dt.UTC).date().year + CALENDAR_YEARS_AHEAD, 12, 31)


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
    """UTC open and close instants of each session in the market's hours (DST and early
    closes included), indexed by session label."""
    opens, closes = schedule_bounds(market)
    return opens.loc[sessions], closes.loc[sessions]


def schedule_bounds(market: Market) -> tuple[pd.Series, pd.Series]:
    """UTC open and close of every session of the calendar in the market's hours (cached;
    callers must not modify them)."""
    return _schedule_bounds(market.calendar_name, market.timezone, market.hours)


@functools.cache
def _schedule_bounds(calendar_name: str, timezone: str, hours: str) -> tuple[pd.Series, pd.Series]:
    cal = get_calendar(calendar_name)
    schedule = cal.schedule
    if hours == "regular":
        return schedule["open"], schedule["close"]
    # Wall-clock times on the session date, localised in the market's timezone and then
    # converted: the UTC instants move with DST (04:00 New York is 09:00Z in winter, 08:00Z
    # in summer). 04:00, 17:00 and 20:00 never fall in a DST transition (02:00-03:00).
    labels = pd.DatetimeIndex(schedule.index)
    early = labels.isin(cal.early_closes)
    close_offsets = pd.TimedeltaIndex(np.where(early, pd.Timedelta(EXTENDED_EARLY_CLOSE), pd.Timedelta(EXTENDED_CLOSE)))
    opens = (labels + EXTENDED_OPEN).tz_localize(timezone).tz_convert("UTC")
    closes = (labels + close_offsets).tz_localize(timezone).tz_convert("UTC")
    return (pd.Series(opens, index=schedule.index, name="open"),
            pd.Series(closes, index=schedule.index, name="close"))


def last_closed_sessions(market: Market, count: int, now: pd.Timestamp | None = None) -> pd.DatetimeIndex:
    """The `count` most recent sessions whose close (in the market's hours) is at or before
    `now` (UTC)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    if now.date() <= CALENDAR_START:
        raise OutsideCalendarError(f"{now.date()} is before the calendar start {CALENDAR_START} of market {market.name}")
    _, closes = schedule_bounds(market)
    closed = closes.index[closes <= now]
    return closed[-count:]
