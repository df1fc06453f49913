"""The distributed deployment without Docker: compose's own commands as local processes, each
with its own directory (backfill_pipeline/testing/local_deploy.py): Redis, the code server,
3 Celery step workers standing for 3 machines, both webservers, the daemon and nginx with the
shipped config. A backfill of several symbols is launched through the proxy with an operator's
credentials against a local Polygon-format server that enforces Polygon's free-plan limit
(5 requests/min per key), and we check where the work ran, what landed and what the vendor saw.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline import graphql_client
from backfill_pipeline.launch import range_requests
from backfill_pipeline.markets import get_market, schedule_bounds
from backfill_pipeline.settings import Settings
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.testing.local_deploy import (
    OPERATOR_PORT,
    VIEWER_PORT,
    LocalDeployment,
    read_env_file,
)
from backfill_pipeline_tests.deploy.conftest import ENV_EXAMPLE, PgDatabases, artifacts_dir

pytestmark = pytest.mark.smoke

REQUIRE = "BACKFILL_REQUIRE_NGINX"  # CI sets it: a missing nginx or redis-server fails instead of skipping
WORKERS = 3
SYMBOLS = ("AAPL", "AMZN", "MSFT", "NVDA")
SESSIONS = ("2024-03-06", "2024-03-07")
ASSETS = ("ohlcv/us_equities/1m", "ohlcv/us_equities/1d")
# Two keys: 10 requests a minute between them, fewer than the backfill needs, so the workers
# must wait for each other's budget (rotation picks whichever key has room).
POLYGON_KEYS = ("pk_test_distributed_7c1e", "pk_test_distributed_90ab")
POLYGON_LIMIT = (5, 60.0)  # the free plan's published limit, which the client also assumes
OPERATOR, VIEWER = ("alice", "op-" + uuid.uuid4().hex[:10]), ("victor", "view-" + uuid.uuid4().hex[:10])

_LOGS = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename
      ... on EngineEvent { stepKey message metadataEntries { label ... on TextMetadataEntry { text } } } } }
  }
}
"""


@dataclass
class Distributed:
    deployment: LocalDeployment
    fake: FakePolygon
    operator_url: str
    viewer_url: str
    worker_names: dict[str, str]  # Celery node name -> worker process name
    databases: PgDatabases
    settings: Settings  # as the code server reads its environment


def _tools_or_skip() -> None:
    missing = [tool for tool in ("nginx", "redis-server", "openssl") if shutil.which(tool) is None
               and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{', '.join(missing)} missing and {REQUIRE}=1")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install nginx redis-server; .ci/run does)")


