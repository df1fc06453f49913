"""Benchmark: a Polygon 1m backfill against a local rate-limited server, 1 vs 4 processes.

    backfill-pipeline bench vendors [--symbols 24 --days 20 --page-sizes 5000,50000 ...]

A local server speaks Polygon's aggregates wire format, pages at the given page size
whatever `limit` asks, and answers 429 past a per-key budget. N symbols x D sessions of 1m
bars are fetched through PolygonClient (asking limit=50000, as in production) with the
shared SQLite limiter, first by one process, then split over four (spawned, like
Dagster's run processes). The budget is the one runs use: BACKFILL_POLYGON_REQUESTS_PER_WINDOW
and BACKFILL_POLYGON_WINDOW_SECONDS when set, else --limit/--window; the server enforces
the same budget. Printed per page size and mode: requests made vs the floor
(ceil(bars / page size) per symbol range), 429s, and "budget used": the k-th burst of a
window's budget may start k windows after the first request at the earliest; budget used
is that earliest start of the last burst over its actual start (100%: as fast as the
vendor allows). Both modes share one limiter file, as runs share the warehouse's.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import queue
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..markets import get_calendar, get_market, sessions_in_range
from ..testing.fake_polygon import FakePolygon, ServerStats
from ..vendors.client import ClientOptions
from ..vendors.limits import Rate, VendorLimits, limit_variables, limits_from_env
from ..vendors.polygon.client import MAX_PAGE_LIMIT, PolygonClient
from ..vendors.ratelimit import RateLimiter
from ..vendors.retry import RetryPolicy


@dataclass(frozen=True)
class WorkerJob:
    base_url: str
    limiter_url: str
    keys: tuple[str, ...]
    per_key_limit: int
    window_s: float
    symbols: tuple[str, ...]
    timeframe: str
    start: str  # ISO UTC instants
    end: str
    page_limit: int
    max_wait_s: float = 60.0


@dataclass
class WorkerResult:
    requests: int = 0
    bars: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)  # per request, seconds
    seconds: float = 0.0
    error: str | None = None


def run_worker(job: WorkerJob, barrier: Any | None = None) -> WorkerResult:
    """Fetch every symbol of the job through one client; the barrier lines processes up
    after their imports and calendar builds, so timing covers fetching only."""
    result = WorkerResult()
    limiter = RateLimiter.from_url(job.limiter_url)
    limits = VendorLimits((Rate(job.per_key_limit, job.window_s),), max_wait_seconds=job.max_wait_s)
    retry = RetryPolicy(max_attempts=5, backoff_base_s=0.05, backoff_cap_s=0.5, retry_after_floor_s=0.2)
    client = PolygonClient(
        list(job.keys),
        base_url=job.base_url,
        options=ClientOptions(limiter=limiter, limits=limits, retry=retry),
        page_limit=job.page_limit,
    )
    get_calendar(get_market("us_equities").calendar_name)
    if barrier is not None:
        barrier.wait()
    started = time.perf_counter()
    try:
        for symbol in job.symbols:
            fetched = client.fetch_bars(symbol, job.timeframe, pd.Timestamp(job.start), pd.Timestamp(job.end))
            result.requests += fetched.requests
            result.bars += len(fetched.bars)
            for rec in fetched.records:
                result.durations.append(rec.duration_s)
                result.statuses[str(rec.status)] = result.statuses.get(str(rec.status), 0) + 1
    except Exception as exc:  # noqa: BLE001  reported to the parent, which prints it
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.seconds = time.perf_counter() - started
        client.close()
        limiter.close()
    return result


def _process_entry(job: WorkerJob, barrier: Any, queue: Any) -> None:
    queue.put(run_worker(job, barrier))


def run_processes(jobs: list[WorkerJob], timeout_s: float = 300.0) -> list[WorkerResult]:
    """Run each job in its own spawned process (as Dagster runs are) and collect results."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(jobs), timeout=120)
    results_queue = ctx.Queue()
    procs = [ctx.Process(target=_process_entry, args=(job, barrier, results_queue)) for job in jobs]
    for proc in procs:
        proc.start()
    results: list[WorkerResult] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(results) < len(procs):
            try:
                results.append(results_queue.get(timeout=0.5))
            except queue.Empty:
                crashed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if crashed:
                    raise RuntimeError(f"a worker process died (exit code {crashed[0]})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"workers did not finish within {timeout_s:g}s") from None
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    return results


@dataclass(frozen=True)
class ModeReport:
    processes: int
    requests: int
    floor: int
    throttled: int
    arrivals: list[float]  # server-side arrival times of accepted requests
    wall_s: float
    window_s: float
    burst: int  # requests the limit admits per window, all keys together
    bars: int
    median_request_s: float
    errors: list[str]

    @property
    def span_s(self) -> float:
        return self.arrivals[-1] - self.arrivals[0] if len(self.arrivals) > 1 else 0.0

    @property
    def peak_in_window(self) -> int:
        """Most requests the server saw in any window of the limit's length."""
        peak, lo = 0, 0
        for hi, t in enumerate(self.arrivals):
            while self.arrivals[lo] <= t - self.window_s:
                lo += 1
            peak = max(peak, hi - lo + 1)
        return peak

    @property
    def budget_used(self) -> float | None:
        """When the budget let the last burst start, over when it started: the k-th burst of
        `burst` requests may start k windows after the first request at the earliest. (The
        last burst's own spread is the client's request time, not unused budget.)"""
        n = len(self.arrivals)
        bursts = math.ceil(n / self.burst) if n else 0
        if bursts < 2:
            return None  # everything fits one window: the budget never bound
        achieved = self.arrivals[(bursts - 1) * self.burst] - self.arrivals[0]
        return min((bursts - 1) * self.window_s / achieved, 1.0) if achieved > 0 else None

    def lines(self) -> list[str]:
        n = len(self.arrivals)
        instant = (math.ceil(n / self.burst) - 1) * self.window_s if n else 0.0
        average = n / (self.burst / self.window_s)
        used = self.budget_used
        return [
            f"{self.processes} process(es): {self.bars} bars",
            f"  requests   {self.requests} made vs floor {self.floor} ({self.requests / max(self.floor, 1):.2f}x)",
            f"  429s       {self.throttled}",
            "  budget     " + (f"{used:.1%} used" if used is not None else "n/a (all requests fit one window)"),
            (f"  rate       peak {self.peak_in_window} requests in any {self.window_s:g} s window "
            f"(limit {self.burst}); achieved {n / self.span_s if self.span_s else 0:.1f} req/s "
            f"first->last vs limit {self.burst / self.window_s:g} req/s"),
            (f"  span       {self.span_s:.1f} s first->last request; the limit allows >= {instant:.1f} s "
            f"(instant bursts), {average:.1f} s at its average rate"),
            (f"  wall time  {self.wall_s:.1f} s incl. process start-up; "
            f"median request {self.median_request_s * 1000:.0f} ms"),
            *(f"  ERROR      {e}" for e in self.errors),
        ]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m backfill_pipeline.bench.vendors", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--symbols", type=int, default=24, help="symbols to backfill")
    parser.add_argument("--days", type=int, default=20, help="XNYS sessions per symbol")
    parser.add_argument("--first-day", default="2024-03-01", help="first calendar day of the range")
    parser.add_argument("--page-sizes", default="5000,50000",
                        help="comma-separated bars per page the server sends (the client always asks 50000)")
    parser.add_argument("--keys", type=int, default=2, help="API keys in the pool")
    parser.add_argument("--limit", type=int, default=None,
                        help="requests per key per window (default: BACKFILL_POLYGON_REQUESTS_PER_WINDOW, else 5)")
    parser.add_argument("--window", type=float, default=None,
                        help="limit window, seconds (default: BACKFILL_POLYGON_WINDOW_SECONDS, else 3)")
    parser.add_argument("--processes", default="1,4", help="comma-separated process counts to run")
    parser.add_argument("--missing-every", type=int, default=50, help="every n-th minute has no trades")
    return parser.parse_args(argv)


