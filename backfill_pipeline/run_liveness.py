"""Whether an unfinished run still has a process working on it.

A run whose worker was killed (kill -9, OOM, a container or `dagster dev` that died with
its code server) stays STARTED: nobody is left to record its end, and the DefaultRunLauncher
gives Dagster's run monitoring no way to check a STARTED run's worker. Counting such a run
as in flight would keep its partitions from the gap sensor for good, so a run that has
started is judged by its process:

- its worker's pid (Dagster's own engine event "... (pid: N)") is checked when the run ran
  on this node, i.e. in this pid namespace (the run's RUN_NODE_TAG, written by the
  warehouse resource as the run starts, equals `node_id()`): a pid that is gone (or a
  zombie, or reused by a newer process) proves the run dead, and the run is marked failed
  as Dagster's run monitoring would (the re-read status must still be unfinished);
- elsewhere, a run with no event and no status change for BACKFILL_GAP_STALE_RUN_MINUTES is
  not trusted any more (it is left for run monitoring / an operator to fail). Sensors run
  in the code server, whose subprocesses the DefaultRunLauncher's runs are, so "elsewhere"
  means a Docker/Kubernetes run launcher (a container per run) or a run that died with a
  container that has since restarted (a new pid namespace).

Queued and not-yet-started runs have no process to check and always count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from backfill_pipeline.local_process import node_id, process_alive
from backfill_pipeline.names import RUN_NODE_TAG

WITH_WORKER: frozenset[dg.DagsterRunStatus] = frozenset({
    dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
})
ALIVE, DEAD, SILENT = "alive", "dead", "silent"


@dataclass(frozen=True)
class Liveness:
    verdict: str  # ALIVE, DEAD (its process is gone) or SILENT (no sign of life for too long)
    reason: str = ""


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The run worker's pid and when it was reported, from the run's engine events (run-level
    ones: step workers report their own pids with a step key)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if entry.step_key or event is None:
            continue
        pid = event.engine_event_data.metadata.get("pid") if event.engine_event_data else None
        if pid is not None and str(pid.value).isdigit():
            return int(str(pid.value)), entry.timestamp
    return None


def last_activity(instance: dg.DagsterInstance, record: dg.RunRecord) -> float:
    """Epoch seconds of the run's newest event or status change."""
    stamps = [record.start_time or 0.0, _epoch(record.update_timestamp), _epoch(record.create_timestamp)]
    newest = instance.get_records_for_run(record.dagster_run.run_id, ascending=False, limit=1).records
    if newest:
        stamps.append(newest[0].event_log_entry.timestamp)
    return max(stamps)


def judge(instance: dg.DagsterInstance, record: dg.RunRecord, now: dt.datetime, stale_after_s: float) -> Liveness:
    run = record.dagster_run
    if run.status not in WITH_WORKER:
        return Liveness(ALIVE)
    if run.tags.get(RUN_NODE_TAG) == node_id():
        worker = worker_pid(instance, run.run_id)
        if worker is not None:
            pid, reported_at = worker
            if process_alive(pid, reported_at):
                return Liveness(ALIVE)
            return Liveness(DEAD, f"its run worker (pid {pid} on this node) is gone")
    if stale_after_s <= 0:
        return Liveness(ALIVE)
    silent_s = now.timestamp() - last_activity(instance, record)
    if silent_s > stale_after_s:
        return Liveness(SILENT, f"no event for {silent_s / 60:.0f} min (limit {stale_after_s / 60:.0f} min)")
    return Liveness(ALIVE)


def mark_dead(instance: dg.DagsterInstance, run_id: str, reason: str) -> bool:
    """Fail a run whose worker is proven gone, unless it finished meanwhile; True if marked."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.is_finished:
        return False
    instance.report_run_failed(run, f"Marked failed by the gap sensor: {reason}; the run cannot finish.")
    return True


def _epoch(stamp: dt.datetime | None) -> float:
    if stamp is None:
        return 0.0
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()
