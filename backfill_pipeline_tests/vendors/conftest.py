"""Fixtures for the vendor clients: a threaded local HTTP server, fast retry policies,
and a PostgreSQL schema for the shared limiter.

PostgreSQL: BACKFILL_TEST_PG_URL (SQLAlchemy URL), default the local server's `test`
database; tests create their own schema and drop it. Unreachable -> skipped, unless
BACKFILL_REQUIRE_PG=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer

from backfill_pipeline.vendors.client import ClientOptions
from backfill_pipeline.vendors.limits import Rate, VendorLimits
from backfill_pipeline.vendors.ratelimit import RateLimiter
from backfill_pipeline.vendors.retry import RetryPolicy
from backfill_pipeline.vendors.trace import RequestRecord

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_cap_s=0.05, retry_after_floor_s=0.05)


def options(
    *,
    limiter: RateLimiter | None = None,
    rates: tuple[Rate, ...] = (Rate(10_000, 1.0),),
    max_wait: float = 5.0,
    retry: RetryPolicy = FAST_RETRY,
    timeout_s: float = 2.0,
    on_request: Callable[[RequestRecord], None] | None = None,
) -> ClientOptions:
    return ClientOptions(
        limiter=limiter,
        limits=VendorLimits(rates, max_wait_seconds=max_wait),
        retry=retry,
        timeout_s=timeout_s,
        connect_timeout_s=timeout_s,
        on_request=on_request,
    )


@pytest.fixture(scope="session")
def vendor_server() -> Iterator[HTTPServer]:
    # Threaded: a handler that sleeps (timeout tests) must not hold up the retry.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def server(vendor_server: HTTPServer) -> Iterator[HTTPServer]:
    vendor_server.clear()
    yield vendor_server
    vendor_server.clear()


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("BACKFILL_TEST_PG_URL", DEFAULT_PG_URL)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("BACKFILL_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable at {sa.engine.make_url(url).render_as_string()}: {exc.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema for the limiter's tables, dropped afterwards."""
    schema = f"ratelimit_test_{uuid.uuid4().hex[:10]}"
    yield schema
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
