"""Asset jobs per market: what the schedules and sensors request.

A ranged run needs one partitions definition, so each market has one job per date grain:
`<market>_ohlcv_job` (every OHLCV asset on the configured grain: 1m .. 1d by default,
fetched and derived, so derived timeframes follow in the same run) and, with the daily
grain, `<market>_ohlcv_weekly_job` for the 1w asset and its weekly partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from backfill_pipeline.dagster_private import AssetJob
from backfill_pipeline.markets import Market
from backfill_pipeline.names import ohlcv_job_name, ohlcv_key, ohlcv_weekly_job_name
from backfill_pipeline.partitions import effective_grain
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources


@dataclass(frozen=True)
class JobGroup:
    """The OHLCV assets of one market that share a date grain, and the job that runs them."""

    name: str
    market: Market
    grain: str
    timeframes: tuple[str, ...]  # in dependency order (sources before derived)
    sources: dict[str, str | None]

    def keys(self, timeframes: tuple[str, ...] | list[str] | frozenset[str] | None = None) -> list[dg.AssetKey]:
        chosen = self.timeframes if timeframes is None else [t for t in self.timeframes if t in timeframes]
        return [ohlcv_key(self.market.name, t) for t in chosen]

    def root(self, timeframe: str) -> str:
        """The fetched timeframe `timeframe` is ultimately resampled from (itself if fetched)."""
        while self.sources.get(timeframe):
            timeframe = self.sources[timeframe]  # type: ignore[assignment]
        return timeframe

    def followers(self, timeframes: set[str] | frozenset[str]) -> frozenset[str]:
        """`timeframes` plus every timeframe of this job derived from one of them."""
        out = set(timeframes)
        for tf in self.timeframes:
            if any(self._derives_from(tf, t) for t in timeframes):
                out.add(tf)
        return frozenset(out)

    def _derives_from(self, timeframe: str, ancestor: str) -> bool:
        while self.sources.get(timeframe):
            timeframe = self.sources[timeframe]  # type: ignore[assignment]
            if timeframe == ancestor:
                return True
        return False


def job_groups(settings: Settings, market: Market) -> list[JobGroup]:
    """The market's job groups, the configured grain first (the weekly one reads its 1d)."""
    sources = derivation_sources(settings.fetched_timeframes(market.name))
    ordered = sorted(sources, key=lambda tf: _depth(sources, tf))
    by_grain: dict[str, list[str]] = {}
    for tf in ordered:
        by_grain.setdefault(effective_grain(settings.partition_grain, tf), []).append(tf)
    groups = []
    for grain, tfs in by_grain.items():
        name = ohlcv_job_name(market.name) if grain == settings.partition_grain else ohlcv_weekly_job_name(market.name)
        groups.append(JobGroup(name, market, grain, tuple(tfs), sources))
    return sorted(groups, key=lambda g: g.grain != settings.partition_grain)


def all_job_groups(settings: Settings) -> list[JobGroup]:
    return [g for market in settings.markets() for g in job_groups(settings, market)]


def build_jobs(settings: Settings) -> list[AssetJob]:
    return [
        dg.define_asset_job(
            group.name,
            selection=dg.AssetSelection.assets(*group.keys()),
            description=f"OHLCV {', '.join(group.timeframes)} of {group.market.name} ({group.grain} partitions); "
            "requested as ranged runs (date range x symbol range) by the schedules and sensors.",
        )
        for group in all_job_groups(settings)
    ]


def _depth(sources: dict[str, str | None], timeframe: str) -> int:
    depth = 0
    while sources.get(timeframe):
        timeframe, depth = sources[timeframe], depth + 1  # type: ignore[assignment]
    return depth
