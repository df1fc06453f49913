"""The bars a calendar says should exist: per (market, timeframe, session).

Vectorised over sessions; the same bins as resample.py (intraday bins start at the session
open and the last bin is cut at the close), in the market's hours (markets.session_bounds).
Bins that have not ended by `now` are not expected yet, so a session in progress is not
reported as a gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backfill_pipeline.markets import Market, session_bounds
from backfill_pipeline.resample import week_labels
from backfill_pipeline.timeframes import get_timeframe


def expected_counts(
    market: Market, timeframe: str, sessions: pd.DatetimeIndex, now: pd.Timestamp | None = None
) -> pd.Series:
    """Expected number of bars per session (for 1w: per week label session, 0 elsewhere)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    tf = get_timeframe(timeframe)
    if len(sessions) == 0:
        return pd.Series([], dtype="int64", index=pd.DatetimeIndex([]))
    opens, closes = session_bounds(market, sessions)
    if tf.intraday:
        assert tf.minutes is not None
        width = pd.Timedelta(minutes=tf.minutes)
        full = np.ceil((closes - opens) / width).astype("int64")
        elapsed = np.floor((np.minimum(closes, now) - opens) / width).clip(lower=0).astype("int64")
        counts = full.where(closes <= now, np.minimum(full, elapsed))
        return pd.Series(counts.to_numpy(), index=sessions)
    closed = (closes <= now).astype("int64").to_numpy()
    if tf.daily:
        return pd.Series(closed, index=sessions)
    labels = week_labels(market, pd.Series(sessions, index=sessions))
    has_closed = pd.Series(closed, index=sessions).groupby(labels.to_numpy()).max()
    return has_closed.reindex(sessions, fill_value=0).astype("int64")


def expected_timestamps(
    market: Market, timeframe: str, sessions: pd.DatetimeIndex, now: pd.Timestamp | None = None
) -> pd.DatetimeIndex:
    """Every expected bar start (UTC) for the sessions."""
    counts = expected_counts(market, timeframe, sessions, now)
    tf = get_timeframe(timeframe)
    if not tf.intraday:
        return pd.DatetimeIndex(counts.index[counts > 0]).tz_localize("UTC")
    assert tf.minutes is not None
    opens, _ = session_bounds(market, sessions)
    reps = counts.to_numpy()
    starts = np.repeat(opens.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"), reps)
    offsets = np.concatenate([np.arange(n) for n in reps]) if len(reps) else np.array([], dtype="int64")
    return pd.DatetimeIndex(starts + offsets * np.timedelta64(tf.minutes, "m")).tz_localize("UTC")
