"""Adjustment factors from splits and dividends, applied to raw bars on read.

Backward adjustment (the convention of CRSP and most vendors): the newest prices stay as
traded, and every bar before an ex-date is scaled so the series has no step there.
- A split with ratio r (split_to / split_from) on ex-date D: prices before D x 1/r,
  volumes before D x r.
- A cash dividend c on ex-date D: prices before D x (1 - c / P), P the close of the last
  session before D (raw, so in the same share basis as c).
A bar's factor is the product of the factors of every event with ex-date after its
session. "splits" applies split factors only (what features use), "all" both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ADJUST_MODES: tuple[str, ...] = ("raw", "splits", "all")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "vwap")


@dataclass
class AdjustmentEvents:
    """Per ex-date: the factor of its splits and of its dividends (1.0 where none)."""

    ex_dates: np.ndarray  # datetime64[ns], ascending and unique
    split_factor: np.ndarray  # price factor of the splits on that date (1 / ratio)
    dividend_factor: np.ndarray
    skipped: list[str] = field(default_factory=list)  # dividends that could not be applied

    @property
    def empty(self) -> bool:
        return len(self.ex_dates) == 0


def adjustment_events(splits: pd.DataFrame, dividends: pd.DataFrame, prev_close: pd.Series) -> AdjustmentEvents:
    """splits: ex_date, ratio; dividends: ex_date, cash_amount; prev_close: close before each dividend ex-date."""
    split_f = (1.0 / splits["ratio"].astype("float64")).groupby(pd.to_datetime(splits["ex_date"])).prod()
    skipped: list[str] = []
    div_f = pd.Series(dtype="float64")
    if len(dividends):
        ex = pd.to_datetime(dividends["ex_date"])
        close = prev_close.reindex(ex).to_numpy(dtype="float64")
        factor = 1.0 - dividends["cash_amount"].to_numpy(dtype="float64") / close
        ok = np.isfinite(factor) & (factor > 0) & (factor <= 1)
        for day, amount, c in zip(ex[~ok], dividends["cash_amount"][~ok], close[~ok], strict=True):
            skipped.append(f"{day:%Y-%m-%d} dividend {amount}: no usable close before the ex-date ({c})")
        div_f = pd.Series(factor[ok], index=ex[ok]).groupby(level=0).prod()
    dates = split_f.index.union(div_f.index).sort_values()
    return AdjustmentEvents(
        ex_dates=dates.to_numpy(dtype="datetime64[ns]"),
        split_factor=split_f.reindex(dates, fill_value=1.0).to_numpy(dtype="float64"),
        dividend_factor=div_f.reindex(dates, fill_value=1.0).to_numpy(dtype="float64"),
        skipped=skipped,
    )


def _suffix_products(values: np.ndarray) -> np.ndarray:
    """out[i] = product of values[i:], out[len] = 1."""
    out = np.ones(len(values) + 1)
    out[:-1] = np.cumprod(values[::-1])[::-1] if len(values) else out[:-1]
    return out


def cumulative_factors(events: AdjustmentEvents, sessions: pd.Series, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(price factor, volume factor) of each session (tz-naive datetime64 labels)."""
    if mode not in ADJUST_MODES:
        raise ValueError(f"unknown adjustment {mode!r}; expected one of {', '.join(ADJUST_MODES)}")
    n = len(sessions)
    if mode == "raw" or events.empty:
        return np.ones(n), np.ones(n)
    price = events.split_factor * (events.dividend_factor if mode == "all" else 1.0)
    # events with ex-date > session apply: the first such event sits at searchsorted(side=right)
    idx = np.searchsorted(events.ex_dates, pd.to_datetime(sessions).to_numpy(dtype="datetime64[ns]"), side="right")
    return _suffix_products(price)[idx], _suffix_products(1.0 / events.split_factor)[idx]


def adjust_bars(bars: pd.DataFrame, events: AdjustmentEvents, mode: str) -> pd.DataFrame:
    """A copy of `bars` (with a `session` column) with prices and volumes adjusted."""
    price, volume = cumulative_factors(events, bars["session"], mode)
    out = bars.copy()
    for col in PRICE_COLUMNS:
        if col in out:
            out[col] = out[col].astype("float64") * price
    out["volume"] = out["volume"].astype("float64") * volume
    return out
