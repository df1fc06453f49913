"""Rate limiting shared across processes, per key, with key rotation.

Dagster runs every run (and every step) in its own process, so an in-memory bucket limits
nothing; the budget lives in a database every process reaches: a SQLite file next to a
SQLite warehouse, or the warehouse's own PostgreSQL database.

Why not pyrate-limiter: its buckets limit one item per call and record a request when it
is granted. Key rotation must pick "any key of the pool with budget now" atomically across
processes, and our slots are re-stamped when the request completes, so requests delayed
on the way (slow connect, loaded machine) cannot bunch up at the vendor and draw a 429.

    limiter = RateLimiter.for_warehouse("sqlite:////data/warehouse.db")  # or postgresql+psycopg://...
    lease = limiter.acquire("polygon", pool.buckets, limits, weight=1)   # blocks up to max_wait
    try: ...request with pool.key(lease.index)...
    finally: limiter.release(lease)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from .limits import VendorLimits
from .ratelimit_store import Grant, RateStore, memory_store, postgres_store, sqlite_store

log = logging.getLogger("backfill_pipeline.vendors.ratelimit")


@dataclass(frozen=True)
class Lease:
    slot_id: str
    index: int  # position of the granted bucket (key) in the list passed to acquire
    bucket: str
    waited_s: float


class BudgetExhausted(Exception):
    """No bucket had budget within the wait bound. Callers turn it into RateLimitedError."""

    def __init__(self, waited_s: float, next_free_s: float | None):
        self.waited_s, self.next_free_s = waited_s, next_free_s
        nxt = "unknown" if next_free_s is None else f"{next_free_s:.1f}s"
        super().__init__(f"waited {waited_s:.1f}s; next free slot in {nxt}")


class KeysRefused(BudgetExhausted):
    """Every bucket is parked as refused by the vendor (see RateStore.refuse); `reasons`
    maps bucket -> the vendor's redacted words. Callers turn it into AuthError."""

    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons
        super().__init__(0.0, None)


class RateLimiter:
    def __init__(
        self,
        store: RateStore,
        *,
        lease_s: float = 180.0,
        pending_poll_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        # lease_s bounds how long an unfinished request (e.g. its process died) holds a slot;
        # keep it above the HTTP timeout.
        self.store = store
        self.lease_s = lease_s
        self.pending_poll_s = pending_poll_s
        self._sleep = sleep
        self._monotonic = monotonic

    @classmethod
    def from_url(
        cls, url: str, *, schema: str | None = None, lease_s: float = 180.0, pending_poll_s: float = 0.05
    ) -> RateLimiter:
        """`sqlite:///path`, a bare file path, `postgresql+psycopg://...`, or `memory://`."""
        return cls(_store_for_url(url, schema), lease_s=lease_s, pending_poll_s=pending_poll_s)

    @classmethod
    def in_memory(cls) -> RateLimiter:
        """A process-local limiter: fine for one process, limits nothing across runs."""
        return cls(memory_store())

    @classmethod
    def for_warehouse(
        cls, warehouse_url: str, *, schema: str | None = None, lease_s: float = 180.0
    ) -> RateLimiter:
        """The limiter that belongs with a warehouse URL (see limiter_url_for_warehouse)."""
        return cls.from_url(limiter_url_for_warehouse(warehouse_url), schema=schema, lease_s=lease_s)

    def acquire(self, scope: str, buckets: Sequence[str], limits: VendorLimits, weight: int = 1) -> Lease:
        """Take budget from the bucket with most headroom, waiting up to limits.max_wait_seconds."""
        if not buckets:
            raise ValueError("acquire needs at least one bucket")
        limits.check_weight(weight)
        start = self._monotonic()
        deadline = start + limits.max_wait_seconds
        while True:
            result = self.store.try_acquire(scope, buckets, limits.rates, weight, self.lease_s)
            now = self._monotonic()
            if isinstance(result, Grant):
                return Lease(result.slot_id, result.index, buckets[result.index], now - start)
            if result.refused is not None:
                raise KeysRefused(result.refused)
            remaining = deadline - now
            # Fail fast when the wait is known to exceed the bound; an estimate that hangs
            # on an in-flight request is only an upper bound, so keep polling those.
            if remaining <= 0 or (not result.pending and result.wait_s > remaining):
                raise BudgetExhausted(now - start, result.wait_s)
            delay = min(result.wait_s, self.pending_poll_s) if result.pending else result.wait_s
            if delay >= 1.0:  # worth a line in the run log; short polls are not
                log.info("%s: rate limit reached on every key (%d); waiting %.1fs", scope, len(buckets), delay)
            # +1 ms: the slot leaves the window strictly after ts + window.
            self._sleep(min(delay + 0.001, remaining))

    def release(self, lease: Lease) -> None:
        self.store.release(lease.slot_id)

    def block(self, bucket: str, seconds: float) -> None:
        """Keep a bucket idle for `seconds`, in every process (after a 429 / Retry-After)."""
        self.store.block(bucket, seconds)

    def refuse(self, bucket: str, seconds: float, reason: str) -> None:
        """Park a key the vendor refused, in every process, with the vendor's reason."""
        self.store.refuse(bucket, seconds, reason)

    def close(self) -> None:
        self.store.dispose()


def _store_for_url(url: str, schema: str | None) -> RateStore:
    if url in ("memory://", "sqlite://", "sqlite:///:memory:"):
        return memory_store()
    if "://" not in url:
        return sqlite_store(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return sqlite_store(parsed.database or "")
    if backend == "postgresql":
        return postgres_store(url, schema=schema)
    raise ValueError(f"unsupported rate-limit store {parsed.drivername!r}: use sqlite or postgresql")


def limiter_url_for_warehouse(warehouse_url: str) -> str:
    """Where the limiter lives for a warehouse URL.

    SQLite: a sibling file `<name>.ratelimits.sqlite`, so the limiter's short write
    transactions never queue behind the warehouse's bulk inserts. PostgreSQL: the same
    database (tables vendor_rate_*).
    """
    if "://" not in warehouse_url:
        path = Path(warehouse_url)
        return str(path.with_name(path.stem + ".ratelimits.sqlite"))
    parsed = make_url(warehouse_url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "memory://"
        path = Path(parsed.database)
        return f"sqlite:///{path.with_name(path.stem + '.ratelimits.sqlite')}"
    if backend == "postgresql":
        return warehouse_url
    raise ValueError(f"unsupported warehouse backend {backend!r} for the rate limiter")
