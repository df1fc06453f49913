"""Offline macro series shaped like FRED/ALFRED: realistic levels, FRED's calendar habits,
and vintages (each value with the real-time period in which it was the published one).

- DFF has a row every calendar day; the other daily series a row every weekday, with "."
  (NaN) on their holidays: VIX on NYSE holidays; Treasury, credit and dollar series on
  NYSE holidays except Good Friday, plus Columbus Day and Veterans Day (bond market shut,
  stocks open), an approximation of the SIFMA calendar. A daily value is published the
  next weekday and never revised.
- CPIAUCSL is monthly, dated the first of the month and first released on a business day
  (an XNYS session) from the 10th of the next month on (as BLS does); about a third of the
  months are revised at the next month's release (by 0.05-0.2%).
- A191RL1Q225SBEA is quarterly, dated the quarter's first day: the advance estimate comes
  26-29 days after the quarter ends, the second 4 weeks later, the third 8 weeks later
  (each moved to the next business day);
  the third is the value FRED shows today. An estimate equal to the previous one starts no
  new vintage (FRED merges unchanged real-time periods).
- Levels are linked as in the data: 2y follows fed funds, 10y the 2y plus a term premium,
  T10Y2Y is exactly DGS10 - DGS2, BBB is the 10y plus a credit spread.
Every series and its vintages are drawn once over a fixed span (1990-2040) from a seed, so
any window is the same whatever was asked before. "Today" (`now`) only hides what is not
yet released: a vintage released after today is absent and the one before it is still in
force (realtime_end NaT, FRED's 9999-12-31).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd

from backfill_pipeline.markets import CALENDAR_START, MARKETS, calendar_end, get_calendar
from backfill_pipeline.vendors.base import VendorError
from backfill_pipeline.vendors.demo.paths import ar1, stable_seed
from backfill_pipeline.vendors.series_source import SeriesResult

ORIGIN = dt.date(1990, 1, 1)
HORIZON = dt.date(2040, 12, 31)
_BOND_SERIES = frozenset({"DGS2", "DGS10", "T10Y2Y", "BAMLC0A4CBBBEY", "DTWEXBGS"})
_FREQUENCY = {"CPIAUCSL": "monthly", "A191RL1Q225SBEA": "quarterly"}


class DemoMacroSource:
    vendor = "demo"

    def __init__(self, seed: int = 0, now: Callable[[], dt.date] | None = None) -> None:
        self.seed = seed
        self._today = now or dt.date.today
        self._days = pd.date_range(ORIGIN, HORIZON, freq="D")
        self._cache: dict[str, pd.Series] = {}
        self._vintage_cache: dict[str, pd.DataFrame] = {}

    def close(self) -> None:
        self._cache.clear()
        self._vintage_cache.clear()

    def fetch_series(self, series_id: str, start: dt.date, end: dt.date) -> SeriesResult:
        window = f"[{start}, {end}]"
        if series_id not in _generators():
            raise VendorError(self.vendor, series_id, window,
                              f"the demo macro source has no such series; it knows {', '.join(sorted(_generators()))}")
        today = pd.Timestamp(self._today())
        v = self._vintages(series_id)
        v = v[(v["date"] >= pd.Timestamp(start)) & (v["date"] <= pd.Timestamp(end)) & (v["realtime_start"] <= today)]
        v = v.copy()
        v.loc[v["realtime_end"] >= today, "realtime_end"] = pd.NaT  # superseded only after today
        return SeriesResult(v.reset_index(drop=True), requests=1, request_ids=[f"demo-{series_id}-{start}-{end}"])

    def _vintages(self, series_id: str) -> pd.DataFrame:
        key = f"vintages:{series_id}"
        if key not in self._vintage_cache:
            frequency = _FREQUENCY.get(series_id, "daily")
            values = self._series(series_id)
            if frequency == "monthly":
                frame = _monthly_vintages(values, self._rng(series_id))
            elif frequency == "quarterly":
                frame = _quarterly_vintages(values, self._rng(series_id))
            else:
                if series_id != "DFF":
                    values = values[values.index.dayofweek < 5]
                    values = values.mask(values.index.isin(_holidays(series_id, ORIGIN, HORIZON)))
                frame = _single_vintages(values.index, values.to_numpy(dtype="float64"),
                                         _next_weekday(values.index + pd.Timedelta(days=1)))
            self._vintage_cache[key] = frame
        return self._vintage_cache[key]

    def _rng(self, series_id: str) -> np.random.Generator:
        return np.random.default_rng(stable_seed("macro-vintages", self.seed, series_id))

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


def _next_weekday(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Each day, or the Monday after it when it falls on a weekend."""
    shift = np.where(days.dayofweek == 5, 2, np.where(days.dayofweek == 6, 1, 0))
    return days + pd.to_timedelta(shift, unit="D")


