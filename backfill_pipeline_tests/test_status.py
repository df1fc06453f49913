"""`backfill-pipeline status` / `history` and reports/backfill_status on runs and fetches we know."""

import datetime as dt
import json
import warnings

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backfill_pipeline.automation.status_asset import backfill_status
from backfill_pipeline.bench.sensor_tick import fetch_row
from backfill_pipeline.cli.main import cli
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.names import RATE_LIMITED_TAG, ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import demo_bars
from backfill_pipeline_tests.homes import cli_in, copy_state

BATCH = "gap_sensor:us_equities:2024-03-06T12:00Z"


def _materialize(instance, url, symbol, timeframes, demo=None, tags=None):
    defs = build_definitions(Settings())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.materialize(
            list(defs.assets), selection=[ohlcv_key("us_equities", tf) for tf in timeframes], instance=instance,
            resources={**defs.resources, "warehouse": WarehouseResource(url=url), **demo_bars(Settings(), demo)},
            tags={"dagster/asset_partition_range_start": f"2024-03-04|{symbol}",
                  "dagster/asset_partition_range_end": f"2024-03-05|{symbol}", **(tags or {})},
            raise_on_error=False)


@pytest.fixture(scope="module")
def known_state(tmp_path_factory, module_warehouse_url):
    """An older CLI backfill, then one gap-sensor batch of two runs: AAPL ok, MSFT failed
    (vendor error, then a rate-limited fetch; the run tagged rate limited); the warehouse on
    SQLite and on PostgreSQL. Built once per backend: the tests only read the warehouse, and
    each gets its own copy of the Dagster home (homes.py)."""
    root = tmp_path_factory.mktemp("known")
    url = module_warehouse_url
    tags = {"backfill_pipeline/origin": "gap_sensor", "backfill_pipeline/batch": BATCH,
            "backfill_pipeline/market": "us_equities"}
    with cli_in(root), dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        from backfill_pipeline.launch import Plan, launch_in_instance

        launch_in_instance(instance, build_definitions(Settings()), Plan({"ohlcv/us_equities/1m": ["2024-03-01|AAPL"]}, 1, 1),
                           "older manual backfill")
        assert _materialize(instance, url, "AAPL", ["1m", "5m", "1d"], tags=tags).success
        failed = _materialize(instance, url, "MSFT", ["1m", "1d"], DemoVendorResource(fail_symbols=["MSFT"]), tags)
        assert not failed.success
        instance.add_run_tags(failed.run_id, {RATE_LIMITED_TAG: "true"})
    wh = Warehouse(url)
    wh.log_fetches([fetch_row("us_equities", "MSFT", "1m", dt.date(2024, 3, 6), 0, status="rate_limited",
                              finalized=False, run_id=failed.run_id, error="polygon: MSFT: budget spent for 60 s",
                              fetched_at=dt.datetime(2024, 3, 6, 12, 5, tzinfo=dt.UTC))])
    wh.dispose()
    return root, url


@pytest.fixture
def known(known_state, dagster_home, tmp_path, monkeypatch):
    root, url = known_state
    copy_state(root, tmp_path)
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", url)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False), url


def test_status_reports_the_last_batch_per_market(known):
    run, _ = known
    result = run("status", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["crypto"] == []
    (last,) = data["us_equities"]
    figures = {k: last[k] for k in ("kind", "title", "runs_ok", "runs_failed", "runs_running", "symbols_ok",
                                    "symbols_failed", "failed_symbols", "bars_written", "requests", "fetches",
                                    "failed_fetches", "rate_limit_waits", "rate_limited_runs")}
    assert figures == {
        "kind": "gap_sensor", "title": BATCH, "runs_ok": 1, "runs_failed": 1, "runs_running": 0,
        "symbols_ok": 1, "symbols_failed": 1, "failed_symbols": ["MSFT"],
        "bars_written": 2 * 390 + 2 * 78 + 2,  # AAPL 1m, 5m, 1d over two sessions
        "requests": 2, "fetches": 5, "failed_fetches": 3, "rate_limit_waits": 1, "rate_limited_runs": 1,
    }
    two = json.loads(run("status", "--market", "us_equities", "--batches", "2", "--format", "json").output)
    assert [(b["kind"], b["title"], b["runs_ok"]) for b in two["us_equities"]] == [
        ("gap_sensor", BATCH, 1), ("backfill", "older manual backfill", 0)]
    # the backfill nobody ran yet: its totals, from the daemon's record of it
    assert [(b["partitions_total"], b["partitions_done"], b["backfill_status"]) for b in two["us_equities"]] == [
        (None, None, None), (1, 0, "REQUESTED")]
    assert "  partitions 0/1 done, 0 failed (REQUESTED; all markets of the backfill)" in run(
        "status", "--batches", "2").output
    text = run("status").output
    assert f"us_equities: gap_sensor '{BATCH}' started " in text
    assert "  runs      1 ok, 1 failed, 0 running" in text
    assert "  symbols   1 ok, 1 failed (MSFT)" in text
    assert "  bars      938 written" in text
    assert "  fetches   5 (3 failed), 2 vendor requests" in text
    assert "  rate limits 1 rate-limited fetches, 1 runs tagged rate limited" in text
    assert "crypto: no backfill yet" in text


def test_history_lists_fetches_with_their_outcome(known):
    run, _ = known
    text = run("history", "--symbol", "msft").output
    lines = text.strip().splitlines()
    assert len(lines) == 3
    assert "2024-03-06T12:05" not in lines[0] and "RATE_LIMITED: polygon: MSFT: budget spent for 60 s" in lines[0]
    assert all("ERROR: demo: MSFT" in ln and "injected failure" in ln for ln in lines[1:])
    assert "2024-03-04..2024-03-05 (2 sessions): 0 bars" in lines[1]
    ok = run("history", "--market", "us_equities", "--status", "ok", "--format", "json")
    rows = json.loads(ok.output)
    assert sorted((r["symbol"], r["timeframe"], r["bars"], r["sessions"], r["requests"], r["finalized_sessions"])
                  for r in rows) == [("AAPL", "1d", 2, 2, 1, 2), ("AAPL", "1m", 780, 2, 1, 2)]
    assert len(run("history", "--limit", "1").output.strip().splitlines()) == 1
    assert "no fetches recorded for that filter" in run("history", "--market", "crypto").output
    assert run("history", "--market", "forex").exit_code != 0


def test_the_backfill_status_asset_shows_the_same_figures(known):
    _, url = known
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([backfill_status], instance=instance, resources={"warehouse": WarehouseResource(url=url)})
    (event,) = result.get_asset_materialization_events()
    meta = event.step_materialization_data.materialization.metadata
    assert meta["us_equities/runs_ok"].value == 1 and meta["us_equities/runs_failed"].value == 1
    assert meta["us_equities/bars_written"].value == 938 and meta["us_equities/rate_limit_waits"].value == 1
    assert meta["us_equities/symbols_failed"].value == 1
    assert "| crypto | no backfill yet |" in meta["last_backfills"].value
    assert meta["us_equities/last_batch"].value.startswith(f"gap_sensor: {BATCH} at ")


def test_status_on_an_empty_instance(dagster_home, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'wh.db'}")
    out = CliRunner().invoke(cli, ["status"], catch_exceptions=False).output
    assert out.splitlines() == ["us_equities: no backfill yet", "crypto: no backfill yet"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    assert sa.inspect(engine).has_table("fetch_log")
    engine.dispose()
