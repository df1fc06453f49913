"""Data out without SQL: bars (raw or adjusted), features and the daily macro table as DataFrames.

    from backfill_pipeline.read import read_bars, read_macro
    bars = read_bars("AAPL", "1h", "2024-03-01", "2024-03-28", adjust="all")

Dates are inclusive session dates. Every bad input raises ReadError naming the problem.
"""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd

from backfill_pipeline.corporate_actions.adjust import ADJUST_MODES, adjust_bars
from backfill_pipeline.corporate_actions.store import has_corporate_actions, load_events
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.macro.views import macro_view, wide
from backfill_pipeline.markets import MARKETS, get_market
from backfill_pipeline.timeframes import get_timeframe
from backfill_pipeline.warehouse.bar_queries import has_bars, markets_storing
from backfill_pipeline.warehouse.features import read_features as _read_features
from backfill_pipeline.warehouse.location import warehouse_url
from backfill_pipeline.warehouse.store import Warehouse

DateLike = dt.date | str


class ReadError(ValueError):
    pass


def parse_range(start: DateLike, end: DateLike) -> tuple[dt.date, dt.date]:
    def one(value: DateLike, name: str) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ReadError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None

    first, last = one(start, "start"), one(end, "end")
    if first > last:
        raise ReadError(f"start {first} is after end {last}")
    return first, last


def _open(url: str | None) -> Warehouse:
    return Warehouse(url or warehouse_url())


def _resolve_market(wh: Warehouse, symbol: str, timeframe: str, market: str | None) -> str:
    """The market given (validated), else the one market that stores bars of `symbol`."""
    if market is not None:
        try:
            return get_market(market).name
        except ValueError as exc:
            raise ReadError(str(exc)) from None
    found = markets_storing(wh, symbol, timeframe)
    if not found:
        raise ReadError(f"unknown symbol {symbol!r}: no {timeframe} bars are stored for it in any market "
                        f"({', '.join(MARKETS)})")
    if len(found) > 1:
        raise ReadError(f"symbol {symbol!r} has bars in several markets ({', '.join(found)}): pass a market")
    return found[0]


def _check_symbol(wh: Warehouse, market: str, symbol: str, timeframe: str) -> None:
    if not has_bars(wh, market, symbol, timeframe):
        raise ReadError(f"unknown symbol {symbol!r} in {market}: no {timeframe} bars are stored for it")


def _request(symbol: str, timeframe: str, start: DateLike, end: DateLike) -> tuple[str, dt.date, dt.date]:
    """The normalised symbol and session range of a read; ReadError names a bad timeframe or range."""
    try:
        get_timeframe(timeframe)
    except ValueError as exc:
        raise ReadError(str(exc)) from None
    first, last = parse_range(start, end)
    return symbol.strip().upper(), first, last


def read_bars(
    symbol: str, timeframe: str, start: DateLike, end: DateLike, *, market: str | None = None,
    adjust: str | bool = "raw", url: str | None = None,
) -> pd.DataFrame:
    """Bars of sessions start..end: ts (UTC bar start), session, open, high, low, close, volume, vwap, trades.

    adjust: "raw" (as traded), "splits" (split-adjusted) or "all" (splits and dividends);
    True means "all". Adjusted frames add `price_factor`, the factor applied to each bar.
    A dividend's factor needs the stored 1d close before its ex-date; dividends without one
    are left out and listed in `frame.attrs["skipped_dividends"]`.
    """
    mode = "all" if adjust is True else "raw" if adjust is False else adjust
    if mode not in ADJUST_MODES:
        raise ReadError(f"unknown adjustment {adjust!r}; expected one of {', '.join(ADJUST_MODES)}")
    symbol, first, last = _request(symbol, timeframe, start, end)
    wh = _open(url)
    try:
        name = _resolve_market(wh, symbol, timeframe, market)
        _check_symbol(wh, name, symbol, timeframe)
        frame = wh.read_bars(name, timeframe, symbol, first, last)
        skipped: list[str] = []
        if mode != "raw" and has_corporate_actions(MARKETS[name]):
            events = load_events(wh, name, symbol)
            adjusted = adjust_bars(frame, events, mode)
            ratio = adjusted["close"] / frame["close"]
            frame = adjusted.assign(price_factor=ratio.to_numpy())
            skipped = events.skipped if mode == "all" else []
        elif mode != "raw":
            frame = frame.assign(price_factor=1.0)
    finally:
        wh.dispose()
    frame = frame.reset_index(drop=True)
    frame.attrs["skipped_dividends"] = skipped  # dividends with no stored 1d close before their ex-date
    return frame


def read_features(
    symbol: str, timeframe: str, start: DateLike, end: DateLike, *, market: str | None = None, url: str | None = None,
) -> pd.DataFrame:
    """Stored features of sessions start..end (see assets/features.py for their definitions)."""
    symbol, first, last = _request(symbol, timeframe, start, end)
    wh = _open(url)
    try:
        name = _resolve_market(wh, symbol, timeframe, market)
        return _read_features(wh, name, timeframe, symbol, first, last)
    finally:
        wh.dispose()


def read_macro(start: DateLike, end: DateLike, *, url: str | None = None, long: bool = False, view: str = "pit",
               as_of: DateLike | None = None, series: list[str] | None = None) -> pd.DataFrame:
    """The daily macro table for sessions start..end.

    view="pit" (default): for each session the latest observation known at its close, at
    the value published by then (no look-ahead; what `macro/daily` stores). view="latest":
    today's revised values dated by observation (FRED's default; has look-ahead). as_of:
    "what did we know on DATE": nothing released after it is used. series: FRED ids or
    field names to keep (default: every configured field).
    Wide (default): one row per session, for each field its value, `<field>_date` (the
    observation's date) and `<field>_released` (the day that value was published).
    long=True: one row per session and field with release date, age and status.
    """
    first, last = parse_range(start, end)
    try:
        cutoff = None if as_of is None else parse_range(as_of, as_of)[0]
    except ReadError:
        raise ReadError(f"as_of {as_of!r} is not a date (YYYY-MM-DD)") from None
    try:
        config = MacroConfig.from_env(os.environ)
    except ValueError as exc:
        raise ReadError(str(exc)) from None
    wh = _open(url)
    try:
        table = macro_view(wh, config, first, last, view=view, as_of=cutoff, series=series)
    except ValueError as exc:
        raise ReadError(str(exc)) from None
    finally:
        wh.dispose()
    if long:
        return table
    return wide(table, [f.field for f in config.fields()])
