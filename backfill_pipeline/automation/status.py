"""Backfill history: the recent batches of runs per market and what they did.

A batch is either a Dagster asset backfill (from the UI or `backfill-pipeline backfill`;
its runs carry `dagster/backfill`) or the runs one schedule/sensor tick requested (they
carry `backfill_pipeline/batch`). Figures come from where they are recorded:
- runs ok/failed/running: Dagster's run records;
- bars written: the assets' materialisation metadata (`run_bars_written`, once per step: a
  ranged run repeats the step's totals on every partition's event);
- symbols ok/failed, vendor requests, rate-limit waits: the warehouse's fetch log (a
  symbol failed when the last fetch of one of its slices in the batch failed; a rate-limit
  wait is a fetch that gave up on the shared budget) and the runs the vendor layer tagged
  `backfill_pipeline/rate_limited`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import dagster as dg

from backfill_pipeline.markets import MARKETS
from backfill_pipeline.names import RATE_LIMITED_TAG, RUN_BARS_WRITTEN, TAG_BATCH, TAG_MARKET, TAG_ORIGIN
from backfill_pipeline.warehouse.status_queries import fetches_of_runs
from backfill_pipeline.warehouse.store import Warehouse

BACKFILL_TAG = "dagster/backfill"
MAX_RUNS_READ = 500  # event logs read per batch (bars written); a bigger batch is reported as partial


@dataclass
class BatchStatus:
    market: str
    kind: str  # "backfill" or the automation origin: schedule, gap_sensor, universe_sync, weekly_rollup
    batch_id: str
    title: str
    created: dt.datetime
    run_ids: list[str] = field(default_factory=list, repr=False)
    runs_ok: int = 0
    runs_failed: int = 0
    runs_running: int = 0
    symbols_ok: int = 0
    symbols_failed: int = 0
    failed_symbols: list[str] = field(default_factory=list)
    bars_written: int = 0
    requests: int = 0
    fetches: int = 0
    failed_fetches: int = 0
    rate_limit_waits: int = 0  # fetches that ended rate limited
    rate_limited_runs: int = 0
    partial: bool = False  # more runs than MAX_RUNS_READ: bars_written counts the first ones only
    # asset backfills only (the daemon's record, over every market the backfill targets):
    backfill_status: str | None = None
    partitions_total: int | None = None
    partitions_done: int | None = None  # materialised or failed
    partitions_failed: int | None = None

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out.pop("run_ids")
        out["created"] = self.created.isoformat()
        return out


def _market_of_keys(keys: Sequence[dg.AssetKey]) -> set[str]:
    return {k.path[1] for k in keys if len(k.path) >= 2 and k.path[1] in MARKETS}


def _automation_batches(instance: dg.DagsterInstance, market: str, limit: int) -> list[BatchStatus]:
    seen: dict[str, BatchStatus] = {}
    for record in instance.get_run_records(filters=dg.RunsFilter(tags={TAG_MARKET: market}), limit=2000):
        batch = record.dagster_run.tags.get(TAG_BATCH)
        if batch is None or batch in seen:
            continue
        if len(seen) == limit:
            break
        seen[batch] = BatchStatus(market, record.dagster_run.tags.get(TAG_ORIGIN, "automation"), batch, batch,
                                  _utc(record.create_timestamp))
    for status in seen.values():
        records = instance.get_run_records(filters=dg.RunsFilter(tags={TAG_BATCH: status.batch_id}))
        _count_runs(status, [r for r in records if r.dagster_run.tags.get(TAG_MARKET) == market])
    return list(seen.values())


def _backfill_batches(instance: dg.DagsterInstance, market: str, limit: int) -> list[BatchStatus]:
    out: list[BatchStatus] = []
    for backfill in instance.get_backfills(limit=200):
        data = backfill.asset_backfill_data
        if data is None or market not in _market_of_keys(list(data.target_subset.asset_keys)):
            continue
        created = dt.datetime.fromtimestamp(backfill.backfill_timestamp, dt.UTC)
        status = BatchStatus(market, "backfill", backfill.backfill_id, backfill.title or backfill.backfill_id, created)
        _partition_counts(instance, status)
        records = instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill.backfill_id}))
        # A backfill over both markets runs each market's assets in their own runs.
        _count_runs(status, [r for r in records
                             if market in _market_of_keys(list(r.dagster_run.asset_selection or []))])
        out.append(status)
        if len(out) == limit:
            break
    return out


def _count_runs(status: BatchStatus, records: Sequence[dg.RunRecord]) -> None:
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        status.run_ids.append(run.run_id)
        if run.status == dg.DagsterRunStatus.SUCCESS:
            status.runs_ok += 1
        elif run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            status.runs_failed += 1
        else:
            status.runs_running += 1
        status.rate_limited_runs += run.tags.get(RATE_LIMITED_TAG) == "true"
    if records:
        status.created = min(status.created, *(_utc(r.create_timestamp) for r in records))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _partition_counts(instance: dg.DagsterInstance, status: BatchStatus) -> None:
    from backfill_pipeline.dagster_private import backfill_partitions

    counts = backfill_partitions(instance, status.batch_id)
    if counts is not None:
        status.backfill_status = counts.status
        status.partitions_total = counts.targeted
        status.partitions_failed = counts.failed_count
        status.partitions_done = min(counts.targeted, counts.materialized + counts.failed_count)


def run_bars_written(instance: dg.DagsterInstance, run_id: str) -> int:
    """Bars a run wrote: the sum over its steps and assets of `run_bars_written` (each
    partition's event repeats its step's total, so it is counted once per step and asset)."""
    steps: dict[tuple[str | None, str], int] = {}
    connection = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=None)
    for record in connection.records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        materialization = event.step_materialization_data.materialization
        # `bars_written`: the same figure under its name before 2026-12 (older runs' events)
        meta = materialization.metadata.get(RUN_BARS_WRITTEN) or materialization.metadata.get("bars_written")
        if meta is not None:
            steps.setdefault((event.step_key, materialization.asset_key.to_user_string()), int(meta.value))  # type: ignore[arg-type]
    return sum(steps.values())


def _bars_written(instance: dg.DagsterInstance, status: BatchStatus, cache: dict[str, int] | None = None) -> None:
    """`cache` keeps the figures of finished runs between calls (a backfill being followed)."""
    status.partial = len(status.run_ids) > MAX_RUNS_READ
    finished = {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(run_ids=status.run_ids[:MAX_RUNS_READ]))
                if r.is_finished} if cache is not None and status.run_ids else set()
    for run_id in status.run_ids[:MAX_RUNS_READ]:
        if cache is not None and run_id in cache:
            status.bars_written += cache[run_id]
            continue
        written = run_bars_written(instance, run_id)
        if cache is not None and run_id in finished:
            cache[run_id] = written
        status.bars_written += written


def backfill_batch(instance: dg.DagsterInstance, warehouse: Warehouse | None, backfill_id: str,
                   cache: dict[str, int] | None = None) -> BatchStatus:
    """The figures of one asset backfill over every market: runs, bars, fetches, requests."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise KeyError(f"no backfill {backfill_id!r} in this instance")
    created = dt.datetime.fromtimestamp(backfill.backfill_timestamp, dt.UTC)
    status = BatchStatus("", "backfill", backfill_id, backfill.title or backfill_id, created)
    _partition_counts(instance, status)
    _count_runs(status, instance.get_run_records(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id})))
    _bars_written(instance, status, cache)
    if warehouse is not None:
        _fetch_figures(warehouse, status)
    return status


