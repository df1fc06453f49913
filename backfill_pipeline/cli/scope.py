"""Which markets, symbols, timeframes and sessions a scan, report or backfill covers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import pandas as pd

from backfill_pipeline.cli.params import date_option, market_option, split_list, symbols_arg, timeframes_option
from backfill_pipeline.markets import MARKETS, Market, last_closed_sessions, sessions_in_range
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES


@dataclass
class Scope:
    market: Market
    symbols: list[str]
    timeframes: list[str]
    sessions: pd.DatetimeIndex


def scope_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--market", default=None, help=f"One of {', '.join(MARKETS)}; default: all."),
        click.option("--symbols", multiple=True, help="Symbols (space/comma separated) or '*' for all registered (default)."),
        click.option("--timeframes", multiple=True, help="Timeframes; default: all eight."),
        click.option("--start", default=None, help="First session (YYYY-MM-DD); default: BACKFILL_PARTITIONS_START."),
        click.option("--end", default=None, help="Last session (YYYY-MM-DD); default: the last closed session."),
        click.option("--days", type=click.IntRange(1, 100_000), default=None, help="The last N closed sessions."),
    ]):
        fn = option(fn)
    return fn


def resolve_scopes(
    settings: Settings,
    registered: Callable[[Market], list[str]],
    market: str | None,
    symbols: tuple[str, ...],
    timeframes: tuple[str, ...],
    start: str | None,
    end: str | None,
    days: int | None,
) -> list[Scope]:
    """Validate every option first (nothing is read or written before this succeeds)."""
    markets = [market_option(market, settings)] if market else settings.markets()
    tfs = timeframes_option(timeframes) if timeframes else list(TIMEFRAME_NAMES)
    wanted = split_list(symbols)
    explicit = None if not wanted or wanted == ["*"] else symbols_arg(wanted)
    first, last = date_option(start, "--start"), date_option(end, "--end")
    if days is not None and (first or last):
        raise click.UsageError("give either --days or --start/--end, not both")
    if first and last and first > last:
        raise click.BadParameter(f"--start {first} is after --end {last}", param_hint="--start")
    scopes = []
    for mkt in markets:
        known = registered(mkt)
        if explicit is not None:
            unknown = [s for s in explicit if s not in known]
            if unknown and market:
                raise click.BadParameter(f"not registered in {mkt.name}: {', '.join(unknown)}", param_hint="--symbols")
            chosen = [s for s in explicit if s in known]
        else:
            chosen = known
        try:
            if days is not None:
                sessions = last_closed_sessions(mkt, days)
            else:
                closed = last_closed_sessions(mkt, 1)
                stop = last or closed[-1].date()
                sessions = sessions_in_range(mkt, first or settings.partitions_start, min(stop, dt.datetime.now(dt.UTC).date()))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--start/--end") from None
        scopes.append(Scope(mkt, chosen, tfs, sessions))
    if explicit is not None:
        everywhere = {s for sc in scopes for s in sc.symbols}
        missing = [s for s in explicit if s not in everywhere]
        if missing:
            raise click.BadParameter(f"not registered in any market: {', '.join(missing)}", param_hint="--symbols")
    return scopes
