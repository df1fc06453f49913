"""How many bars a market has per year and per date partition, for annualising and lookback.

A feature partition reads exactly `lookback_bars` bars before its first bar from the
warehouse; `lookback_partitions` is how many earlier date partitions of the OHLCV asset
usually hold them, which the asset declares with a TimeWindowPartitionMapping so the graph
shows the dependency. Early closes and gaps can push the read further back than declared.
"""

from __future__ import annotations

import functools
import math

from backfill_pipeline.markets import Market, schedule_bounds
from backfill_pipeline.timeframes import get_timeframe

# Conventional annualisation: trading sessions per year (252 on exchanges, 365 for 24/7).
SESSIONS_PER_YEAR_EXCHANGE = 252
SESSIONS_PER_YEAR_24_7 = 365
WEEKS_PER_YEAR = 52
# Fewest sessions in a date partition of each grain (holiday weeks, short months).
_MIN_SESSIONS = {"daily": 1, "weekly": 4, "monthly": 18}
_MIN_SESSIONS_24_7 = {"daily": 1, "weekly": 7, "monthly": 28}


@functools.cache
def usual_session_minutes(market: Market) -> int:
    """Length of the most common session of the market's calendar, in its hours (XNYS: 390
    regular, 960 extended)."""
    if market.is_24_7:
        return 1440
    opens, closes = schedule_bounds(market)
    minutes = ((closes - opens).dt.total_seconds() // 60).astype("int64")
    return int(minutes.mode().iloc[0])


def sessions_per_year(market: Market) -> int:
    return SESSIONS_PER_YEAR_24_7 if market.is_24_7 else SESSIONS_PER_YEAR_EXCHANGE


def bars_per_session(market: Market, timeframe: str) -> int:
    """Bars of a usual (not early-close) session (the last intraday bin may be cut at the close)."""
    tf = get_timeframe(timeframe)
    if tf.minutes is None:
        return 1
    return math.ceil(usual_session_minutes(market) / tf.minutes)


def bars_per_year(market: Market, timeframe: str) -> float:
    if get_timeframe(timeframe).weekly:
        return float(WEEKS_PER_YEAR)
    return float(sessions_per_year(market) * bars_per_session(market, timeframe))


def lookback_partitions(market: Market, timeframe: str, grain: str, lookback_bars: int) -> int:
    """Date partitions of `grain` before a partition that hold at least `lookback_bars` bars."""
    if get_timeframe(timeframe).weekly:
        per_partition = {"daily": 1, "weekly": 1, "monthly": 4}[grain]
    else:
        sessions = (_MIN_SESSIONS_24_7 if market.is_24_7 else _MIN_SESSIONS)[grain]
        # full bins only: an early close or a cut last bin must not make us under-declare
        tf = get_timeframe(timeframe)
        per_session = 1 if tf.minutes is None else max(1, usual_session_minutes(market) // tf.minutes)
        per_partition = sessions * per_session
    return max(1, math.ceil(lookback_bars / per_partition))
