"""The daily macro table, one row per session and field, in two views.

- `pit` (point in time, the default and what `macro/daily` stores): the latest observation
  known at the session's close, i.e. whose vintage's realtime_start (its release date) is
  on or before the session, at the value published by then. A backtest reading it sees
  March CPI from its release day in April, at its first-release value, and a revision only
  from the day it was published. With `as_of`, nothing released after as_of is known.
- `latest`: today's vintage (or the vintage in force on `as_of`), dated by observation: a
  session sees the latest observation dated on or before it, revisions included. This is
  FRED's default view; it has look-ahead (a monthly value dated the first of its month is
  visible weeks before it was published) and suits revised-history research, not backtests.

Both carry a value forward at most the staleness of its frequency (age = session minus the
observation date, calendar days); past that the field is `stale` (value NULL, dates kept),
and with nothing known at all it is `missing`. "." values (NaN) are skipped, so on a
bond-market holiday a yield field shows the previous observation with its date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from backfill_pipeline.macro.series import MacroConfig, MacroField
from backfill_pipeline.macro.vintages import in_force, point_in_time, year_over_year_vintages

VIEWS: tuple[str, ...] = ("pit", "latest")
DAILY_COLUMNS: tuple[str, ...] = (
    "date", "field", "series_id", "value", "observation_date", "release_date", "age_days", "required", "status",
)


def _latest(vintages: pd.DataFrame, sessions: pd.DatetimeIndex, as_of: dt.date | None) -> pd.DataFrame:
    obs = in_force(vintages, as_of).rename(columns={"date": "observation_date", "realtime_start": "release_date"})
    left = pd.DataFrame({"date": pd.DatetimeIndex(sessions).sort_values().to_numpy(dtype="datetime64[ns]")})
    obs["observation_date"] = obs["observation_date"].astype("datetime64[ns]")
    return pd.merge_asof(left, obs, left_on="date", right_on="observation_date", direction="backward")


def field_daily(vintages: pd.DataFrame, field: MacroField, sessions: pd.DatetimeIndex, staleness_days: int,
                view: str = "pit", as_of: dt.date | None = None) -> pd.DataFrame:
    """One row per session for `field` from its series' vintages (date, value, realtime_start, realtime_end)."""
    if view not in VIEWS:
        raise ValueError(f"unknown macro view {view!r}: expected one of {', '.join(VIEWS)}")
    if field.yoy:
        vintages = year_over_year_vintages(vintages)
    resolved = point_in_time(vintages, sessions, as_of) if view == "pit" else _latest(vintages, sessions, as_of)
    age = (resolved["date"] - resolved["observation_date"]).dt.days
    status = np.where(resolved["observation_date"].isna(), "missing", np.where(age > staleness_days, "stale", "ok"))
    return pd.DataFrame({
        "date": resolved["date"],
        "field": field.field,
        "series_id": field.series_id,
        "value": resolved["value"].where(status == "ok"),
        "observation_date": resolved["observation_date"],
        "release_date": resolved["release_date"].astype("datetime64[ns]"),
        "age_days": pd.array(age, dtype="Int64"),
        "required": field.required,
        "status": status,
    })


def daily_table(vintages: pd.DataFrame, config: MacroConfig, sessions: pd.DatetimeIndex, view: str = "pit",
                as_of: dt.date | None = None) -> pd.DataFrame:
    """Long daily table (DAILY_COLUMNS) for every configured field; vintages: series_id plus
    the vintage columns."""
    parts = []
    for field in config.fields():
        mine = vintages[vintages["series_id"] == field.series_id]
        parts.append(field_daily(mine, field, sessions, config.staleness(field.frequency), view, as_of))
    if not parts:
        return pd.DataFrame(columns=list(DAILY_COLUMNS))
    return pd.concat(parts, ignore_index=True).loc[:, list(DAILY_COLUMNS)]


def incomplete_records(table: pd.DataFrame, limit: int = 50) -> tuple[int, list[str]]:
    """Sessions where a required field is missing or stale: count and 'date: field status' lines."""
    bad = table[table["required"] & (table["status"] != "ok")]
    lines: list[str] = []
    for date, rows in bad.groupby("date", sort=True):
        if len(lines) >= limit:
            break
        parts: Iterable[str] = (
            f"{r.field} {r.status}" + (f" (last {r.observation_date:%Y-%m-%d})" if r.status == "stale" else "")
            for r in rows.itertuples()
        )
        lines.append(f"{date:%Y-%m-%d}: {', '.join(parts)}")
    return int(bad["date"].nunique()), lines


def lookahead_records(table: pd.DataFrame, limit: int = 50) -> tuple[int, list[str]]:
    """Rows whose value was released after their session (or whose observation is dated
    after it): count and 'date: field observed .. released ..' lines. Zero on a pit table."""
    bad = table[(table["release_date"] > table["date"]) | (table["observation_date"] > table["date"])]
    lines = [f"{r.date:%Y-%m-%d}: {r.field} observed {r.observation_date:%Y-%m-%d} released {r.release_date:%Y-%m-%d}"
             for r in bad.head(limit).itertuples()]
    return len(bad), lines