def _budget(args: argparse.Namespace) -> tuple[int, float, str]:
    """(requests per key per window, window seconds, where they came from)."""
    env_rate = limits_from_env(os.environ)["polygon"].rates[0]
    from_env = [n for n in limit_variables("polygon")[:2] if os.environ.get(n)]
    limit = args.limit or (env_rate.limit if "BACKFILL_POLYGON_REQUESTS_PER_WINDOW" in from_env else 5)
    window = args.window or (env_rate.window_s if "BACKFILL_POLYGON_WINDOW_SECONDS" in from_env else 3.0)
    source = "command line" if args.limit or args.window else ("environment: " + ", ".join(from_env)) if from_env \
        else "bench default (set BACKFILL_POLYGON_REQUESTS_PER_WINDOW / _WINDOW_SECONDS for your plan)"
    return limit, window, source


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        per_key, window_s, source = _budget(args)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    market = get_market("us_equities")
    first = pd.Timestamp(args.first_day).date()
    sessions = sessions_in_range(market, first, (pd.Timestamp(first) + pd.Timedelta(days=args.days * 2 + 10)).date())
    sessions = sessions[: args.days]
    start = sessions[0].tz_localize(market.timezone).tz_convert("UTC")
    end = (sessions[-1] + pd.Timedelta(days=1)).tz_localize(market.timezone).tz_convert("UTC")
    keys = tuple(f"bench-key-{i}" for i in range(args.keys))
    symbols = [f"B{i:03d}" for i in range(args.symbols)]
    limit_rps = args.keys * per_key / window_s
    print(
        f"backfill: {args.symbols} symbols x {args.days} sessions of 1m bars "
        f"({start:%Y-%m-%d}..{sessions[-1]:%Y-%m-%d}), "
        f"{args.keys} keys x {per_key} req/{window_s:g}s (limit {limit_rps:g} req/s; budget from {source})"
    )
    failed = False
    lo_ms, hi_ms = int(start.value // 1_000_000), int(end.value // 1_000_000) - 1
    for page_size in (int(p) for p in args.page_sizes.split(",")):
        fake = FakePolygon(keys=set(keys), rate_limit=(per_key, window_s), max_limit=page_size,
                           missing_every=args.missing_every)
        floor = sum(math.ceil(fake.bars_in_range(s, lo_ms, hi_ms) / page_size) for s in symbols)
        print(f"\nserver pages of {page_size} bars (client asks {MAX_PAGE_LIMIT}):")
        with fake, tempfile.TemporaryDirectory(prefix="bench_vendors_") as tmp:
            limiter_url = f"sqlite:///{Path(tmp) / 'ratelimits.sqlite'}"
            for count in (int(p) for p in args.processes.split(",")):
                fake.stats = ServerStats()
                jobs = [
                    WorkerJob(
                        base_url=fake.url,
                        limiter_url=limiter_url,
                        keys=keys,
                        per_key_limit=per_key,
                        window_s=window_s,
                        symbols=tuple(symbols[i::count]),
                        timeframe="1m",
                        start=start.isoformat(),
                        end=end.isoformat(),
                        page_limit=MAX_PAGE_LIMIT,
                    )
                    for i in range(count)
                ]
                began = time.perf_counter()
                results = run_processes(jobs)
                wall = time.perf_counter() - began
                report = ModeReport(
                    processes=count,
                    requests=sum(r.requests for r in results),
                    floor=floor,
                    throttled=fake.stats.throttled,
                    arrivals=sorted(fake.stats.arrivals),
                    wall_s=wall,
                    window_s=window_s,
                    burst=args.keys * per_key,
                    bars=sum(r.bars for r in results),
                    median_request_s=statistics.median(d for r in results for d in r.durations) if results else 0.0,
                    errors=[r.error for r in results if r.error],
                )
                print("\n".join(report.lines()))
                failed = failed or bool(report.errors)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