def _htpasswd(user: str, password: str) -> str:
    """A SHA-512-crypt line, as `printf 'alice:%s\\n' "$(openssl passwd -6)"` (README) makes."""
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                            check=True).stdout.strip()
    return f"{user}:{hashed}\n"


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distributed]:
    _tools_or_skip()
    admin_url = os.environ.get("BACKFILL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    suffix = uuid.uuid4().hex[:8]
    dbs = PgDatabases(admin_url, f"bp_dist_instance_{suffix}", f"bp_dist_warehouse_{suffix}")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (dbs.instance_db, dbs.warehouse_db):
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        if os.environ.get("BACKFILL_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    fake = FakePolygon(keys=set(POLYGON_KEYS), rate_limit=POLYGON_LIMIT).start()
    pg = sa.engine.make_url(admin_url)
    env = {
        **os.environ,
        **read_env_file(ENV_EXAMPLE),
        "DAGSTER_POSTGRES_USER": pg.username or "postgres",
        "DAGSTER_POSTGRES_PASSWORD": pg.password or "",
        "DAGSTER_POSTGRES_HOST": pg.host or "127.0.0.1",
        "DAGSTER_POSTGRES_PORT": str(pg.port or 5432),
        "DAGSTER_POSTGRES_DB": dbs.instance_db,
        "BACKFILL_WAREHOUSE_URL": dbs.warehouse_url,
        "BACKFILL_REDIS_PASSWORD": uuid.uuid4().hex,
        "BACKFILL_VENDOR_US_EQUITIES": "polygon",
        "POLYGON_API_KEYS": ",".join(POLYGON_KEYS),
        "POLYGON_BASE_URL": fake.url,
        "BACKFILL_POOL_LIMIT_POLYGON": str(WORKERS),  # .env: let a fetch step run on every worker
        "BACKFILL_WORKER_CONCURRENCY": "1",  # 3 "machines" of one slot each on this 2-core box
    }
    root = tmp_path_factory.mktemp("distributed")
    dep = LocalDeployment(root, env)
    try:
        worker_names = dep.start_stack(WORKERS, symbols=SYMBOLS)
        dep.start_nginx({"operators_htpasswd": _htpasswd(*OPERATOR), "viewers_htpasswd": _htpasswd(*VIEWER)})
        yield Distributed(dep, fake, dep.url("proxy", OPERATOR_PORT), dep.url("proxy", VIEWER_PORT), worker_names, dbs,
                          Settings.from_env(env))
    finally:
        dep.stop_all()
        fake.stop()
        try:
            shutil.copytree(dep.logs, artifacts_dir() / "distributed_deploy_logs", dirs_exist_ok=True)
        except OSError:
            pass
        with admin.connect() as conn:
            for name in (dbs.instance_db, dbs.warehouse_db):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _celery_workers_of(url: str, run_id: str) -> set[str]:
    """The Celery nodes that executed the run's steps, from Dagster's own engine events."""
    data = graphql_client.execute(url, _LOGS, {"runId": run_id}, auth=OPERATOR)["logsForRun"]
    assert data["__typename"] == "EventConnection", data
    return {entry["text"] for event in data["events"] if event["__typename"] == "EngineEvent"
            for entry in event.get("metadataEntries") or [] if entry["label"] == "Celery worker"}


def _run_ranges(dbs: PgDatabases, run_ids: object) -> dict[str, tuple[str, str]]:
    """run id -> (first, last) partition key of its range, from instance storage."""
    instance = sa.create_engine(dbs.instance_url)
    with instance.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT run_id, key, value FROM run_tags WHERE key IN "
            "('dagster/asset_partition_range_start', 'dagster/asset_partition_range_end')")).all()
    instance.dispose()
    ranges: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        ranges.setdefault(run_id, {})[key.rsplit("_", 1)[-1]] = value
    assert set(ranges) == set(run_ids), (ranges, run_ids)  # type: ignore[arg-type]
    return {run_id: (r["start"], r["end"]) for run_id, r in ranges.items()}


def _request_floor(settings: Settings, start: str, end: str) -> int:
    """Fewest requests for one ranged run (it holds every asset of the backfill): each fetched
    timeframe's requests by Polygon's own rule (launch.range_requests: pages of the sessions'
    extended-hours minutes) for every symbol of the range, the server having every minute."""
    return sum(range_requests(settings, "us_equities", key.rsplit("/", 1)[-1], start, end, SYMBOLS) for key in ASSETS)


