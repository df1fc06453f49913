"""The shared limiter's semantics, on in-memory SQLite, a SQLite file and PostgreSQL.

SQLite stores run on a fake clock (time passes only when the limiter sleeps), so the tests
assert the waits the limiter chose, exactly. PostgreSQL stamps slots with the server's clock,
so there the clock is real and the tests assert lower bounds and the recorded sleeps only.
The real-time, multi-process test is test_ratelimit_processes.py (marked slow).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from backfill_pipeline.vendors.limits import Rate, VendorLimits
from backfill_pipeline.vendors.ratelimit import BudgetExhausted, RateLimiter, limiter_url_for_warehouse
from backfill_pipeline.vendors.ratelimit_store import memory_store, postgres_store, sqlite_store
from backfill_pipeline_tests.clocks import FakeClock, RecordingClock

Clock = FakeClock | RecordingClock


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def limiter_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "memory":
        yield "memory://", None
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'limits.sqlite'}", None
    else:
        yield request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")


@pytest.fixture
def clock(limiter_url: tuple[str, str | None]) -> Clock:
    return RecordingClock() if limiter_url[0].startswith("postgresql") else FakeClock()


@pytest.fixture
def limiter(limiter_url: tuple[str, str | None], clock: Clock) -> Iterator[RateLimiter]:
    url, schema = limiter_url
    if url == "memory://":
        store = memory_store(clock=clock.time)
    elif url.startswith("sqlite:///"):
        store = sqlite_store(url.removeprefix("sqlite:///"), clock=clock.time)
    else:
        store = postgres_store(url, schema=schema)
    lim = RateLimiter(store, sleep=clock.sleep, monotonic=clock.monotonic)
    yield lim
    lim.close()


def take(limiter: RateLimiter, buckets: list[str], limits: VendorLimits, weight: int = 1) -> int:
    lease = limiter.acquire("vendor", buckets, limits, weight)
    limiter.release(lease)
    return lease.index


def test_sliding_window_admits_limit_then_waits_for_the_oldest_slot(limiter: RateLimiter, clock: Clock) -> None:
    limits = VendorLimits((Rate(3, 0.4),), max_wait_seconds=5)
    started = clock.monotonic()
    for _ in range(3):
        take(limiter, ["k1"], limits)
    assert clock.sleeps == []  # the window's three slots are granted without waiting
    take(limiter, ["k1"], limits)
    assert clock.monotonic() - started >= 0.4  # the fourth waits until the first slot leaves the window
    if isinstance(clock, FakeClock):  # on a fake clock the wait is exactly the window (+1 ms margin)
        assert sum(clock.sleeps) == pytest.approx(0.401, abs=1e-6)


def test_a_long_wait_is_logged_for_the_run_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limiter = RateLimiter(memory_store(clock=clock.time), sleep=clock.sleep, monotonic=clock.monotonic)
    limits = VendorLimits((Rate(1, 5.0),), max_wait_seconds=10)
    take(limiter, ["k1", "k2"], limits)
    take(limiter, ["k1", "k2"], limits)
    with caplog.at_level(logging.INFO, logger="backfill_pipeline.vendors.ratelimit"):
        take(limiter, ["k1", "k2"], limits)
    assert sum(clock.sleeps) == pytest.approx(5.001, abs=1e-6)
    assert [r.getMessage() for r in caplog.records] == ["vendor: rate limit reached on every key (2); waiting 5.0s"]


def test_rotation_uses_every_key_then_fails_fast_past_max_wait(limiter: RateLimiter, clock: Clock) -> None:
    limits = VendorLimits((Rate(2, 30.0),), max_wait_seconds=0.5)
    used = [take(limiter, ["k1", "k2"], limits) for _ in range(4)]
    assert sorted(used) == [0, 0, 1, 1]
    with pytest.raises(BudgetExhausted) as info:
        take(limiter, ["k1", "k2"], limits)
    # The next slot is ~30 s away: no point sleeping out the 0.5 s bound first.
    assert clock.sleeps == []
    assert info.value.next_free_s is not None and info.value.next_free_s > 20


def test_a_blocked_key_is_skipped_by_every_limiter_on_the_store(limiter_url: tuple[str, str | None]) -> None:
    url, schema = limiter_url
    if url == "memory://":
        pytest.skip("two in-memory limiters share nothing, by design")
    first, second = RateLimiter.from_url(url, schema=schema), RateLimiter.from_url(url, schema=schema)
    limits = VendorLimits((Rate(100, 60.0),), max_wait_seconds=0.2)
    first.block("k1", 30.0)
    assert {take(second, ["k1", "k2"], limits) for _ in range(5)} == {1}
    first.close()
    second.close()


def test_weights_count_against_weighted_rates_only(limiter: RateLimiter) -> None:
    limits = VendorLimits((Rate(3, 60.0, weighted=False), Rate(10, 60.0)), max_wait_seconds=0.1)
    take(limiter, ["k"], limits, weight=5)
    take(limiter, ["k"], limits, weight=5)
    with pytest.raises(BudgetExhausted):  # weighted budget spent (10), request budget not (2 of 3)
        take(limiter, ["k"], limits, weight=1)
    with pytest.raises(ValueError, match="can never fit"):
        limiter.acquire("vendor", ["k"], limits, weight=11)


def test_an_unfinished_request_holds_its_slot_until_released(limiter: RateLimiter, clock: Clock) -> None:
    limits = VendorLimits((Rate(1, 0.2),), max_wait_seconds=0.5)
    lease = limiter.acquire("vendor", ["k"], limits)
    clock.advance(0.3)  # longer than the window: a slot stamped at grant time would have expired
    with pytest.raises(BudgetExhausted):
        limiter.acquire("vendor", ["k"], limits)
    limiter.release(lease)
    released = clock.monotonic()
    limiter.release(limiter.acquire("vendor", ["k"], limits))
    assert clock.monotonic() - released >= 0.19  # the window restarts at completion


def test_limiter_url_for_warehouse() -> None:
    sibling = "sqlite:////data/wh/warehouse.ratelimits.sqlite"
    assert limiter_url_for_warehouse("sqlite:////data/wh/warehouse.db") == sibling
    assert limiter_url_for_warehouse("/data/wh/warehouse.db") == "/data/wh/warehouse.ratelimits.sqlite"
    pg = "postgresql+psycopg://u@db:5432/market"
    assert limiter_url_for_warehouse(pg) == pg
    assert limiter_url_for_warehouse("sqlite://") == "memory://"
    with pytest.raises(ValueError):
        limiter_url_for_warehouse("mysql://u@h/db")
