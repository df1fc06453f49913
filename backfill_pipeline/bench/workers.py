"""Benchmark: the same backfill on the distributed deployment with 1, 2 and 3 Celery step workers.

    backfill-pipeline bench workers [--workers 1,2,3] [--symbols 12] [--months 6]
                                    [--vendor polygon|demo] [--pg-admin-url URL]

For each worker count, the compose deployment is started as local processes
(backfill_pipeline/testing/local_deploy.py: Redis, code server, N workers of one slot each,
each in its own directory, webserver, daemon; fresh PostgreSQL instance and warehouse
databases), and one asset backfill of ohlcv/us_equities/1m and 1d over `--symbols` symbols x
`--months` months of 2024 (monthly partitions) is launched through the webserver's GraphQL
API, from a local Polygon-format server with a budget far above what the run can use
(BACKFILL_POLYGON_REQUESTS_PER_WINDOW), or from the offline demo vendor.

Printed per worker count: the span from the first run's start to the last run's end (the
daemon's 30 s tick before the first run is not counted), bars written and bars/s, runs,
and per worker the steps it executed and the seconds it was busy (from its own log).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from backfill_pipeline import graphql_client
from backfill_pipeline.bench.pg import DEFAULT_PG_ADMIN, instance_runs, throwaway_database
from backfill_pipeline.testing.local_deploy import DOCKER, LocalDeployment, read_env_file
from backfill_pipeline.warehouse.bench_store import totals
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline.warehouse.urls import parse_url

ASSETS = ("ohlcv/us_equities/1m", "ohlcv/us_equities/1d")
_TASK_DONE = re.compile(r"Task execute_plan\[[0-9a-f-]+\] succeeded in ([0-9.]+)s")


def _serve(ready: Any, stop: Any) -> None:
    """The vendor in a process of its own, so its JSON encoding does not share the bench's GIL."""
    from backfill_pipeline.testing.fake_polygon import FakePolygon

    with FakePolygon() as server:
        ready.put(server.url)
        stop.wait()


def _environment(instance_url: str, warehouse_url: str, vendor: str, vendor_url: str | None, workers: int,
                 months: int) -> dict[str, str]:
    pg = parse_url(instance_url)
    env = {
        **os.environ,
        **read_env_file(DOCKER / ".env.example"),
        "DAGSTER_POSTGRES_USER": pg.username or "postgres",
        "DAGSTER_POSTGRES_PASSWORD": pg.password or "",
        "DAGSTER_POSTGRES_HOST": pg.host or "127.0.0.1",
        "DAGSTER_POSTGRES_PORT": str(pg.port or 5432),
        "DAGSTER_POSTGRES_DB": pg.database or "",
        "BACKFILL_WAREHOUSE_URL": warehouse_url,
        "BACKFILL_REDIS_PASSWORD": uuid.uuid4().hex,
        "BACKFILL_PARTITION_GRAIN": "monthly",
        "BACKFILL_PARTITIONS_START": "2024-01-01",
        "BACKFILL_VENDOR_US_EQUITIES": vendor,
        "BACKFILL_WORKER_CONCURRENCY": "1",
        # every worker may run a fetch step at once: the pool must not be what limits
        f"BACKFILL_POOL_LIMIT_{vendor.upper()}": str(max(workers, months)),
    }
    if vendor == "polygon":
        assert vendor_url is not None
        env.update({"POLYGON_BASE_URL": vendor_url, "POLYGON_API_KEYS": "bench-key",
                    # far above what the run uses: the vendor's budget is not what is measured
                    "BACKFILL_POLYGON_REQUESTS_PER_WINDOW": "100000", "BACKFILL_POLYGON_WINDOW_SECONDS": "1"})
    return env


def run_once(workers: int, symbols: list[str], months: int, vendor: str, vendor_url: str | None,
             pg_admin_url: str) -> dict[str, Any]:
    with throwaway_database(pg_admin_url, "bp_bench_w_instance") as instance_url, \
            throwaway_database(pg_admin_url, "bp_bench_w_warehouse") as warehouse_url, \
            tempfile.TemporaryDirectory() as tmp:
        dep = LocalDeployment(Path(tmp), _environment(instance_url, warehouse_url, vendor, vendor_url, workers, months))
        try:
            dep.start_stack(workers, symbols=symbols, read_only=False)
            url = dep.url("webserver", "3000")
            days = [f"2024-{m:02d}-01" for m in range(1, months + 1)]
            partitions = [f"{day}|{symbol}" for day in days for symbol in symbols]
            backfill_id = graphql_client.launch_partition_backfill(url, dict.fromkeys(ASSETS, partitions),
                                                                   title=f"bench workers={workers}")
            status = graphql_client.wait_for_backfill(url, backfill_id, timeout_s=3600, poll_s=2)
            if not status.succeeded:
                raise SystemExit(f"backfill {backfill_id} ended {status.status}:\n{dep.log_tail('daemon')}")
            # the services' logs survive the temp dir (a failed and retried run is worth reading)
            logs = Path(os.environ.get("BACKFILL_TEST_ARTIFACTS", "test_artifacts")) / f"bench_workers_{workers}"
            shutil.copytree(dep.logs, logs, dirs_exist_ok=True)
            busy = {}
            for i in range(1, workers + 1):
                done = [float(s) for s in _TASK_DONE.findall(dep.log_tail(f"worker{i}", 10_000_000))]
                busy[f"worker{i}"] = (len(done), sum(done))
        finally:
            dep.stop_all()
        first, last, runs = instance_runs(instance_url)
        warehouse = Warehouse(warehouse_url)
        try:
            bars = totals(warehouse)["bars"]
        finally:
            warehouse.dispose()
    return {"span": last - first, "bars": bars, "runs": runs, "busy": busy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backfill-pipeline bench workers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,3", help="comma-separated worker counts to compare")
    parser.add_argument("--symbols", type=int, default=12)
    parser.add_argument("--months", type=int, default=6, help="months of 2024 (one ranged run per month)")
    parser.add_argument("--vendor", choices=["polygon", "demo"], default="polygon")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    try:
        counts = [int(n) for n in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers {args.workers!r}: expected comma-separated whole numbers, e.g. 1,2,3")
    if any(n < 1 for n in counts) or args.symbols < 1 or not 1 <= args.months <= 12:
        parser.error("worker counts and --symbols must be at least 1, --months between 1 and 12")
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    print(f"{args.symbols} symbols x {args.months} months of 2024 (monthly partitions), 1m + derived + 1d, "
          f"vendor {args.vendor}; {os.cpu_count()} CPU cores; workers of one slot each", flush=True)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True) if args.vendor == "polygon" else None
    results = {}
    try:
        vendor_url = None
        if server is not None:
            server.start()
            vendor_url = ready.get(timeout=60)
        for n in counts:
            started = time.monotonic()
            result = run_once(n, symbols, args.months, args.vendor, vendor_url, args.pg_admin_url)
            results[n] = result
            base = results[counts[0]]["bars"] / results[counts[0]]["span"]
            rate = result["bars"] / result["span"]
            per_worker = ", ".join(f"{w}: {k} steps {s:.1f} s busy" for w, (k, s) in result["busy"].items())
            print(f"[{n} worker(s)] {result['span']:.1f} s from first run start to last run end, "
                  f"{result['bars']:,} bars, {rate:,.0f} bars/s ({rate / base:.2f}x of {counts[0]} worker(s)), "
                  f"runs {result['runs']}; {per_worker}; {time.monotonic() - started:.0f} s with startup", flush=True)
    finally:
        stop.set()
        if server is not None:
            server.join(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
