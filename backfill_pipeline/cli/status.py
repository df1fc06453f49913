"""`backfill-pipeline status` and `backfill-pipeline history`: what the backfills did."""

from __future__ import annotations

import json

import click
import pandas as pd

from backfill_pipeline.cli.params import load_settings, market_option, symbols_arg
from backfill_pipeline.markets import MARKETS

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@click.command("status")
@click.option("--market", default=None, help="Only this market.")
@click.option("--batches", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Recent batches per market (a batch: an asset backfill, or the runs of one schedule/sensor tick).")
@_FORMAT
def status_cmd(market: str | None, batches: int, fmt: str) -> None:
    """The last backfill of each market: runs, symbols, bars written, requests, rate-limit waits."""
    markets = [market_option(market).name] if market else list(MARKETS)
    from backfill_pipeline.automation.status import MAX_RUNS_READ, recent_batches  # deferred: Dagster import
    from backfill_pipeline.instance import get_instance, list_symbols
    from backfill_pipeline.scale import scale_warning
    from backfill_pipeline.warehouse.store import Warehouse

    settings = load_settings()
    instance = get_instance()
    warehouse = Warehouse(settings.warehouse())
    try:
        found = {m: recent_batches(instance, warehouse, m, batches) for m in markets}
    finally:
        warehouse.dispose()
    if fmt == "json":
        click.echo(json.dumps({m: [b.as_dict() for b in bs] for m, bs in found.items()}, indent=1))
        return
    for name, items in found.items():
        warning = scale_warning(settings.market(name), settings.partition_grain, settings.partitions_start,
                                len(list_symbols(instance, settings.market(name))))
        if warning:
            click.echo(f"warning: {warning}")
        if not items:
            click.echo(f"{name}: no backfill yet")
            continue
        for b in items:
            partial = f" (in the first {MAX_RUNS_READ} runs)" if b.partial else ""
            click.echo(f"{name}: {b.kind} {b.title!r} started {b.created:%Y-%m-%d %H:%M:%S} UTC")
            if b.partitions_total is not None:
                click.echo(f"  partitions {b.partitions_done:,}/{b.partitions_total:,} done, {b.partitions_failed:,} failed "
                           f"({b.backfill_status}; all markets of the backfill)")
            click.echo(f"  runs      {b.runs_ok} ok, {b.runs_failed} failed, {b.runs_running} running")
            names = " ".join(b.failed_symbols[:10]) + (" ..." if len(b.failed_symbols) > 10 else "")
            failed = f" ({names})" if b.failed_symbols else ""
            click.echo(f"  symbols   {b.symbols_ok} ok, {b.symbols_failed} failed{failed}")
            click.echo(f"  bars      {b.bars_written:,} written{partial}")
            click.echo(f"  fetches   {b.fetches} ({b.failed_fetches} failed), {b.requests} vendor requests")
            click.echo(f"  rate limits {b.rate_limit_waits} rate-limited fetches, "
                       f"{b.rate_limited_runs} runs tagged rate limited")


@click.command("history")
@click.option("--symbol", default=None, help="Only this symbol.")
@click.option("--market", default=None, help="Only this market.")
@click.option("--status", "status", type=click.Choice(["ok", "error", "rate_limited"]), default=None,
              help="Only fetches that ended so.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="Newest N fetches.")
@_FORMAT
def history_cmd(symbol: str | None, market: str | None, status: str | None, limit: int, fmt: str) -> None:
    """Past fetches from the fetch log, newest first: window, bars, success or the error text."""
    mkt = market_option(market).name if market else None
    sym = symbols_arg([symbol])[0] if symbol else None
    from backfill_pipeline.warehouse.status_queries import history
    from backfill_pipeline.warehouse.store import Warehouse

    warehouse = Warehouse(load_settings().warehouse())
    try:
        frame = history(warehouse, mkt, sym, limit, status)
    finally:
        warehouse.dispose()
    if fmt == "json":
        out = frame.assign(fetched_at=frame["fetched_at"].map(lambda t: t.isoformat()),
                           first_session=frame["first_session"].astype(str),
                           last_session=frame["last_session"].astype(str))
        click.echo(json.dumps(out.to_dict(orient="records"), indent=1, default=str))
        return
    if frame.empty:
        click.echo("no fetches recorded" + (" for that filter" if mkt or sym or status else ""))
        return
    for row in frame.itertuples(index=False):
        span = str(row.first_session)
        if row.first_session != row.last_session:
            span += f"..{row.last_session}"
        outcome = "ok" if row.status == "ok" else f"{row.status.upper()}: {row.error}"
        final = "" if row.status != "ok" or row.finalized_sessions == row.sessions else \
            f", {row.sessions - row.finalized_sessions} unfinalized"
        click.echo(f"{_when(row.fetched_at)}  {row.market:<11} {row.symbol:<10} {row.timeframe:<3} {row.vendor:<8} "
                   f"{span} ({row.sessions} sessions): {row.bars} bars, {row.requests} requests{final}  {outcome}"
                   f"  run {str(row.run_id)[:8] if row.run_id else '-'}")


def _when(moment: pd.Timestamp) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"
