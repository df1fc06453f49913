"""The daily macro table: for each session and field, the latest observation on or before it.

Observations are dated as the source dates them (FRED: a monthly value on the first of
its month, a quarterly one on the quarter's first day), and values are the latest vintage,
so a session sees a monthly value from the start of its month, before it was published:
this is an as-of by observation date, not a point-in-time (ALFRED) view.

A value is carried forward at most the staleness of its frequency (calendar days); past
that the field is `stale` (value NULL, observation_date kept), and with no observation at
all it is `missing`. "." observations (NaN) are skipped, so a bond-market holiday shows
the previous day's yield with its date.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from backfill_pipeline.macro.series import MacroConfig, MacroField

DAILY_COLUMNS: tuple[str, ...] = (
    "date", "field", "series_id", "value", "observation_date", "age_days", "required", "status",
)


def year_over_year(observations: pd.DataFrame) -> pd.DataFrame:
    """% change against the observation dated exactly one year earlier (date, value)."""
    obs = observations.set_index("date")["value"]
    prior = obs.reindex(obs.index - pd.DateOffset(years=1)).to_numpy()
    yoy = (obs.to_numpy() / prior - 1.0) * 100.0
    out = pd.DataFrame({"date": obs.index, "value": yoy})
    return out[np.isfinite(out["value"])].reset_index(drop=True)


def field_asof(observations: pd.DataFrame, field: MacroField, sessions: pd.DatetimeIndex, staleness_days: int) -> pd.DataFrame:
    """One row per session for `field` from its series' observations (date, value)."""
    obs = observations.dropna(subset=["value"]).sort_values("date").loc[:, ["date", "value"]]
    obs["date"] = obs["date"].astype("datetime64[ns]")
    if field.yoy:
        obs = year_over_year(obs)
    left = pd.DataFrame({"date": pd.DatetimeIndex(sessions).astype("datetime64[ns]")})
    obs = obs.rename(columns={"date": "observation_date"})
    merged = pd.merge_asof(left, obs, left_on="date", right_on="observation_date", direction="backward")
    age = (merged["date"] - merged["observation_date"]).dt.days
    status = np.where(merged["observation_date"].isna(), "missing", np.where(age > staleness_days, "stale", "ok"))
    return pd.DataFrame(
        {
            "date": merged["date"],
            "field": field.field,
            "series_id": field.series_id,
            "value": merged["value"].where(status == "ok"),
            "observation_date": merged["observation_date"],
            "age_days": pd.array(age, dtype="Int64"),
            "required": field.required,
            "status": status,
        }
    )


def daily_table(observations: pd.DataFrame, config: MacroConfig, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Long daily table (DAILY_COLUMNS) for every configured field; observations: series_id, date, value."""
    parts = []
    for field in config.fields():
        mine = observations[observations["series_id"] == field.series_id]
        parts.append(field_asof(mine, field, sessions, config.staleness(field.frequency)))
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