def _vendor_bars(fake: FakePolygon, symbol: str) -> pd.DataFrame:
    """What the vendor serves for the sessions' regular hours (its own aggregates answer)."""
    market = get_market("us_equities")
    opens, closes = schedule_bounds(market)
    days = pd.DatetimeIndex(pd.to_datetime(list(SESSIONS)))
    lo = int(opens[days].iloc[0].value // 1_000_000)
    hi = int(closes[days].iloc[-1].value // 1_000_000) - 1
    body = orjson.loads(orjson.dumps(fake.aggregates(f"/v2/aggs/ticker/{symbol}/range/1/minute/{lo}/{hi}",
                                                      {"limit": "50000"})))
    frame = pd.DataFrame(body["results"])
    ts = pd.to_datetime(frame["t"], unit="ms", utc=True)
    inside = np.zeros(len(frame), dtype=bool)
    for day in days:
        inside |= (ts >= opens[day]) & (ts < closes[day])
    return frame[inside].reset_index(drop=True)


def test_a_backfill_through_the_proxy_runs_on_several_workers_within_one_shared_limit(
    distributed: Distributed,
) -> None:
    d = distributed
    partitions = [f"{day}|{symbol}" for symbol in SYMBOLS for day in SESSIONS]
    backfill_id = graphql_client.launch_partition_backfill(
        d.operator_url, dict.fromkeys(ASSETS, partitions), title="distributed smoke", auth=OPERATOR
    )
    status = graphql_client.wait_for_backfill(d.operator_url, backfill_id, timeout_s=480, poll_s=3, auth=OPERATOR)
    d.deployment.assert_running()
    logs = "\n".join(d.deployment.log_tail(n) for n in ("daemon", "code_server", "worker1", "worker2", "worker3"))
    assert status.succeeded, f"{status}\n{logs}"

    # Work ran on more than one worker, and only on ours (each node named in its own log).
    nodes: dict[str, set[str]] = {run_id: _celery_workers_of(d.operator_url, run_id) for run_id in status.run_statuses}
    used = set().union(*nodes.values())
    assert all(nodes.values()), f"a run has no step executed by a Celery worker: {nodes}"
    assert used <= set(d.worker_names), f"{used} vs our workers {d.worker_names}"
    assert len(used) > 1, f"every step ran on {used}: {nodes}"
    print(f"\nruns per worker: { {d.worker_names[n]: sum(n in s for s in nodes.values()) for n in used} }")

    # What the vendor saw: the request floor of the runs Dagster made (it splits this backfill
    # into one ranged run per session), no 429, never more than the keys' limit in any window.
    floor = sum(_request_floor(d.settings, start, end)
                for start, end in _run_ranges(d.databases, status.run_statuses).values())
    assert d.fake.stats.throttled == 0
    assert d.fake.stats.requests == floor, (d.fake.stats.requests, floor)
    arrivals = np.sort(np.array(d.fake.stats.arrivals))
    limit, window = POLYGON_LIMIT[0] * len(POLYGON_KEYS), POLYGON_LIMIT[1]
    in_window = np.searchsorted(arrivals, arrivals + window, side="left") - np.arange(len(arrivals))
    assert in_window.max() <= limit
    # More requests than one window allows: workers waited for each other's budget through
    # the shared store, or the server would have answered 429.
    assert floor > limit

    warehouse = sa.create_engine(d.databases.warehouse_url)
    with warehouse.connect() as conn:
        requests = conn.execute(sa.text("SELECT count(*) FROM vendor_requests WHERE vendor = 'polygon'")).scalar_one()
        stored = {
            symbol: pd.read_sql(sa.text(
                "SELECT ts, open, high, low, close, volume FROM bars_by_series WHERE market = 'us_equities' "
                "AND timeframe = '1m' AND symbol = :s ORDER BY ts"), conn, params={"s": symbol})
            for symbol in SYMBOLS
        }
        daily = conn.execute(sa.text(
            "SELECT symbol, count(*) FROM bars_by_series WHERE market = 'us_equities' AND timeframe = '1d' GROUP BY symbol"
        )).all()
    warehouse.dispose()
    assert requests == floor
    assert dict(daily) == dict.fromkeys(SYMBOLS, len(SESSIONS))
    for symbol in SYMBOLS:
        vendor = _vendor_bars(d.fake, symbol)
        got = stored[symbol]
        assert len(got) == len(vendor) == 390 * len(SESSIONS), symbol
        assert (got["ts"].astype("int64") * 1000).tolist() == vendor["t"].tolist()  # epoch s vs ms
        for ours, theirs in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "v")):
            np.testing.assert_allclose(got[ours].to_numpy(float), vendor[theirs].to_numpy(float), rtol=0, atol=1e-9)


def test_strangers_are_refused_and_viewers_cannot_launch(distributed: Distributed) -> None:
    d = distributed
    for url in (d.operator_url, d.viewer_url):
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.post(f"{url}/graphql", json={"query": "{ version }"}, timeout=10).status_code == 401
        assert httpx.get(url, auth=(OPERATOR[0], "wrong"), timeout=10).status_code == 401
    assert httpx.get(d.operator_url, auth=VIEWER, timeout=10).status_code == 401  # viewers are not operators
    assert httpx.get(f"{d.operator_url}/server_info", auth=OPERATOR, timeout=10).status_code == 200

    instance = sa.create_engine(d.databases.instance_url)

    def backfills() -> int:
        with instance.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM bulk_actions")).scalar_one())

    before = backfills()
    # A viewer reads what operators do...
    version = graphql_client.execute(d.viewer_url, "{ version }", auth=VIEWER)
    assert version["version"]
    # ...and cannot launch anything.
    with pytest.raises(graphql_client.GraphQLError, match="Unauthorized"):
        graphql_client.launch_partition_backfill(
            d.viewer_url, {ASSETS[0]: [f"{SESSIONS[0]}|{SYMBOLS[0]}"]}, auth=VIEWER
        )
    assert backfills() == before
    instance.dispose()