def _next_business_day(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Each day, or the next XNYS session after it (statistical agencies publish on business
    days; inside the calendar's window NYSE holidays stand in for federal ones)."""
    weekdays = _next_weekday(days)
    lo, hi = pd.Timestamp(CALENDAR_START), pd.Timestamp(calendar_end())
    inside = (weekdays >= lo) & (weekdays <= hi)
    if not inside.any():
        return weekdays
    sessions = get_calendar(MARKETS["us_equities"].calendar_name).sessions
    sessions = pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz is not None else sessions)
    nxt = sessions[np.minimum(sessions.searchsorted(weekdays[inside]), len(sessions) - 1)]
    out = weekdays.to_numpy(dtype="datetime64[ns]").copy()
    out[inside] = nxt.to_numpy(dtype="datetime64[ns]")
    return pd.DatetimeIndex(out)


def _single_vintages(dates: pd.DatetimeIndex, values: np.ndarray, released: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({
        "date": dates.to_numpy(dtype="datetime64[ns]"), "value": values,
        "realtime_start": released.to_numpy(dtype="datetime64[ns]"),
        "realtime_end": np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]"),
    })


def _chain(dates: list[pd.Timestamp], estimates: list[list[tuple[pd.Timestamp, float]]]) -> pd.DataFrame:
    """Vintage rows from each observation's (release day, value) estimates; an estimate equal
    to the one before starts no new real-time period, and each period ends the day before
    the next one starts."""
    rows: list[tuple[pd.Timestamp, float, pd.Timestamp, pd.Timestamp | None]] = []
    for date, chain in zip(dates, estimates, strict=True):
        kept = [chain[0]] + [e for prev, e in itertools.pairwise(chain) if e[1] != prev[1]]
        for k, (released, value) in enumerate(kept):
            end = kept[k + 1][0] - pd.Timedelta(days=1) if k + 1 < len(kept) else None
            rows.append((date, value, released, end))
    frame = pd.DataFrame(rows, columns=["date", "value", "realtime_start", "realtime_end"])
    for col in ("date", "realtime_start", "realtime_end"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    frame["value"] = frame["value"].astype("float64")
    return frame


def _monthly_vintages(values: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    months = pd.DatetimeIndex(values.index)
    offsets = rng.integers(9, 14, size=len(months) + 1)  # first release on the 10th..14th, then a weekday
    nexts = months.append(pd.DatetimeIndex([months[-1] + pd.DateOffset(months=1)])) + pd.DateOffset(months=1)
    releases = _next_business_day(nexts + pd.to_timedelta(offsets, unit="D"))
    revised = rng.random(len(months)) < 1 / 3
    sizes = rng.uniform(0.0005, 0.002, len(months)) * rng.choice([-1.0, 1.0], len(months))
    estimates = []
    for k, final in enumerate(values.to_numpy(dtype="float64")):
        if revised[k]:
            estimates.append([(releases[k], round(final * (1 + sizes[k]), 3)), (releases[k + 1], final)])
        else:
            estimates.append([(releases[k], final)])
    return _chain(list(months), estimates)


def _quarterly_vintages(values: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    quarters = pd.DatetimeIndex(values.index)
    ends = quarters + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    advance = _next_business_day(ends + pd.to_timedelta(rng.integers(26, 30, size=len(quarters)), unit="D"))
    second = _next_business_day(advance + pd.Timedelta(days=28))
    third = _next_business_day(advance + pd.Timedelta(days=56))
    first_error = np.round(rng.normal(0.0, 0.5, len(quarters)), 1)
    second_error = np.round(rng.normal(0.0, 0.25, len(quarters)), 1)
    estimates = [
        [(advance[k], round(final + first_error[k], 1)), (second[k], round(final + second_error[k], 1)),
         (third[k], final)]
        for k, final in enumerate(values.to_numpy(dtype="float64"))
    ]
    return _chain(list(quarters), estimates)


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
