"""How many partitions an OHLCV asset has, against Dagster's recommended ceiling.

Dagster recommends at most 100,000 partitions per asset (the UI's partition views slow past
about 40,000). An OHLCV asset has (date partitions since BACKFILL_PARTITIONS_START) x
(registered symbols): on the daily grain since 2020, 58 US symbols already pass it. The
weekly and monthly grains hold the same sessions in 5x and ~21x fewer date partitions (a
missing session then shows as a partly filled week or month, named by the `complete` check).
"""

from __future__ import annotations

import datetime as dt

from backfill_pipeline.markets import Market, sessions_in_range
from backfill_pipeline.settings import GRAINS

DAGSTER_RECOMMENDED_PARTITIONS = 100_000


def date_partitions(market: Market, grain: str, start: dt.date, today: dt.date | None = None) -> int:
    """Date partition keys of `grain` from `start` to today (the partition of today exists)."""
    end = today or dt.datetime.now(dt.UTC).date()
    if grain == "daily":
        return len(sessions_in_range(market, start, end))
    if grain == "weekly":
        first = start - dt.timedelta(days=start.weekday())
        return (end - first).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def partitions_per_asset(market: Market, grain: str, start: dt.date, symbols: int, today: dt.date | None = None) -> int:
    return date_partitions(market, grain, start, today) * symbols


def grain_that_fits(market: Market, start: dt.date, symbols: int, today: dt.date | None = None) -> str | None:
    """The finest grain within Dagster's recommendation; None when even monthly is over."""
    for grain in GRAINS:
        if partitions_per_asset(market, grain, start, symbols, today) <= DAGSTER_RECOMMENDED_PARTITIONS:
            return grain
    return None


def scale_warning(market: Market, grain: str, start: dt.date, symbols: int, today: dt.date | None = None) -> str | None:
    """A sentence with the numbers when the market's assets pass the recommendation, else None."""
    dates = date_partitions(market, grain, start, today)
    total = dates * symbols
    if total <= DAGSTER_RECOMMENDED_PARTITIONS:
        return None
    fit = grain_that_fits(market, start, symbols, today)
    if fit is not None:
        advice = (f"BACKFILL_PARTITION_GRAIN={fit} fits ("
                  f"{partitions_per_asset(market, fit, start, symbols, today):,} partitions per asset)")
    else:
        most = DAGSTER_RECOMMENDED_PARTITIONS // max(1, date_partitions(market, 'monthly', start, today))
        advice = (f"even the monthly grain passes it; a later BACKFILL_PARTITIONS_START or at most {most:,} "
                  "symbols per market fits")
    return (f"{market.name}: {symbols:,} symbols x {dates:,} {grain} date partitions since {start} = {total:,} "
            f"partitions per OHLCV asset, over Dagster's recommended {DAGSTER_RECOMMENDED_PARTITIONS:,} "
            f"(the UI slows past ~40,000); {advice}")

