"""Coverage of stored bars against the calendar: set-based (one GROUP BY per timeframe)."""

from __future__ import annotations

import pandas as pd

from backfill_pipeline.calendar_grid import expected_counts
from backfill_pipeline.markets import Market
from backfill_pipeline.resample import week_labels
from backfill_pipeline.warehouse.store import Warehouse


def coverage_table(
    warehouse: Warehouse,
    market: Market,
    symbols: list[str],
    timeframes: list[str],
    sessions: pd.DatetimeIndex,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per (symbol, timeframe): expected, present and missing bars, completeness %."""
    rows = []
    for timeframe in timeframes:
        targets = sessions
        if timeframe == "1w" and len(sessions):
            targets = pd.DatetimeIndex(week_labels(market, pd.Series(sessions)).unique())
        expected = expected_counts(market, timeframe, targets, now)
        counts = pd.DataFrame(columns=["symbol", "session", "bars"])
        if len(targets):
            counts = warehouse.bar_counts(market.name, timeframe, targets[0].date(), targets[-1].date(), symbols)
            counts = counts[counts["session"].isin(targets)]
        present = counts.groupby("symbol")["bars"].sum() if len(counts) else pd.Series(dtype="int64")
        total = int(expected.sum())
        for symbol in symbols:
            have = int(min(present.get(symbol, 0), total))
            rows.append({
                "market": market.name, "symbol": symbol, "timeframe": timeframe,
                "expected": total, "present": have, "missing": total - have,
                "completeness_pct": round(100.0 * have / total, 2) if total else 100.0,
            })
    return pd.DataFrame(rows, columns=["market", "symbol", "timeframe", "expected", "present", "missing", "completeness_pct"])


def coverage_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Symbols as rows, timeframes as columns, completeness % as values."""
    if table.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(table["timeframe"]))
    matrix = table.pivot_table(index=["market", "symbol"], columns="timeframe", values="completeness_pct", sort=False)
    return matrix[order]
