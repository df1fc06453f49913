"""weekly_rollup_sensor: re-derives 1w bars after their week's 1d bars were stored.

The 1w asset has weekly partitions, so it cannot run in the same ranged run as 1d, and a
run requested at the same time could start before the 1d run has written its bars. This
sensor follows the 1d asset's materialisations instead (the cursor is the last event
storage id seen per market): whatever wrote 1d (schedule, gap sensor, universe history,
a backfill from the UI or the CLI), the weeks it touched are requested as ranged 1w runs,
one per contiguous week run x symbol block. On its first tick it starts from the newest
materialisation (older weeks are the business of backfills and the gap sensor).
"""

import json
from collections.abc import Sequence

import dagster as dg
import pandas as pd

from backfill_pipeline.automation.jobs import AssetJob, JobGroup, all_job_groups
from backfill_pipeline.automation.requests import grouped_requests
from backfill_pipeline.names import WEEKLY_SENSOR, ohlcv_key
from backfill_pipeline.partitions import date_key, split_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import DAILY

ORIGIN = "weekly_rollup"
PAGE = 10_000
MAX_EVENTS_PER_TICK = 200_000  # the rest waits for the next tick (the cursor says where)


def weekly_groups(settings: Settings) -> list[JobGroup]:
    return [g for g in all_job_groups(settings) if g.grain != settings.partition_grain]


def touched_weeks(instance: dg.DagsterInstance, group: JobGroup, after: int) -> tuple[set[tuple[str, str]], int]:
    """(week key, symbol) of 1d materialisations after storage id `after`; the last id read."""
    touched: set[tuple[str, str]] = set()
    last, seen = after, 0
    while seen < MAX_EVENTS_PER_TICK:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ohlcv_key(group.market.name, DAILY.name), after_storage_id=last),
            limit=PAGE, ascending=True)
        for record in result.records:
            if record.partition_key:
                day, symbol = split_key(record.partition_key)
                touched.add((date_key(group.grain, pd.Timestamp(day)), symbol))
        if result.records:
            last = result.records[-1].storage_id
        seen += len(result.records)
        if not result.has_more:
            break
    return touched, last


def build_weekly_sensor(settings: Settings, jobs: Sequence[AssetJob]) -> dg.SensorDefinition | None:
    """None when 1w shares the configured grain (it then runs in the main job)."""
    groups = weekly_groups(settings)
    if not groups:
        return None
    cfg = settings.automation

    @dg.sensor(
        name=WEEKLY_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.RUNNING if cfg.default_running else dg.DefaultSensorStatus.STOPPED,
        description="Requests ranged 1w runs for the weeks whose 1d partitions were materialised since the last tick.",
    )
    def weekly_rollup_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        requests: list[dg.RunRequest] = []
        for group in groups:
            market = group.market.name
            if market not in cursor:
                newest = context.instance.fetch_materializations(ohlcv_key(market, DAILY.name), limit=1)
                cursor[market] = newest.records[0].storage_id if newest.records else 0
                continue
            touched, last = touched_weeks(context.instance, group, cursor[market])
            order = list(context.instance.get_dynamic_partitions(group.market.symbols_partitions_name))
            wanted = {(week, symbol): frozenset(group.timeframes) for week, symbol in touched if symbol in order}
            if wanted:
                mondays = pd.date_range(min(w for w, _ in wanted), max(w for w, _ in wanted), freq="7D")
                weeks = [str(d.date()) for d in mondays]
                requests += grouped_requests(group, wanted, weeks, order, cfg.symbols_per_run, ORIGIN,
                                             batch=f"{ORIGIN}:{market}:{cursor[market]}-{last}",
                                             run_key_prefix=f"weekly:{market}:{cursor[market]}-{last}")
            cursor[market] = last
        state = json.dumps(cursor, sort_keys=True)
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=state)
        return dg.SensorResult(skip_reason="no 1d partitions materialised since the last tick", cursor=state)

    return weekly_rollup_sensor
