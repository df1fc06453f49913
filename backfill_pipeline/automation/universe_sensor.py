"""universe_sync_sensor: keeps each market's symbol partitions equal to the universe file.

Every tick reads the file (BACKFILL_UNIVERSE_FILE, default ./universe.yaml, relative to the
code server's working directory). For each market the file names:
- an active symbol that is not registered is added, and its history backfill is requested
  in the same tick: BACKFILL_NEW_SYMBOL_DEPTH_<TF>_DAYS of each fetched timeframe (default
  5 years of 1d, 2 years of intraday), derived timeframes of the same grain in the same
  run, 1w after its 1d through the weekly rollup sensor;
- a registered symbol that is inactive or absent is removed from the partition set. Its
  bars stay in the warehouse and its runs in Dagster; with no partition, no schedule or
  sensor requests it any more (they only request registered symbols), and the UI's
  partition grid stays the active universe. Re-activating it re-adds the partition and
  its materialisations show again (Dagster keys them by the partition key).
No file: nothing changes (the CLI's `symbols add/remove` rule). A malformed file fails the
tick with every problem and its line, and nothing changes.
"""

import datetime as dt
from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd

from backfill_pipeline.automation.jobs import AssetJob, JobGroup, job_groups
from backfill_pipeline.automation.requests import ranged_request, symbol_blocks
from backfill_pipeline.automation.universe import UniverseEntry, load
from backfill_pipeline.markets import Market, last_closed_sessions, sessions_in_range
from backfill_pipeline.names import UNIVERSE_SENSOR
from backfill_pipeline.partitions import date_key
from backfill_pipeline.scale import scale_warning
from backfill_pipeline.settings import Settings

ORIGIN = "universe_sync"


def history_requests(
    settings: Settings, group: JobGroup, order: Sequence[str], new: Sequence[str], now: pd.Timestamp,
) -> list[dg.RunRequest]:
    """One ranged request per fetched timeframe (with what derives from it) per symbol block."""
    market, cfg = group.market, settings.automation
    last = last_closed_sessions(market, 1, now)[-1].date()
    stamp = f"{now:%Y-%m-%dT%H:%MZ}"
    requests = []
    for root in [tf for tf in group.timeframes if group.sources[tf] is None]:
        first = max(settings.partitions_start, last - dt.timedelta(days=cfg.depth_days(root)))
        sessions = sessions_in_range(market, first, last)
        if not len(sessions):
            continue
        selection = frozenset(tf for tf in group.timeframes if group.root(tf) == root)
        for block in symbol_blocks(order, new, cfg.symbols_per_run):
            requests.append(ranged_request(
                group, None if selection == frozenset(group.timeframes) else selection,
                date_key(group.grain, sessions[0]), date_key(group.grain, sessions[-1]), block, ORIGIN,
                batch=f"{ORIGIN}:{market.name}:{stamp}",
                run_key_prefix=f"universe:{market.name}:{root}:{now:%Y-%m-%d}"))
    return requests


def diff(market: Market, entries: list[UniverseEntry], registered: Sequence[str]) -> tuple[list[str], list[str]]:
    """(to add in file order, to remove in registration order)."""
    active = [e.symbol for e in entries if e.active]
    wanted = set(active)
    current = set(registered)
    return [s for s in active if s not in current], [s for s in registered if s not in wanted]


def build_universe_sensor(
    settings: Settings, jobs: Sequence[AssetJob], clock: Callable[[], pd.Timestamp] | None = None,
) -> dg.SensorDefinition:
    cfg = settings.automation
    now_fn = clock or (lambda: pd.Timestamp.now(tz="UTC"))

    @dg.sensor(
        name=UNIVERSE_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING if cfg.default_running else dg.DefaultSensorStatus.STOPPED,
        description=f"Keeps each market's symbol partitions equal to the active symbols of {cfg.universe_file} "
        "(BACKFILL_UNIVERSE_FILE); a new symbol gets its history backfill, an inactive one is removed from the "
        "partitions (its data is kept).",
    )
    def universe_sync_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        path = cfg.universe_file
        if not path.is_file():
            return dg.SensorResult(skip_reason=f"no universe file at {path.resolve()} (BACKFILL_UNIVERSE_FILE); "
                                               "symbol partitions unchanged")
        universe = load(path)  # a malformed file raises: the tick fails with the problems, nothing changes
        now = now_fn()
        partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        run_requests: list[dg.RunRequest] = []
        changes = []
        for name, entries in universe.items():
            market = settings.market(name)
            registered = list(context.instance.get_dynamic_partitions(market.symbols_partitions_name))
            added, removed = diff(market, entries, registered)
            if removed:
                partition_requests.append(dg.DeleteDynamicPartitionsRequest(market.symbols_partitions_name, removed))
                changes.append(f"{name}: removed {' '.join(removed)} (inactive or not listed; data kept)")
            if added:
                partition_requests.append(dg.AddDynamicPartitionsRequest(market.symbols_partitions_name, added))
                order = [s for s in registered if s not in removed] + added
                run_requests += history_requests(settings, job_groups(settings, market)[0], order, added, now)
                changes.append(f"{name}: added {' '.join(added)}")
                warning = scale_warning(market, settings.partition_grain, settings.partitions_start,
                                        len(registered) - len(removed) + len(added), now.date())
                if warning:
                    context.log.warning(warning)
        if not partition_requests:
            counts = ", ".join(f"{m} {sum(e.active for e in es)} active" for m, es in universe.items())
            return dg.SensorResult(skip_reason=f"{path}: in sync ({counts or 'no markets listed'})")
        for line in changes:
            context.log.info(line)
        return dg.SensorResult(dynamic_partitions_requests=partition_requests, run_requests=run_requests)

    return universe_sync_sensor