def _fetch_figures(warehouse: Warehouse, status: BatchStatus) -> None:
    frame, requests = fetches_of_runs(warehouse, status.run_ids)
    status.requests += requests
    if frame.empty:
        return
    per_fetch = frame.drop_duplicates("fetch_id")
    status.fetches = len(per_fetch)
    status.failed_fetches = int((per_fetch["status"] != "ok").sum())
    status.rate_limit_waits = int((per_fetch["status"] == "rate_limited").sum())
    last = frame.sort_values("id").drop_duplicates(["symbol", "timeframe", "session"], keep="last")
    failed = sorted(set(last.loc[last["status"] != "ok", "symbol"]))
    status.failed_symbols = failed
    status.symbols_failed = len(failed)
    status.symbols_ok = int(last["symbol"].nunique()) - len(failed)


def recent_batches(
    instance: dg.DagsterInstance, warehouse: Warehouse | None, market: str, limit: int = 1,
) -> list[BatchStatus]:
    """The `limit` most recent batches of `market`, newest first, with their figures."""
    batches = _automation_batches(instance, market, limit) + _backfill_batches(instance, market, limit)
    batches = sorted(batches, key=lambda b: b.created, reverse=True)[:limit]
    for status in batches:
        _bars_written(instance, status)
        if warehouse is not None:
            _fetch_figures(warehouse, status)
    return batches
