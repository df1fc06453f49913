"""Follow an asset backfill to its end: partitions done / total, runs, bars, requests, ETA.

Partition counts are the daemon's own record of the backfill (materialised and failed
subsets, updated on each of its backfill ticks, about every 30 s); runs come from Dagster's
run records; bars written from the runs' materialisation metadata; vendor requests and
rate-limit waits from the warehouse's fetch log (automation/status.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from backfill_pipeline.automation.status import BatchStatus, backfill_batch
from backfill_pipeline.dagster_private import BackfillPartitions, backfill_partitions
from backfill_pipeline.warehouse.store import Warehouse


@dataclass(frozen=True)
class BackfillProgress:
    partitions: BackfillPartitions
    batch: BatchStatus
    elapsed_s: float  # since the backfill was created

    @property
    def finished_partitions(self) -> int:
        return min(self.partitions.targeted, self.partitions.materialized + self.partitions.failed_count)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None before the first partition finished."""
        done = self.finished_partitions
        if done == 0 or self.partitions.done:
            return None
        return self.elapsed_s / done * (self.partitions.targeted - done)

    @property
    def succeeded(self) -> bool:
        return self.partitions.status == "COMPLETED_SUCCESS" and not self.partitions.failed


def progress(instance: dg.DagsterInstance, warehouse: Warehouse | None, backfill_id: str,
             cache: dict[str, int] | None = None, now: float | None = None) -> BackfillProgress:
    """One reading of the backfill; `cache` keeps finished runs' bar counts between readings."""
    partitions = backfill_partitions(instance, backfill_id)
    if partitions is None:
        raise KeyError(f"no asset backfill {backfill_id!r} in the instance at $DAGSTER_HOME")
    batch = backfill_batch(instance, warehouse, backfill_id, cache)
    moment = time.time() if now is None else now
    return BackfillProgress(partitions, batch, max(0.0, moment - partitions.created))


def follow(
    instance: dg.DagsterInstance,
    warehouse: Warehouse | None,
    backfill_id: str,
    on_update: Callable[[BackfillProgress], None],
    *,
    poll_s: float = 5.0,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillProgress:
    """Read the backfill every `poll_s` until the daemon marks it done; TimeoutError after
    `timeout_s` (None: wait as long as it takes)."""
    cache: dict[str, int] = {}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        reading = progress(instance, warehouse, backfill_id, cache)
        on_update(reading)
        if reading.partitions.done:
            return reading
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"backfill {backfill_id} still {reading.partitions.status} after {timeout_s:.0f} s")
        sleep(poll_s)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def summary_line(reading: BackfillProgress) -> str:
    """One line: what the display shows, for logs and non-terminal output."""
    p, b = reading.partitions, reading.batch
    return (f"{p.status}: partitions {reading.finished_partitions:,}/{p.targeted:,} done"
            f" ({p.materialized:,} materialized, {p.failed_count:,} failed); runs {b.runs_ok} ok,"
            f" {b.runs_failed} failed, {b.runs_running} running; {b.bars_written:,} bars written;"
            f" {b.requests:,} requests; {b.rate_limit_waits} rate-limit waits;"
            f" elapsed {format_duration(reading.elapsed_s)}, ETA {format_duration(reading.eta_s)}")
