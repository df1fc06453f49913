"""Published rate limits per vendor, as configuration.

A Rate is "at most `limit` units in any window of `window_s` seconds" (a sliding window,
which also satisfies a vendor that counts per fixed window). Limits apply per key; a
vendor without keys (Binance, limited per IP) has a single bucket.
"""

from __future__ import annotations

from dataclasses import dataclass


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


# Published defaults (free/basic plans); override per deployment.
DEFAULT_LIMITS: dict[str, VendorLimits] = {
    # Polygon free tier: 5 requests per minute per key.
    "polygon": VendorLimits((Rate(5, 60.0),), max_wait_seconds=180.0),
    # FRED: 120 requests per minute per key.
    "fred": VendorLimits((Rate(120, 60.0),)),
    # EODHD: 1000 requests/minute, and 100000 "API calls"/day where an intraday request
    # costs 5 calls (the request weight).
    "eodhd": VendorLimits((Rate(1000, 60.0, weighted=False), Rate(100_000, 86_400.0))),
    # Binance spot: 6000 request weight per minute per IP; klines weigh 2.
    "binance": VendorLimits((Rate(6000, 60.0),)),
}


def default_limits(vendor: str) -> VendorLimits:
    try:
        return DEFAULT_LIMITS[vendor]
    except KeyError:
        raise ValueError(f"no default limits for vendor {vendor!r}; known: {', '.join(DEFAULT_LIMITS)}") from None
