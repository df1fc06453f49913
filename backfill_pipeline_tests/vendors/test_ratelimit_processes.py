"""Several processes sharing one limiter against a server that enforces a per-key limit:
zero 429s, and the whole budget used (finish within 10% of the span the limit allows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backfill_pipeline.bench.vendors import WorkerJob, run_processes
from backfill_pipeline.testing.fake_polygon import FakePolygon

KEYS = ("mp-key-1", "mp-key-2")
PER_KEY, WINDOW = 10, 2.0  # 20 requests per 2 s over the two keys
DAYS_PER_PROCESS = 30  # one request per day (page = 1440 base minutes): 60 requests in all
FIRST_DAY = pd.Timestamp("2024-01-01", tz="UTC")

# The one real-time limiter test: real processes, real clocks (the unit tests use fake ones).
pytestmark = pytest.mark.slow


def _run(limiter_url: str, processes: int = 2) -> tuple[FakePolygon, list]:
    with FakePolygon(keys=set(KEYS), rate_limit=(PER_KEY, WINDOW), max_limit=1440) as fake:
        jobs = [
            WorkerJob(
                base_url=fake.url,
                limiter_url=limiter_url,
                keys=KEYS,
                per_key_limit=PER_KEY,
                window_s=WINDOW,
                symbols=("BTC-USD",),
                timeframe="1h",
                start=(FIRST_DAY + pd.Timedelta(days=DAYS_PER_PROCESS * i)).isoformat(),
                end=(FIRST_DAY + pd.Timedelta(days=DAYS_PER_PROCESS * (i + 1))).isoformat(),
                page_limit=1440,
                max_wait_s=30.0,
            )
            for i in range(processes)
        ]
        results = run_processes(jobs, timeout_s=60)
    return fake, results


def _assert_budget_used_without_429s(fake: FakePolygon, results: list) -> None:
    assert [r.error for r in results] == [None] * len(results)
    total = DAYS_PER_PROCESS * len(results)
    assert sum(r.requests for r in results) == total
    assert fake.stats.throttled == 0
    assert len(fake.stats.arrivals) == total
    # At 20 requests per 2 s, 60 requests take 6 s of budget (the sliding window admits a
    # window's burst at once, so ~4.2 s is typical). The bound is generous (twice the budget)
    # because the machine is shared: it catches a limiter that serialises or over-waits,
    # not a slow machine. `backfill-pipeline bench` prints the real figure.
    rate_bound = total / (PER_KEY * len(KEYS) / WINDOW)
    slowest = max(r.seconds for r in results)
    assert slowest <= rate_bound * 2.0, f"took {slowest:.2f}s; the limit allows {rate_bound:.2f}s"
    # And no faster than the limit permits: request k+20 arrives >= 2 s after request k.
    arrivals = fake.stats.arrivals
    burst = PER_KEY * len(KEYS)
    assert all(later - earlier > WINDOW for earlier, later in zip(arrivals, arrivals[burst:], strict=False))


def test_processes_share_a_sqlite_limiter(tmp_path: Path) -> None:
    fake, results = _run(f"sqlite:///{tmp_path / 'limits.sqlite'}")
    _assert_budget_used_without_429s(fake, results)


def test_processes_share_a_postgres_limiter(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers build their limiter from the URL alone, so the test's schema is chosen
    # through the search_path of the connection instead.
    import uuid

    import sqlalchemy as sa

    schema = f"ratelimit_mp_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        fake, results = _run(url.render_as_string(hide_password=False))
        _assert_budget_used_without_429s(fake, results)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
