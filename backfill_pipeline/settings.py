"""Settings read from the environment when definitions are built (never at import).

Every knob has a default that runs the embedded setup (SQLite + offline demo vendor).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.markets import CALENDAR_START, HOURS, MARKETS, Market, get_market, with_hours
from backfill_pipeline.timeframes import DEFAULT_FETCHED, derivation_sources, get_timeframe
from backfill_pipeline.vendors.limits import VendorLimits, default_limits, limits_from_env
from backfill_pipeline.vendors.specs import SPECS

GRAINS = ("daily", "weekly", "monthly")
VENDORS = tuple(SPECS)
# Timeframes each vendor's bar endpoint serves (EODHD intraday: 1m, 5m and 1h only): vendors/specs.py.
VENDOR_TIMEFRAMES: dict[str, tuple[str, ...]] = {name: spec.timeframes for name, spec in SPECS.items()}
DEFAULT_PARTITIONS_START = dt.date(2020, 1, 1)
DEFAULT_NO_TRADES_TOLERANCE = 0.05


class SettingsError(ValueError):
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
        env = os.environ if env is None else env
        grain = env.get("BACKFILL_PARTITION_GRAIN", "daily").strip().lower()
        if grain not in GRAINS:
            raise SettingsError(f"BACKFILL_PARTITION_GRAIN={grain!r}: expected one of {', '.join(GRAINS)}")
        start = _parse_date("BACKFILL_PARTITIONS_START", env.get("BACKFILL_PARTITIONS_START"), DEFAULT_PARTITIONS_START)
        if start < CALENDAR_START:
            raise SettingsError(f"BACKFILL_PARTITIONS_START={start} is before the calendar start {CALENDAR_START}")
        hours = _parse_hours(env)
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
            unserved = set(fetched.get(market, DEFAULT_FETCHED)) - set(VENDOR_TIMEFRAMES[vendor])
            if unserved:
                raise SettingsError(
                    f"vendor {vendor} of {market} does not serve {', '.join(sorted(unserved))}; it serves "
                    f"{', '.join(VENDOR_TIMEFRAMES[vendor])} (set BACKFILL_FETCHED_TIMEFRAMES_{market.upper()})"
                )
        tolerance: dict[str, float] = {}
        for name, raw in env.items():
            if name == "BACKFILL_NO_TRADES_TOLERANCE" or name.startswith("BACKFILL_NO_TRADES_TOLERANCE_"):
                tolerance[_tolerance_key(name)] = _parse_share(name, raw)
        freshness = _parse_int("BACKFILL_FRESHNESS_SESSIONS", env.get("BACKFILL_FRESHNESS_SESSIONS"), 1)
        actions_vendor = env.get("BACKFILL_CORPORATE_ACTIONS_VENDOR", "demo").strip().lower()
        if actions_vendor not in ("demo", "polygon", "eodhd"):
            raise SettingsError(f"BACKFILL_CORPORATE_ACTIONS_VENDOR={actions_vendor!r}: expected demo, polygon or eodhd")
        try:
            features, macro = FeatureWindows.from_env(env), MacroConfig.from_env(env)
            automation = AutomationConfig.from_env(env)
            vendor_limits = limits_from_env(env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            partition_grain=grain, partitions_start=start, fetched=fetched, vendors=vendors, hours=hours,
            no_trades_tolerance=tolerance, freshness_sessions=freshness, corporate_actions_vendor=actions_vendor,
            features=features, macro=macro, automation=automation, vendor_limits=vendor_limits,
        )


def _parse_hours(env: Mapping[str, str]) -> dict[str, str]:
    """BACKFILL_<MARKET>_HOURS: regular (default) or extended; extended on a 24/7 market is an error."""
    hours: dict[str, str] = {}
    for market in MARKETS:
        name = f"BACKFILL_{market.upper()}_HOURS"
        raw = env.get(name)
        if raw is None or not raw.strip():
            continue
        value = raw.strip().lower()
        if value not in HOURS:
            raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(HOURS)}")
        try:
            with_hours(MARKETS[market], value)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from None
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


def _parse_share(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name}={raw!r} must be a number between 0 and 1")
    return value


def _parse_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must be a whole number >= 0")
    return value


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


WAREHOUSE_BACKENDS = ("sqlite", "postgresql")


def warehouse_url(env: Mapping[str, str] | None = None) -> str:
    """BACKFILL_WAREHOUSE_URL (checked: check_warehouse_url), else a SQLite file in
    $DAGSTER_HOME, or in ./.dagster_home (the home `backfill-pipeline` creates there, so every
    command finds the demo's bars without DAGSTER_HOME exported); the warehouse creates its
    directory."""
    env = os.environ if env is None else env
    url = env.get("BACKFILL_WAREHOUSE_URL")
    if url:
        return check_warehouse_url(url, "BACKFILL_WAREHOUSE_URL")
    home = env.get("DAGSTER_HOME")
    base = Path(home) if home else Path.cwd() / ".dagster_home"
    return f"sqlite:///{(base / 'warehouse.db').resolve()}"


def check_warehouse_url(url: str, source: str) -> str:
    """`url` if it names a warehouse this project can open; else SettingsError naming
    `source` (the variable or config field) and the problem, with no password shown.

    A SQLite file must go into an existing directory: a typo in the path would otherwise
    create an empty warehouse, whose gaps then trigger a full re-fetch.
    """
    from backfill_pipeline.warehouse.urls import BadUrl, missing_driver, parse_url, redact_url

    try:
        parsed = parse_url(url)
    except BadUrl:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        shown = f" (scheme {scheme!r})" if scheme else ""
        raise SettingsError(f"{source} is not a database URL{shown}: expected sqlite:///path/to/warehouse.db "
                            "or postgresql+psycopg://user@host:5432/db") from None
    backend = parsed.backend
    if backend not in WAREHOUSE_BACKENDS:
        raise SettingsError(f"{source}={redact_url(url)!r}: the warehouse runs on SQLite or PostgreSQL, "
                            f"not {backend!r}")
    problem = missing_driver(url)
    if problem is not None:
        raise SettingsError(f"{source}={redact_url(url)!r}: unknown or missing database driver "
                            f"{parsed.drivername!r} ({problem})")
    if backend == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or path.startswith("file:"):
            raise SettingsError(f"{source}={url!r}: the warehouse must be a SQLite file (sqlite:///path/to/warehouse.db)")
        folder = Path(path).expanduser().absolute().parent
        if not folder.is_dir():
            raise SettingsError(f"{source}={url!r}: the directory {folder} does not exist, so the SQLite "
                                "warehouse cannot be there; create the directory or correct the path "
                                "(nothing was created)")
    return url
