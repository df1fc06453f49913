"""Offline macro series shaped like FRED's: realistic levels, FRED's calendar habits.

- DFF has a row every calendar day; the other daily series a row every weekday, with "."
  (NaN) on their holidays: VIX on NYSE holidays; Treasury, credit and dollar series on
  NYSE holidays except Good Friday, plus Columbus Day and Veterans Day (bond market shut,
  stocks open), an approximation of the SIFMA calendar.
- CPIAUCSL is monthly, dated the first of the month, published ~45 days later;
  A191RL1Q225SBEA is quarterly, dated the quarter's first day, published ~120 days later.
- Levels are linked as in the data: 2y follows fed funds, 10y the 2y plus a term premium,
  T10Y2Y is exactly DGS10 - DGS2, BBB is the 10y plus a credit spread.
Every series is drawn once over a fixed span (1990-2040) from a seed, so any window of it
is the same whatever was asked before; `realtime_start` is today, as FRED reports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from backfill_pipeline.macro.source import SeriesResult, empty_series
from backfill_pipeline.markets import CALENDAR_START, MARKETS, calendar_end, get_calendar
from backfill_pipeline.vendors.base import VendorError
from backfill_pipeline.vendors.demo_paths import ar1, stable_seed

ORIGIN = dt.date(1990, 1, 1)
HORIZON = dt.date(2040, 12, 31)
_BOND_SERIES = frozenset({"DGS2", "DGS10", "T10Y2Y", "BAMLC0A4CBBBEY", "DTWEXBGS"})
_PUBLICATION_LAG_DAYS = {"daily": 1, "monthly": 45, "quarterly": 120}
_FREQUENCY = {"CPIAUCSL": "monthly", "A191RL1Q225SBEA": "quarterly"}


class DemoMacroSource:
    vendor = "demo"

    def __init__(self, seed: int = 0, now: Callable[[], dt.date] | None = None) -> None:
        self.seed = seed
        self._today = now or dt.date.today
        self._days = pd.date_range(ORIGIN, HORIZON, freq="D")
        self._cache: dict[str, pd.Series] = {}

    def close(self) -> None:
        self._cache.clear()

    def fetch_series(self, series_id: str, start: dt.date, end: dt.date) -> SeriesResult:
        window = f"[{start}, {end}]"
        if series_id not in _generators():
            raise VendorError(self.vendor, series_id, window,
                              f"the demo macro source has no such series; it knows {', '.join(sorted(_generators()))}")
        today = self._today()
        frequency = _FREQUENCY.get(series_id, "daily")
        last = min(end, today - dt.timedelta(days=_PUBLICATION_LAG_DAYS[frequency]))
        if last < start:
            return SeriesResult(empty_series(), requests=1)
        values = self._series(series_id)
        values = values[(values.index >= pd.Timestamp(start)) & (values.index <= pd.Timestamp(last))]
        if series_id != "DFF" and frequency == "daily":
            values = values[values.index.dayofweek < 5]
            values = values.mask(values.index.isin(_holidays(series_id, start, last)))
        frame = pd.DataFrame(
            {
                "date": values.index.to_numpy(dtype="datetime64[ns]"),
                "value": values.to_numpy(dtype="float64"),
                "realtime_start": np.full(len(values), np.datetime64(today, "ns")),
            }
        )
        return SeriesResult(frame, requests=1, request_ids=[f"demo-{series_id}-{start}-{end}"])

    def _series(self, series_id: str) -> pd.Series:
        if series_id not in self._cache:
            self._cache[series_id] = _generators()[series_id](self)
        return self._cache[series_id]

    def _ou(self, name: str, phi: float, sd: float, n: int | None = None) -> np.ndarray:
        """A stationary AR(1) path with sd `sd`, seeded by (seed, name), one value per day."""
        n = len(self._days) if n is None else n
        z = np.random.default_rng(stable_seed("macro", self.seed, name)).standard_normal(n)
        shocks = z * sd * np.sqrt(1.0 - phi * phi)
        shocks[0] = z[0] * sd
        return ar1(shocks, phi)

    def _fed_funds(self) -> pd.Series:
        # FOMC-like decisions every six weeks, in 25 bp steps, drawn back towards ~2.5%
        steps = np.random.default_rng(stable_seed("macro", self.seed, "fomc")).standard_normal(len(self._days) // 42 + 1)
        target = np.empty(len(steps))
        level = 5.0
        for k, z in enumerate(steps):
            level = float(np.clip(level + 0.25 * np.round(0.9 * z + 0.25 * (2.5 - level)), 0.125, 6.5))
            target[k] = level
        daily = target[np.arange(len(self._days)) // 42] + self._ou("dff_noise", 0.3, 0.02)
        series = pd.Series(np.round(daily, 2), index=self._days)
        # weekends carry Friday's rate, as in H.15
        return series.where(series.index.dayofweek < 5).ffill().bfill()

    def _two_year(self) -> pd.Series:
        return (self._series("DFF") + 0.3 + self._ou("dgs2", 0.995, 0.5)).clip(lower=0.05).round(2)

    def _ten_year(self) -> pd.Series:
        return (self._series("DGS2") + 0.9 + self._ou("dgs10", 0.997, 0.9)).clip(lower=0.3).round(2)


def _monthly(source: DemoMacroSource) -> pd.Series:
    months = pd.date_range(ORIGIN, HORIZON, freq="MS")
    inflation = 0.0021 + source._ou("cpi", 0.6, 0.0015, len(months))
    return pd.Series(np.round(127.5 * np.exp(np.cumsum(inflation) - inflation[0]), 3), index=months)


def _quarterly(source: DemoMacroSource) -> pd.Series:
    quarters = pd.date_range(ORIGIN, HORIZON, freq="QS")
    return pd.Series(np.round(2.4 + source._ou("gdp", 0.3, 2.2, len(quarters)), 1), index=quarters)


def _generators() -> dict[str, Callable[[DemoMacroSource], pd.Series]]:
    return {
        "DFF": DemoMacroSource._fed_funds,
        "DGS2": DemoMacroSource._two_year,
        "DGS10": DemoMacroSource._ten_year,
        "T10Y2Y": lambda s: (s._series("DGS10") - s._series("DGS2")).round(2),
        "BAMLC0A4CBBBEY": lambda s: (s._series("DGS10") + 1.8 + s._ou("bbb", 0.995, 0.45)).clip(lower=0.7).round(2),
        "VIXCLS": lambda s: pd.Series(np.clip(18.0 * np.exp(s._ou("vix", 0.97, 0.35)), 9.0, 85.0).round(2), index=s._days),
        "DTWEXBGS": lambda s: pd.Series((115.0 * np.exp(s._ou("usd", 0.999, 0.06))).round(4), index=s._days),
        "CPIAUCSL": _monthly,
        "A191RL1Q225SBEA": _quarterly,
    }


def _holidays(series_id: str, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Weekdays on which the series has no observation ("." in FRED)."""
    lo, hi = max(start, CALENDAR_START), min(end, calendar_end())
    if hi < lo:
        return pd.DatetimeIndex([])
    weekdays = pd.bdate_range(lo, hi)
    closed = weekdays.difference(get_calendar(MARKETS["us_equities"].calendar_name).sessions)
    if series_id not in _BOND_SERIES:
        return closed
    good_friday = closed[np.array([_is_good_friday(d) for d in closed], dtype=bool)]
    columbus = weekdays[(weekdays.month == 10) & (weekdays.dayofweek == 0) & (weekdays.day >= 8) & (weekdays.day <= 14)]
    veterans = weekdays[(weekdays.month == 11) & (weekdays.day == 11)]
    return closed.difference(good_friday).union(columbus).union(veterans)


def _is_good_friday(day: pd.Timestamp) -> bool:
    from dateutil.easter import easter  # a dependency of pandas

    return day.date() == easter(day.year) - dt.timedelta(days=2)
