"""Macro assets: every vintage of the FRED observations and the point-in-time daily table,
on XNYS session partitions.

Both are partitioned by the XNYS sessions (daily, whatever the OHLCV grain: one row per
session and field is small). A partition of `macro/fred_observations` means "the
vintages that the daily table of this session needs are stored": a ranged run fetches
each series once (all real-time periods in the same request), from the first session
minus the series' lookback (its staleness, plus a year for year-over-year fields) to the
last session, and replaces that window of observation dates, every vintage included.
"""


import datetime as dt
import warnings
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from backfill_pipeline.macro.asof import daily_table, incomplete_records, lookahead_records
from backfill_pipeline.macro.series import CATALOGUE, MacroConfig
from backfill_pipeline.markets import MARKETS
from backfill_pipeline.names import (
    CHECK_MACRO_POINT_IN_TIME,
    CHECK_MACRO_REQUIRED,
    MACRO_DAILY_KEY,
    MACRO_GROUP,
    MACRO_OBSERVATIONS_KEY,
    vendor_pool,
)
from backfill_pipeline.partitions import date_partitions
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.base import VendorError
from backfill_pipeline.vendors.series_source import MacroSource
from backfill_pipeline.warehouse.macro import read_pit_daily, read_vintages, replace_pit_daily, replace_vintages

_LIST = 50


def macro_partitions(settings: Settings) -> dg.TimeWindowPartitionsDefinition:
    return date_partitions(MARKETS["us_equities"], "daily", settings.partitions_start)


def _sessions(context: dg.AssetExecutionContext) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sorted(pd.Timestamp(k) for k in context.partition_keys))


def _series_list(config: MacroConfig) -> str:
    return ", ".join(f"{f.field} ({f.series_id}{' yoy' if f.yoy else ''}, {f.frequency}"
                     f"{', required' if f.required else ''})" for f in config.fields())


