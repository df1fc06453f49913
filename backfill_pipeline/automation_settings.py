"""Configuration of the schedules, sensors and retries (read with the other settings).

Plain Python (no Dagster): `Settings.from_env` builds it through env.py's reader, so every
parse error names the environment variable, like the rest of the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from backfill_pipeline.env import EnvReader, SettingsError
from backfill_pipeline.timeframes import TIMEFRAMES, get_timeframe

DEFAULT_DEPTH_DAYS: Mapping[str, int] = MappingProxyType({"1d": 5 * 365})
DEFAULT_INTRADAY_DEPTH_DAYS = 2 * 365
_DEPTH_RE = re.compile(r"^BACKFILL_NEW_SYMBOL_DEPTH_([0-9A-Z]+)_DAYS$")
_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z?]+$")


@dataclass(frozen=True)
class AutomationConfig:
    schedule_hour: int = 2  # UTC; BACKFILL_SCHEDULE_HOUR
    schedule_minute: int = 0  # BACKFILL_SCHEDULE_MINUTE
    schedule_cron: str | None = None  # BACKFILL_SCHEDULE_CRON wins over hour/minute (UTC)
    symbols_per_run: int = 100  # BACKFILL_SYMBOLS_PER_RUN: symbols in one ranged run
    gap_interval_seconds: int = 900  # BACKFILL_GAP_SENSOR_INTERVAL_SECONDS
    gap_window_hours: int = 48  # BACKFILL_GAP_WINDOW_HOURS
    gap_max_attempts: int = 3  # BACKFILL_GAP_MAX_ATTEMPTS per partition and gap class
    gap_retry_minutes: int = 60  # BACKFILL_GAP_RETRY_MINUTES: run_key bucket; one attempt per bucket
    rate_limit_cooldown_minutes: int = 30  # BACKFILL_RATE_LIMIT_COOLDOWN_MINUTES
    # BACKFILL_GAP_STALE_RUN_MINUTES: a started run of another node with no event for this
    # long no longer counts as in flight (0: always trust it); see run_liveness.py
    stale_run_minutes: int = 30
    universe_file: Path = Path("universe.yaml")  # BACKFILL_UNIVERSE_FILE (relative: to the working dir)
    # BACKFILL_NEW_SYMBOL_DEPTH_<TF>_DAYS: history fetched for a symbol the universe adds.
    new_symbol_depth_days: Mapping[str, int] = field(default_factory=lambda: DEFAULT_DEPTH_DAYS)
    fetch_retries: int = 3  # BACKFILL_FETCH_RETRIES: step retries of fetching assets (0: none)
    fetch_retry_delay_seconds: float = 30.0  # BACKFILL_FETCH_RETRY_DELAY_SECONDS: first backoff
    default_running: bool = False  # BACKFILL_AUTOMATION_DEFAULT_STATUS=running|stopped

    @property
    def cron(self) -> str:
        return self.schedule_cron or f"{self.schedule_minute} {self.schedule_hour} * * *"

    def depth_days(self, timeframe: str) -> int:
        if timeframe in self.new_symbol_depth_days:
            return self.new_symbol_depth_days[timeframe]
        return DEFAULT_INTRADAY_DEPTH_DAYS if get_timeframe(timeframe).intraday else DEFAULT_DEPTH_DAYS["1d"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | EnvReader) -> AutomationConfig:
        read = env if isinstance(env, EnvReader) else EnvReader(env)
        cron = read.text("BACKFILL_SCHEDULE_CRON")
        if cron is not None:
            _check_cron(cron)
        depths = dict(DEFAULT_DEPTH_DAYS)
        for name in read.names("BACKFILL_NEW_SYMBOL_DEPTH_"):  # only fetched timeframes' depths are used
            match = _DEPTH_RE.match(name)
            if match:
                timeframe = match.group(1).lower()
                if timeframe not in TIMEFRAMES:
                    raise SettingsError(f"{name}: unknown timeframe {timeframe!r}; known: {', '.join(TIMEFRAMES)}")
                depths[timeframe] = read.whole(name, depths.get(timeframe, DEFAULT_INTRADAY_DEPTH_DAYS), minimum=1)
        universe = read.text("BACKFILL_UNIVERSE_FILE")
        return cls(
            schedule_hour=read.whole("BACKFILL_SCHEDULE_HOUR", 2, maximum=23),
            schedule_minute=read.whole("BACKFILL_SCHEDULE_MINUTE", 0, maximum=59),
            schedule_cron=cron,
            symbols_per_run=read.whole("BACKFILL_SYMBOLS_PER_RUN", 100, minimum=1),
            gap_interval_seconds=read.whole("BACKFILL_GAP_SENSOR_INTERVAL_SECONDS", 900, minimum=30),
            gap_window_hours=read.whole("BACKFILL_GAP_WINDOW_HOURS", 48, minimum=1),
            gap_max_attempts=read.whole("BACKFILL_GAP_MAX_ATTEMPTS", 3, minimum=1),
            gap_retry_minutes=read.whole("BACKFILL_GAP_RETRY_MINUTES", 60, minimum=1),
            rate_limit_cooldown_minutes=read.whole("BACKFILL_RATE_LIMIT_COOLDOWN_MINUTES", 30),
            stale_run_minutes=read.whole("BACKFILL_GAP_STALE_RUN_MINUTES", 30),
            universe_file=Path(universe) if universe else Path("universe.yaml"),
            new_symbol_depth_days=MappingProxyType(depths),
            fetch_retries=read.whole("BACKFILL_FETCH_RETRIES", 3),
            fetch_retry_delay_seconds=read.seconds("BACKFILL_FETCH_RETRY_DELAY_SECONDS", 30.0),
            default_running=read.choice("BACKFILL_AUTOMATION_DEFAULT_STATUS", ("running", "stopped"), "stopped")
            == "running",
        )


def _check_cron(cron: str) -> None:
    from backfill_pipeline.dagster_private import (
        is_valid_cron_string,  # deferred: keeps this module Dagster-free at import
    )

    fields_ = cron.split()
    if len(fields_) != 5 or not all(_CRON_FIELD.match(f) for f in fields_) or not is_valid_cron_string(cron):
        raise SettingsError(f"BACKFILL_SCHEDULE_CRON={cron!r} is not a 5-field cron string (e.g. '0 2,14 * * *')")
