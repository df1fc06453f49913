"""`backfill-pipeline scan`: find every gap, explain it, write a reviewable file."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click
import pandas as pd

from backfill_pipeline.cli.params import load_settings, output_file
from backfill_pipeline.cli.scope import resolve_scopes, scope_options
from backfill_pipeline.gap_file import format_json, format_text
from backfill_pipeline.gaps import GAP_CLASSES, scan, summarize
from backfill_pipeline.instance import get_instance, list_symbols
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import derivation_sources


def run_scan(settings: Settings, scopes, recount: bool = False, echo=None) -> pd.DataFrame:
    from backfill_pipeline.warehouse.store import Warehouse

    warehouse = Warehouse(settings.warehouse())
    try:
        tables = [
            scan(warehouse, sc.market, sc.symbols, sc.timeframes, sc.sessions,
                 derivation_sources(settings.fetched_timeframes(sc.market.name)), recount=recount, progress=echo)
            for sc in scopes if sc.symbols and len(sc.sessions)
        ]
    finally:
        warehouse.dispose()
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["market", "symbol", "timeframe", "session", "expected", "present", "gap_class"])


@click.command("scan")
@scope_options
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the gap partitions here (review and edit, then `backfill --from-file`).")
@click.option("--format", "fmt", type=click.Choice(["txt", "json"]), default="txt", show_default=True)
@click.option("--recount", is_flag=True, help="Count bars with GROUP BY over `bars` instead of the per-session summary.")
def scan_cmd(market, symbols, timeframes, start, end, days, output, fmt, recount) -> None:
    """Compare stored bars with the exchange calendar and classify every gap."""
    if output is not None:
        output_file(output, "--output")
    settings = load_settings()
    instance = get_instance()
    scopes = resolve_scopes(settings, lambda m: list_symbols(instance, m), market, symbols, timeframes, start, end, days)
    started = time.perf_counter()
    table = run_scan(settings, scopes, recount, echo=lambda msg: click.echo(msg, err=True))
    elapsed = time.perf_counter() - started
    summary = summarize(table)
    header = {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "filters": "; ".join(f"{sc.market.name}: {len(sc.symbols)} symbols, {','.join(sc.timeframes)}, "
                             f"{sc.sessions[0]:%Y-%m-%d}..{sc.sessions[-1]:%Y-%m-%d}" if len(sc.sessions) else sc.market.name
                             for sc in scopes),
        "totals": ", ".join(f"{k}={v}" for k, v in summary.items()),
    }
    if output:
        output.write_text(format_text(table, header) if fmt == "txt" else format_json(table, header))
    for sc in scopes:
        click.echo(f"{sc.market.name}: {len(sc.sessions)} sessions in range, {len(sc.symbols)} symbols, "
                   f"{len(sc.timeframes)} timeframes")
    click.echo(f"partitions {summary['partitions']}, complete {summary['complete']}, "
               + ", ".join(f"{c} {summary[c]}" for c in GAP_CLASSES))
    click.echo(f"estimated missing bars {summary['missing_bars']} ({summary['missing_bars_to_fill']} to fill); "
               f"scan took {elapsed:.2f} s")
    if output:
        click.echo(f"gap partitions written to {output}")
