"""`backfill-pipeline bars`: warehouse data to stdout as CSV or JSON (and the output helpers `macro` shares)."""

from __future__ import annotations

import click
import pandas as pd

from backfill_pipeline.cli.params import date_option, market_option, symbols_arg
from backfill_pipeline.timeframes import TIMEFRAME_NAMES, UnknownTimeframeError, get_timeframe

FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
                       help="csv: a header and one line per row; json: one object per row (records).")


def parse_dates(start: str, end: str) -> tuple[str, str]:
    first, last = date_option(start, "--start"), date_option(end, "--end")
    assert first is not None and last is not None
    if first > last:
        raise click.BadParameter(f"start {first} is after end {last}", param_hint="--start/--end")
    return first.isoformat(), last.isoformat()


def emit(frame: pd.DataFrame, fmt: str) -> None:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    if fmt == "json":
        click.echo(out.to_json(orient="records", double_precision=10))
    else:
        click.echo(out.to_csv(index=False), nl=False)


@click.command("bars")
@click.argument("symbol")
@click.option("--timeframe", default="1d", show_default=True, help=f"One of: {', '.join(TIMEFRAME_NAMES)}.")
@click.option("--start", required=True, help="First session (YYYY-MM-DD).")
@click.option("--end", required=True, help="Last session (YYYY-MM-DD), inclusive.")
@click.option("--market", default=None, help="Market of the symbol; default: the one market that stores it.")
@click.option("--adjusted", is_flag=True, help="Adjust prices for splits and dividends (volumes for splits).")
@click.option("--splits-only", is_flag=True, help="With --adjusted: adjust for splits only.")
@FORMAT_OPTION
def bars_cmd(symbol: str, timeframe: str, start: str, end: str, market: str | None, adjusted: bool,
             splits_only: bool, fmt: str) -> None:
    """Print the stored bars of SYMBOL for sessions START..END, raw or adjusted."""
    from backfill_pipeline.read import ReadError, read_bars  # deferred: the warehouse stack

    (sym,) = symbols_arg([symbol])
    try:
        get_timeframe(timeframe)
    except UnknownTimeframeError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeframe") from None
    mkt = market_option(market).name if market else None
    if splits_only and not adjusted:
        raise click.BadParameter("--splits-only needs --adjusted", param_hint="--splits-only")
    first, last = parse_dates(start, end)
    mode = ("splits" if splits_only else "all") if adjusted else "raw"
    try:
        frame = read_bars(sym, timeframe, first, last, market=mkt, adjust=mode)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    for line in frame.attrs.get("skipped_dividends", []):
        click.echo(f"warning: not adjusted for {line}", err=True)
    emit(frame, fmt)
