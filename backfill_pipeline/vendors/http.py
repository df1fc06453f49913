"""The one HTTP path every vendor client goes through.

It takes budget from the shared limiter (rotating keys), sends the request, records it,
and decides what a response means: retry (429, 5xx, timeouts, resets, a truncated or
undecodable body), park a refused key and move to the next one (AuthError only once every
key is refused), fail for good on a plan limit (PlanError) or another 4xx, or hand back
the decoded JSON. Every error message quotes the vendor's own (redacted) words. Keys are
added to the query string or a header only at send time and every URL or message that
leaves this module is scrubbed first.

Exceptions are raised outside `except` blocks on purpose: a VendorError must not carry an
httpx exception as its __context__, since that holds the request and its URL with the key.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .base import AuthError, PlanError, RateLimitedError, VendorError
from .keys import KeyPool
from .limits import VendorLimits
from .ratelimit import BudgetExhausted, KeysRefused, Lease, RateLimiter
from .redact import SENSITIVE_PARAMS, Redactor, install_log_redaction
from .responses import ResponseJudge, Verdict, count_rows, decode_body, vendor_words
from .retry import RetryPolicy, parse_retry_after
from .trace import FetchTrace, RequestRecord

log = logging.getLogger("backfill_pipeline.vendors")

QueryValue = str | int | float
ThrottleCheck = Callable[[httpx.Response], float | None]
# How long a refused key stays parked (every process skips it meanwhile). A refused key is
# usually revoked or mistyped; an hour costs one wasted request per key per hour at most.
REFUSED_KEY_PARK_S = 3600.0


@dataclass(frozen=True)
class Reply:
    body: Any
    request_id: str
    status: int
    headers: httpx.Headers
    bucket: str


@dataclass(frozen=True)
class HttpSettings:
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    user_agent: str = "backfill-pipeline/0.1"


class VendorHttp:
    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        keys: KeyPool | None,
        key_param: str | None,
        limiter: RateLimiter | None,
        limits: VendorLimits,
        retry: RetryPolicy,
        settings: HttpSettings,
        on_request: Callable[[RequestRecord], None] | None = None,
        judge: ResponseJudge | None = None,
        throttle_seconds: ThrottleCheck | None = None,
        body_request_id: str | None = None,
        key_header: str | None = None,
        key_header_format: str = "{key}",
        refused_park_s: float = REFUSED_KEY_PARK_S,
    ):
        if keys is not None and not (key_param or key_header):
            raise ValueError("key_param or key_header is required with keys")
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.key_param = key_param
        self.limiter = limiter or RateLimiter.in_memory()
        self.limits = limits
        self.retry = retry
        self.settings = settings
        self.on_request = on_request
        self._judge_response = judge
        self.key_header = key_header  # e.g. Authorization: the key never enters a URL
        self.key_header_format = key_header_format
        self.refused_park_s = refused_park_s
        self._throttle_seconds = throttle_seconds
        self._body_request_id = body_request_id
        self._buckets = keys.buckets if keys is not None else (f"{vendor}:ip",)
        self._redactor = Redactor(keys.secrets if keys is not None else ())
        self._client: httpx.Client | None = None
        install_log_redaction()

    @property
    def buckets(self) -> tuple[str, ...]:
        return self._buckets

    def scrub(self, text: str) -> str:
        return self._redactor.scrub(text)

    def _http(self) -> httpx.Client:
        if self._client is None:
            timeout = httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s)
            self._client = httpx.Client(
                timeout=timeout,
                headers={"User-Agent": self.settings.user_agent, "Accept": "application/json"},
                follow_redirects=False,  # a redirect could carry our key to another host
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def resolve(self, url_or_path: str) -> httpx.URL:
        """An absolute URL on our base URL, without any key a vendor may have echoed into it.

        Pagination links (Polygon's next_url) name the vendor's public host; we send them
        to the configured base URL instead, so a proxy or test server stays in the loop and
        our key only ever goes to the host we were configured with.
        """
        if url_or_path.startswith(("http://", "https://")):
            link = httpx.URL(url_or_path)
            base = httpx.URL(self.base_url)
            if (link.scheme, link.host, link.port) != (base.scheme, base.host, base.port):
                link = httpx.URL(self.base_url + link.raw_path.decode("ascii"))
        else:
            link = httpx.URL(self.base_url + "/" + url_or_path.lstrip("/"))
        for name in list(link.params.keys()):
            if name.lower() in SENSITIVE_PARAMS:
                link = link.copy_remove_param(name)
        return link

    def get_json(
        self,
        url_or_path: str,
        params: Mapping[str, QueryValue],
        *,
        symbol: str,
        window: str,
        trace: FetchTrace,
        weight: int = 1,
        rows_key: str | None = None,
        decoder: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        """GET with retries, key rotation and the shared rate limit. The body is decoded by
        `decoder` (a typed decoder that also validates the shape), else as plain JSON.

        A key the vendor refuses is parked in every process (RateLimiter.refuse) and the
        request moves to the next key without spending an attempt; only when every key
        is refused does the fetch fail (AuthError). A plan limit fails at once (PlanError)
        and parks nothing: the other keys share the plan."""
        url = self.resolve(url_or_path).copy_merge_params(dict(params))
        last = "no attempt made"
        last_throttled = False
        attempt = 0
        while attempt < self.retry.max_attempts:
            lease, exhausted = self._acquire(weight)
            if isinstance(exhausted, KeysRefused):
                raise self._all_refused(symbol, window, exhausted)
            if exhausted is not None:
                raise self._rate_limited(symbol, window, exhausted, last if attempt else None)
            assert lease is not None
            outcome = self._attempt(url, lease, attempt + 1, trace, rows_key, decoder)
            if isinstance(outcome, Reply):
                return outcome
            kind, reason, delay = outcome
            if kind == "refused":
                assert self.keys is not None
                self.limiter.refuse(lease.bucket, self.refused_park_s, reason)
                log.warning(
                    "%s %s %s: %s was refused (%s); parked %.0fs in every process, trying the next key",
                    *(self.vendor, symbol, window, self.keys.describe(lease.index), reason, self.refused_park_s),
                )
                continue
            attempt += 1
            last, last_throttled = reason, kind == "throttle"
            if kind == "plan":
                raise PlanError(self.vendor, symbol, window, f"the plan does not cover this request: {reason}")
            if kind == "fatal":
                raise VendorError(self.vendor, symbol, window, reason)
            if kind == "throttle":
                # Park this key in every process; the next acquire picks another key or
                # waits for this one, bounded by max_wait_seconds.
                self.limiter.block(lease.bucket, delay)
            if attempt == self.retry.max_attempts:
                break
            if kind == "throttle":
                action = f"key parked {delay:.1f}s"
            else:
                action = f"retrying in {delay:.2f}s"
            log.warning(
                "%s %s %s: %s; %s (attempt %d/%d)",
                *(self.vendor, symbol, window, reason, action, attempt, self.retry.max_attempts),
            )
            if kind != "throttle":
                time.sleep(delay)
        error_type = RateLimitedError if last_throttled else VendorError
        gave_up = f"gave up after {self.retry.max_attempts} attempts; last: {last}"
        raise error_type(self.vendor, symbol, window, gave_up)

    def _acquire(self, weight: int) -> tuple[Lease | None, BudgetExhausted | None]:
        try:
            return self.limiter.acquire(self.vendor, self._buckets, self.limits, weight), None
        except BudgetExhausted as exc:
            return None, exc

    def _all_refused(self, symbol: str, window: str, exc: KeysRefused) -> AuthError:
        assert self.keys is not None
        parts = [f"{self.keys.describe(i)}: {exc.reasons[b]}" for i, b in enumerate(self._buckets) if b in exc.reasons]
        return AuthError(self.vendor, symbol, window, "every key was refused (" + "; ".join(parts) + ")")

    def _rate_limited(
        self, symbol: str, window: str, exc: BudgetExhausted, last: str | None = None
    ) -> RateLimitedError:
        who = f"{len(self._buckets)} key(s)" if self.keys is not None else "the per-IP budget"
        nxt = "" if exc.next_free_s is None else f"; next slot in {exc.next_free_s:.1f}s"
        return RateLimitedError(
            self.vendor,
            symbol,
            window,
            f"budget of {who} ({self.limits.describe()}) stayed spent past "
            f"max_wait_seconds={self.limits.max_wait_seconds:g} (waited {exc.waited_s:.1f}s{nxt})"
            + (f"; last answer: {last}" if last else ""),
        )

    def _attempt(
        self, url: httpx.URL, lease: Lease, attempt: int, trace: FetchTrace, rows_key: str | None,
        decoder: Callable[[bytes], Any] | None = None,
    ) -> Reply | tuple[str, str, float]:
        """One request. Returns the Reply, or (kind, reason, delay) with kind in
        refused | plan | fatal | throttle | retry."""
        request_id = f"{self.vendor}-{uuid.uuid4().hex[:20]}"
        send_url = url
        headers = {"X-Request-ID": request_id}
        if self.keys is not None:
            if self.key_header:
                headers[self.key_header] = self.key_header_format.format(key=self.keys.key(lease.index))
            else:
                send_url = url.copy_set_param(self.key_param or "", self.keys.key(lease.index))
        started = time.perf_counter()
        response: httpx.Response | None = None
        transport_error: str | None = None
        try:
            response = self._http().get(send_url, headers=headers)
        except httpx.TimeoutException as exc:
            transport_error = f"timeout ({type(exc).__name__})"
        except httpx.TransportError as exc:
            transport_error = f"connection error ({type(exc).__name__}: {self.scrub(str(exc))})"
        finally:
            self.limiter.release(lease)
        duration = time.perf_counter() - started
        key_name = self.keys.describe(lease.index) if self.keys is not None else None
        safe_url = self.scrub(str(url))

        def record(status: int | None, rows: int | None, rid: str, error: str | None) -> None:
            rec = RequestRecord(self.vendor, safe_url, status, rows, duration, rid, attempt, key_name,
                                self.scrub(error)[:300] if error else None)
            trace.records.append(rec)
            log.debug(
                "GET %s -> %s in %.3fs rows=%s id=%s%s",
                *(safe_url, status, duration, rows, rid, f" ({error})" if error else ""),
            )
            if self.on_request is not None:
                self.on_request(rec)

        if response is None:
            reason = transport_error or "no response"
            record(None, None, request_id, reason)
            return "retry", reason, self.retry.backoff(attempt)

        status = response.status_code
        body, decode_error = decode_body(response, decoder if status < 300 else None)
        rid = self._request_id(body) or request_id
        said = self.vendor_words(response) if status >= 300 else ""
        reason = f"HTTP {status}: {said}" if said else f"HTTP {status}"
        verdict = self._judge(response, said)
        if verdict is not None and verdict.kind in ("refused", "plan"):
            record(status, None, rid, reason)
            return verdict.kind, reason, 0.0
        throttle = verdict.park_s if verdict is not None else self._throttle(response)
        if throttle is not None:
            record(status, None, rid, reason)
            delay = self.retry.throttle_delay(throttle if throttle >= 0 else None, attempt)
            return "throttle", f"{reason} (rate limited)", delay
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            record(status, None, rid, reason)
            delay = self.retry.throttle_delay(retry_after, attempt)
            return "retry", reason, delay
        if status >= 300:
            record(status, None, rid, reason)
            return "fatal", reason, 0.0
        if decode_error is not None:
            record(status, None, rid, decode_error)
            return "retry", f"{decode_error} (HTTP {status})", self.retry.backoff(attempt)
        record(status, count_rows(body, rows_key), rid, None)
        return Reply(body, rid, status, response.headers, lease.bucket)

    def vendor_words(self, response: httpx.Response) -> str:
        """What the vendor said in an error body, redacted (responses.vendor_words)."""
        return vendor_words(response, self.scrub)

    def _judge(self, response: httpx.Response, said: str) -> Verdict | None:
        if self.keys is None or response.status_code < 400:
            return None  # key-less vendors' 401/403 (e.g. a WAF) fall through to "fatal"
        if self._judge_response is not None:
            verdict = self._judge_response(response, said)
            if verdict is not None:
                return verdict
        if response.status_code in (401, 403):
            return Verdict("refused")
        return None

    def _request_id(self, body: Any) -> str | None:
        if self._body_request_id and isinstance(body, dict):
            value = body.get(self._body_request_id)
            if isinstance(value, str) and value:
                return self.scrub(value)[:100]
        return None

    def _throttle(self, response: httpx.Response) -> float | None:
        """Seconds the vendor asked us to wait; -1.0: throttled, no hint; None: not throttled."""
        if self._throttle_seconds is not None:
            hint = self._throttle_seconds(response)
            if hint is not None:
                return hint
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return -1.0 if retry_after is None else retry_after
        return None
