"""`backfill-pipeline`: what Dagster's own CLI lacks for this project."""

from __future__ import annotations

from typing import Any

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
from backfill_pipeline.cli.warehouse import warehouse_group
from backfill_pipeline.settings import SettingsError
from backfill_pipeline.warehouse.location import warehouse_url
from backfill_pipeline.warehouse.migrate import WarehouseOutdated


class _Cli(click.Group):
    """Turns the errors of bad configuration into a message and exit code 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SettingsError, WarehouseOutdated) as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            message = _database_error(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


def _database_error(exc: Exception) -> str | None:
    """A database the CLI cannot reach or use (the warehouse, the limiter, the instance)."""
    from backfill_pipeline.warehouse.errors import unusable_database_reason
    from backfill_pipeline.warehouse.urls import redact_url

    reason = unusable_database_reason(exc)
    if reason is None:
        return None
    try:
        where = f" (warehouse: {redact_url(warehouse_url())})"
    except SettingsError:
        where = ""
    return f"database error: {reason}{where}"


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
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
cli.add_command(warehouse_group)


def main() -> None:
    cli()