def build_macro_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    config = settings.macro
    partitions = macro_partitions(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return [_observations_asset(config, partitions), _daily_asset(config, partitions)]


def _observations_asset(config: MacroConfig, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=MACRO_OBSERVATIONS_KEY,
        description=(
            f"Every vintage of the macro observations from the `{config.vendor}` source (table macro_vintages: "
            "series_id, date, realtime_start, realtime_end, value), as ALFRED serves them: one row per value "
            "an observation had and the real-time period in which it was the published one; value NULL where "
            f"FRED says '.' (no observation, e.g. a holiday). Series: {', '.join(config.series())}. One request "
            "per series per run (plus a page per 100,000 rows)."
        ),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=MACRO_GROUP,
        required_resource_keys={"warehouse", "macro"},
        pool=vendor_pool(config.vendor),
        kinds={"pandas", "sql"},
    )
    def _fred_observations(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        warehouse = context.resources.warehouse.get()
        sessions = _sessions(context)
        source: MacroSource = context.resources.macro.source()
        fetched_at = dt.datetime.now(dt.UTC)
        end = sessions[-1].date()
        written: dict[str, int] = {}
        holes: dict[str, int] = {}
        errors: list[str] = []
        requests = 0
        try:
            for series_id in config.series():
                start = sessions[0].date() - dt.timedelta(days=config.fetch_lookback_days(series_id))
                try:
                    result = source.fetch_series(series_id, start, end)
                except VendorError as exc:
                    errors.append(str(exc))
                    continue
                requests += result.requests
                frame = result.frame
                written[series_id] = replace_vintages(
                    warehouse, series_id, start, end, frame, source.vendor, fetched_at
                )
                holes[series_id] = int(frame["value"].isna().sum())
                context.log.info(f"{series_id} {start}..{end}: {written[series_id]} vintage rows")
        finally:
            source.close()
        if errors:
            raise dg.Failure(description=f"{len(errors)} series failed: " + "; ".join(errors[:5]),
                             metadata={"failed_series": len(errors)})
        return dg.MaterializeResult(metadata={
            "vendor": source.vendor, "requests": requests, "vintage_rows": sum(written.values()),
            "dagster/row_count": sum(written.values()),
            "vintage_rows_by_series": dg.MetadataValue.json(written),
            "no_observation_rows": dg.MetadataValue.json(holes),
        })

    return _fred_observations


def _daily_asset(config: MacroConfig, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    staleness = ", ".join(f"{freq} {days} days" for freq, days in config.staleness_days)

    @dg.asset(
        key=MACRO_DAILY_KEY,
        description=(
            "Point-in-time daily macro table (macro_daily_pit), one row per XNYS session and field: the latest "
            "observation known at the session's close (its vintage's realtime_start on or before the session), "
            "at the value published by then, with its observation date, release date and age; carried forward "
            f"at most ({staleness}), after which the field is `stale` (value NULL); `missing` when nothing was "
            f"known yet. Fields: {_series_list(config)}. usd_broad is the Fed's broad dollar index "
            f"({CATALOGUE['DTWEXBGS'].description}): FRED has no ICE DXY. Revised history (FRED's default, "
            "with look-ahead) is the `latest` view of read_macro / `backfill-pipeline macro --view latest`."
        ),
        partitions_def=partitions,
        deps=[MACRO_OBSERVATIONS_KEY],
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=MACRO_GROUP,
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_MACRO_REQUIRED, asset=MACRO_DAILY_KEY,
                description="WARN when a required field is missing or stale on a session (an incomplete record); "
                "the metadata lists each incomplete date with its fields.",
            ),
            dg.AssetCheckSpec(
                CHECK_MACRO_POINT_IN_TIME, asset=MACRO_DAILY_KEY,
                description="ERROR when a stored value was released after its session (look-ahead), read back "
                "from the warehouse; the metadata lists the rows.",
            ),
        ],
        required_resource_keys={"warehouse"},
        kinds={"pandas", "sql"},
    )
    def _macro_daily(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        warehouse = context.resources.warehouse.get()
        sessions = _sessions(context)
        series = list(config.series())
        start = sessions[0].date() - dt.timedelta(days=max((config.fetch_lookback_days(s) for s in series), default=0))
        vintages = read_vintages(warehouse, series, start, sessions[-1].date())
        table = daily_table(vintages, config, sessions, view="pit")
        written = replace_pit_daily(warehouse, [s.date() for s in sessions], table)
        stored = read_pit_daily(warehouse, sessions[0].date(), sessions[-1].date())
        rank = {f.field: i for i, f in enumerate(config.fields())}  # report fields in configured order
        stored = stored[stored["date"].isin(sessions)]
        stored = stored.assign(_rank=stored["field"].map(rank)).sort_values(["date", "_rank"], kind="stable")
        incomplete, lines = incomplete_records(stored, _LIST)
        ahead, ahead_lines = lookahead_records(stored, _LIST)
        status = stored.groupby(["field", "status"]).size()
        yield dg.MaterializeResult(metadata={
            "view": "pit", "sessions": len(sessions), "rows_written": written, "dagster/row_count": written,
            "status_by_field": dg.MetadataValue.json({f"{f} {s}": int(n) for (f, s), n in status.items()}),
        })
        yield dg.AssetCheckResult(
            asset_key=MACRO_DAILY_KEY, check_name=CHECK_MACRO_REQUIRED, passed=incomplete == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"sessions_checked": len(sessions), "incomplete_sessions": incomplete,
                      "incomplete_list": dg.MetadataValue.json(lines)},
        )
        yield dg.AssetCheckResult(
            asset_key=MACRO_DAILY_KEY, check_name=CHECK_MACRO_POINT_IN_TIME, passed=ahead == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows_checked": len(stored), "lookahead_rows": ahead,
                      "lookahead_list": dg.MetadataValue.json(ahead_lines)},
        )

    return _macro_daily
