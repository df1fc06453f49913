"""Fetch-and-store and derive-and-store for one symbol's sessions (no Dagster here).

A fetch covers each run of consecutive sessions with one client call (the client pages and
chunks at the vendor's limits), stores each run in one transaction with its fetch-log rows,
and records failures in the fetch log so a later scan can tell "never fetched" from
"the vendor failed".
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backfill_pipeline.markets import Market, get_calendar, session_bounds
from backfill_pipeline.quality import Validity, check_validity, completeness
from backfill_pipeline.resample import resample_bars, session_of, week_labels
from backfill_pipeline.timeframes import get_timeframe
from backfill_pipeline.vendors.base import BarsClient, FetchResult, RateLimitedError, VendorError
from backfill_pipeline.warehouse.store import Warehouse


@dataclass
class SymbolOutcome:
    symbol: str
    bars_written: int = 0
    requests: int = 0
    validity: Validity = field(default_factory=Validity)
    completeness: pd.DataFrame | None = None
    errors: list[str] = field(default_factory=list)
    rate_limited: bool = False
    auth_failed: bool = False  # every key refused, or a plan limit: retrying the step cannot help
    stored: pd.DataFrame | None = None  # the fetched bars written (with `session`), to resample from memory


def consecutive_runs(market: Market, sessions: pd.DatetimeIndex) -> list[pd.DatetimeIndex]:
    """Split sessions into runs that are consecutive in the market's calendar."""
    if len(sessions) == 0:
        return []
    positions = get_calendar(market.calendar_name).sessions.get_indexer(sessions)
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    return [pd.DatetimeIndex(part) for part in np.split(sessions.to_numpy(), breaks)]


