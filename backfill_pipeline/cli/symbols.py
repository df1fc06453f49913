"""`backfill-pipeline symbols add|remove|list`: the symbol partitions of each market."""

from __future__ import annotations

import datetime as dt
import re

import click
import pandas as pd

from backfill_pipeline.cli.backfill import URL_OPTION, launch_plan
from backfill_pipeline.cli.follow import follow_backfill, wait_options
from backfill_pipeline.cli.params import load_settings, market_option, split_list, symbols_arg
from backfill_pipeline.gap_file import GapEntry
from backfill_pipeline.instance import add_symbols, get_instance, list_symbols, remove_symbols
from backfill_pipeline.launch import plan
from backfill_pipeline.markets import MARKETS, Market, last_closed_sessions, sessions_in_range
from backfill_pipeline.scale import scale_warning
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES
from backfill_pipeline.vendors.config import env_problems

_MARKET = click.option("--market", required=True, help=f"One of: {', '.join(MARKETS)}.")


@click.group("symbols")
def symbols_group() -> None:
    """Add, remove or list the symbols (dynamic partitions) of a market."""


@symbols_group.command("add")
@_MARKET
@click.argument("symbols", nargs=-1, required=True)
@click.option("--history", default=None, metavar="SPAN",
              help="Also launch the backfill of every timeframe over this span back from the last closed "
              "session: 5y (years), 18m (months) or 30d (sessions), from no earlier than BACKFILL_PARTITIONS_START.")
@URL_OPTION
@wait_options
def add_cmd(market: str, symbols: tuple[str, ...], history: str | None, url: str | None, wait: bool,
            poll: float, timeout: float | None) -> None:
    """Register SYMBOLS in MARKET (no redeploy: each adds a partition); with --history, load
    their history too (one asset backfill of every timeframe; --wait follows it)."""
    settings = load_settings()
    mkt, syms = market_option(market, settings), symbols_arg(symbols)
    if wait and not history:
        raise click.UsageError("--wait follows the history backfill: give --history too")
    sessions = history_sessions(history, mkt, settings) if history else None  # validated before writing
    config_problems = env_problems({settings.vendor(mkt.name)}) if history and not url else []
    if config_problems:
        raise click.ClickException("vendor configuration; nothing registered or launched:\n" + "\n".join(config_problems))
    instance = get_instance()
    new = add_symbols(instance, mkt, syms)
    skipped = [s for s in syms if s not in new]
    click.echo(f"{mkt.name}: added {len(new)} symbol(s){': ' + ' '.join(new) if new else ''}")
    if skipped:
        click.echo(f"{mkt.name}: already registered: {' '.join(skipped)}")
    warning = scale_warning(mkt, settings.partition_grain, settings.partitions_start, len(list_symbols(instance, mkt)))
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if sessions is None:
        return
    entries = [GapEntry(mkt.name, tf, sym, s.date()) for tf in TIMEFRAME_NAMES for sym in syms for s in sessions]
    the_plan = plan(entries, settings)
    click.echo(f"history {sessions[0]:%Y-%m-%d}..{sessions[-1]:%Y-%m-%d} ({len(sessions)} sessions) of "
               f"{' '.join(syms)}: {the_plan.partition_count:,} partitions over {len(the_plan.partitions)} assets, "
               f"~{the_plan.runs_estimate} runs, {the_plan.requests_text}")
    backfill_id = launch_plan(instance, settings, the_plan, f"history of {' '.join(syms)} ({history})", url)
    if wait:
        follow_backfill(backfill_id, url, poll, timeout)


def history_sessions(span: str, market: Market, settings: Settings) -> pd.DatetimeIndex:
    """The sessions of `span` (5y, 18m, 30d) ending at the last closed session, clipped to
    BACKFILL_PARTITIONS_START (the first partition)."""
    match = re.fullmatch(r"\s*(\d+)\s*([ymd])\s*", span.lower())
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(f"{span!r}: expected a span such as 5y, 18m or 30d", param_hint="--history")
    count, unit = int(match.group(1)), match.group(2)
    last = last_closed_sessions(market, 1)[-1]
    if unit == "d":
        if count > 100_000:
            raise click.BadParameter(f"{span!r}: at most 100000 sessions", param_hint="--history")
        sessions = last_closed_sessions(market, count)
    else:
        months = count * 12 if unit == "y" else count
        first = (last - pd.DateOffset(months=months)).date() + dt.timedelta(days=1)
        first = max(first, settings.partitions_start)
        sessions = sessions_in_range(market, first, last.date()) if first <= last.date() else pd.DatetimeIndex([])
    sessions = sessions[sessions >= pd.Timestamp(settings.partitions_start)]
    if not len(sessions):
        raise click.BadParameter(f"{span!r} ends before BACKFILL_PARTITIONS_START={settings.partitions_start}",
                                 param_hint="--history")
    return sessions


@symbols_group.command("remove")
@_MARKET
@click.argument("symbols", nargs=-1, required=True)
def remove_cmd(market: str, symbols: tuple[str, ...]) -> None:
    """Unregister SYMBOLS from MARKET (stored bars are kept).

    A name is the registered key as spelled (so a symbol added in the UI as `nflx` can be
    removed as `nflx`), else its upper-case form (`msft` removes MSFT)."""
    mkt, names = market_option(market), split_list(symbols)
    try:
        removed = remove_symbols(get_instance(), mkt, names)
    except KeyError as exc:
        raise click.ClickException(f"{exc.args[0]}; nothing was removed") from None
    click.echo(f"{mkt.name}: removed {' '.join(removed)}")


@symbols_group.command("list")
@click.option("--market", default=None, help="Only this market.")
def list_cmd(market: str | None) -> None:
    """List registered symbols per market."""
    markets = [market_option(market)] if market else list(MARKETS.values())
    instance = get_instance()
    for mkt in markets:
        symbols = list_symbols(instance, mkt)
        click.echo(f"{mkt.name} ({len(symbols)}): {' '.join(symbols)}")
