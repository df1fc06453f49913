"""`backfill-pipeline warehouse status|upgrade`: the warehouse's schema revision and size, and its upgrade."""

from __future__ import annotations

import click

from backfill_pipeline.warehouse.location import warehouse_url
from backfill_pipeline.warehouse.urls import redact_url


@click.group("warehouse")
def warehouse_group() -> None:
    """The warehouse's schema: status (revision, rows, bytes per bar) and upgrade."""


@warehouse_group.command("status")
def status_cmd() -> None:
    """Print the schema revision, row counts and bytes per bar of the warehouse."""
    from backfill_pipeline.warehouse.storage import status_lines
    from backfill_pipeline.warehouse.store import Warehouse

    url = warehouse_url()
    warehouse = Warehouse(url, check_schema=False)
    try:
        click.echo(f"warehouse: {redact_url(url)}")
        for line in status_lines(warehouse):
            click.echo(line)
    finally:
        warehouse.dispose()


@warehouse_group.command("upgrade")
def upgrade_cmd() -> None:
    """Upgrade the warehouse's schema to this release's revision, in one transaction (no bar,
    fetch-log row or feature is lost; back the warehouse up first all the same)."""
    from backfill_pipeline.warehouse.storage import row_counts, upgrade_warehouse
    from backfill_pipeline.warehouse.store import Warehouse

    url = warehouse_url()
    warehouse = Warehouse(url, check_schema=False)
    try:
        before_rows = row_counts(warehouse)
        before, after = upgrade_warehouse(warehouse)
        after_rows = row_counts(warehouse)
    finally:
        warehouse.dispose()
    if before == after:
        click.echo(f"warehouse {redact_url(url)} is already at revision {after}")
        return
    kept = ", ".join(f"{t} {after_rows.get(t, 0):,}" for t in ("bars", "fetch_log", "vendor_requests", "features")
                     if t in before_rows)
    click.echo(f"warehouse {redact_url(url)} upgraded from revision {before or 'none'} to {after} ({kept})")
