"""Settings read from the environment when definitions are built (never at import).

Every knob has a default that runs the embedded setup (SQLite + offline demo vendor).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backfill_pipeline.markets import CALENDAR_START, MARKETS
from backfill_pipeline.timeframes import DEFAULT_FETCHED, derivation_sources, get_timeframe

GRAINS = ("daily", "weekly", "monthly")
VENDORS = ("demo", "polygon", "eodhd", "binance")
DEFAULT_PARTITIONS_START = dt.date(2020, 1, 1)


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    partition_grain: str = "daily"
    partitions_start: dt.date = DEFAULT_PARTITIONS_START
    fetched: Mapping[str, tuple[str, ...]] | None = None  # market -> fetched timeframes
    vendors: Mapping[str, str] | None = None  # market -> vendor name
    completeness_min: float = 1.0  # share of expected bars a partition needs to pass

    def fetched_timeframes(self, market: str) -> tuple[str, ...]:
        return (self.fetched or {}).get(market, DEFAULT_FETCHED)

    def vendor(self, market: str) -> str:
        return (self.vendors or {}).get(market, "demo")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        grain = env.get("BACKFILL_PARTITION_GRAIN", "daily").strip().lower()
        if grain not in GRAINS:
            raise SettingsError(f"BACKFILL_PARTITION_GRAIN={grain!r}: expected one of {', '.join(GRAINS)}")
        start = _parse_date("BACKFILL_PARTITIONS_START", env.get("BACKFILL_PARTITIONS_START"), DEFAULT_PARTITIONS_START)
        if start < CALENDAR_START:
            raise SettingsError(f"BACKFILL_PARTITIONS_START={start} is before the calendar start {CALENDAR_START}")
        fetched: dict[str, tuple[str, ...]] = {}
        vendors: dict[str, str] = {}
        default_fetched = env.get("BACKFILL_FETCHED_TIMEFRAMES")
        for market in MARKETS:
            raw = env.get(f"BACKFILL_FETCHED_TIMEFRAMES_{market.upper()}", default_fetched)
            if raw:
                fetched[market] = _parse_timeframes(market, raw)
            vendor = env.get(f"BACKFILL_VENDOR_{market.upper()}", "demo").strip().lower()
            if vendor not in VENDORS:
                raise SettingsError(
                    f"BACKFILL_VENDOR_{market.upper()}={vendor!r}: expected one of {', '.join(VENDORS)}"
                )
            vendors[market] = vendor
        try:
            completeness_min = float(env.get("BACKFILL_COMPLETENESS_MIN", "1.0"))
        except ValueError:
            raise SettingsError("BACKFILL_COMPLETENESS_MIN must be a number between 0 and 1") from None
        if not 0.0 <= completeness_min <= 1.0:
            raise SettingsError("BACKFILL_COMPLETENESS_MIN must be a number between 0 and 1")
        return cls(grain, start, fetched, vendors, completeness_min)


def _parse_date(name: str, raw: str | None, default: dt.date) -> dt.date:
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from None


def _parse_timeframes(market: str, raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    try:
        for name in names:
            get_timeframe(name)
        derivation_sources(names)
    except ValueError as exc:
        raise SettingsError(f"fetched timeframes for {market} ({raw!r}): {exc}") from None
    return names


def dagster_home() -> Path | None:
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else None


def warehouse_url(env: Mapping[str, str] | None = None) -> str:
    """BACKFILL_WAREHOUSE_URL, else a SQLite file in $DAGSTER_HOME (or ./data)."""
    env = os.environ if env is None else env
    url = env.get("BACKFILL_WAREHOUSE_URL")
    if url:
        return url
    home = env.get("DAGSTER_HOME")
    base = Path(home) if home else Path.cwd() / "data"
    return f"sqlite:///{(base / 'warehouse.db').resolve()}"


def redact_url(url: str) -> str:
    """The URL with its password hidden, for printing."""
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)
