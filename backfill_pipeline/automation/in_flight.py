"""Which OHLCV partitions runs are already working on (or must not be retried yet).

A run names its partitions by tags: a range (`dagster/asset_partition_range_start/_end`,
the product of a date range and a symbol range in registration order) or one key
(`dagster/partition`), and its assets by its asset selection (or its job). Asset
backfills that are still requested count too: the daemon launches their runs over time,
and a sensor that requested the same partitions meanwhile would fetch them twice.
A started run whose process is gone does not count (run_liveness.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from backfill_pipeline.automation.jobs import JobGroup
from backfill_pipeline.names import RANGE_END_TAG, RANGE_START_TAG
from backfill_pipeline.run_liveness import ALIVE, DEAD, judge, mark_dead

PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
# A failed run the instance will retry (run retries) is not finished yet.
WILL_RETRY_TAG = "dagster/will_retry"
RETRY_RUN_TAG = "dagster/auto_retry_run_id"
NOT_FINISHED: tuple[dg.DagsterRunStatus, ...] = (
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
)


@dataclass
class _Rect:
    first_date: str
    last_date: str
    first_pos: int
    last_pos: int
    run_id: str


@dataclass
class Coverage:
    """Rectangles (date keys x symbol positions) per (market, timeframe), plus backfill subsets."""

    orders: Mapping[str, Sequence[str]]  # market -> registered symbols
    rects: dict[tuple[str, str], list[_Rect]] = field(default_factory=lambda: defaultdict(list))
    backfills: list[object] = field(default_factory=list)  # AssetGraphSubset of requested backfills
    # runs left out because their process is gone: run id -> why (DEAD ones were marked failed)
    dead: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._positions = {m: {s: i for i, s in enumerate(order)} for m, order in self.orders.items()}

    def add_run(self, run: dg.DagsterRun, job_assets: Mapping[str, Sequence[dg.AssetKey]]) -> None:
        keys = list(run.asset_selection or job_assets.get(run.job_name, ()))
        span = _span(run.tags)
        if span is None:
            return
        (first_date, first_symbol), (last_date, last_symbol) = span
        for key in keys:
            if len(key.path) != 3 or key.path[0] != "ohlcv":
                continue
            market, timeframe = key.path[1], key.path[2]
            positions = self._positions.get(market, {})
            if first_symbol not in positions or last_symbol not in positions:
                continue  # a symbol since removed: nothing of it will be requested again
            self.rects[(market, timeframe)].append(
                _Rect(first_date, last_date, positions[first_symbol], positions[last_symbol], run.run_id))

    def covers(self, market: str, timeframe: str, date_key: str, symbol: str) -> bool:
        pos = self._positions.get(market, {}).get(symbol)
        if pos is not None:
            for r in self.rects.get((market, timeframe), ()):
                if r.first_date <= date_key <= r.last_date and r.first_pos <= pos <= r.last_pos:
                    return True
        if self.backfills:
            from backfill_pipeline.dagster_private import AssetKeyPartitionKey

            wanted = AssetKeyPartitionKey(dg.AssetKey(["ohlcv", market, timeframe]), f"{date_key}|{symbol}")
            return any(wanted in subset for subset in self.backfills)  # type: ignore[operator]
        return False


def _span(tags: Mapping[str, str]) -> tuple[tuple[str, str], tuple[str, str]] | None:
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    elif PARTITION_TAG in tags:
        start = end = tags[PARTITION_TAG]
    else:
        return None
    if "|" not in start or "|" not in end:
        return None
    first, last = start.split("|", 1), end.split("|", 1)
    return (first[0], first[1]), (last[0], last[1])


def job_assets(groups: Iterable[JobGroup]) -> dict[str, list[dg.AssetKey]]:
    return {g.name: g.keys() for g in groups}


def in_flight(
    instance: dg.DagsterInstance, orders: Mapping[str, Sequence[str]], groups: Iterable[JobGroup],
    now: dt.datetime | None = None, stale_after_s: float = 0.0,
) -> Coverage:
    """Partitions of unfinished runs whose process still lives (run_liveness.judge at `now`,
    the wall clock by default: run records carry wall-clock stamps, whatever the sensor's
    evaluation time),
    of failed runs about to be retried by the instance, and of asset backfills still
    requested. A run proven dead (its worker pid on this node is gone) is marked failed."""
    coverage = Coverage(orders)
    assets = job_assets(groups)
    now = now or dt.datetime.now(dt.UTC)
    runs: list[dg.DagsterRun] = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=list(NOT_FINISHED))):
        liveness = judge(instance, record, now, stale_after_s)
        if liveness.verdict == ALIVE:
            runs.append(record.dagster_run)
            continue
        run_id = record.dagster_run.run_id
        if liveness.verdict == DEAD and not mark_dead(instance, run_id, liveness.reason):
            continue  # it finished while we looked (a retried failure is picked up below)
        coverage.dead[run_id] = liveness.reason
    runs += [r for r in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                                                                 tags={WILL_RETRY_TAG: "true"}), limit=500)
             if RETRY_RUN_TAG not in r.tags]
    for run in runs:
        coverage.add_run(run, assets)
    from backfill_pipeline.dagster_private import requested_backfill_targets

    coverage.backfills.extend(requested_backfill_targets(instance))
    return coverage


def recently_rate_limited(
    instance: dg.DagsterInstance, orders: Mapping[str, Sequence[str]], groups: Iterable[JobGroup],
    tag: str, since: dt.datetime,
) -> Coverage:
    """Partitions of runs the vendor layer tagged as rate limited that ended after `since`."""
    coverage = Coverage(orders)
    assets = job_assets(groups)
    records = instance.get_run_records(filters=dg.RunsFilter(tags={tag: "true"}, updated_after=since), limit=500)
    for record in records:
        if record.dagster_run.status not in NOT_FINISHED:
            coverage.add_run(record.dagster_run, assets)
    return coverage
