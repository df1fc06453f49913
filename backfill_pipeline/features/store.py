"""Compute-and-store of one symbol's features over a set of sessions (no Dagster here).

Reads the sessions' bars plus exactly `lookback_bars` stored bars before the first one,
split-adjusts them with the symbol's known splits, computes over the whole frame, and
replaces the features of exactly those sessions in one transaction. A single partition and
a ranged backfill take the same path; a ranged run reads each symbol once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.corporate_actions.adjust import adjust_bars
from backfill_pipeline.corporate_actions.store import has_corporate_actions, load_events
from backfill_pipeline.features.compute import compute_features, nonfinite_beyond_warmup
from backfill_pipeline.features.lookback import bars_per_year
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.markets import Market
from backfill_pipeline.resample import week_labels
from backfill_pipeline.warehouse.derived_rows import delete_in, insert_rows, lock
from backfill_pipeline.warehouse.schema import bars
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, FEATURE_INSERT_COLUMNS, features
from backfill_pipeline.warehouse.store import Warehouse

_SAMPLE = 10
_BAR_COLUMNS = ("ts", "session", "open", "high", "low", "close", "volume")


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


def _frame(rows: list[sa.Row]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(_BAR_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    for col in _BAR_COLUMNS[2:]:
        frame[col] = frame[col].astype("float64")
    return frame


def read_with_lookback(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date, lookback: int
) -> tuple[pd.DataFrame, int]:
    """Bars of sessions first..last, preceded by up to `lookback` earlier bars; and how many there were."""
    cols = [bars.c[c] for c in _BAR_COLUMNS]
    series = (bars.c.market == market, bars.c.timeframe == timeframe, bars.c.symbol == symbol)
    before = sa.select(*cols).where(*series, bars.c.session < first).order_by(bars.c.ts.desc()).limit(lookback)
    inside = sa.select(*cols).where(*series, bars.c.session >= first, bars.c.session <= last).order_by(bars.c.ts)
    with warehouse.engine.connect() as conn:
        head = list(conn.execute(before).all())[::-1]
        body = list(conn.execute(inside).all())
    return _frame(head + body), len(head)


def target_sessions(market: Market, timeframe: str, sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The `session` labels of the bars that the partition sessions cover (1w: week labels)."""
    if timeframe == "1w":
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


def feature_rows(market: str, timeframe: str, symbol: str, frame: pd.DataFrame, computed: pd.DataFrame) -> list[tuple]:
    n = len(frame)
    ts = (frame["ts"].astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000).tolist()
    session = frame["session"].dt.strftime("%Y-%m-%d").tolist()
    values = computed.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    values = np.where(np.isfinite(values), values, np.nan).astype(object)
    values[pd.isna(values)] = None
    columns = [[market] * n, [symbol] * n, [timeframe] * n, ts, session, *values.T.tolist()]
    return list(zip(*columns, strict=True))


def replace_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, sessions: list[dt.date],
    frame: pd.DataFrame, computed: pd.DataFrame,
) -> int:
    """Replace the features of `symbol` in `sessions` (idempotent; one transaction)."""
    rows = feature_rows(market, timeframe, symbol, frame, computed)
    with warehouse.transaction() as conn:
        lock(conn, "features", market, timeframe, symbol)
        where = (features.c.market == market, features.c.timeframe == timeframe, features.c.symbol == symbol)
        delete_in(conn, features, where, features.c.session, sessions)
        return insert_rows(conn, features, FEATURE_INSERT_COLUMNS, rows)


def read_features(
    warehouse: Warehouse, market: str, timeframe: str, symbol: str, first: dt.date, last: dt.date
) -> pd.DataFrame:
    query = (
        sa.select(features.c.ts, features.c.session, *(features.c[c] for c in FEATURE_COLUMNS))
        .where(features.c.market == market, features.c.timeframe == timeframe, features.c.symbol == symbol,
               features.c.session >= first, features.c.session <= last)
        .order_by(features.c.ts)
    )
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["ts", "session", *FEATURE_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
    frame["session"] = pd.to_datetime(frame["session"]).astype("datetime64[ns]")
    for col in FEATURE_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame
