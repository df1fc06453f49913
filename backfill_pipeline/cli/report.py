"""`backfill-pipeline report`: completeness per symbol x timeframe, matrix, heatmap, compare."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import pandas as pd

from backfill_pipeline.cli.params import load_settings, output_file
from backfill_pipeline.cli.scan import run_scan
from backfill_pipeline.cli.scope import resolve_scopes, scope_options
from backfill_pipeline.instance import get_instance, list_symbols
from backfill_pipeline.report import ReportFileError, compare, heatmap, matrix, series_report, to_json, to_markdown


@click.command("report")
@scope_options
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here (a heatmap PNG is written next to it); default: print it.")
@click.option("--heatmap", "heatmap_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the symbol x session heatmap PNG here.")
@click.option("--compare", "compare_paths", nargs=2, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="BEFORE.json AFTER.json: print the reduction in missing bars.")
def report_cmd(market, symbols, timeframes, start, end, days, fmt, output, heatmap_path, compare_paths) -> None:
    """Completeness per symbol x timeframe: %, missing bars, first/last bar, gaps by class."""
    if compare_paths:
        try:
            click.echo(compare(*compare_paths))
        except ReportFileError as exc:
            raise click.ClickException(str(exc)) from None
        return
    for path, hint in ((output, "--output"), (heatmap_path, "--heatmap")):
        if path is not None:
            output_file(path, hint)
    settings = load_settings()
    instance = get_instance()
    scopes = resolve_scopes(settings, lambda m: list_symbols(instance, m), market, symbols, timeframes, start, end, days)
    table = run_scan(settings, scopes, echo=lambda msg: click.echo(msg, err=True))
    from backfill_pipeline.warehouse.store import Warehouse

    warehouse = Warehouse(settings.warehouse())
    bounds = pd.concat(
        [warehouse.series_bounds(sc.market.name, sc.sessions[0].date(), sc.sessions[-1].date()).assign(market=sc.market.name)
         for sc in scopes if len(sc.sessions)], ignore_index=True)
    warehouse.dispose()
    report = series_report(table, bounds)
    header = {"generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ranges": "; ".join(f"{sc.market.name} {sc.sessions[0]:%Y-%m-%d}..{sc.sessions[-1]:%Y-%m-%d}"
                                  for sc in scopes if len(sc.sessions)),
              "missing_bars": int(report["missing"].sum())}
    text = to_markdown(report, header) if fmt == "md" else to_json(report, header)
    if output:
        output.write_text(text)
        heatmap_path = heatmap_path or output.with_suffix(".png")
        click.echo(f"report written to {output}")
    else:
        click.echo(text if fmt == "json" else to_markdown(report, header))
    if heatmap_path and not table.empty:
        heatmap(table, heatmap_path)
        click.echo(f"heatmap written to {heatmap_path}", err=output is None)
    if output is None and fmt == "md":
        return
    click.echo(matrix(report).to_string(float_format=lambda v: f"{v:.1f}") if not report.empty else "no data")
