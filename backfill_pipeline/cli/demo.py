"""`backfill-pipeline demo`: register a demo universe, backfill it through Dagster, report."""

from __future__ import annotations

import datetime as dt
import time

import click
import pandas as pd

from backfill_pipeline.cli.params import date_option, load_settings, market_option, symbols_arg, timeframes_option
from backfill_pipeline.gaps import scan
from backfill_pipeline.instance import add_symbols, ensure_dagster_home, get_instance
from backfill_pipeline.markets import Market, last_closed_sessions
from backfill_pipeline.report import matrix, series_report
from backfill_pipeline.timeframes import TIMEFRAME_NAMES, derivation_sources
from backfill_pipeline.warehouse.urls import redact_url

_CRYPTO_QUOTES = ("-USD", "-USDT", "-EUR", "-BTC")


def assign_markets(symbols: list[str], only: Market | None) -> dict[str, list[str]]:
    """Symbols per market name: --market wins; else crypto pairs (BTC-USD) go to crypto."""
    out: dict[str, list[str]] = {}
    for symbol in symbols:
        name = only.name if only else "crypto" if symbol.endswith(_CRYPTO_QUOTES) else "us_equities"
        out.setdefault(name, []).append(symbol)
    return out


@click.command("demo")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 3650), help="Sessions to backfill per market.")
@click.option("--symbols", "symbols", multiple=True, help="Symbols (space or comma separated); default: the demo universe.")
@click.option("--market", default=None, help="Only this market (symbols go to it).")
@click.option("--timeframes", "timeframes", multiple=True, help="Timeframes to backfill; default: all eight.")
@click.option("--end", "end", default=None, help="Last session to include (YYYY-MM-DD); default: the last closed one.")
def demo_cmd(days: int, symbols: tuple[str, ...], market: str | None, timeframes: tuple[str, ...], end: str | None) -> None:
    """Backfill the last DAYS sessions of every timeframe through Dagster and print coverage."""
    settings = load_settings()
    only = market_option(market, settings) if market else None
    wanted = symbols_arg(symbols) if symbols else []
    chosen = tuple(timeframes_option(timeframes)) if timeframes else TIMEFRAME_NAMES
    last_day = date_option(end, "--end")
    now = None
    if last_day is not None:
        if last_day > dt.datetime.now(dt.UTC).date():
            raise click.BadParameter(f"{last_day} is in the future", param_hint="--end")
        now = pd.Timestamp(last_day + dt.timedelta(days=1), tz="UTC") + pd.Timedelta(hours=12)
    if wanted:
        universe = assign_markets(wanted, only)
    else:
        markets = [only] if only else settings.markets()
        universe = {m.name: list(m.demo_symbols) for m in markets}

    from backfill_pipeline.definitions import build_definitions  # deferred: loads Dagster defs
    from backfill_pipeline.local_runs import materialize_range
    from backfill_pipeline.warehouse.store import Warehouse

    sessions_by_market: dict[str, pd.DatetimeIndex] = {}
    for name in universe:  # validate everything before writing anything
        try:
            sessions_by_market[name] = last_closed_sessions(settings.market(name), days, now)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    started = time.perf_counter()
    home = ensure_dagster_home()
    click.echo(f"DAGSTER_HOME={home}\nwarehouse={redact_url(settings.warehouse())}")
    defs = build_definitions(settings)
    instance = get_instance()
    runs = []
    for name, syms in universe.items():
        mkt, sessions = settings.market(name), sessions_by_market[name]
        add_symbols(instance, mkt, syms)
        click.echo(f"{name}: {len(syms)} symbols x {len(sessions)} sessions "
                   f"({sessions[0]:%Y-%m-%d}..{sessions[-1]:%Y-%m-%d}), vendor {settings.vendor(name)}")
        def starting(assets: list[str], first: str, last: str) -> None:
            click.echo(f"  running {', '.join(assets)} for {first} .. {last} (one ranged run)...")

        for summary in materialize_range(defs, instance, settings, mkt, syms, sessions, chosen, on_start=starting):
            runs.append(summary)
            state = "ok" if summary.success else "FAILED"
            click.echo(f"  run {summary.run_id[:8]} {state}: {', '.join(summary.assets)} "
                       f"-> {summary.bars_written} bars, {summary.requests} vendor requests")
    elapsed = time.perf_counter() - started

    warehouse = Warehouse(settings.warehouse())
    tables = [scan(warehouse, settings.market(n), syms, list(chosen), sessions_by_market[n],
                   derivation_sources(settings.fetched_timeframes(n))) for n, syms in universe.items()]
    warehouse.dispose()
    table = series_report(pd.concat(tables, ignore_index=True))
    click.echo("\nCompleteness % (symbol x timeframe):")
    click.echo(matrix(table).to_string(float_format=lambda v: f"{v:.1f}"))
    failed = [r for r in runs if not r.success]
    click.echo(
        f"\n{len(runs)} Dagster runs ({len(failed)} failed), {sum(r.bars_written for r in runs)} bars written, "
        f"{sum(r.requests for r in runs)} vendor requests, missing bars {int(table['missing'].sum())}, "
        f"wall time {elapsed:.1f} s"
    )
    click.echo("See the runs: DAGSTER_HOME=" + str(home) + " dagster dev")
    if failed:
        raise SystemExit(1)
