"""The gaps of a recent window that are due to be filled, per job partition (no Dagster here
beyond the coverage of runs in flight).

Rules, from the completeness classes of gaps.scan (only not_fetched, unfinalized and
vendor_error are gaps):
- only sessions that closed inside the window count; a session still open is never a gap;
- not_fetched is due as soon as its session has closed;
- unfinalized is due once the vendor's finalisation delay after the close has passed
  (fetching earlier would store unfinal bars again);
- vendor_error is due at once, except when the last fetch was rate limited (fetch log
  status, or a run the vendor layer tagged rate limited): then after a cool-down;
- a derived timeframe waits for its source, and a fetched timeframe brings its derived
  timeframes of the same job along (they must be resampled from the new bars);
- 1w (weekly job) is due only when no 1d session of its week in the window is still a gap;
- a partition some unfinished run or requested backfill covers is left to that run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from backfill_pipeline.automation.in_flight import Coverage
from backfill_pipeline.automation.jobs import JobGroup
from backfill_pipeline.gaps import FILLABLE, UNFINALIZED, VENDOR_ERROR, scan
from backfill_pipeline.markets import Market, get_calendar, schedule_bounds
from backfill_pipeline.partitions import date_key
from backfill_pipeline.resample import week_labels
from backfill_pipeline.timeframes import DAILY, WEEKLY, get_timeframe
from backfill_pipeline.warehouse.fetches import window_fetches
from backfill_pipeline.warehouse.store import Warehouse

IN_PROGRESS = "in progress"
AWAITING_FINAL = "awaiting finalisation"
COOLING = "rate-limit cool-down"
WAITING_SOURCE = "1w waiting for its 1d"


@dataclass(frozen=True)
class Candidate:
    job: str
    date_key: str
    symbol: str
    timeframes: frozenset[str]  # the job's assets to run for this partition
    classes: frozenset[str]  # gap classes found


@dataclass
class MarketGaps:
    market: str
    sessions: pd.DatetimeIndex
    checked: int = 0  # (symbol, timeframe, session) rows scanned
    candidates: list[Candidate] = field(default_factory=list)
    deferred: Counter[str] = field(default_factory=Counter)  # reason -> partitions
    date_keys: dict[str, list[str]] = field(default_factory=dict)  # job -> date keys of the window, in order


def window_sessions(market: Market, now: pd.Timestamp, hours: int) -> pd.DatetimeIndex:
    """Sessions whose close (in the market's hours) lies in (now - hours, now]: closed, and recent."""
    _, closes = schedule_bounds(market)
    start = now - pd.Timedelta(hours=hours)
    lo, hi = closes.searchsorted(start, side="right"), closes.searchsorted(now, side="right")
    return pd.DatetimeIndex(closes.index[lo:hi])


def last_fetches(warehouse: Warehouse, market: str, timeframes: list[str], sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Status and time of the newest fetch per (symbol, timeframe, session) in the window."""
    return window_fetches(warehouse, market, timeframes, sessions[0].date(), sessions[-1].date())


def find_gaps(
    warehouse: Warehouse,
    market: Market,
    groups: list[JobGroup],
    symbols: list[str],
    now: pd.Timestamp,
    window_hours: int,
    finalization_delay: pd.Timedelta,
    cooldown: pd.Timedelta,
    running: Coverage,
    rate_limited: Coverage,
) -> MarketGaps:
    sessions = window_sessions(market, now, window_hours)
    out = MarketGaps(market.name, sessions)
    if not len(sessions) or not symbols:
        return out
    main, sources = groups[0], groups[0].sources
    group_of = {tf: g for g in groups for tf in g.timeframes}
    fetched = [tf for tf, src in sources.items() if src is None]
    table = scan(warehouse, market, symbols, [tf for tf in group_of if not get_timeframe(tf).weekly], sessions, sources, now)
    if WEEKLY.name in group_of:
        # A 1w bar is stored under its week's first session, which may precede the window:
        # scan 1w from there (gaps.scan counts bars of [first, last] session only).
        week_start = pd.Timestamp(week_labels(market, pd.Series(sessions[:1])).iloc[0])
        weeks = get_calendar(market.calendar_name).sessions_in_range(week_start, sessions[-1])
        weekly = scan(warehouse, market, symbols, ["1w"], pd.DatetimeIndex(weeks), sources, now)
        table = pd.concat([table, weekly], ignore_index=True)
    out.checked = len(table)
    for g in groups:  # a 1w row's session is its week's first session: the same date key
        out.date_keys[g.name] = sorted({date_key(g.grain, s) for s in sessions})
    gaps = table[table["gap_class"].isin(FILLABLE)]
    if gaps.empty:
        return out
    _, closes = schedule_bounds(market)
    last = last_fetches(warehouse, market.name, fetched, sessions)

    def key_of(tf: str, session: pd.Timestamp) -> str:
        return date_key(group_of[tf].grain, session)

    # Pass 1: fetched timeframes decide for themselves.
    verdict: dict[tuple[str, str, pd.Timestamp], str | None] = {}  # None: due; else the reason to wait
    for row in gaps[gaps["timeframe"].isin(fetched)].itertuples(index=False):
        reason: str | None = None
        session = pd.Timestamp(row.session)
        if running.covers(market.name, row.timeframe, key_of(row.timeframe, session), row.symbol):
            reason = IN_PROGRESS
        elif row.gap_class == UNFINALIZED and closes[session] + finalization_delay > now:
            reason = AWAITING_FINAL
        elif row.gap_class == VENDOR_ERROR and _cooling(last, row.symbol, row.timeframe, session, now, cooldown):
            reason = COOLING
        elif row.gap_class == VENDOR_ERROR and rate_limited.covers(
                market.name, row.timeframe, key_of(row.timeframe, session), row.symbol):
            reason = COOLING
        verdict[(row.symbol, row.timeframe, session)] = reason
    # Pass 2: derived timeframes follow their root's verdict (1w: every 1d session of its week).
    daily_gap = _daily_gap_weeks(market, gaps) if WEEKLY.name in group_of else set()
    for row in gaps[~gaps["timeframe"].isin(fetched)].itertuples(index=False):
        session = pd.Timestamp(row.session)
        group = group_of[row.timeframe]
        if running.covers(market.name, row.timeframe, key_of(row.timeframe, session), row.symbol):
            reason = IN_PROGRESS
        elif get_timeframe(row.timeframe).weekly and group is not main:
            reason = WAITING_SOURCE if (row.symbol, session) in daily_gap else None
        else:
            reason = verdict.get((row.symbol, group.root(row.timeframe), session))
        verdict[(row.symbol, row.timeframe, session)] = reason
    _collect(out, gaps, verdict, group_of, key_of)
    return out


def _collect(out: MarketGaps, gaps: pd.DataFrame, verdict: dict[tuple[str, str, pd.Timestamp], str | None],
             group_of: dict[str, JobGroup], key_of: Callable[[str, pd.Timestamp], str]) -> None:
    """Per job partition: the due timeframes plus what derives from them, and the reasons
    partitions with nothing due are waiting."""
    due: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    classes: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    waiting: dict[tuple[str, str, str], str] = {}
    for row in gaps.itertuples(index=False):
        session = pd.Timestamp(row.session)
        group = group_of[row.timeframe]
        part = (group.name, key_of(row.timeframe, session), row.symbol)
        reason = verdict[(row.symbol, row.timeframe, session)]
        if reason is None:
            due[part].add(row.timeframe)
            classes[part].add(row.gap_class)
        else:
            waiting.setdefault(part, reason)
    by_name = {g.name: g for g in group_of.values()}
    for part, tfs in sorted(due.items()):
        job, dkey, symbol = part
        selection = by_name[job].followers(frozenset(tfs))
        out.candidates.append(Candidate(job, dkey, symbol, selection, frozenset(classes[part])))
    out.deferred.update(reason for part, reason in waiting.items() if part not in due)


def _cooling(last: pd.DataFrame, symbol: str, timeframe: str, session: pd.Timestamp, now: pd.Timestamp,
             cooldown: pd.Timedelta) -> bool:
    try:
        status, fetched_at = last.loc[(symbol, timeframe, session), ["status", "fetched_at"]]
    except KeyError:
        return False
    return status == "rate_limited" and fetched_at + cooldown > now


def _daily_gap_weeks(market: Market, gaps: pd.DataFrame) -> set[tuple[str, pd.Timestamp]]:
    """(symbol, week label) of weeks where a 1d session in the window is still a gap (due or
    waiting): the week is resampled once that session is stored (the weekly rollup sensor
    requests it then), not before, which would write a week with a hole."""
    daily = gaps[gaps["timeframe"] == DAILY.name]
    if daily.empty:
        return set()
    labels = week_labels(market, pd.Series(pd.to_datetime(daily["session"]).to_numpy()))
    return {(s, pd.Timestamp(w)) for s, w in zip(daily["symbol"], labels, strict=True)}
