"""`backfill-pipeline macro`: the daily macro table, point in time or latest, as CSV or JSON."""

from __future__ import annotations

import click

from backfill_pipeline.cli.params import date_option
from backfill_pipeline.cli.read import FORMAT_OPTION, emit, parse_dates


@click.command("macro")
@click.option("--start", required=True, help="First session (YYYY-MM-DD).")
@click.option("--end", required=True, help="Last session (YYYY-MM-DD), inclusive.")
@click.option("--view", type=click.Choice(["pit", "latest"]), default="pit", show_default=True,
              help="pit: for each session the latest value known at its close (no look-ahead); "
              "latest: today's revised values dated by observation (look-ahead).")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="What did we know on DATE: ignore every value released after it.")
@click.option("--series", "series", multiple=True, metavar="ID",
              help="Only these FRED series ids or field names (repeat or comma-separate); default: all configured.")
@click.option("--long", "long_", is_flag=True, help="One row per session and field, with release date, age and status.")
@FORMAT_OPTION
def macro_cmd(start: str, end: str, view: str, as_of: str | None, series: tuple[str, ...], long_: bool,
              fmt: str) -> None:
    """Print the daily macro table for sessions START..END: each value with its observation
    date and its release date (`<field>_date`, `<field>_released`)."""
    from backfill_pipeline.read import ReadError, read_macro  # deferred: the warehouse stack

    first, last = parse_dates(start, end)
    cutoff = date_option(as_of, "--as-of") if as_of else None
    wanted = [s for item in series for s in item.split(",") if s.strip()] or None
    try:
        frame = read_macro(first, last, long=long_, view=view, as_of=cutoff, series=wanted)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    emit(frame, fmt)
