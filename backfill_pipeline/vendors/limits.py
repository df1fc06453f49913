"""Rate limits as configuration: the Rate and VendorLimits types, and the plan budgets
read from the environment. Each vendor's documented free tier is in its spec.

A Rate is "at most `limit` units in any window of `window_s` seconds" (a sliding window,
which also satisfies a vendor that counts per fixed window). Limits apply per key; a
vendor without keys (Binance, limited per IP) has a single bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..env import EnvReader


@dataclass(frozen=True)
class Rate:
    limit: int
    window_s: float
    # True: a request counts its weight (EODHD's daily "API calls", Binance's request
    # weight); False: every request counts 1 (EODHD's per-minute request throttle).
    weighted: bool = True

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0:
            raise ValueError(f"invalid rate {self.limit}/{self.window_s}s")

    def __str__(self) -> str:
        unit = "weight" if self.weighted else "requests"
        return f"{self.limit} {unit}/{self.window_s:g}s"


@dataclass(frozen=True)
class VendorLimits:
    rates: tuple[Rate, ...]
    # How long a request may wait for budget before it fails with RateLimitedError.
    max_wait_seconds: float = 120.0

    def __post_init__(self) -> None:
        if not self.rates:
            raise ValueError("VendorLimits needs at least one rate")

    def check_weight(self, weight: int) -> None:
        for rate in self.rates:
            if (weight if rate.weighted else 1) > rate.limit:
                raise ValueError(f"a request of weight {weight} can never fit the rate {rate}")

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.rates)


def _free_tiers() -> dict[str, VendorLimits]:
    # The figures live in each vendor's spec (vendors/<vendor>/spec.py), and the specs import
    # Rate from here: reading the registry when asked, not at import, keeps that one-way.
    from .specs import DEFAULT_LIMITS

    return DEFAULT_LIMITS


def default_limits(vendor: str) -> VendorLimits:
    """`vendor`'s documented free tier (its spec's limits)."""
    tiers = _free_tiers()
    try:
        return tiers[vendor]
    except KeyError:
        raise ValueError(f"no default limits for vendor {vendor!r}; known: {', '.join(tiers)}") from None


def limit_variables(vendor: str) -> tuple[str, ...]:
    """The environment variables that set `vendor`'s per-key budget."""
    prefix = f"BACKFILL_{vendor.upper()}_"
    names = (f"{prefix}REQUESTS_PER_WINDOW", f"{prefix}WINDOW_SECONDS", f"{prefix}MAX_WAIT_SECONDS")
    return (*names, "BACKFILL_EODHD_DAILY_CALLS") if vendor == "eodhd" else names


def limits_from_env(env: Mapping[str, str]) -> dict[str, VendorLimits]:
    """Each vendor's per-key budget: the documented free tier, overridden by

    BACKFILL_<VENDOR>_REQUESTS_PER_WINDOW  requests a key may make per window (Binance: request weight)
    BACKFILL_<VENDOR>_WINDOW_SECONDS       the window's length
    BACKFILL_<VENDOR>_MAX_WAIT_SECONDS     how long a request waits for budget before failing as rate limited
    BACKFILL_EODHD_DAILY_CALLS             EODHD's daily quota of API calls per key (intraday request = 5)

    with VENDOR one of POLYGON, EODHD, FRED, BINANCE. A bad value is a SettingsError naming the variable.
    """
    read = EnvReader(env)
    out: dict[str, VendorLimits] = {}
    for vendor, base in _free_tiers().items():
        prefix = f"BACKFILL_{vendor.upper()}_"
        first = base.rates[0]
        per = read.whole(f"{prefix}REQUESTS_PER_WINDOW", first.limit, minimum=1)
        window = read.seconds(f"{prefix}WINDOW_SECONDS", first.window_s, allow_zero=False)
        rates = [Rate(per, window, first.weighted), *base.rates[1:]]
        if vendor == "eodhd":
            rates[1] = replace(rates[1], limit=read.whole("BACKFILL_EODHD_DAILY_CALLS", rates[1].limit, minimum=1))
        wait = read.seconds(f"{prefix}MAX_WAIT_SECONDS", base.max_wait_seconds)
        out[vendor] = VendorLimits(tuple(rates), wait)
    return out
