"""Gap classification: why each expected bar is missing, from the grid, the stored bars
and the fetch log.

Classes of a (symbol, timeframe, session):
- complete:     every expected bar is stored and the last fetch was final;
- no_trades:    fetched after the vendor finalised it, and the vendor had no bar (normal
                for thin symbols; tolerated up to a configured share);
- not_fetched:  no successful fetch covers it, or bars a fetch (or a resample) stored
                are gone (or, for a derived timeframe, it has not been resampled since
                its source was stored);
- stale:        a derived partition whose source bars changed since it was resampled
                (derived bars carried over from v1: source unknown): resample it again;
- unfinalized:  fetched before the vendor's finalisation delay: must be fetched again;
- vendor_error: the last fetch failed (error or rate limited).
Only not_fetched, stale, unfinalized and vendor_error are gaps to fill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from backfill_pipeline.calendar_grid import expected_counts
from backfill_pipeline.markets import Market
from backfill_pipeline.resample import week_labels
from backfill_pipeline.timeframes import get_timeframe
from backfill_pipeline.warehouse.fetches import latest_fetches
from backfill_pipeline.warehouse.store import Warehouse

COMPLETE, NO_TRADES, STALE, NOT_FETCHED, UNFINALIZED, VENDOR_ERROR = (
    "complete", "no_trades", "stale", "not_fetched", "unfinalized", "vendor_error")
FILLABLE: tuple[str, ...] = (NOT_FETCHED, UNFINALIZED, VENDOR_ERROR, STALE)
GAP_CLASSES: tuple[str, ...] = (NO_TRADES, *FILLABLE)
# When classes combine (a week of sessions), the one that most needs action wins.
SEVERITY = {COMPLETE: 0, NO_TRADES: 1, STALE: 2, NOT_FETCHED: 3, UNFINALIZED: 4, VENDOR_ERROR: 5}
GRID_COLUMNS = ["market", "symbol", "timeframe", "session", "expected", "present", "gap_class"]


def _grid(market: Market, timeframe: str, symbols: Sequence[str], sessions: pd.DatetimeIndex,
          now: pd.Timestamp | None) -> pd.DataFrame:
    targets = sessions
    if get_timeframe(timeframe).weekly and len(sessions):
        targets = pd.DatetimeIndex(week_labels(market, pd.Series(sessions)).unique())
    expected = expected_counts(market, timeframe, targets, now)
    expected = expected[expected > 0]
    index = pd.MultiIndex.from_product([list(symbols), expected.index], names=["symbol", "session"])
    grid = pd.DataFrame({"expected": np.tile(expected.to_numpy(), len(symbols))}, index=index).reset_index()
    grid["session"] = grid["session"].astype("datetime64[ns]")
    return grid


def classify_fetched(grid: pd.DataFrame, fetches: pd.DataFrame) -> pd.Series:
    merged = grid.merge(fetches, on=["symbol", "session"], how="left")
    fetched = merged["status"].notna()
    ok = merged["status"] == "ok"
    short = merged["present"] < merged["expected"]
    lost = ok & (merged["logged"].fillna(0) > merged["present"])
    unfinal = ok & ~merged["finalized"].fillna(False).astype(bool)
    return pd.Series(np.select(
        [unfinal, ~short, ~fetched | lost, ~ok, short],
        [UNFINALIZED, COMPLETE, NOT_FETCHED, VENDOR_ERROR, NO_TRADES],
        default=COMPLETE,
    ), index=grid.index)


def classify_derived(market: Market, timeframe: str, grid: pd.DataFrame, source: pd.DataFrame,
                     built: pd.DataFrame | None = None, source_now: pd.DataFrame | None = None) -> pd.Series:
    """A derived bar is missing for its source's reason, or because it was not resampled; it
    is stale when its source changed since it was resampled (`built`: Warehouse.built_from,
    compared with `source_now`: symbol, session, src_now, the source bars stored now per
    derived partition; default: the source rows of the scan)."""
    src = source[["symbol", "session", "present", "gap_class"]].rename(
        columns={"present": "src_present", "gap_class": "src_class"})
    if get_timeframe(timeframe).weekly:
        src = src.assign(session=week_labels(market, src["session"]).to_numpy(),
                         sev=src["src_class"].map(SEVERITY))
        src = src.sort_values("sev").groupby(["symbol", "session"], as_index=False).agg(
            src_present=("src_present", "sum"), src_class=("src_class", "last"))
    merged = grid.merge(src, on=["symbol", "session"], how="left")
    if built is None:
        built = pd.DataFrame({"symbol": pd.Series(dtype=object), "session": pd.Series(dtype="datetime64[ns]"),
                              "built_from": pd.Series(dtype="int64"), "built_bars": pd.Series(dtype="int64")})
    merged = merged.merge(built, on=["symbol", "session"], how="left")
    src_class = merged["src_class"].fillna(NOT_FETCHED)
    src_present = merged["src_present"].fillna(0)
    if source_now is not None:
        now_counts = merged[["symbol", "session"]].merge(source_now, on=["symbol", "session"], how="left")["src_now"]
        src_now = pd.Series(now_counts.fillna(0).to_numpy(), index=merged.index)
    else:
        src_now = src_present
    short = merged["present"] < merged["expected"]
    recorded = merged["built_from"].notna()
    stale = recorded & (merged["built_from"] != src_now)  # v1's derived bars: built_from -1 (unknown)
    lost = recorded & (merged["present"] < merged["built_bars"].fillna(0))
    return pd.Series(np.select(
        # short or stale, and its source is itself a gap: fill the source first (its step rebuilds this)
        [src_class == UNFINALIZED, src_class.isin([NOT_FETCHED, VENDOR_ERROR, STALE]) & (short | stale),
         lost, stale, ~short, (merged["present"] == 0) & (src_present > 0), src_class == NO_TRADES],
        [UNFINALIZED, src_class, NOT_FETCHED, STALE, COMPLETE, NOT_FETCHED, NO_TRADES],
        default=NOT_FETCHED,
    ), index=grid.index)


def scan(
    warehouse: Warehouse,
    market: Market,
    symbols: Sequence[str],
    timeframes: Sequence[str],
    sessions: pd.DatetimeIndex,
    sources: dict[str, str | None],
    now: pd.Timestamp | None = None,
    recount: bool = False,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Every expected (symbol, timeframe, session) with its counts and gap class.

    One summary query and one fetch-log query per timeframe; grids are vectorised.
    Source timeframes of derived ones are scanned too (they explain derived gaps).
    """
    if len(sessions) == 0 or not symbols:
        return pd.DataFrame(columns=GRID_COLUMNS)
    needed: list[str] = []
    for tf in timeframes:  # a timeframe's source chain comes first
        chain = [tf]
        while sources.get(chain[-1]):
            chain.append(sources[chain[-1]])  # type: ignore[arg-type]
        for item in reversed(chain):
            if item not in needed:
                needed.append(item)
    results: dict[str, pd.DataFrame] = {}
    for i, tf in enumerate(needed, start=1):
        if progress:
            progress(f"scanning {market.name} {tf} ({i}/{len(needed)}): {len(symbols)} symbols x {len(sessions)} sessions")
        grid = _grid(market, tf, symbols, sessions, now)
        # a 1w grid starts at its week's first session, which may come before `sessions`
        bounds = grid["session"] if len(grid) else pd.Series(sessions)
        first, last = bounds.min().date(), bounds.max().date()
        counts = warehouse.bar_counts(market.name, tf, first, last, list(symbols), recount=recount)
        grid = grid.merge(counts, on=["symbol", "session"], how="left")
        grid["present"] = grid.pop("bars").fillna(0).astype("int64")
        source = sources.get(tf)
        if source is None:
            grid["gap_class"] = classify_fetched(grid, latest_fetches(warehouse, market.name, tf, first, last, symbols))
        else:
            built = warehouse.built_from(market.name, tf, first, last, list(symbols))
            grid["gap_class"] = classify_derived(market, tf, grid, results[source], built,
                                                 _week_sources(warehouse, market, source, first, last, symbols)
                                                 if get_timeframe(tf).weekly else None)
        grid["market"], grid["timeframe"] = market.name, tf
        results[tf] = grid[GRID_COLUMNS]
    return pd.concat([results[tf] for tf in timeframes], ignore_index=True)


def _week_sources(warehouse: Warehouse, market: Market, source: str, first: dt.date, last: dt.date,
                  symbols: Sequence[str]) -> pd.DataFrame:
    """Source bars stored per (symbol, week label) over whole weeks (a scan's range may cut a
    week, and a 1w bar is built from its whole week)."""
    counts = warehouse.bar_counts(market.name, source, first, last + dt.timedelta(days=6), list(symbols))
    labels = week_labels(market, counts["session"]) if len(counts) else counts["session"]
    weekly = counts.assign(session=pd.to_datetime(pd.Series(labels).to_numpy()).astype("datetime64[ns]"))
    return weekly.groupby(["symbol", "session"], as_index=False)["bars"].sum().rename(columns={"bars": "src_now"})


def summarize(table: pd.DataFrame) -> dict[str, int]:
    missing = (table["expected"] - table["present"]).clip(lower=0)
    out = {"partitions": len(table), "complete": int((table["gap_class"] == COMPLETE).sum())}
    for cls in GAP_CLASSES:
        out[cls] = int((table["gap_class"] == cls).sum())
    out["missing_bars"] = int(missing.sum())
    out["missing_bars_to_fill"] = int(missing[table["gap_class"].isin(FILLABLE)].sum())
    return out
