"""Resolving vintages: which value of which observation was known on a given day.

A vintage frame has one row per (observation date, real-time period): `value` was the
published value of `date` from `realtime_start` to `realtime_end` (inclusive; NaT = still
in force). "Known on day K" means realtime_start <= K <= realtime_end; a NaN value there is
FRED's "." (no observation in that vintage), so the observation counts as not known.

Two questions are answered:
- point in time (`point_in_time`): for each session, the latest observation known at the
  session's close, its value as known then, and the day that value was released. A
  knowledge cutoff (`as_of`) caps what a later session may know: "what did we know on
  DATE". By construction release_date <= min(session, as_of) and observation date <= session.
- one vintage (`in_force`): every observation as known on one day (today, or `as_of`):
  the revised history that the `latest` view dates by observation, look-ahead included.
"""

from __future__ import annotations

import datetime as dt
import heapq

import numpy as np
import pandas as pd

_OPEN = np.iinfo(np.int64).max  # an open realtime_end, in days
VINTAGE_COLUMNS: tuple[str, ...] = ("date", "value", "realtime_start", "realtime_end")


def _days(values: pd.Series | pd.DatetimeIndex | np.ndarray, missing: int = _OPEN) -> np.ndarray:
    """datetime64 -> int64 days since 1970-01-01; NaT -> `missing`."""
    arr = np.asarray(values, dtype="datetime64[ns]")
    out = arr.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(arr)] = missing
    return out


def _day(value: dt.date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def in_force(vintages: pd.DataFrame, day: dt.date | None) -> pd.DataFrame:
    """The vintage of every observation known on `day` (None: the newest vintage, today's),
    with NaN values ("." in that vintage) dropped: date, value, realtime_start."""
    v = vintages
    if day is None:
        known = v[v["realtime_end"].isna()]
    else:
        k = _day(day)
        known = v[(_days(v["realtime_start"]) <= k) & (_days(v["realtime_end"]) >= k)]
    known = known.dropna(subset=["value"])
    return known.sort_values(["date", "realtime_start"]).drop_duplicates("date", keep="last")[
        ["date", "value", "realtime_start"]].reset_index(drop=True)


def year_over_year_vintages(vintages: pd.DataFrame) -> pd.DataFrame:
    """Vintages of the % change against the observation dated exactly a year earlier: a
    yoy value is known while both of its observations' values are, so its real-time period
    is the intersection of theirs and it is released when the later of the two was."""
    cur = vintages.loc[:, list(VINTAGE_COLUMNS)].copy()
    cur["prior_date"] = cur["date"] - pd.DateOffset(years=1)
    prior = vintages.loc[:, list(VINTAGE_COLUMNS)].rename(columns={
        "date": "prior_date", "value": "prior_value", "realtime_start": "prior_start", "realtime_end": "prior_end"})
    both = cur.merge(prior, on="prior_date")
    start = np.maximum(_days(both["realtime_start"]), _days(both["prior_start"]))
    end = np.minimum(_days(both["realtime_end"]), _days(both["prior_end"]))
    both = both[start <= end].copy()
    start, end = start[start <= end], end[start <= end]
    yoy = (both["value"].to_numpy() / both["prior_value"].to_numpy() - 1.0) * 100.0
    out = pd.DataFrame({
        "date": both["date"].to_numpy(dtype="datetime64[ns]"),
        "value": np.where(np.isfinite(yoy), yoy, np.nan),
        "realtime_start": start.astype("datetime64[D]").astype("datetime64[ns]"),
        "realtime_end": np.where(end == _OPEN, np.datetime64("NaT"), end.astype("datetime64[D]")).astype(
            "datetime64[ns]"),
    })
    return out.sort_values(["date", "realtime_start"]).reset_index(drop=True)


def point_in_time(vintages: pd.DataFrame, sessions: pd.DatetimeIndex, as_of: dt.date | None = None) -> pd.DataFrame:
    """For each session (ascending), the latest observation known at its close: columns
    date (the session), observation_date, value, release_date (NaT where nothing was known).

    Knowledge cutoff of a session s: s, or as_of when as_of < s. A sweep over the sessions
    keeps the vintages in force at the cutoff in a heap ordered by observation date."""
    sessions = pd.DatetimeIndex(sessions).sort_values()
    s_days = _days(sessions)
    cut = s_days if as_of is None else np.minimum(s_days, _day(as_of))
    known = vintages.dropna(subset=["value"])
    rs, re, d = _days(known["realtime_start"]), _days(known["realtime_end"]), _days(known["date"])
    values = known["value"].to_numpy(dtype="float64")
    # a vintage enters at the first session whose cutoff reaches its release and which is
    # on or after its observation date; it leaves once the cutoff passes its realtime_end
    enter = np.maximum(np.searchsorted(cut, rs, side="left"), np.searchsorted(s_days, d, side="left"))
    order = np.argsort(enter, kind="stable")
    heap: list[tuple[int, int, int]] = []
    chosen = np.full(len(s_days), -1, dtype=np.int64)
    k = 0
    for i in range(len(s_days)):
        while k < len(order) and enter[order[k]] <= i:
            j = int(order[k])
            heapq.heappush(heap, (-int(d[j]), -int(rs[j]), j))
            k += 1
        while heap and re[heap[0][2]] < cut[i]:
            heapq.heappop(heap)
        if heap:
            chosen[i] = heap[0][2]
    hit = chosen >= 0
    pick = chosen[hit]
    obs = np.full(len(s_days), np.datetime64("NaT"), dtype="datetime64[ns]")
    rel = obs.copy()
    val = np.full(len(s_days), np.nan)
    obs[hit] = d[pick].astype("datetime64[D]").astype("datetime64[ns]")
    rel[hit] = rs[pick].astype("datetime64[D]").astype("datetime64[ns]")
    val[hit] = values[pick]
    return pd.DataFrame({"date": sessions.to_numpy(dtype="datetime64[ns]"), "observation_date": obs,
                         "value": val, "release_date": rel})
