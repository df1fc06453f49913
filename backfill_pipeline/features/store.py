"""Compute-and-store of one symbol's features over a set of sessions (no Dagster, no SQL here).

Reads the sessions' bars plus exactly `lookback_bars` stored bars before the first one,
split-adjusts them with the symbol's known splits, computes over the whole frame, and
replaces the features of exactly those sessions in one transaction. A single partition and
a ranged backfill take the same path; a ranged run reads each symbol once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backfill_pipeline.corporate_actions.adjust import adjust_bars
from backfill_pipeline.corporate_actions.store import has_corporate_actions, load_events
from backfill_pipeline.features.compute import compute_features, nonfinite_beyond_warmup
from backfill_pipeline.features.lookback import bars_per_year
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.markets import Market
from backfill_pipeline.resample import week_labels
from backfill_pipeline.timeframes import get_timeframe
from backfill_pipeline.warehouse.bar_queries import read_with_lookback
from backfill_pipeline.warehouse.features import replace_features
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS
from backfill_pipeline.warehouse.store import Warehouse

_SAMPLE = 10


@dataclass
class FeatureOutcome:
    symbol: str
    rows_written: int = 0
    sessions: int = 0
    sessions_without_bars: list[str] = field(default_factory=list)
    lookback_required: int = 0
    lookback_available: int = 0
    first_session: str = ""
    nonfinite_rows: int = 0
    examples: list[str] = field(default_factory=list)  # "SYMBOL ts: column"
    splits_applied: int = 0

    @property
    def lookback_short(self) -> bool:
        return self.lookback_available < self.lookback_required


def target_sessions(market: Market, timeframe: str, sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The `session` labels of the bars that the partition sessions cover (1w: week labels)."""
    if get_timeframe(timeframe).weekly:
        return pd.DatetimeIndex(week_labels(market, pd.Series(sessions)).unique()).sort_values()
    return sessions


def compute_and_store(
    warehouse: Warehouse, market: Market, timeframe: str, symbol: str, sessions: pd.DatetimeIndex,
    windows: FeatureWindows,
) -> FeatureOutcome:
    targets = target_sessions(market, timeframe, sessions)
    lookback = windows.lookback_bars
    outcome = FeatureOutcome(symbol, sessions=len(targets), lookback_required=lookback)
    if len(targets) == 0:
        return outcome
    first, last = targets[0].date(), targets[-1].date()
    outcome.first_session = f"{first:%Y-%m-%d}"
    frame, outcome.lookback_available = read_with_lookback(
        warehouse, market.name, timeframe, symbol, first, last, lookback
    )
    if has_corporate_actions(market):
        events = load_events(warehouse, market.name, symbol, with_dividends=False)
        outcome.splits_applied = int((events.split_factor != 1.0).sum())
        frame = adjust_bars(frame, events, "splits")
    computed = compute_features(frame, windows, bars_per_year(market, timeframe))
    inside = frame["session"].isin(targets).to_numpy()
    bad = nonfinite_beyond_warmup(computed, np.arange(len(frame)), windows.warmup_bars).to_numpy() & inside
    outcome.nonfinite_rows = int(bad.sum())
    for i in np.flatnonzero(bad)[:_SAMPLE]:
        columns = [c for c in FEATURE_COLUMNS if not np.isfinite(computed[c].iloc[i])]
        outcome.examples.append(f"{symbol} {frame['ts'].iloc[i].isoformat()}: {', '.join(columns)}")
    present = set(frame.loc[inside, "session"])
    outcome.sessions_without_bars = [f"{s:%Y-%m-%d}" for s in targets if s not in present]
    outcome.rows_written = replace_features(
        warehouse, market.name, timeframe, symbol, [s.date() for s in targets], frame.loc[inside], computed.loc[inside]
    )
    return outcome
