"""`backfill-pipeline`: what Dagster's own CLI lacks for this project."""

from __future__ import annotations

import click

from backfill_pipeline.cli.backfill import backfill_cmd
from backfill_pipeline.cli.bench import bench_cmd
from backfill_pipeline.cli.demo import demo_cmd
from backfill_pipeline.cli.macro import macro_cmd
from backfill_pipeline.cli.read import bars_cmd
from backfill_pipeline.cli.report import report_cmd
from backfill_pipeline.cli.scan import scan_cmd
from backfill_pipeline.cli.status import history_cmd, status_cmd
from backfill_pipeline.cli.symbols import symbols_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Keep a market-data warehouse complete (Dagster code location: backfill_pipeline)."""


cli.add_command(symbols_group)
cli.add_command(demo_cmd)
cli.add_command(scan_cmd)
cli.add_command(backfill_cmd)
cli.add_command(report_cmd)
cli.add_command(bench_cmd)
cli.add_command(bars_cmd)
cli.add_command(macro_cmd)
cli.add_command(status_cmd)
cli.add_command(history_cmd)


def main() -> None:
    cli()
