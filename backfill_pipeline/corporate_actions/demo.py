"""Offline, deterministic corporate actions: quarterly dividends and the odd split.

Each (seed, symbol, year) draws its own events, so a window asked whole or in pieces gets
the same rows. Dividend amounts follow the demo vendor's price level for the symbol (a
yield of 0.5-3% a year; about a quarter of symbols pay none). Splits come about once a
decade per symbol (2-, 3-, 4-, 5- or 10-for-1). Ex-dates are sessions of the market's
calendar, and nothing is reported with an ex-date after `now`.

The demo vendor's bars are synthetic and do not drop at these splits, so across a demo
split the split-adjusted series shows the step that a real vendor's raw series shows
instead. Set `split_rate` to 0 for a demo without splits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from backfill_pipeline.markets import CALENDAR_START, Market, get_calendar
from backfill_pipeline.vendors.actions_source import ActionsResult, empty_dividends, empty_splits
from backfill_pipeline.vendors.demo.paths import DRIFT_ANCHOR, stable_seed, symbol_profile

_SPLIT_RATIOS = np.array([2.0, 3.0, 4.0, 2.0, 5.0, 10.0, 2.0, 3.0])


class DemoCorporateActions:
    vendor = "demo"

    def __init__(
        self, market: Market, seed: int = 0, split_rate: float = 0.1, now: Callable[[], dt.date] | None = None
    ) -> None:
        self.market = market
        self.seed = seed
        self.split_rate = split_rate  # expected splits per symbol per year
        self._today = now or dt.date.today
        self._sessions = get_calendar(market.calendar_name).sessions

    def close(self) -> None:
        pass

    def _session_on_or_after(self, day: dt.date) -> dt.date | None:
        i = int(self._sessions.searchsorted(pd.Timestamp(day)))
        return self._sessions[i].date() if i < len(self._sessions) else None

    def _years(self, start: dt.date, end: dt.date) -> range:
        last = min(end, self._today())
        return range(max(start, CALENDAR_START).year, last.year + 1)

    def list_splits(self, symbol: str, start: dt.date, end: dt.date) -> ActionsResult:
        rows = []
        for year in self._years(start, end):
            u = np.random.default_rng(stable_seed("splits", self.seed, symbol, year)).random(4)
            if u[0] >= self.split_rate:
                continue
            ex = self._session_on_or_after(dt.date(year, 1 + int(u[1] * 12), 1 + int(u[2] * 28)))
            if ex is not None and start <= ex <= end and ex <= self._today():
                rows.append((ex, float(_SPLIT_RATIOS[int(u[3] * len(_SPLIT_RATIOS))])))
        if not rows:
            return ActionsResult(empty_splits(), requests=1)
        frame = pd.DataFrame(
            {
                "symbol": pd.Series([symbol] * len(rows), dtype="string"),
                "execution_date": pd.to_datetime([d for d, _ in rows]).astype("datetime64[ns]"),
                "split_from": 1.0,
                "split_to": [r for _, r in rows],
            }
        )
        frame["ratio"] = frame["split_to"] / frame["split_from"]
        return ActionsResult(frame, requests=1)

    def list_dividends(self, symbol: str, start: dt.date, end: dt.date) -> ActionsResult:
        traits = np.random.default_rng(stable_seed("dividends", self.seed, symbol)).random(4)
        if traits[0] < 0.25:
            return ActionsResult(empty_dividends(), requests=1)
        annual_yield = 0.005 + 0.025 * traits[1]
        phase, day = int(traits[2] * 3), 5 + int(traits[3] * 20)
        profile = symbol_profile(symbol, crypto=self.market.is_24_7)
        rows = []
        for year in self._years(start, end):
            for month in (2, 5, 8, 11):
                ex = self._session_on_or_after(dt.date(year, (month - 1 + phase) % 12 + 1, day))
                if ex is None or not (start <= ex <= end) or ex > self._today():
                    continue
                years = (np.datetime64(ex, "D") - DRIFT_ANCHOR).astype("float64") / 365.25
                level = profile.base_price * np.exp(profile.drift * years)
                rows.append((ex, round(float(annual_yield / 4 * level), 2)))
        if not rows:
            return ActionsResult(empty_dividends(), requests=1)
        ex_dates = pd.to_datetime([d for d, _ in rows]).astype("datetime64[ns]")
        frame = pd.DataFrame(
            {
                "symbol": pd.Series([symbol] * len(rows), dtype="string"),
                "ex_dividend_date": ex_dates,
                "pay_date": ex_dates + pd.Timedelta(days=14),
                "record_date": ex_dates + pd.Timedelta(days=1),
                "declaration_date": ex_dates - pd.Timedelta(days=30),
                "cash_amount": [a for _, a in rows],
                "currency": pd.Series(["USD"] * len(rows), dtype="string"),
                "dividend_type": pd.Series(["CD"] * len(rows), dtype="string"),
            }
        )
        return ActionsResult(frame, requests=1)
