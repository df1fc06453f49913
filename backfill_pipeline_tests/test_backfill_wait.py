"""`backfill --wait` end to end: the real dagster-daemon runs the backfill while the command
follows it, on the repository's dagster.yaml (the batched SQLite event log storage)."""

import os
import re
import shutil
import signal
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from backfill_pipeline.instance import repo_instance_yaml
from backfill_pipeline.testing.fake_polygon import FakePolygon

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon_env(dagster_home, tmp_path, monkeypatch):
    """us_equities fetched from a local Polygon that refuses our key (401: a permanent error,
    not retried); crypto from the demo vendor. The daemon and the CLI share the environment."""
    shutil.copy(repo_instance_yaml(), dagster_home / "dagster.yaml")
    with FakePolygon(keys={"the-right-key"}) as polygon:
        monkeypatch.setenv("BACKFILL_VENDOR_US_EQUITIES", "polygon")
        monkeypatch.setenv("POLYGON_BASE_URL", polygon.url)
        monkeypatch.setenv("POLYGON_API_KEYS", "a-wrong-key")
        monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'wh.db'}")
        yield polygon


@pytest.fixture
def daemon(daemon_env, cli_run, tmp_path):
    """The daemon, started once the instance exists (two processes creating a fresh SQLite
    instance at once can both stamp its schema version: a Dagster race, not under test)."""
    assert cli_run("symbols", "add", "--market", "crypto", "BTC-USD").exit_code == 0
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dagster-daemon"), "run",
                             "-m", "backfill_pipeline.definitions"],
                            env={**os.environ}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield tmp_path / "daemon.log"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def test_wait_follows_the_backfill_to_its_end_and_lists_failed_partitions(cli_run, daemon):
    # A second backfill that succeeds, added first without --wait: the daemon runs both in the
    # same ticks (30 s each), instead of the second starting after the first has ended.
    ok = cli_run("backfill", "--market", "crypto", "--symbols", "BTC-USD", "--timeframes", "1d", "--start",
                 "2024-03-04", "--end", "2024-03-05")
    assert ok.exit_code == 0, ok.output
    (ok_id,) = re.findall(r"added backfill (\S+) to the instance", ok.output)
    result = cli_run("backfill", "--symbols", "SPY,BTC-USD", "--timeframes", "1m,1h", "--start", "2024-03-04",
                     "--end", "2024-03-05", "--title", "two markets", "--wait", "--poll", "1", "--timeout", "300")
    out = result.output
    assert result.exit_code == 1, out + daemon.read_text()[-3000:]
    # 2 sessions x 2 timeframes per symbol; crypto's 2 days succeed, SPY's fetch is refused
    assert "partitions 8/8 done (4 materialized, 4 failed)" in out, out
    assert "COMPLETED_FAILED" in out
    assert "runs 1 ok, 1 failed, 0 running" in out
    assert f"{2 * 1440 + 2 * 24:,} bars written" in out  # BTC-USD 1m + 1h over two UTC days
    assert "failed partitions (4):" in out
    assert "  ohlcv/us_equities/1m: 2024-03-04|SPY, 2024-03-05|SPY" in out
    assert "  ohlcv/us_equities/1h: 2024-03-04|SPY, 2024-03-05|SPY" in out

    # --wait's follower on the backfill that succeeded: exit 0, no failed partitions
    followed = CliRunner().invoke(_follow, [ok_id], catch_exceptions=False)
    assert followed.exit_code == 0, followed.output
    assert "COMPLETED_SUCCESS: partitions 2/2 done (2 materialized, 0 failed)" in followed.output
    assert "failed partitions" not in followed.output


@click.command()
@click.argument("backfill_id")
def _follow(backfill_id: str) -> None:
    """What `backfill --wait` runs after launching (cli/backfill.py), for a backfill launched earlier."""
    from backfill_pipeline.cli.follow import follow_backfill

    follow_backfill(backfill_id, None, 1.0, 300.0)


def test_wait_names_a_backfill_the_instance_does_not_hold(cli_run):
    import click

    from backfill_pipeline.cli.follow import follow_backfill

    with pytest.raises(click.ClickException, match="no asset backfill nope"):
        follow_backfill("nope", None, 1.0, 5.0)
