"""<market>_daily_schedule: fetch the sessions that became final since the previous tick.

The cron runs in UTC (BACKFILL_SCHEDULE_HOUR/_MINUTE, default 02:00, or any
BACKFILL_SCHEDULE_CRON for several ticks a day). A tick requests every session whose close
plus the vendor's finalisation delay falls in (previous tick, this tick], so each session
is fetched once, final, whatever the cron: a Saturday tick takes Friday, Sunday and Monday
ticks find nothing (skipped), and the session in progress is never requested. DST needs no
care: closes are UTC instants from the exchange calendar.

Runs: one ranged request per block of registered symbols (contiguous, at most
BACKFILL_SYMBOLS_PER_RUN) for the market's `<market>_ohlcv_job`: every fetched timeframe,
and the derived timeframes of the same grain follow in the same run. 1w follows through
the weekly rollup sensor once the 1d run has stored its bars (a separate run could start
before the 1d one ends).
"""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import pandas as pd

from backfill_pipeline.assets.retries import finalization_delay
from backfill_pipeline.automation.jobs import AssetJob, JobGroup, job_groups
from backfill_pipeline.automation.requests import date_runs, ranged_request, symbol_blocks
from backfill_pipeline.markets import Market, schedule_bounds
from backfill_pipeline.names import daily_schedule_name
from backfill_pipeline.partitions import date_key
from backfill_pipeline.settings import Settings

ORIGIN = "schedule"


def previous_tick(cron: str, tick: dt.datetime) -> dt.datetime:
    from backfill_pipeline.dagster_private import cron_ticks_before

    return next(cron_ticks_before(cron, tick.timestamp() - 1))


def sessions_final_between(
    market: Market, delay: pd.Timedelta, after: dt.datetime, until: dt.datetime,
) -> pd.DatetimeIndex:
    """Sessions whose close (in the market's hours) + delay lies in (after, until]."""
    final = schedule_bounds(market)[1] + delay
    lo = final.searchsorted(pd.Timestamp(after), side="right")
    hi = final.searchsorted(pd.Timestamp(until), side="right")
    return pd.DatetimeIndex(final.index[lo:hi])


def schedule_requests(
    group: JobGroup, symbols: Sequence[str], sessions: pd.DatetimeIndex, max_symbols: int, tick: dt.datetime,
) -> list[dg.RunRequest]:
    keys = sorted({date_key(group.grain, s) for s in sessions})
    stamp = f"{tick.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"
    requests = []
    for first, last in date_runs(keys, keys):
        for block in symbol_blocks(symbols, symbols, max_symbols):
            requests.append(ranged_request(group, None, first, last, block, ORIGIN,
                                           batch=f"{ORIGIN}:{group.market.name}:{stamp}",
                                           run_key_prefix=f"{group.name}:{stamp}"))
    return requests


def build_schedule(settings: Settings, market: Market, job: AssetJob) -> dg.ScheduleDefinition:
    cfg = settings.automation
    group = job_groups(settings, market)[0]
    cron = cfg.cron

    @dg.schedule(
        name=daily_schedule_name(market.name),
        cron_schedule=cron,
        execution_timezone="UTC",
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING if cfg.default_running else dg.DefaultScheduleStatus.STOPPED,
        description=f"At {cron} (UTC): ranged runs of {group.name} for the {market.name} sessions that became final "
        f"since the previous tick, every registered symbol, blocks of up to {cfg.symbols_per_run} symbols.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)  # None: "test schedule" in the UI
        sessions = sessions_final_between(market, finalization_delay(settings.vendor(market.name)),
                                          previous_tick(cron, tick), tick)
        if not len(sessions):
            return dg.SkipReason(f"no {market.name} session became final since the previous tick "
                                 f"({previous_tick(cron, tick):%Y-%m-%d %H:%M} UTC)")
        symbols = list(context.instance.get_dynamic_partitions(market.symbols_partitions_name))
        if not symbols:
            return dg.SkipReason(f"no symbols registered in {market.name}")
        days = ", ".join(f"{s:%Y-%m-%d}" for s in sessions)
        context.log.info(f"{market.name}: sessions {days} x {len(symbols)} symbols")
        return schedule_requests(group, symbols, sessions, cfg.symbols_per_run, tick)

    return _schedule


def build_schedules(settings: Settings, jobs: dict[str, AssetJob]) -> list[dg.ScheduleDefinition]:
    return [build_schedule(settings, market, jobs[job_groups(settings, market)[0].name]) for market in settings.markets()]
