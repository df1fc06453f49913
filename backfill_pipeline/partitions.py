"""Partitions: date x symbol per market, dates being the market's sessions.

Daily grain: one partition per session (XNYS holidays are excluded, so a missing
partition in the UI is a real gap, never a weekend). Weekly and monthly grains exist for
big universes (Dagster slows past ~40k partitions per asset). The 1w asset never uses a
grain finer than weekly. `end_offset=1` makes the partition of the session in progress
exist, so a session can be filled the evening it closes rather than the next weekday;
what is still open is decided from the calendar, not from the partition.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import defaultdict
from collections.abc import Iterable

import dagster as dg
import numpy as np
import pandas as pd

from backfill_pipeline.markets import Market, calendar_end, check_in_calendar, get_calendar
from backfill_pipeline.timeframes import get_timeframe

DATE_DIM = "date"
SYMBOL_DIM = "symbol"
DATE_FMT = "%Y-%m-%d"
_CRONS = {"daily": "0 0 * * {days}", "weekly": "0 0 * * 1", "monthly": "0 0 1 * *"}


def effective_grain(grain: str, timeframe: str) -> str:
    return "weekly" if get_timeframe(timeframe).weekly and grain == "daily" else grain


def symbol_partitions(market: Market) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=market.symbols_partitions_name)


def date_partitions(market: Market, grain: str, start: dt.date) -> dg.TimeWindowPartitionsDefinition:
    exclusions: list[dt.datetime] = []
    if grain == "daily" and not market.is_24_7:
        cron = _CRONS["daily"].format(days="1-5")
        weekdays = pd.bdate_range(start, calendar_end())
        sessions = get_calendar(market.calendar_name).sessions
        exclusions = [d.to_pydatetime() for d in weekdays.difference(sessions)]
    else:
        cron = _CRONS[grain].format(days="*")
    if grain == "weekly":  # weekly windows start on Mondays
        start = start - dt.timedelta(days=start.weekday())
    elif grain == "monthly":
        start = start.replace(day=1)
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=cron,
        start=dt.datetime.combine(start, dt.time()),
        fmt=DATE_FMT,
        timezone=market.timezone,
        end_offset=1,
        exclusions=exclusions or None,
    )


def ohlcv_partitions(market: Market, grain: str, start: dt.date) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {DATE_DIM: date_partitions(market, grain, start), SYMBOL_DIM: symbol_partitions(market)}
    )


def source_mapping() -> dg.MultiPartitionMapping:
    """A derived asset reads the source partitions of its own time window and symbol (1w
    weekly partitions read the daily ones of their week; the default would be identity).

    The week in progress exists as a 1w partition (end_offset=1) before its last days exist
    as 1d partitions; Dagster refuses a backfill whose partitions depend on partitions that
    do not exist yet ("depends on non-existent partitions"), which made a UI backfill of
    this week's sessions with 1w selected fail from Monday to Thursday. The days still to
    come are allowed to be missing: the 1w bar is built from the sessions stored, recorded
    in derived_sources, and is `stale` (rebuilt) once the rest of its week is stored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # the parameter is marked beta in Dagster 1.13
        weeks_so_far = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
    return dg.MultiPartitionMapping({
        DATE_DIM: dg.DimensionPartitionMapping(DATE_DIM, weeks_so_far),
        SYMBOL_DIM: dg.DimensionPartitionMapping(SYMBOL_DIM, dg.IdentityPartitionMapping()),
    })


def split_key(key: str) -> tuple[str, str]:
    """(date key, symbol) of a multi-partition key such as '2024-01-03|AAPL'."""
    by_dim = getattr(key, "keys_by_dimension", None)
    if by_dim:
        return by_dim[DATE_DIM], by_dim[SYMBOL_DIM]
    date_key, symbol = str(key).split("|", 1)  # dimensions are ordered by name: date, symbol
    return date_key, symbol


def multi_key(date_key: str, symbol: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE_DIM: date_key, SYMBOL_DIM: symbol})


def window_dates(grain: str, date_key: str) -> tuple[dt.date, dt.date]:
    """First and last calendar day covered by a date partition key of `grain`."""
    first = dt.date.fromisoformat(date_key)
    if grain == "daily":
        return first, first
    if grain == "weekly":
        return first, first + dt.timedelta(days=6)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def sessions_by_symbol(market: Market, grain: str, keys: Iterable[str]) -> dict[str, pd.DatetimeIndex]:
    """The sessions each symbol's partitions in `keys` cover, sorted and unique."""
    dates: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        date_key, symbol = split_key(key)
        dates[symbol].add(date_key)
    return {symbol: _window_sessions(market, grain, date_keys) for symbol, date_keys in dates.items()}


def _window_sessions(market: Market, grain: str, date_keys: Iterable[str]) -> pd.DatetimeIndex:
    """The sessions inside the windows of `date_keys`, sorted and unique: one pass over the
    calendar, not a lookup per key (a backfill plan reads years of daily keys per symbol)."""
    windows = [window_dates(grain, k) for k in date_keys]
    if not windows:
        return pd.DatetimeIndex([])
    check_in_calendar(market, min(a for a, _ in windows), max(b for _, b in windows))
    sessions = get_calendar(market.calendar_name).sessions
    lo = sessions.searchsorted(pd.DatetimeIndex([a for a, _ in windows]), side="left")
    hi = sessions.searchsorted(pd.DatetimeIndex([b for _, b in windows]), side="right")
    depth = np.zeros(len(sessions) + 1, dtype=np.int64)  # how many windows cover each session
    np.add.at(depth, lo, 1)
    np.add.at(depth, hi, -1)
    return pd.DatetimeIndex(sessions.to_numpy()[np.cumsum(depth[:-1]) > 0])


def date_key(grain: str, session: pd.Timestamp) -> str:
    """The date partition key holding `session` on a date grain (daily, weekly: its Monday, monthly: the 1st)."""
    day = session.date()
    if grain == "weekly":
        day = day - dt.timedelta(days=day.weekday())
    elif grain == "monthly":
        day = day.replace(day=1)
    return day.isoformat()


def partition_window(market: Market, grain: str, start: dt.date) -> tuple[str, str]:
    """First and last date key of the market's date partitions as they exist now (the last
    is the period in progress: end_offset=1)."""
    partitions = date_partitions(market, grain, start)
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    if first is None or last is None:
        raise ValueError(f"{market.name} has no {grain} partition from {start} on")
    return first, last
