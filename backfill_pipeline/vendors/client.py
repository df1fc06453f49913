"""What every real client shares: construction of its HTTP path, and close()."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

from ..markets import Market
from .base import VendorError
from .http import HttpSettings, ThrottleCheck, VendorHttp
from .keys import KeyPool
from .limits import VendorLimits, default_limits
from .ratelimit import RateLimiter
from .responses import ResponseJudge
from .retry import RetryPolicy
from .symbols import market_for_symbol
from .trace import FetchTrace, RequestRecord


@dataclass(frozen=True)
class ClientOptions:
    """Knobs common to every client (resources map their config onto these)."""

    limiter: RateLimiter | None = None  # None: process-local; pass the shared one in pipelines
    limits: VendorLimits | None = None  # None: the vendor's published defaults
    retry: RetryPolicy = RetryPolicy()
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    on_request: Callable[[RequestRecord], None] | None = None


class HttpClientBase:
    vendor: str
    # The market fetch_bars assumes when not told; None infers it from the symbol.
    market: Market | None = None

    def __init__(
        self,
        base_url: str,
        api_keys: Sequence[str] | None,
        key_param: str | None,
        options: ClientOptions | None,
        *,
        judge: ResponseJudge | None = None,
        throttle_seconds: ThrottleCheck | None = None,
        body_request_id: str | None = None,
        key_header: str | None = None,
        key_header_format: str = "{key}",
    ):
        options = options or ClientOptions()
        self.options = options
        self.limits = options.limits or default_limits(self.vendor)
        self._http = VendorHttp(
            self.vendor,
            base_url,
            keys=KeyPool(self.vendor, api_keys) if api_keys is not None else None,
            key_param=key_param,
            limiter=options.limiter,
            limits=self.limits,
            retry=options.retry,
            settings=HttpSettings(timeout_s=options.timeout_s, connect_timeout_s=options.connect_timeout_s),
            on_request=options.on_request,
            judge=judge,
            throttle_seconds=throttle_seconds,
            body_request_id=body_request_id,
            key_header=key_header,
            key_header_format=key_header_format,
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _market(self, symbol: str, market: Market | str | None) -> Market:
        return market_for_symbol(symbol, market if market is not None else self.market)

    @contextmanager
    def _traced(self) -> Iterator[FetchTrace]:
        """A fetch's trace; a VendorError leaving the block carries the requests made so
        far (`records`), so a failed fetch is audited like a successful one."""
        trace = FetchTrace()
        try:
            yield trace
        except VendorError as exc:
            exc.records = list(trace.records)
            raise

    def _page_error(self, symbol: str, window: str, reason: str) -> VendorError:
        return VendorError(self.vendor, symbol, window, self._http.scrub(reason))
