"""`backfill --wait` and `symbols add --wait`: show a backfill's progress until it ends.

In a terminal: a rich progress bar (partitions done / total, ETA) with runs, bars written,
vendor requests and rate-limit waits beside it. Otherwise (a pipe, CI logs): one line each
time a figure changes. The exit status is 0 only when every partition was materialised;
otherwise the failed partitions are listed and the command exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import dagster as dg

    from backfill_pipeline.backfill_follow import BackfillProgress

_LISTED = 20  # failed partitions listed per asset


def wait_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--wait, --poll and --timeout of the commands that launch a backfill."""
    fn = click.option("--timeout", type=click.FloatRange(min=1), default=None,
                      help="With --wait: give up following after this many seconds (the backfill goes on).")(fn)
    fn = click.option("--poll", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
                      help="With --wait: seconds between readings.")(fn)
    return click.option("--wait", is_flag=True,
                        help="Follow the backfill to its end; exit 1 listing failed partitions.")(fn)


def backfill_ui_url(url: str, backfill_id: str) -> str:
    base = url.rstrip("/").removesuffix("/graphql")
    return f"{base}/runs/b/{backfill_id}?tab=partitions"


def follow_backfill(backfill_id: str, url: str | None, poll_s: float, timeout_s: float | None) -> None:
    """Follow through the local instance (the one at $DAGSTER_HOME); with only a webserver URL
    whose instance is elsewhere, through its GraphQL API (status and runs only)."""
    from backfill_pipeline.backfill_follow import follow, summary_line
    from backfill_pipeline.cli.params import load_settings
    from backfill_pipeline.dagster_private import backfill_partitions
    from backfill_pipeline.instance import get_instance
    from backfill_pipeline.warehouse.store import Warehouse

    if url:
        click.echo(f"UI: {backfill_ui_url(url, backfill_id)}")
    instance = get_instance()
    if backfill_partitions(instance, backfill_id) is None:
        if not url:
            raise click.ClickException(f"no asset backfill {backfill_id} in the instance at $DAGSTER_HOME")
        _follow_graphql(url, backfill_id, poll_s, timeout_s)
        return
    if not _daemon_alive(instance):
        click.echo("note: no dagster-daemon has reported to this instance in the last minute; the backfill "
                   "starts when one runs with the same DAGSTER_HOME (`dagster dev` or `dagster-daemon run`)")
    warehouse = Warehouse(load_settings().warehouse())
    display = _Display(sys.stdout.isatty())
    try:
        final = follow(instance, warehouse, backfill_id, display.update, poll_s=poll_s,
                                         timeout_s=timeout_s)
    except TimeoutError as exc:
        raise click.ClickException(f"{exc}; it goes on in the daemon") from None
    finally:
        display.close()
        warehouse.dispose()
    click.echo(summary_line(final))
    if final.succeeded:
        return
    failed = final.partitions.failed
    if failed:
        click.echo(f"failed partitions ({final.partitions.failed_count}):")
        for key, keys in failed.items():
            more = f" ... (+{len(keys) - _LISTED})" if len(keys) > _LISTED else ""
            click.echo(f"  {key}: {', '.join(keys[:_LISTED])}{more}")
        click.echo("re-run them: `backfill-pipeline scan` then `backfill --from-file`, "
                   "or re-execute the backfill from failure in the UI")
    raise SystemExit(1)


def _daemon_alive(instance: dg.DagsterInstance, within_s: float = 60.0) -> bool:
    import time

    heartbeats = instance.get_daemon_heartbeats()
    beat = heartbeats.get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < within_s


class _Display:
    def __init__(self, terminal: bool):
        self._last = ""
        self._progress = None
        self._task = None
        if terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("partitions"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), TextColumn("{task.fields[figures]}"))
            self._progress.start()
            self._task = self._progress.add_task("backfill", total=None, figures="")

    def update(self, reading: BackfillProgress) -> None:
        from backfill_pipeline.backfill_follow import summary_line

        if self._progress is not None and self._task is not None:
            b = reading.batch
            figures = (f"runs {b.runs_ok} ok/{b.runs_failed} failed/{b.runs_running} running, "
                       f"{b.bars_written:,} bars, {b.requests:,} requests, {b.rate_limit_waits} rate-limit waits, "
                       f"{reading.partitions.failed_count} failed partitions")
            self._progress.update(self._task, total=reading.partitions.targeted,
                                  completed=reading.finished_partitions, figures=figures)
            return
        line = summary_line(reading)
        # the elapsed/ETA part changes every poll; print when a figure changed
        figures = line.split("; elapsed")[0]
        if figures != self._last:
            click.echo(line)
            self._last = figures

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _follow_graphql(url: str, backfill_id: str, poll_s: float, timeout_s: float | None) -> None:
    import httpx

    from backfill_pipeline.graphql_client import BackfillStatus, GraphQLError, wait_for_backfill

    seen: list[str] = []

    def show(status: BackfillStatus) -> None:
        runs = list(status.run_statuses.values())
        line = (f"{status.status}: {status.num_partitions} partitions; runs {runs.count('SUCCESS')} ok, "
                f"{runs.count('FAILURE') + runs.count('CANCELED')} failed, {len(runs)} in all")
        if not seen or seen[-1] != line:
            click.echo(line)
            seen.append(line)

    try:
        final = wait_for_backfill(url, backfill_id, timeout_s=timeout_s or 10**9, poll_s=poll_s, on_poll=show)
    except (GraphQLError, httpx.HTTPError) as exc:
        raise click.ClickException(f"following {backfill_id} through {url} failed: {exc}") from None
    except TimeoutError as exc:
        raise click.ClickException(f"{exc}; it goes on in the daemon") from None
    if not final.succeeded:
        click.echo(f"backfill ended {final.status}; see the failed partitions at {backfill_ui_url(url, backfill_id)}")
        raise SystemExit(1)
