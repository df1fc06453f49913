"""Smoke test of the production deployment: the compose services' own commands, the production
dagster.yaml and PostgreSQL for both the instance and the warehouse. A backfill launched
through the webserver's GraphQL API is run by the daemon to completion.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from backfill_pipeline import graphql_client
from backfill_pipeline.names import vendor_pool
from backfill_pipeline_tests.deploy.conftest import PgDatabases, Stack

pytestmark = pytest.mark.smoke

SESSIONS = ("2024-03-06", "2024-03-07")
SYMBOL = "AAPL"
ASSET = "ohlcv/us_equities/1m"


def test_backfill_through_webserver_and_daemon_lands_in_postgres(
    deployed_stack: Stack, deploy_databases: PgDatabases
) -> None:
    stack = deployed_stack
    added = stack.run("backfill-pipeline", "symbols", "add", "--market", "us_equities", SYMBOL)
    assert added.returncode == 0, added.stderr

    started = time.monotonic()
    backfill_id = graphql_client.launch_partition_backfill(
        stack.webserver_url, {ASSET: [f"{day}|{SYMBOL}" for day in SESSIONS]}, title="smoke test"
    )
    # The daemon's backfill loop ticks about every 30 s; a two-partition backfill is one run.
    status = graphql_client.wait_for_backfill(stack.webserver_url, backfill_id, timeout_s=240, poll_s=3)
    elapsed = time.monotonic() - started
    stack.assert_running()
    assert status.succeeded, f"{status}\n{stack.log_tail('daemon')}\n{stack.log_tail('code_server')}"
    assert status.num_partitions == len(SESSIONS)
    assert status.run_statuses and set(status.run_statuses.values()) == {"SUCCESS"}
    print(f"\nstack up in {stack.startup_s:.1f} s; backfill {backfill_id} done in {elapsed:.1f} s")

    warehouse = sa.create_engine(deploy_databases.warehouse_url)
    with warehouse.connect() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT session, count(*) FROM bars_by_series WHERE market = 'us_equities' AND symbol = :symbol "
                "AND timeframe = '1m' GROUP BY session ORDER BY session"
            ),
            {"symbol": SYMBOL},
        ).all()
    warehouse.dispose()
    assert [(str(day), n) for day, n in counts] == [(day, 390) for day in SESSIONS]

    instance = sa.create_engine(deploy_databases.instance_url)
    with instance.connect() as conn:
        runs = conn.execute(
            sa.text(
                "SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
                "WHERE t.key = 'dagster/backfill' AND t.value = :id"
            ),
            {"id": backfill_id},
        ).all()
        pools = dict(conn.execute(sa.text("SELECT concurrency_key, \"limit\" FROM concurrency_limits")).all())
    instance.dispose()
    assert dict(runs) == status.run_statuses
    # dagster_init (docker/init_instance.sh) sized every vendor pool.
    assert {vendor_pool(v) for v in ("demo", "polygon", "eodhd", "binance", "fred")} <= set(pools)


def test_launch_errors_are_raised_not_swallowed(deployed_stack: Stack) -> None:
    with pytest.raises(graphql_client.GraphQLError):
        graphql_client.launch_partition_backfill(
            deployed_stack.webserver_url, {"ohlcv/no_such/1m": ["2024-03-06|AAPL"]}
        )
    with pytest.raises(graphql_client.GraphQLError, match="BackfillNotFoundError"):
        graphql_client.backfill_status(deployed_stack.webserver_url, "nosuchid")
