"""`backfill-pipeline backfill`: launch a real Dagster asset backfill from a gap file or a range."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backfill_pipeline.cli.follow import backfill_ui_url, follow_backfill, wait_options
from backfill_pipeline.cli.params import load_settings
from backfill_pipeline.cli.scope import resolve_scopes, scope_options
from backfill_pipeline.gap_file import GapEntry, GapFileError, parse
from backfill_pipeline.instance import get_instance, list_symbols
from backfill_pipeline.launch import BACKFILL_TAG, Plan, launch_in_instance, partition_check, plan
from backfill_pipeline.markets import get_market
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.config import env_problems

if TYPE_CHECKING:
    import dagster as dg

URL_OPTION = click.option(
    "--url", default=lambda: os.environ.get("BACKFILL_DAGSTER_URL"),
    help="Dagster webserver (launch through its GraphQL API); default $BACKFILL_DAGSTER_URL, "
    "else the backfill is added to $DAGSTER_HOME's instance directly.")


@click.command("backfill")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A gap file written by `scan` (txt or json).")
@scope_options
@click.option("--dry-run", is_flag=True, help="Print the partitions, runs and requests; launch nothing.")
@URL_OPTION
@click.option("--title", default=None, help="Backfill title shown in the UI.")
@wait_options
def backfill_cmd(from_file, market, symbols, timeframes, start, end, days, dry_run, url, title,
                 wait, poll, timeout) -> None:
    """Launch an asset backfill that the Dagster daemon runs with ranged (single-run) policies.

    With --wait, follow it to the end (partitions done / total, runs, bars, requests, ETA) and
    exit 1 listing the failed partitions if any failed."""
    settings = load_settings()  # checks the warehouse URL too: the runs will read this environment
    instance = get_instance()
    registered = {}
    in_partitions = partition_check(settings)

    def known(market_name: str) -> set[str]:
        if market_name not in registered:
            registered[market_name] = set(list_symbols(instance, get_market(market_name)))
        return registered[market_name]

    if from_file is not None:
        if symbols or timeframes or start or end or days or market:
            raise click.UsageError("--from-file takes no --market/--symbols/--timeframes/--start/--end/--days")
        try:
            entries = parse(from_file.read_text(), known, in_partitions)
        except GapFileError as exc:
            raise click.ClickException(f"{from_file}: nothing launched:\n" + "\n".join(exc.problems)) from None
        except UnicodeDecodeError:
            raise click.ClickException(f"{from_file}: not a text file; nothing launched") from None
    else:
        if not (start or days):
            raise click.UsageError("give --from-file, or a range with --start/--end or --days")
        scopes = resolve_scopes(settings, lambda m: sorted(known(m.name)), market, symbols, timeframes, start, end, days)
        entries = [GapEntry(sc.market.name, tf, sym, s.date())
                   for sc in scopes for tf in sc.timeframes for sym in sc.symbols for s in sc.sessions]
        if not entries:
            raise click.ClickException("the range selects no partitions (no registered symbols or no sessions)")
        # a range is inside the partitions when both its ends are
        ends = [(sc.market.name, tf, s.date()) for sc in scopes if len(sc.sessions) for tf in sc.timeframes
                for s in (sc.sessions[0], sc.sessions[-1])]
        problems = list(dict.fromkeys(p for edge in ends if (p := in_partitions(*edge))))
        if problems:
            raise click.ClickException("the range names sessions without a partition; nothing launched:\n"
                                       + "\n".join(problems))
    config_problems = [] if url else env_problems({settings.vendor(e.market) for e in entries})
    if config_problems:
        raise click.ClickException("vendor configuration; nothing launched:\n" + "\n".join(config_problems))
    the_plan = plan(entries, settings)
    print_plan(the_plan, dry_run)
    if dry_run:
        return
    name = title or (f"gaps from {from_file.name}" if from_file else "range backfill")
    backfill_id = launch_plan(instance, settings, the_plan, name, url)
    if wait:
        follow_backfill(backfill_id, url, poll, timeout)


def launch_plan(instance: dg.DagsterInstance, settings: Settings, the_plan: Plan, name: str, url: str | None) -> str:
    """Launch through the webserver's GraphQL API when `url` is given, else into the instance."""
    if url:
        import httpx

        from backfill_pipeline.graphql_client import GraphQLError, launch_partition_backfill

        try:
            backfill_id = launch_partition_backfill(url, the_plan.partitions, title=name, tags={BACKFILL_TAG: "cli"})
        except (GraphQLError, httpx.HTTPError) as exc:
            raise click.ClickException(f"launch through {url} failed: {exc}") from None
        click.echo(f"launched backfill {backfill_id} through {url}: {backfill_ui_url(url, backfill_id)}")
        return backfill_id
    from backfill_pipeline.definitions import build_definitions

    backfill_id = launch_in_instance(instance, build_definitions(settings), the_plan, name)
    click.echo(f"added backfill {backfill_id} to the instance at $DAGSTER_HOME; "
               "a running daemon (dagster dev / dagster-daemon) executes it")
    return backfill_id


def print_plan(the_plan: Plan, dry_run: bool) -> None:
    for key, keys in the_plan.partitions.items():
        shown = ", ".join(keys[:6]) + (f", ... (+{len(keys) - 6})" if len(keys) > 6 else "")
        click.echo(f"{key}: {len(keys)} partitions: {shown}")
    verb = "would launch" if dry_run else "launching"
    click.echo(f"{verb} {the_plan.partition_count} partitions over {len(the_plan.partitions)} assets: "
               f"~{the_plan.runs_estimate} runs (one per symbol and dependency level), "
               f"{the_plan.requests_text}")
