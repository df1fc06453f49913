"""Data-quality rules for bars: OHLC validity and completeness against the calendar grid.

Pure functions over frames; the assets turn their results into Dagster check results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backfill_pipeline.calendar_grid import expected_counts
from backfill_pipeline.markets import Market

_SAMPLE = 10


@dataclass
class Validity:
    rows: int = 0
    high_below_open_close: int = 0
    low_above_open_close: int = 0
    negative_volume: int = 0
    missing_prices: int = 0
    duplicate_timestamps: int = 0
    outside_session: int = 0
    examples: list[str] = field(default_factory=list)  # "SYMBOL ts: rule"

    @property
    def violations(self) -> int:
        return (
            self.high_below_open_close + self.low_above_open_close + self.negative_volume
            + self.missing_prices + self.duplicate_timestamps + self.outside_session
        )

    def add(self, other: Validity) -> None:
        for name in ("rows", "high_below_open_close", "low_above_open_close", "negative_volume",
                     "missing_prices", "duplicate_timestamps", "outside_session"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples.extend(other.examples[: max(0, _SAMPLE - len(self.examples))])


def check_validity(symbol: str, frame: pd.DataFrame, duplicates: int = 0, outside_session: int = 0) -> Validity:
    """Count rule violations in one symbol's bars (duplicates/outside counted by the caller)."""
    o, h, l, c, v = (frame[k] for k in ("open", "high", "low", "close", "volume"))
    rules = {
        "high < max(open, close)": (h < o) | (h < c),
        "low > min(open, close)": (l > o) | (l > c),
        "volume < 0": v < 0,
        "missing price": o.isna() | h.isna() | l.isna() | c.isna(),
    }
    result = Validity(
        rows=len(frame),
        high_below_open_close=int(rules["high < max(open, close)"].sum()),
        low_above_open_close=int(rules["low > min(open, close)"].sum()),
        negative_volume=int(rules["volume < 0"].sum()),
        missing_prices=int(rules["missing price"].sum()),
        duplicate_timestamps=duplicates,
        outside_session=outside_session,
    )
    for rule, mask in rules.items():
        for ts in frame.loc[mask, "ts"].head(_SAMPLE - len(result.examples)):
            result.examples.append(f"{symbol} {ts.isoformat()}: {rule}")
    return result


def completeness(
    market: Market,
    timeframe: str,
    symbol: str,
    sessions: pd.DatetimeIndex,
    present: pd.Series,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per session: expected and present bar counts (present indexed by session label)."""
    expected = expected_counts(market, timeframe, sessions, now)
    frame = pd.DataFrame({"expected": expected})
    frame["present"] = present.reindex(frame.index, fill_value=0).astype("int64")
    frame["symbol"] = symbol
    frame.index.name = "session"
    return frame.reset_index()


def short_partitions(table: pd.DataFrame, limit: int = 50) -> list[str]:
    """'SYMBOL session: present/expected' for sessions with fewer bars than expected."""
    short = table[table["present"] < table["expected"]]
    return [
        f"{r.symbol} {r.session:%Y-%m-%d}: {r.present}/{r.expected}"
        for r in short.head(limit).itertuples()
    ]