def fetch_window(market: Market, timeframe: str, run: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
    if get_timeframe(timeframe).intraday:
        opens, closes = session_bounds(market, run)
        return opens.iloc[0], closes.iloc[-1]
    return run[0].tz_localize("UTC"), run[-1].tz_localize("UTC") + pd.Timedelta(days=1)


def assign_sessions(market: Market, timeframe: str, frame: pd.DataFrame, sessions: pd.DatetimeIndex) -> tuple[pd.DataFrame, int]:
    """Attach each bar's session; drop (and count) bars outside the requested sessions."""
    if get_timeframe(timeframe).intraday:
        session = session_of(market, frame["ts"])
        opens, closes = session_bounds(market, pd.DatetimeIndex(session.unique()))
        inside = (frame["ts"] >= session.map(opens)) & (frame["ts"] < session.map(closes))
    else:
        session = frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
        inside = pd.Series(True, index=frame.index)
    inside &= session.isin(sessions)
    out = frame.loc[inside].assign(session=session[inside].to_numpy())
    return out.reset_index(drop=True), int((~inside).sum())


def _dedupe(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    dup = frame["ts"].duplicated(keep="last")
    return frame.loc[~dup].reset_index(drop=True), int(dup.sum())


def _request_rows(base: dict, result: FetchResult | VendorError) -> list[dict]:
    """One row per vendor request, failed fetches' requests included: the HTTP clients'
    per-request records (status, rows, attempt, key by position, why a body did not decode)
    when they have them, else the request ids."""
    common = {k: base[k] for k in ("fetch_id", "vendor", "market", "symbol", "timeframe", "window_start",
                                   "window_end", "fetched_at")}
    records = getattr(result, "records", None)
    if records:
        return [common | {"request_id": r.request_id, "http_status": r.status, "bars": r.rows,
                          "attempt": r.attempt, "api_key": r.key, "error": r.error} for r in records]
    if isinstance(result, VendorError):
        return []
    ids: list[str | None] = list(result.request_ids) or [None] * result.requests
    return [common | {"request_id": rid} for rid in ids]


@dataclass
class FetchedRun:
    """One run of consecutive sessions as the vendor answered it, not stored yet."""
    run: pd.DatetimeIndex
    base: dict
    result: FetchResult | VendorError
    frame: pd.DataFrame | None = None  # the run's bars with `session`, inside its sessions, deduplicated
    validity: Validity | None = None


def fetch_runs(
    client: BarsClient,
    market: Market,
    timeframe: str,
    symbol: str,
    sessions: pd.DatetimeIndex,
    run_id: str | None = None,
    now: pd.Timestamp | None = None,
) -> list[FetchedRun]:
    """The vendor's answer for each run of consecutive sessions, with no warehouse access:
    a vendor error is kept in its run (stored as such by store_fetched), so this can run
    ahead of the writes (prefetch.py) without changing what is recorded."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    fetched = []
    for run in consecutive_runs(market, sessions):
        start, end = fetch_window(market, timeframe, run)
        base = {"fetch_id": str(uuid.uuid4()), "market": market.name, "symbol": symbol, "timeframe": timeframe,
                "vendor": client.vendor, "window_start": int(start.timestamp()), "window_end": int(end.timestamp()),
                "fetched_at": now.to_pydatetime(), "run_id": run_id}
        try:
            result = client.fetch_bars(symbol, timeframe, start, end)
        except VendorError as exc:
            fetched.append(FetchedRun(run, base, exc))
            continue
        frame, outside = assign_sessions(market, timeframe, result.bars, run)
        frame, duplicates = _dedupe(frame)
        fetched.append(FetchedRun(run, base, result, frame, check_validity(symbol, frame, duplicates, outside)))
    return fetched


def store_fetched(
    warehouse: Warehouse,
    client: BarsClient,
    market: Market,
    timeframe: str,
    symbol: str,
    fetched: list[FetchedRun],
    now: pd.Timestamp | None = None,
) -> SymbolOutcome:
    """Store each fetched run in one transaction with its fetch-log and request rows; a
    failed run is recorded in the fetch log so a later scan tells "never fetched" from
    "the vendor failed"."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    outcome = SymbolOutcome(symbol)
    tables, stored = [], []
    for item in fetched:
        run, base, result = item.run, item.base, item.result
        if isinstance(result, VendorError):
            status = "rate_limited" if isinstance(result, RateLimitedError) else "error"
            warehouse.log_fetches([
                {**base, "session": s.date(), "bars": 0, "status": status, "finalized": False, "error": str(result)}
                for s in run
            ], _request_rows(base, result))
            outcome.errors.append(str(result))
            outcome.requests += len(result.records)
            outcome.rate_limited |= status == "rate_limited"
            outcome.auth_failed |= result.permanent
            tables.append(completeness(market, timeframe, symbol, run, pd.Series(dtype="int64"), now))
            continue
        frame = item.frame
        assert frame is not None and item.validity is not None
        outcome.validity.add(item.validity)
        per_session = frame.groupby("session").size()
        _, closes = session_bounds(market, run)
        finalized = (closes + client.finalization_delay <= now).to_numpy()
        fetch_rows = [
            {**base, "session": s.date(), "bars": int(per_session.get(s, 0)), "status": "ok",
             "finalized": bool(f), "error": None}
            for s, f in zip(run, finalized, strict=True)
        ]
        request_rows = _request_rows(base, result)
        outcome.bars_written += warehouse.replace_bars(
            market.name, timeframe, symbol, [s.date() for s in run], frame, fetch_rows, request_rows
        )
        outcome.requests += result.requests
        stored.append(frame)
        tables.append(completeness(market, timeframe, symbol, run, per_session, now))
    outcome.completeness = pd.concat(tables, ignore_index=True) if tables else None
    outcome.stored = _joined(stored)
    return outcome


def fetch_and_store(
    warehouse: Warehouse,
    client: BarsClient,
    market: Market,
    timeframe: str,
    symbol: str,
    sessions: pd.DatetimeIndex,
    run_id: str | None = None,
    now: pd.Timestamp | None = None,
) -> SymbolOutcome:
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    fetched = fetch_runs(client, market, timeframe, symbol, sessions, run_id, now)
    return store_fetched(warehouse, client, market, timeframe, symbol, fetched, now)


@dataclass
class Derived:
    """One symbol's bars of a derived timeframe, resampled from their source, not stored yet."""
    timeframe: str
    symbol: str
    targets: pd.DatetimeIndex  # the partitions' sessions (1w: week labels) being replaced
    bars: pd.DataFrame  # with `session`
    validity: Validity
    built_from: dict[dt.date, tuple[int, int]]  # per target: (source bars, bars written)
    completeness: pd.DataFrame


def derive(market: Market, timeframe: str, symbol: str, sessions: pd.DatetimeIndex, src: pd.DataFrame,
           now: pd.Timestamp) -> Derived:
    """Resample `src` (source bars with their `session`) to `timeframe` for `sessions`; no
    warehouse access, so it can run ahead of the writes (prefetch.py)."""
    weekly = get_timeframe(timeframe).weekly
    if weekly:
        targets = pd.DatetimeIndex(week_labels(market, pd.Series(sessions)).unique())
        src = src[week_labels(market, src["session"]).isin(targets).to_numpy()]
    else:
        targets = sessions
        src = src[src["session"].isin(sessions)]
    bars = resample_bars(market, src.drop(columns="session"), timeframe)
    if weekly:
        bars["session"] = bars["ts"].dt.tz_localize(None)
    else:
        bars, _ = assign_sessions(market, timeframe, bars, sessions)
    # what each derived partition is built from, so a later change of its source shows (gaps: stale)
    labels = week_labels(market, src["session"]) if weekly else src["session"]
    source_counts = pd.Series(pd.to_datetime(pd.Series(labels).to_numpy())).value_counts()
    written = pd.to_datetime(bars["session"]).value_counts() if len(bars) else pd.Series(dtype="int64")
    built_from = {s.date(): (int(source_counts.get(s, 0)), int(written.get(s, 0))) for s in targets}
    return Derived(timeframe, symbol, targets, bars, check_validity(symbol, bars), built_from,
                   completeness(market, timeframe, symbol, targets, bars.groupby("session").size(), now))


def store_derived(warehouse: Warehouse, market: Market, derived: Derived) -> SymbolOutcome:
    """Replace the derived partitions by `derived`'s bars, with what they were built from."""
    outcome = SymbolOutcome(derived.symbol)
    outcome.validity.add(derived.validity)
    outcome.bars_written = warehouse.replace_bars(market.name, derived.timeframe, derived.symbol,
                                                  [s.date() for s in derived.targets], derived.bars,
                                                  built_from=derived.built_from)
    outcome.completeness = derived.completeness
    return outcome


def fetched_bars(fetched: list[FetchedRun]) -> pd.DataFrame | None:
    """The bars of a symbol's fetched runs as store_fetched stores them (None: a run failed)."""
    if any(isinstance(item.result, VendorError) for item in fetched):
        return None
    return _joined([item.frame for item in fetched if item.frame is not None])


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The runs' frames as one (None: no run stored bars)."""
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)


def derive_and_store(
    warehouse: Warehouse,
    market: Market,
    timeframe: str,
    source: str,
    symbol: str,
    sessions: pd.DatetimeIndex,
    now: pd.Timestamp | None = None,
    source_bars: pd.DataFrame | None = None,
) -> SymbolOutcome:
    """Resample the `source` bars of `sessions` to `timeframe` and store them.

    The source bars are read from the warehouse unless `source_bars` (the frame the same
    step just stored, with its `session` column) is given; 1w always reads, since a week
    labelled inside the window may need days past it.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    if len(sessions) == 0:
        return SymbolOutcome(symbol)
    weekly = get_timeframe(timeframe).weekly
    if source_bars is None or weekly:
        first, last = sessions[0].date(), sessions[-1].date()
        if weekly:
            # A week labelled inside the window may run past it (monthly grain): read whole weeks.
            first, last = week_labels(market, pd.Series(sessions)).min().date(), last + dt.timedelta(days=6)
        source_bars = warehouse.read_bars(market.name, source, symbol, first, last)
    return store_derived(warehouse, market, derive(market, timeframe, symbol, sessions, source_bars, now))
