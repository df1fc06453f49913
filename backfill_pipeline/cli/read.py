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


def _newest_stored(symbol: str, timeframe: str, market: str | None) -> str:
    from backfill_pipeline.markets import MARKETS
    from backfill_pipeline.warehouse.location import warehouse_url
    from backfill_pipeline.warehouse.store import Warehouse

    warehouse = Warehouse(warehouse_url())
    try:
        found = {m: day for m in ([market] if market else list(MARKETS))
                 if (day := warehouse.latest_sessions(m, timeframe, [symbol]).get(symbol)) is not None}
    finally:
        warehouse.dispose()
    if not found:
        raise click.ClickException(f"no {timeframe} bars stored for {symbol}" + (f" in {market}" if market else ""))
    if len(found) > 1:
        raise click.ClickException(f"{symbol} is stored in {', '.join(found)}: give --market")
    return next(iter(found.values())).isoformat()


@click.command("bars")
@click.argument("symbol")
@click.option("--timeframe", default="1d", show_default=True, help=f"One of: {', '.join(TIMEFRAME_NAMES)}.")
@click.option("--start", default=None, help="First session (YYYY-MM-DD); default: the newest stored session.")
@click.option("--end", default=None, help="Last session (YYYY-MM-DD), inclusive; default: the newest stored session.")
@click.option("--market", default=None, help="Market of the symbol; default: the one market that stores it.")
@click.option("--adjusted", is_flag=True, help="Adjust prices for splits and dividends (volumes for splits).")
@click.option("--splits-only", is_flag=True, help="With --adjusted: adjust for splits only.")
@FORMAT_OPTION
def bars_cmd(symbol: str, timeframe: str, start: str | None, end: str | None, market: str | None, adjusted: bool,
             splits_only: bool, fmt: str) -> None:
    """Print the stored bars of SYMBOL for sessions START..END, raw or adjusted.

    Without --start and --end: the newest stored session (week for 1w); with only --start:
    from there to the newest stored session; with only --end: that session."""
    from backfill_pipeline.read import ReadError, read_bars  # deferred: the warehouse stack

    (sym,) = symbols_arg([symbol])
    try:
        get_timeframe(timeframe)
    except UnknownTimeframeError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeframe") from None
    mkt = market_option(market).name if market else None
    if splits_only and not adjusted:
        raise click.BadParameter("--splits-only needs --adjusted", param_hint="--splits-only")
    if start is None or end is None:
        date_option(start, "--start"), date_option(end, "--end")  # a bad date is named before reading
        newest = _newest_stored(sym, timeframe, mkt) if end is None else end
        start, end = start or newest, end or newest
    first, last = parse_dates(start, end)
    mode = ("splits" if splits_only else "all") if adjusted else "raw"
    try:
        frame = read_bars(sym, timeframe, first, last, market=mkt, adjust=mode)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    for line in frame.attrs.get("skipped_dividends", []):
        click.echo(f"warning: not adjusted for {line}", err=True)
    emit(frame, fmt)
