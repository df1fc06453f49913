"""Helpers shared by tests: materialise OHLCV assets against a given warehouse."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.names import bars_resource_key, ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.schema import bars_by_series, fetch_log


def materialize(
    instance: dg.DagsterInstance,
    warehouse_url: str,
    market: str,
    timeframes: list[str],
    *,
    partition_key: str | None = None,
    start: str | None = None,
    end: str | None = None,
    demo: DemoVendorResource | None = None,
    settings: Settings | None = None,
    extra: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings or Settings())
    tags = {}
    if start and end:
        tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return dg.materialize(
        list(defs.assets),  # type: ignore[arg-type]
        selection=[ohlcv_key(market, tf) for tf in timeframes] + (extra or []),
        instance=instance,
        resources={**(defs.resources or {}), "warehouse": WarehouseResource(url=warehouse_url),
                   **demo_bars(settings or Settings(), demo)},
        partition_key=partition_key,
        tags=tags,
        raise_on_error=False,
    )


def demo_bars(settings: Settings, demo: DemoVendorResource | None = None) -> dict[str, DemoVendorResource]:
    """`demo` (default: a plain DemoVendorResource) as the bar vendor of every demo market."""
    resource = demo or DemoVendorResource()
    return {bars_resource_key(m.name): resource for m in settings.markets() if settings.vendor(m.name) == "demo"}


def table_rows(url: str, table=bars_by_series) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        order = list(table.primary_key.columns) or [table.c[k] for k in ("market", "symbol", "timeframe", "ts")]
        rows = conn.execute(sa.select(table).order_by(*order)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def fetch_rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(fetch_log).order_by(fetch_log.c.id)).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]
