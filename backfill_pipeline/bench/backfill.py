"""Benchmark: an end-to-end backfill from a local Polygon server, against the raw write ceiling.

    backfill-pipeline bench backfill [--symbols 50 --days 252] [--grain monthly] [--workers 2]
                                     [--instance postgres|sqlite] [--sqlite-only] [--repeat N] [--cpu]
                                     [--pg-admin-url URL]

N symbols x D sessions of 1m bars (plus every derived timeframe) are backfilled through
Dagster (ranged runs in `--workers` processes, each a contiguous block of symbols, against a
throwaway instance; the same assets and write path as production) from a local server
speaking Polygon's wire format with no rate limit, into SQLite and into PostgreSQL.
Printed per database: wall time, bars written and bars/s, Dagster runs, requests against
the floor, and the raw write ceiling measured in the same run: the same rows bulk-loaded
(executemany / COPY, one transaction per series, as many writer processes) into the
emptied table without the pipeline. `--cpu` also prints the CPU seconds each phase took, by
process group (run processes or ceiling writers, the PostgreSQL server, the vendor server),
read from /proc: with every core busy, the ratio follows the CPU each phase needs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import queue
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import yaml

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.bench.cpu import CpuSampler
from backfill_pipeline.bench.pg import DEFAULT_PG_ADMIN, throwaway_database
from backfill_pipeline.instance import repo_instance_config
from backfill_pipeline.launch import range_requests
from backfill_pipeline.local_runs import RunSummary, materialize_range
from backfill_pipeline.markets import get_market, last_closed_sessions
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.warehouse.bench_store import delete_all_bars, load_series, stored_series, totals
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline.warehouse.urls import with_driver

# Dagster's own switches, printed as the environment sets them (the storages set the first)
BOOKKEEPING_ENV = ("DAGSTER_EVENT_BATCH_SIZE", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS")
DOCKER_INSTANCE_YAML = Path(__file__).resolve().parents[2] / "docker" / "dagster.yaml"


def production_instance_storage(postgres_url: str) -> dict[str, Any]:
    """docker/dagster.yaml's run, event log and schedule storages, on one database URL."""
    config = yaml.safe_load(DOCKER_INSTANCE_YAML.read_text())
    storages = ("run_storage", "event_log_storage", "schedule_storage")
    return {name: {"module": config[name]["module"], "class": config[name]["class"],
                   "config": {"postgres_url": postgres_url}} for name in storages}


def _serve(ready: multiprocessing.Queue, stop: multiprocessing.synchronize.Event) -> None:
    from backfill_pipeline.testing.fake_polygon import FakePolygon

    with FakePolygon() as server:
        ready.put(server.url)
        stop.wait()


@contextmanager
def bench_instance(kind: str, pg_admin_url: str) -> Iterator[dg.DagsterInstance]:
    """A throwaway Dagster instance: SQLite files in a temp dir (the repository's dagster.yaml
    event log), or a fresh PostgreSQL database with docker/dagster.yaml's storages, dropped
    afterwards."""
    with tempfile.TemporaryDirectory() as home:
        if kind == "sqlite":
            # the embedded default as the repository's dagster.yaml configures it
            overrides = {k: v for k, v in repo_instance_config().items() if k == "event_log_storage"}
            if overrides:
                overrides["event_log_storage"]["config"] = {"base_dir": os.path.join(home, "history", "runs", "")}
            with dg.instance_for_test(temp_dir=home, overrides=overrides) as instance:
                yield instance
            return
        with throwaway_database(pg_admin_url, "bp_bench_instance") as url:
            # dagster-postgres needs psycopg2 (SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3)
            storage_url = with_driver(url, "postgresql+psycopg2")
            overrides = production_instance_storage(storage_url)
            with dg.instance_for_test(temp_dir=home, overrides=overrides) as instance:
                yield instance


def _bench_settings(sessions: pd.DatetimeIndex, grain: str) -> Settings:
    return Settings(partition_grain=grain, partitions_start=sessions[0].date().replace(day=1),
                    vendors={"us_equities": "polygon"}, automation=AutomationConfig(fetch_retries=0))


def _bench_definitions(url: str, server_url: str, sessions: pd.DatetimeIndex, grain: str):  # -> (Definitions, Settings)
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.vendors.polygon.resource import PolygonResource
    from backfill_pipeline.warehouse.resource import WarehouseResource

    os.environ.update({"POLYGON_BASE_URL": server_url, "POLYGON_API_KEYS": "bench-key", "BACKFILL_WAREHOUSE_URL": url})
    settings = _bench_settings(sessions, grain)
    defs = build_definitions(settings)
    warehouse = WarehouseResource(url=url)
    # the published free-plan limit (5/min) would dominate; the server has none
    polygon = PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"),
                              requests_per_window=100_000, window_seconds=1.0)
    defs = dg.Definitions(assets=defs.assets, resources={**(defs.resources or {}), "warehouse": warehouse,
                                                         "bars_us_equities": polygon})
    return defs, settings


