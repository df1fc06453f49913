"""The interface of a macro series source; vendors/fred.py's FredClient satisfies it.

`fetch_series` returns all observations with start <= date <= end in one logical call
(FRED: one request per series, up to 100k rows), as a frame with columns date
(datetime64, naive), value (float64; NaN where the source says "." = no observation) and
realtime_start (datetime64, naive).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

SERIES_COLUMNS: tuple[str, ...] = ("date", "value", "realtime_start")


class SeriesFrame(Protocol):
    frame: pd.DataFrame
    requests: int


@dataclass
class SeriesResult:
    frame: pd.DataFrame
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)


class MacroSource(Protocol):
    vendor: str

    def fetch_series(self, series_id: str, start: dt.date, end: dt.date) -> SeriesFrame: ...

    def close(self) -> None: ...


def empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns]"),
            "value": pd.Series([], dtype="float64"),
            "realtime_start": pd.Series([], dtype="datetime64[ns]"),
        }
    )
