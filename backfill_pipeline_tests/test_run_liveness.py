"""No zombie runs: a started run whose process is gone does not keep its partitions from the
gap sensor, which requests them again in its next retry bucket (frozen clocks throughout)."""

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import time_machine
import yaml

from backfill_pipeline import dagster_private as dp
from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.local_process import node_id, process_alive
from backfill_pipeline.names import RUN_NODE_TAG
from backfill_pipeline.settings import Settings
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.instances import shipped_instance
from backfill_pipeline_tests.test_gap_sensor import INTRADAY_1M, failed_aapl_1m, requested, tick

T0 = "2024-03-06T12:00"  # a retry bucket (60 min) starts here
AAPL_1M = [("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", INTRADAY_1M)]
RANGE = {"dagster/asset_partition_range_start": "2024-03-05|AAPL",
         "dagster/asset_partition_range_end": "2024-03-05|AAPL"}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'wh.db'}"


@pytest.fixture
def failed(url):
    wh = Warehouse(url)
    failed_aapl_1m(wh)  # AAPL's 1m of 03-05 is due again
    wh.dispose()


def skip_message(result) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def exited_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def started_run(instance: dg.DagsterInstance, pid: int | None, node: str | None) -> dg.DagsterRun:
    tags = {**RANGE, **({RUN_NODE_TAG: node} if node else {})}
    run = instance.add_run(dg.DagsterRun(job_name="us_equities_ohlcv_job", status=dg.DagsterRunStatus.STARTED,
                                         tags=tags))
    if pid is not None:
        instance.report_engine_event(f"Started process for run (pid: {pid}).", run, dp.EngineEventData.in_process(pid))
    return run


def test_process_alive_tells_running_exited_and_reused_pids():
    assert process_alive(os.getpid())
    assert not process_alive(exited_pid())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{zombie.pid}/stat").read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not process_alive(zombie.pid)  # exited but not reaped yet
    zombie.wait()
    # a pid reported before this process started belongs to an earlier process
    assert not process_alive(os.getpid(), reported_at=time.time() - 10 * 365 * 86400)


def test_a_started_run_whose_worker_is_gone_is_marked_failed_and_its_partitions_requested(url, failed):
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        live = started_run(instance, os.getpid(), node_id())
        result = tick(instance, url, T0)
        assert requested(result) == [] and "in progress 1" in skip_message(result)
        instance.report_run_failed(live)

        dead = started_run(instance, exited_pid(), node_id())
        result = tick(instance, url, T0)
        assert requested(result) == AAPL_1M
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        failure = instance.get_records_for_run(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "pid" in failure[0].event_log_entry.dagster_event.message


def test_a_dead_pid_of_another_node_is_not_judged_here(url, failed):
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        other = started_run(instance, exited_pid(), "another-host/boot/pid:[1]")
        result = tick(instance, url, T0)
        assert requested(result) == [] and "in progress 1" in skip_message(result)
        assert instance.get_run_by_id(other.run_id).status == dg.DagsterRunStatus.STARTED


def test_a_silent_run_of_another_node_stops_counting_after_the_stale_limit(url, failed):
    # run records carry wall-clock stamps (some written by the database itself), so the
    # wall clock is moved past them; the sensor's own clock stays on the data's day
    settings = Settings(automation=AutomationConfig(stale_run_minutes=30))
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        run = started_run(instance, 12345, "another-host/boot/pid:[1]")
        created = dt.datetime.now(dt.UTC)
        with time_machine.travel(created + dt.timedelta(minutes=29), tick=False):
            fresh = tick(instance, url, T0, settings)
        assert requested(fresh) == [] and "in progress 1" in skip_message(fresh)
        with time_machine.travel(created + dt.timedelta(minutes=31), tick=False):
            stale = tick(instance, url, T0, settings, cursor=fresh.cursor)
            never = tick(instance, url, T0, Settings(automation=AutomationConfig(stale_run_minutes=0)))
        assert requested(stale) == AAPL_1M
        assert requested(never) == [] and "in progress 1" in skip_message(never)
        # not proven dead: left STARTED for run monitoring or an operator
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED


def _black_hole() -> socket.socket:
    """A listening socket that never answers: a vendor request to it hangs until killed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


_RUN_REQUEST = """
import json, sys
import dagster as dg
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.settings import Settings
request = json.loads(sys.argv[1])
job = build_definitions(Settings.from_env()).resolve_job_def(request["job"])
with dg.DagsterInstance.get() as instance:
    job.execute_in_process(instance=instance, tags=request["tags"], raise_on_error=False,
                           asset_selection=[dg.AssetKey(k) for k in request["assets"]])
"""


@pytest.mark.slow
def test_kill_9_of_a_real_run_then_sensor_ticks_request_its_partitions_again(tmp_path, url, failed):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({"telemetry": {"enabled": False}}))
    polygon = Settings(vendors={"us_equities": "polygon", "crypto": "demo"})
    hole = _black_hole()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        first = tick(instance, url, T0, polygon)
        assert requested(first) == AAPL_1M
        request = first.run_requests[0]
        env = {**os.environ, "DAGSTER_HOME": str(home), "BACKFILL_WAREHOUSE_URL": url,
               "BACKFILL_VENDOR_US_EQUITIES": "polygon", "POLYGON_API_KEYS": "k1",
               "POLYGON_BASE_URL": f"http://127.0.0.1:{hole.getsockname()[1]}"}
        payload = json.dumps({"job": request.job_name, "tags": request.tags,
                              "assets": [k.path for k in request.asset_selection]})
        proc = subprocess.Popen([sys.executable, "-c", _RUN_REQUEST, payload], env=env, cwd=REPO,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            run = _wait_for_started_run(instance, proc)
            alive = tick(instance, url, "2024-03-06T12:05", polygon, cursor=first.cursor)
            assert requested(alive) == [] and "in progress 1" in skip_message(alive)
            os.killpg(proc.pid, signal.SIGKILL)  # the run worker and anything it started
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            hole.close()
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # the zombie
        same_bucket = tick(instance, url, "2024-03-06T12:10", polygon, cursor=alive.cursor)
        assert requested(same_bucket) == []  # requested once in this bucket already
        assert "in progress" not in skip_message(same_bucket)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        next_bucket = tick(instance, url, "2024-03-06T13:00", polygon, cursor=same_bucket.cursor)
        assert requested(next_bucket) == AAPL_1M
        assert next_bucket.run_requests[0].tags["backfill_pipeline/attempt"] == "2"


def _wait_for_started_run(instance: dg.DagsterInstance, proc: subprocess.Popen) -> dg.DagsterRun:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run process ended early: {proc.stderr.read().decode()[-3000:]}")
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and runs[0].tags.get(RUN_NODE_TAG) == node_id():
            steps = instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START).records
            if steps:
                return runs[0]
        time.sleep(0.2)
    raise AssertionError("the run never started")



@pytest.mark.parametrize("folder", [REPO, REPO / "docker"])
def test_the_shipped_instance_configs_enable_run_monitoring(folder, tmp_path):
    config, _ = dp.dagster_instance_config(str(folder), "dagster.yaml")  # validated against Dagster's schema
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["start_timeout_seconds"] == 180 and monitoring["cancel_timeout_seconds"] == 180
    assert monitoring["poll_interval_seconds"] == 60
    if folder == REPO:  # the embedded default as the CLI installs it into a new DAGSTER_HOME
        (tmp_path / "dagster.yaml").write_text((folder / "dagster.yaml").read_text())
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
