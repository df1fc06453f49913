"""The interface of a macro series source; vendors/fred/client.py's FredClient satisfies it.

`fetch_series` returns every vintage of every observation with start <= date <= end in one
logical call (FRED: one request per series, plus a page per 100,000 rows), as a frame with
columns date (datetime64, naive: the observation's period as the source dates it), value
(float64; NaN where the source says "." = no observation in that vintage), realtime_start
(the day that value was published) and realtime_end (the last day it was the published
value; NaT while it still is, FRED's 9999-12-31). Rows are sorted by (date, realtime_start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

SERIES_COLUMNS: tuple[str, ...] = ("date", "value", "realtime_start", "realtime_end")


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
    return pd.DataFrame({
        "date": pd.Series([], dtype="datetime64[ns]"),
        "value": pd.Series([], dtype="float64"),
        "realtime_start": pd.Series([], dtype="datetime64[ns]"),
        "realtime_end": pd.Series([], dtype="datetime64[ns]"),
    })
