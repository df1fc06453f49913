"""`backfill-pipeline`: what Dagster's own CLI lacks for this project."""

from __future__ import annotations

import click

from backfill_pipeline.cli.demo import demo_cmd
from backfill_pipeline.cli.symbols import symbols_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Keep a market-data warehouse complete (Dagster code location: backfill_pipeline)."""


cli.add_command(symbols_group)
cli.add_command(demo_cmd)


def main() -> None:
    cli()
