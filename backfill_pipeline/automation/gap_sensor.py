"""gap_fill_48h_sensor: fills every gap of the last 48 hours (window configurable), both markets.

Each tick: scan the window's sessions of every registered symbol (gaps.scan: one summary
query and one fetch-log query per timeframe), keep the gaps that are due (gap_finder),
leave out partitions that unfinished runs or requested backfills cover, and request the
rest as ranged runs grouped by timeframes, date run and contiguous symbol block. A started
run whose process is gone is not in flight (run_liveness.py), so a killed run's partitions
are requested again in the next retry bucket.

Retries: a partition is requested at most once per retry bucket (BACKFILL_GAP_RETRY_MINUTES;
the bucket is part of the run_key, so a re-evaluation inside the bucket launches nothing)
and at most BACKFILL_GAP_MAX_ATTEMPTS times per gap class (the cursor counts). A partition
past the cap is reported in the tick's log and skip message and never requested again
while it stays in the window: a bar the vendor does not serve must not loop.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from backfill_pipeline.assets.retries import finalization_delay
from backfill_pipeline.automation.attempts import CAPPED, REQUEST, Attempts
from backfill_pipeline.automation.gap_finder import find_gaps
from backfill_pipeline.automation.in_flight import in_flight, recently_rate_limited
from backfill_pipeline.automation.jobs import AssetJob, JobGroup, all_job_groups
from backfill_pipeline.automation.requests import grouped_requests
from backfill_pipeline.names import GAP_SENSOR, RATE_LIMITED_TAG
from backfill_pipeline.settings import Settings
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse

ORIGIN = "gap_sensor"
TAG_CLASSES = "backfill_pipeline/gap_classes"
TAG_ATTEMPT = "backfill_pipeline/attempt"
_LISTED = 20  # capped partitions named in the log / skip message


@dataclass
class GapTick:
    requests: list[dg.RunRequest] = field(default_factory=list)
    attempts: Attempts = field(default_factory=Attempts)
    partitions: int = 0  # partitions requested
    checked: int = 0  # (symbol, timeframe, session) rows scanned
    deferred: Counter[str] = field(default_factory=Counter)
    capped: list[str] = field(default_factory=list)  # "<market> <job> <date>|<symbol>: <classes> (n attempts)"
    dead_runs: dict[str, str] = field(default_factory=dict)  # unfinished runs whose process is gone -> why

    def summary(self, window_hours: int) -> str:
        text = (f"{self.partitions} partitions requested in {len(self.requests)} runs; "
                f"{self.checked} rows of the last {window_hours} h checked")
        if self.deferred:
            text += "; waiting: " + ", ".join(f"{reason} {n}" for reason, n in sorted(self.deferred.items()))
        if self.capped:
            more = len(self.capped) - _LISTED
            shown = "; ".join(self.capped[:_LISTED]) + (f"; ... (+{more})" if more > 0 else "")
            text += f"; {len(self.capped)} at the attempt cap, not requested: {shown}"
        if self.dead_runs:
            text += "; not in flight any more: " + "; ".join(f"run {run_id[:8]} ({why})"
                                                              for run_id, why in sorted(self.dead_runs.items()))
        return text


def evaluate(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    settings: Settings,
    now: pd.Timestamp,
    attempts: Attempts,
    groups: Sequence[JobGroup] | None = None,
) -> GapTick:
    cfg = settings.automation
    groups = list(groups) if groups is not None else all_job_groups(settings)
    tick = GapTick(attempts=attempts)
    bucket_seconds = cfg.gap_retry_minutes * 60
    bucket = int(now.timestamp() // bucket_seconds)
    bucket_start = dt.datetime.fromtimestamp(bucket * bucket_seconds, dt.UTC)
    markets = settings.markets()
    orders = {m.name: list(instance.get_dynamic_partitions(m.symbols_partitions_name)) for m in markets}
    running = in_flight(instance, orders, groups, stale_after_s=cfg.stale_run_minutes * 60)
    cooldown = pd.Timedelta(minutes=cfg.rate_limit_cooldown_minutes)
    tick.dead_runs = dict(running.dead)
    rate_limited = recently_rate_limited(instance, orders, groups, RATE_LIMITED_TAG, (now - cooldown).to_pydatetime())
    oldest = None
    for market in markets:
        market_groups = [g for g in groups if g.market.name == market.name]
        gaps = find_gaps(warehouse, market, market_groups, orders[market.name], now, cfg.gap_window_hours,
                         finalization_delay(settings.vendor(market.name)), cooldown, running, rate_limited)
        tick.checked += gaps.checked
        tick.deferred.update(gaps.deferred)
        for keys in gaps.date_keys.values():
            if keys and (oldest is None or keys[0] < oldest):
                oldest = keys[0]
        for group in market_groups:
            wanted: dict[tuple[str, str], frozenset[str]] = {}
            detail: dict[tuple[str, str], tuple[int, frozenset[str]]] = {}
            for cand in (c for c in gaps.candidates if c.job == group.name):
                classes = ",".join(sorted(cand.classes))
                verdict, count = attempts.decide(Attempts.key(group.name, cand.date_key, cand.symbol), classes, bucket,
                                                 cfg.gap_max_attempts)
                if verdict == REQUEST:
                    wanted[(cand.date_key, cand.symbol)] = cand.timeframes
                    detail[(cand.date_key, cand.symbol)] = (count, cand.classes)
                elif verdict == CAPPED:
                    timeframes = ",".join(sorted(cand.timeframes))
                    tick.capped.append(f"{market.name} {cand.date_key}|{cand.symbol} {timeframes}: "
                                       f"{classes} ({count} attempts)")
            if not wanted:
                continue
            tick.partitions += len(wanted)

            def tags_for(tfs: frozenset[str], first: str, last: str, block: list[str],
                         detail: dict[tuple[str, str], tuple[int, frozenset[str]]] = detail) -> dict[str, str]:
                members = set(block)
                hits = [v for (d, s), v in detail.items() if first <= d <= last and s in members]
                return {TAG_ATTEMPT: str(max(n for n, _ in hits)),
                        TAG_CLASSES: ",".join(sorted(set().union(*(c for _, c in hits))))}

            tick.requests += grouped_requests(
                group, wanted, gaps.date_keys[group.name], orders[market.name], cfg.symbols_per_run, ORIGIN,
                batch=f"{ORIGIN}:{market.name}:{bucket_start:%Y-%m-%dT%H:%MZ}",
                run_key_prefix=f"gap:{group.name}:{bucket}", tags_for=tags_for)
    if oldest is not None:
        attempts.prune(oldest)
    return tick


def build_gap_sensor(
    settings: Settings, jobs: Sequence[AssetJob], clock: Callable[[], pd.Timestamp] | None = None,
) -> dg.SensorDefinition:
    """`clock` returns the evaluation time (UTC); tests freeze it, Dagster runs on real time."""
    cfg = settings.automation
    groups = all_job_groups(settings)
    now_fn = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @dg.sensor(
        name=GAP_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=cfg.gap_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if cfg.default_running else dg.DefaultSensorStatus.STOPPED,
        description=f"Requests ranged runs for every gap of the last {cfg.gap_window_hours} h (not fetched, "
        "unfinalized once the vendor's finalisation delay has passed, failed; rate-limited ones after a "
        f"{cfg.rate_limit_cooldown_minutes} min cool-down), skipping open sessions and partitions in flight; "
        f"at most {cfg.gap_max_attempts} attempts per partition, one per {cfg.gap_retry_minutes} min.",
    )
    def gap_fill_48h_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        attempts = Attempts.load(context.cursor)
        if attempts.unreadable:
            context.log.warning("the cursor was not a gap-sensor cursor; attempt counts start from zero")
        tick = evaluate(context.instance, warehouse.get(), settings, now_fn(), attempts, groups)
        summary = tick.summary(cfg.gap_window_hours)
        if tick.capped or tick.dead_runs:
            context.log.warning(summary)
        else:
            context.log.info(summary)
        if tick.requests:
            return dg.SensorResult(run_requests=tick.requests, cursor=tick.attempts.dump())
        return dg.SensorResult(skip_reason=summary, cursor=tick.attempts.dump())

    return gap_fill_48h_sensor
