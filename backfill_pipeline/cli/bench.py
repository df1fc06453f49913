"""`backfill-pipeline bench <name> [args]`: the project's benchmarks (commands that print figures)."""

from __future__ import annotations

import importlib

import click

BENCHMARKS = {
    "scan": ("backfill_pipeline.bench.scan", "gap scan of N symbols x D sessions of 1m bars (SQLite, PostgreSQL)"),
    "vendors": ("backfill_pipeline.bench.vendors", "Polygon backfill against a rate-limited local server, 1 vs 4 processes"),
    "sensor": ("backfill_pipeline.bench.sensor_tick", "one gap-fill sensor tick over a large universe"),
    "backfill": ("backfill_pipeline.bench.backfill", "end-to-end backfill from a local Polygon server, vs the raw write ceiling"),
    "storage": ("backfill_pipeline.bench.storage", "bytes per bar and bulk-load bars/s vs the raw write ceiling (SQLite, PostgreSQL)"),
    "workers": ("backfill_pipeline.bench.workers", "one backfill on the local distributed deployment with 1, 2, 3 Celery workers"),
}


@click.command("bench", add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_cmd(name: str, args: tuple[str, ...]) -> None:
    """Run a benchmark; `bench NAME --help` lists its options.

    \b
    scan      gap scan of N symbols x D sessions of 1m bars (SQLite, PostgreSQL)
    vendors   Polygon backfill against a rate-limited local server, 1 vs 4 processes
    sensor    one gap-fill sensor tick over a large universe
    backfill  end-to-end backfill from a local Polygon server, vs the raw write ceiling
    storage   bytes per bar and bulk-load bars/s vs the raw write ceiling (SQLite, PostgreSQL)
    workers   one backfill on the local distributed deployment with 1, 2, 3 Celery workers
    """
    module_name, _ = BENCHMARKS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise click.ClickException(f"benchmark {name!r} is not built yet ({module_name})") from None
    raise SystemExit(module.main(list(args)))
