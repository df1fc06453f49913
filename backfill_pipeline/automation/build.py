"""Everything automation adds to the code location, built from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from backfill_pipeline.automation.gap_sensor import build_gap_sensor
from backfill_pipeline.automation.jobs import AssetJob, build_jobs
from backfill_pipeline.automation.schedules import build_schedules
from backfill_pipeline.automation.status_asset import backfill_status
from backfill_pipeline.automation.symbol_rule_sensor import build_symbol_rule_sensor
from backfill_pipeline.automation.universe_sensor import build_universe_sensor
from backfill_pipeline.automation.weekly_sensor import build_weekly_sensor
from backfill_pipeline.settings import Settings


@dataclass
class Automation:
    jobs: list[AssetJob]
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]
    assets: list[dg.AssetsDefinition]


def build_automation(settings: Settings, clock: Callable[[], pd.Timestamp] | None = None) -> Automation:
    """`clock` (tests) freezes the sensors' evaluation time; schedules use their tick time."""
    jobs = build_jobs(settings)
    by_name = {job.name: job for job in jobs}
    sensors = [build_gap_sensor(settings, jobs, clock), build_universe_sensor(settings, jobs, clock),
               build_symbol_rule_sensor(settings.markets())]  # running by default: it never launches runs
    weekly = build_weekly_sensor(settings, jobs)
    if weekly is not None:
        sensors.append(weekly)
    return Automation(jobs, build_schedules(settings, by_name), sensors, [backfill_status])
