"""Settings read from the environment when definitions are built (never at import).

`Settings.from_env` is the one reader of the project's environment variables (through
env.py's typed reader, so each error names its variable): partitions, markets, vendors and
their plan budgets, checks, features, macro, automation, the warehouse URL, the Dagster home
and the executor. Every knob has a default that runs the embedded setup (SQLite + offline
demo vendor). Secrets (API keys, the Celery broker's password) are not held here: resources
read them through dg.EnvVar in the process that uses them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.env import EnvReader, SettingsError
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.markets import CALENDAR_START, HOURS, MARKETS, Market, get_market, with_hours
from backfill_pipeline.timeframes import DEFAULT_FETCHED, derivation_sources, get_timeframe
from backfill_pipeline.vendors.limits import VendorLimits, default_limits, limits_from_env
from backfill_pipeline.vendors.specs import SPECS
from backfill_pipeline.warehouse.location import default_warehouse_url, read_warehouse_url

GRAINS = ("daily", "weekly", "monthly")
VENDORS = tuple(SPECS)
# Timeframes each vendor's bar endpoint serves (EODHD intraday: 1m, 5m and 1h only): vendors/specs.py.
VENDOR_TIMEFRAMES: dict[str, tuple[str, ...]] = {name: spec.timeframes for name, spec in SPECS.items()}
DEFAULT_PARTITIONS_START = dt.date(2020, 1, 1)
DEFAULT_NO_TRADES_TOLERANCE = 0.05
ACTIONS_VENDORS = ("demo", "polygon", "eodhd")
EXECUTORS = ("default", "celery")  # executors.py builds them
BROKER_ENV = "BACKFILL_CELERY_BROKER_URL"
BACKEND_ENV = "BACKFILL_CELERY_BACKEND_URL"



class ExecutorSettingError(SettingsError):
    pass


@dataclass(frozen=True)
class Settings:
    partition_grain: str = "daily"
    partitions_start: dt.date = DEFAULT_PARTITIONS_START
    fetched: Mapping[str, tuple[str, ...]] | None = None  # market -> fetched timeframes
    vendors: Mapping[str, str] | None = None  # market -> vendor name
    hours: Mapping[str, str] | None = None  # market -> "regular" | "extended"; BACKFILL_<MARKET>_HOURS
    # Share of a partition's expected bars that may be missing as no_trades before the
    # `complete` check warns; keys "" (default), "<market>" or "<market>/<timeframe>".
    no_trades_tolerance: Mapping[str, float] | None = None
    freshness_sessions: int = 1  # sessions the newest stored bar may lag the last closed one
    corporate_actions_vendor: str = "demo"  # BACKFILL_CORPORATE_ACTIONS_VENDOR: demo | polygon | eodhd
    features: FeatureWindows = FeatureWindows()  # BACKFILL_FEATURE_WINDOWS, BACKFILL_FEATURE_LOOKBACK_BARS
    macro: MacroConfig = MacroConfig()  # BACKFILL_MACRO_VENDOR, _REQUIRED, _OPTIONAL, _STALENESS
    automation: AutomationConfig = AutomationConfig()  # BACKFILL_SCHEDULE_*, BACKFILL_GAP_*, ... (automation_settings.py)
    # per-key budgets by plan: BACKFILL_<VENDOR>_REQUESTS_PER_WINDOW, _WINDOW_SECONDS, _MAX_WAIT_SECONDS,
    # BACKFILL_EODHD_DAILY_CALLS (vendors/limits.py); None: the documented free tiers
    vendor_limits: Mapping[str, VendorLimits] | None = None
    # BACKFILL_WAREHOUSE_URL, checked (check_warehouse_url); None (and from_env without it): a
    # SQLite file in the Dagster home. A password in it is never shown (warehouse/urls.py: redact_url).
    warehouse_url: str | None = None
    dagster_home: Path | None = None  # DAGSTER_HOME; None: ./.dagster_home for the warehouse default
    executor: str = "default"  # BACKFILL_EXECUTOR: default | celery (needs BACKFILL_CELERY_*_URL; executors.py)

    def warehouse(self) -> str:
        """The warehouse URL: BACKFILL_WAREHOUSE_URL, else warehouse.db in the Dagster home."""
        return self.warehouse_url or default_warehouse_url(self.dagster_home)

    def limits(self, vendor: str) -> VendorLimits:
        """`vendor`'s per-key budget as configured (the documented free tier by default)."""
        return (self.vendor_limits or {}).get(vendor) or default_limits(vendor)

    def fetched_timeframes(self, market: str) -> tuple[str, ...]:
        return (self.fetched or {}).get(market, DEFAULT_FETCHED)

    def vendor(self, market: str) -> str:
        return (self.vendors or {}).get(market, "demo")

    def market(self, name: str) -> Market:
        """The market as configured (its hours option applied); UnknownMarketError if unknown.
        Use this, not MARKETS, wherever session hours matter."""
        market = get_market(name)
        return with_hours(market, (self.hours or {}).get(name, market.hours))

    def markets(self) -> list[Market]:
        return [self.market(name) for name in MARKETS]

    def tolerance(self, market: str, timeframe: str) -> float:
        table = self.no_trades_tolerance or {}
        for key in (f"{market}/{timeframe}", market, ""):
            if key in table:
                return table[key]
        return DEFAULT_NO_TRADES_TOLERANCE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        read = EnvReader(env)
        grain = read.choice("BACKFILL_PARTITION_GRAIN", GRAINS, "daily")
        start = read.date("BACKFILL_PARTITIONS_START", DEFAULT_PARTITIONS_START)
        if start < CALENDAR_START:
            raise SettingsError(f"BACKFILL_PARTITIONS_START={start} is before the calendar start {CALENDAR_START}")
        fetched: dict[str, tuple[str, ...]] = {}
        vendors: dict[str, str] = {}
        default_fetched = read.text("BACKFILL_FETCHED_TIMEFRAMES")
        for market in MARKETS:
            raw = read.text(f"BACKFILL_FETCHED_TIMEFRAMES_{market.upper()}", default_fetched)
            if raw:
                fetched[market] = _parse_timeframes(market, raw)
            vendor = vendors[market] = read.choice(f"BACKFILL_VENDOR_{market.upper()}", VENDORS, "demo")
            unserved = set(fetched.get(market, DEFAULT_FETCHED)) - set(VENDOR_TIMEFRAMES[vendor])
            if unserved:
                raise SettingsError(
                    f"vendor {vendor} of {market} does not serve {', '.join(sorted(unserved))}; it serves "
                    f"{', '.join(VENDOR_TIMEFRAMES[vendor])} (set BACKFILL_FETCHED_TIMEFRAMES_{market.upper()})"
                )
        tolerance = {_tolerance_key(name): read.share(name, DEFAULT_NO_TRADES_TOLERANCE)
                     for name in read.names("BACKFILL_NO_TRADES_TOLERANCE")
                     if (name == "BACKFILL_NO_TRADES_TOLERANCE" or name.startswith("BACKFILL_NO_TRADES_TOLERANCE_"))
                     and read.raw(name) is not None}
        try:
            features, macro = FeatureWindows.from_env(read.env), MacroConfig.from_env(read.env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        home = read.text("DAGSTER_HOME")
        return cls(
            partition_grain=grain, partitions_start=start, fetched=fetched, vendors=vendors, hours=_parse_hours(read),
            no_trades_tolerance=tolerance, freshness_sessions=read.whole("BACKFILL_FRESHNESS_SESSIONS", 1),
            corporate_actions_vendor=read.choice("BACKFILL_CORPORATE_ACTIONS_VENDOR", ACTIONS_VENDORS, "demo"),
            features=features, macro=macro, automation=AutomationConfig.from_env(read),
            vendor_limits=limits_from_env(read.env), warehouse_url=read_warehouse_url(read),
            dagster_home=Path(home) if home else None, executor=read_executor(read),
        )


def read_executor(read: EnvReader) -> str:
    """BACKFILL_EXECUTOR (default | celery); celery needs both BACKFILL_CELERY_*_URL variables set."""
    try:
        name = read.choice("BACKFILL_EXECUTOR", EXECUTORS, "default")
    except SettingsError as exc:
        raise ExecutorSettingError(str(exc)) from None
    missing = [var for var in (BROKER_ENV, BACKEND_ENV) if read.raw(var) is None]
    if name == "celery" and missing:
        raise ExecutorSettingError(f"BACKFILL_EXECUTOR=celery needs {' and '.join(missing)} (redis://...)")
    return name


def _parse_hours(read: EnvReader) -> dict[str, str]:
    """BACKFILL_<MARKET>_HOURS: regular (default) or extended; extended on a 24/7 market is an error."""
    hours: dict[str, str] = {}
    for market in MARKETS:
        name = f"BACKFILL_{market.upper()}_HOURS"
        if read.raw(name) is None:
            continue
        value = read.choice(name, HOURS, "regular")
        try:
            with_hours(MARKETS[market], value)
        except ValueError as exc:
            raise SettingsError(f"{name}={read.raw(name)!r}: {exc}") from None
        hours[market] = value
    return hours


def _tolerance_key(name: str) -> str:
    """BACKFILL_NO_TRADES_TOLERANCE[_<MARKET>[_<TIMEFRAME>]] -> "", "<market>" or "<market>/<tf>"."""
    rest = name.removeprefix("BACKFILL_NO_TRADES_TOLERANCE").strip("_").lower()
    if not rest:
        return ""
    for market in MARKETS:
        if rest == market:
            return market
        if rest.startswith(market + "_"):
            timeframe = rest[len(market) + 1 :]
            try:
                get_timeframe(timeframe)
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from None
            return f"{market}/{timeframe}"
    raise SettingsError(f"{name}: unknown market in the name; known markets: {', '.join(MARKETS)}")


def _parse_timeframes(market: str, raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    try:
        for name in names:
            get_timeframe(name)
        derivation_sources(names)
    except ValueError as exc:
        raise SettingsError(f"fetched timeframes for {market} ({raw!r}): {exc}") from None
    return names


