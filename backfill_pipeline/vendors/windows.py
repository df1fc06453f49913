"""Time-window helpers shared by the clients: UTC coercion, request planning, session filters,
and the counts the vendors' request rules (their spec.py) are made of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..markets import Market, schedule_bounds, session_bounds, sessions_in_range, with_hours
from ..timeframes import get_timeframe

Window = tuple[pd.Timestamp, pd.Timestamp]


def to_utc(ts: pd.Timestamp | str) -> pd.Timestamp:
    """A UTC instant; tz-naive input is taken to be UTC already."""
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_label(ts: pd.Timestamp | str) -> pd.Timestamp:
    """A daily session label as tz-naive midnight (labels are dates, whatever tz they carry)."""
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def describe_window(timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> str:
    fmt = "%Y-%m-%d" if get_timeframe(timeframe).dated else "%Y-%m-%dT%H:%MZ"
    return f"{timeframe} [{start.strftime(fmt)}, {end.strftime(fmt)})"


def fixed_chunks(start: pd.Timestamp, end: pd.Timestamp, span: pd.Timedelta) -> list[Window]:
    """[start, end) cut into back-to-back windows of at most `span`; no overlap, no gap."""
    out: list[Window] = []
    lo = start
    while lo < end:
        hi = min(lo + span, end)
        out.append((lo, hi))
        lo = hi
    return out


def chunk_count(start: pd.Timestamp, end: pd.Timestamp, span: pd.Timedelta) -> int:
    """len(fixed_chunks(start, end, span)), without building them."""
    return max(0, -(-(end - start) // span))


def page_count(units: int, per_page: int) -> int:
    """Requests of a query answered in pages of at most `per_page` units, followed to the end:
    the first request is made even when nothing comes back."""
    return max(1, -(-units // per_page))


def vendor_minutes(market: Market, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Minutes starting in [start, end) that a vendor may send bars for: inside the sessions'
    extended hours (what Polygon and EODHD send, before keep_session_hours drops the pre- and
    after-market ones), every minute on a 24/7 market. An upper bound of the bars: a minute
    without trades has none."""
    lo, hi = to_utc(start).value, to_utc(end).value
    minute = pd.Timedelta(minutes=1).value
    if hi <= lo:
        return 0
    if market.is_24_7:
        return -(-hi // minute) - -(-lo // minute)
    opens, closes = schedule_bounds(with_hours(market, "extended"))
    open_ns = opens.to_numpy(dtype="datetime64[ns]").astype("int64")
    close_ns = closes.to_numpy(dtype="datetime64[ns]").astype("int64")
    first, last = np.searchsorted(close_ns, lo, side="right"), np.searchsorted(open_ns, hi, side="left")
    a, b = np.maximum(open_ns[first:last], lo), np.minimum(close_ns[first:last], hi)
    return int(np.clip(-(-b // minute) - -(-a // minute), 0, None).sum())


def session_mask(market: Market, ts: pd.Series) -> np.ndarray:
    """True where a bar starts inside a session's [open, close) in the market's hours (DST and
    early closes included)."""
    if market.is_24_7 or ts.empty:
        return np.ones(len(ts), dtype=bool)
    local = ts.dt.tz_convert(market.timezone)
    sessions = sessions_in_range(market, local.min().date(), local.max().date())
    if len(sessions) == 0:
        return np.zeros(len(ts), dtype=bool)
    opens, closes = session_bounds(market, sessions)
    open_ns = opens.to_numpy(dtype="datetime64[ns]").astype("int64")
    close_ns = closes.to_numpy(dtype="datetime64[ns]").astype("int64")
    values = ts.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").astype("int64")
    idx = np.searchsorted(open_ns, values, side="right") - 1
    inside = idx >= 0
    inside[inside] = values[inside] < close_ns[idx[inside]]
    return inside


def keep_session_hours(market: Market, bars: pd.DataFrame, *extended: bool | None) -> pd.DataFrame:
    """Intraday bars that start inside the sessions' hours. Vendors send pre- and after-market
    bars too; extended hours are kept when the first of `extended` that is not None says so
    (a call's argument, then the client's setting), else when the market's option is on."""
    if market.is_24_7:
        return bars
    keep = next((choice for choice in extended if choice is not None), market.extended_hours)
    hours = with_hours(market, "extended" if keep else "regular")
    return bars.loc[session_mask(hours, bars["ts"])].reset_index(drop=True)


def clip_and_dedupe(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Bars with start <= ts < end, one per ts (the first one a vendor sent wins)."""
    keep = (frame["ts"] >= start) & (frame["ts"] < end)
    out = frame.loc[keep]
    return out.drop_duplicates(subset="ts", keep="first").reset_index(drop=True)