def _worker(ref: object, url: str, server_url: str, symbols: list[str], sessions: pd.DatetimeIndex, grain: str,
            out: multiprocessing.Queue) -> None:
    """One runner process (the daemon launches each run in its own process): ranged runs for
    a contiguous block of symbols."""
    try:
        defs, settings = _bench_definitions(url, server_url, sessions, grain)
        with dg.DagsterInstance.from_ref(ref) as instance:  # type: ignore[arg-type]
            summaries = materialize_range(defs, instance, settings, get_market("us_equities"), symbols, sessions)
        out.put(summaries)
    except BaseException as exc:  # noqa: BLE001  reported by the parent, which exits non-zero
        out.put(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))


def _collect(out: multiprocessing.Queue, procs: list) -> list:
    results: list = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if not p.is_alive() and p.exitcode != 0]
            if dead:
                raise SystemExit(f"a benchmark worker died (exit code {dead[0]})") from None
    return results


def _grouper(own: str, pids: list[int], server_pid: int | None):  # -> (pid, name) -> group | None
    def group(pid: int, name: str) -> str | None:
        if pid in pids:
            return own
        if pid == server_pid:
            return "vendor server"
        if name == "postgres":
            return "PostgreSQL server"
        return "bench process" if pid == os.getpid() else None
    return group


def pipeline(url: str, server_url: str, symbols: list[str], sessions: pd.DatetimeIndex,
             grain: str = "daily", instance_kind: str = "sqlite",
             pg_admin_url: str = DEFAULT_PG_ADMIN, workers: int = 1,
             server_pid: int | None = None) -> dict[str, Any]:
    market = get_market("us_equities")
    Warehouse(url).dispose()  # create the schema outside the timed part
    blocks = [list(b) for b in np.array_split(np.array(symbols, dtype=object), max(1, min(workers, len(symbols))))]
    ctx = multiprocessing.get_context("spawn")
    with bench_instance(instance_kind, pg_admin_url) as instance:
        instance.add_dynamic_partitions(market.symbols_partitions_name, symbols)
        out = ctx.Queue()
        pids: list[int] = []
        with CpuSampler(_grouper("run processes", pids, server_pid)) as cpu:
            started = time.perf_counter()
            procs = [ctx.Process(target=_worker, args=(instance.get_ref(), url, server_url, block, sessions, grain,
                                                       out)) for block in blocks]
            for proc in procs:
                proc.start()
                pids.append(proc.pid)  # type: ignore[arg-type]  # set by start()
            results = _collect(out, procs)
            for proc in procs:
                proc.join()
            wall = time.perf_counter() - started
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise SystemExit(f"benchmark worker failed: {errors[0]!r}")
    summaries: list[RunSummary] = [s for r in results for s in r]
    failed = [s.assets for s in summaries if not s.success]
    if failed:
        raise SystemExit(f"{len(failed)} benchmark run(s) failed: {failed}")
    counts = Warehouse(url)
    try:
        found = totals(counts)
    finally:
        counts.dispose()
    written, one_minute, requests = found["bars"], found["bars_1m"], found["requests"]
    # The requests the runs' fetches need by Polygon's own rule (its spec's pages of extended-hours
    # minutes) over every session of their partitions (a coarse grain widens them to months):
    # what the server, which has every minute, must have been asked, no more.
    settings = _bench_settings(sessions, grain)
    floor = sum(range_requests(settings, market.name, tf, s.range_start, s.range_end, symbols)
                for s in summaries for tf in settings.fetched_timeframes(market.name)
                if ohlcv_key(market.name, tf).to_user_string() in s.assets)
    return {"wall": wall, "bars": written, "bars_1m": one_minute, "runs": len(summaries), "requests": requests,
            "floor": floor, "cpu": cpu}


def _loader(url: str, series: list[tuple[str, str, str]], read: Any, go: Any, out: Any) -> None:
    """One ceiling writer: reads its series (untimed), then loads them when the parent says go."""
    try:
        source = Warehouse(url)
        frames = [(m, tf, sym, source.read_bars(m, tf, sym, pd.Timestamp.min.date(), pd.Timestamp.max.date()))
                  for m, tf, sym in series]
        read.wait()
        go.wait()
        total = 0
        for market, timeframe, symbol, frame in frames:
            total += load_series(source, market, timeframe, symbol, frame)
        source.dispose()
        out.put(total)
    except BaseException as exc:
        out.put(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
        raise


def raw_ceiling(url: str, writers: int = 1, server_pid: int | None = None) -> tuple[int, float, CpuSampler]:
    """Bulk-load the pipeline's rows into the emptied `bars` table, one transaction per
    series, from `writers` processes at once (as many as the pipeline ran): executemany on
    SQLite (whose writers take turns), COPY on PostgreSQL. Reading the rows is not timed."""
    source = Warehouse(url)
    series = stored_series(source)
    blocks = [series[i::writers] for i in range(writers)]
    ctx = multiprocessing.get_context("spawn")
    read, go, out = ctx.Barrier(writers + 1), ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_loader, args=(url, block, read, go, out)) for block in blocks]
    for proc in procs:
        proc.start()
    read.wait(timeout=1800)
    delete_all_bars(source)
    source.dispose()
    with CpuSampler(_grouper("ceiling writers", [p.pid for p in procs], server_pid)) as cpu:  # type: ignore[misc]
        started = time.perf_counter()
        go.wait(timeout=60)
        results = _collect(out, procs)
        elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise SystemExit(f"ceiling writer failed: {errors[0]!r}")
    return sum(results), elapsed, cpu


