"""The shared base of the networked vendors' resources (each vendor's own is in
vendors/<vendor>/resource.py): configuration only.

Each builds its client per run with the rate limiter that belongs to the warehouse (a
SQLite file beside it, or tables in the PostgreSQL warehouse), so every run and step
process of the instance shares one budget per key. Keys come from the environment
(comma-separated pools) through dg.EnvVar and never reach run config, logs or metadata.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import dagster as dg
from pydantic import PrivateAttr

from backfill_pipeline.markets import Market
from backfill_pipeline.vendors.base import BarsClient
from backfill_pipeline.vendors.client import ClientOptions
from backfill_pipeline.vendors.config import VendorConfigError, check_base_url, key_list
from backfill_pipeline.vendors.limits import Rate, VendorLimits, limits_from_env
from backfill_pipeline.vendors.ratelimit import RateLimiter
from backfill_pipeline.vendors.retry import RetryPolicy
from backfill_pipeline.warehouse.resource import WarehouseResource


class HttpVendorResource(dg.ConfigurableResource):
    """Shared knobs: base URL (default: $<VENDOR>_BASE_URL or the vendor's own), limits, retries.

    The per-key budget comes from the environment of the run's own process
    (BACKFILL_<VENDOR>_REQUESTS_PER_WINDOW, _WINDOW_SECONDS, _MAX_WAIT_SECONDS,
    BACKFILL_EODHD_DAILY_CALLS; vendors/limits.py), so schedule, sensor, UI and CLI runs all
    use the plan's budget; unset, the documented free tier. Run config below overrides it.
    """

    warehouse: WarehouseResource
    base_url: str | None = None
    requests_per_window: int | None = None  # override the environment's budget per key, for this run
    window_seconds: float | None = None
    max_wait_seconds: float | None = None  # wait for budget this long, then fail as rate limited
    max_attempts: int = 6
    backoff_base_seconds: float = 1.0
    timeout_seconds: float = 30.0
    _limiter: RateLimiter | None = PrivateAttr(default=None)

    vendor_name: ClassVar[str] = ""

    def client_kwargs(self) -> dict[str, Any]:
        """options, and base_url when configured (else the client's own default); a base URL
        that is not an http(s) URL fails the step at once (config_failure)."""
        name = "base_url" if self.base_url else f"{self.vendor_name.upper()}_BASE_URL"
        base_url = self.base_url or os.environ.get(name)
        if base_url:
            try:
                check_base_url(name, base_url)
            except VendorConfigError as exc:
                raise config_failure(exc) from None
        return {"options": self.options(), **({"base_url": base_url} if base_url else {})}

    def _limits(self) -> VendorLimits:
        try:
            limits = limits_from_env(os.environ)[self.vendor_name]
        except ValueError as exc:  # a bad budget variable: configuration, retrying cannot help
            raise dg.Failure(f"{exc}; a configuration error: the step is not retried", allow_retries=False) from None
        if self.requests_per_window or self.window_seconds:
            first = limits.rates[0]
            rate = Rate(self.requests_per_window or first.limit, self.window_seconds or first.window_s, first.weighted)
            limits = VendorLimits((rate, *limits.rates[1:]), limits.max_wait_seconds)
        if self.max_wait_seconds is not None:
            limits = VendorLimits(limits.rates, self.max_wait_seconds)
        return limits

    def options(self) -> ClientOptions:
        if self._limiter is None:
            self._limiter = RateLimiter.for_warehouse(self.warehouse.resolved_url())
        return ClientOptions(
            limiter=self._limiter,
            limits=self._limits(),
            retry=RetryPolicy(max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_seconds),
            timeout_s=self.timeout_seconds,
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._limiter is not None:
            self._limiter.close()
            self._limiter = None

    def client(self, market: Market) -> BarsClient:
        raise NotImplementedError


EXTENDED_HOURS = ("Keep pre- and after-market equity bars; unset (default): follow the market's hours option "
                  "(BACKFILL_US_EQUITIES_HOURS), which also sets the expected grid.")


def config_failure(exc: VendorConfigError) -> dg.Failure:
    """A configuration error fails the step once: step retries cannot fix it."""
    return dg.Failure(f"{exc}; a configuration error: the step is not retried", allow_retries=False)


def require_keys(vendor: str, raw: str) -> list[str]:
    try:
        return key_list(vendor, raw)
    except VendorConfigError as exc:
        raise config_failure(exc) from None
