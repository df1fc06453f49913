"""`backfill-pipeline symbols add|remove|list`: the symbol partitions of each market."""

from __future__ import annotations

import click

from backfill_pipeline.cli.params import market_option, split_list, symbols_arg
from backfill_pipeline.instance import add_symbols, get_instance, list_symbols, remove_symbols
from backfill_pipeline.markets import MARKETS

_MARKET = click.option("--market", required=True, help=f"One of: {', '.join(MARKETS)}.")


@click.group("symbols")
def symbols_group() -> None:
    """Add, remove or list the symbols (dynamic partitions) of a market."""


@symbols_group.command("add")
@_MARKET
@click.argument("symbols", nargs=-1, required=True)
def add_cmd(market: str, symbols: tuple[str, ...]) -> None:
    """Register SYMBOLS in MARKET (no redeploy: each adds a partition)."""
    mkt, syms = market_option(market), symbols_arg(symbols)
    new = add_symbols(get_instance(), mkt, syms)
    skipped = [s for s in syms if s not in new]
    click.echo(f"{mkt.name}: added {len(new)} symbol(s){': ' + ' '.join(new) if new else ''}")
    if skipped:
        click.echo(f"{mkt.name}: already registered: {' '.join(skipped)}")


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