def run(label: str, url: str, server_url: str, symbols: list[str], sessions: pd.DatetimeIndex, grain: str,
        instance_kind: str, pg_admin_url: str, workers: int, server_pid: int | None = None,
        show_cpu: bool = False) -> float:
    """One measurement: the pipeline, then the ceiling of its rows; returns end to end / ceiling."""
    result = pipeline(url, server_url, symbols, sessions, grain, instance_kind, pg_admin_url, workers, server_pid)
    rate = result["bars"] / result["wall"]
    print(f"[{label} warehouse, {instance_kind} instance, {grain} partitions, {workers} run process(es)] end to end: {result['wall']:.1f} s wall, {result['bars']:,.0f} bars written "
          f"({result['bars_1m']:,.0f} 1m + derived), {rate:,.0f} bars/s, {result['runs']:.0f} Dagster runs, "
          f"{result['requests']:.0f} requests vs floor {result['floor']:.0f}")
    if show_cpu:
        print(f"[{label}] end to end CPU: {result['cpu'].describe(result['wall'])}")
    rows, seconds, cpu = raw_ceiling(url, workers, server_pid)
    ceiling = rows / seconds
    print(f"[{label}] raw write ceiling ({workers} writer process(es)): {rows:,} bars in {seconds:.1f} s = {ceiling:,.0f} bars/s; "
          f"end to end / ceiling = {rate / ceiling:.2f}")
    if show_cpu:
        print(f"[{label}] raw write ceiling CPU: {cpu.describe(seconds)}")
    return rate / ceiling


def _report(label: str, ratios: list[float]) -> None:
    if len(ratios) > 1:
        listed = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"[{label}] end to end / ceiling over {len(ratios)} runs: {listed}; median {statistics.median(ratios):.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backfill-pipeline bench backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--days", type=int, default=252, help="closed XNYS sessions (252 = one year)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--grain", choices=["daily", "weekly", "monthly"], default="daily",
                        help="date partition grain (BACKFILL_PARTITION_GRAIN); Dagster records events per partition")
    parser.add_argument("--instance", choices=["postgres", "sqlite"], default="postgres",
                        help="Dagster instance storage, with the event log storage its dagster.yaml configures: "
                             "postgres (production: docker/dagster.yaml, a throwaway database) or sqlite (the "
                             "embedded default: the repository's dagster.yaml, a temp dir)")
    parser.add_argument("--workers", type=int, default=2,
                        help="run processes, each backfilling a contiguous block of symbols in ranged runs, as the "
                             "daemon runs a backfill's runs side by side (default 2: one per core here)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each database this many times (pipeline, then its ceiling) and print the "
                             "median ratio: on a shared machine one pair can land in different load")
    parser.add_argument("--cpu", action="store_true",
                        help="also print each phase's CPU seconds by process group, read from /proc (Linux)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    if args.cpu and not Path("/proc/self/stat").exists():
        parser.error("--cpu reads /proc, which this system does not have")
    if args.workers < 1 or args.symbols < 1 or args.days < 1 or args.repeat < 1:
        parser.error("--workers, --symbols, --days and --repeat must be at least 1")
    # each instance as its dagster.yaml configures it (the repository's for sqlite, docker/'s for
    # postgres): both event log storages turn Dagster's event batching on themselves
    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    sessions = last_closed_sessions(get_market("us_equities"), args.days)
    config = repo_instance_config() if args.instance == "sqlite" else yaml.safe_load(DOCKER_INSTANCE_YAML.read_text())
    print(f"Dagster instance: {args.instance}, event log {config.get('event_log_storage', {}).get('class', '(default)')}; "
          + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in BOOKKEEPING_ENV))
    print(f"{args.symbols} symbols x {len(sessions)} sessions of 1m bars ({sessions[0]:%Y-%m-%d}.."
          f"{sessions[-1]:%Y-%m-%d}) + 5m 15m 30m 1h 4h 1d 1w, local Polygon server, no rate limit")
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)  # its own core: JSON is CPU work
    server.start()
    try:
        server_url = ready.get(timeout=60)
        ratios: list[float] = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                ratios.append(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", server_url, symbols, sessions,
                                  args.grain, args.instance, args.pg_admin_url, args.workers, server.pid, args.cpu))
        _report("sqlite", ratios)
        if not args.sqlite_only:
            ratios = []
            for _ in range(args.repeat):
                with throwaway_database(args.pg_admin_url, "bp_bench") as url:
                    ratios.append(run("postgresql", url, server_url, symbols, sessions, args.grain, args.instance,
                                      args.pg_admin_url, args.workers, server.pid, args.cpu))
            _report("postgresql", ratios)
    finally:
        stop.set()
        server.join(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
