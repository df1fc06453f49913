"""Extended hours end to end: Dagster materialisations (demo and Polygon), the CLI, and a
`dagster asset materialize` subprocess that takes the option from the environment."""

import datetime as dt
import subprocess
import sys

import dagster as dg
import numpy as np
import pytest

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.vendors.polygon.resource import PolygonResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import materialize
from backfill_pipeline_tests.instances import shipped_instance

EXTENDED = {"BACKFILL_US_EQUITIES_HOURS": "extended"}


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        yield inst


def _checks(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def _per_session(url: str, timeframe: str, first: dt.date, last: dt.date) -> list[int]:
    wh = Warehouse(url)
    counts = wh.bar_counts("us_equities", timeframe, first, last)
    wh.dispose()
    return counts.sort_values(["symbol", "session"])["bars"].tolist()


def test_demo_materialisation_with_extended_hours_is_complete(instance, warehouse_url):
    # 2023-11-22 is a normal session (960 minutes), 2023-11-24 closes early (780)
    timeframes = ["1m", "5m", "1h", "4h", "1d"]
    result = materialize(instance, warehouse_url, "us_equities", timeframes, start="2023-11-22|AAPL",
                         end="2023-11-24|AAPL", settings=Settings.from_env(EXTENDED))
    assert result.success
    first, last = dt.date(2023, 11, 22), dt.date(2023, 11, 24)
    assert _per_session(warehouse_url, "1m", first, last) == [960, 780]
    assert _per_session(warehouse_url, "5m", first, last) == [192, 156]
    assert _per_session(warehouse_url, "1h", first, last) == [16, 13]
    assert _per_session(warehouse_url, "4h", first, last) == [4, 4]
    assert _per_session(warehouse_url, "1d", first, last) == [1, 1]
    checks = _checks(result)
    for tf in timeframes:
        for name in ("complete", "inside_session", "ohlc_valid", "unique_timestamps"):
            assert checks[(tf, name)].passed, (tf, name, checks[(tf, name)].metadata)
    assert checks[("1m", "complete")].metadata["expected_bars"].value == 960 + 780
    assert checks[("1h", "complete")].metadata["expected_bars"].value == 16 + 13

    wh = Warehouse(warehouse_url)
    minutes = wh.read_bars("us_equities", "1m", "AAPL", first, last)
    daily = wh.read_bars("us_equities", "1d", "AAPL", first, last)
    four = wh.read_bars("us_equities", "4h", "AAPL", first, last)
    wh.dispose()
    local = minutes["ts"].dt.tz_convert("America/New_York")
    assert local.dt.strftime("%H:%M").iloc[[0, -1]].tolist() == ["04:00", "16:59"]
    # the daily bar is the whole extended session
    np.testing.assert_allclose(daily["volume"], minutes.groupby("session")["volume"].sum())
    assert four["ts"].dt.tz_convert("America/New_York").dt.strftime("%m-%d %H:%M").tolist() == [
        "11-22 04:00", "11-22 08:00", "11-22 12:00", "11-22 16:00",
        "11-24 04:00", "11-24 08:00", "11-24 12:00", "11-24 16:00"]


def test_polygon_keeps_pre_and_after_market_bars_when_the_market_has_them(instance, warehouse_url, monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEYS", "k1")
    settings = Settings(vendors={"us_equities": "polygon"}, hours={"us_equities": "extended"},
                        automation=AutomationConfig(fetch_retries=0))
    defs = build_definitions(settings)
    warehouse = WarehouseResource(url=warehouse_url)
    with FakePolygon(keys={"k1"}) as server:
        # the resource's extended_hours is left unset: it follows the market's option
        polygon = PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"), base_url=server.url)
        result = dg.materialize(
            list(defs.assets), selection=[ohlcv_key("us_equities", tf) for tf in ("1m", "1h")], instance=instance,
            resources={**defs.resources, "warehouse": warehouse, "bars_us_equities": polygon}, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": "2024-03-08|AAPL",
                  "dagster/asset_partition_range_end": "2024-03-11|AAPL"},
        )
    assert result.success
    first, last = dt.date(2024, 3, 8), dt.date(2024, 3, 11)  # across the DST change
    assert _per_session(warehouse_url, "1m", first, last) == [960, 960]
    assert _per_session(warehouse_url, "1h", first, last) == [16, 16]
    checks = _checks(result)
    assert checks[("1m", "complete")].passed and checks[("1m", "inside_session")].passed
    assert checks[("1m", "inside_session")].metadata["violations"].value == 0
    mats = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert mats["1m"]["run_requests"].value == 1  # 1920 minutes fit one page


def test_cli_demo_and_scan_follow_the_environment(cli_run, monkeypatch):
    monkeypatch.setenv("BACKFILL_US_EQUITIES_HOURS", "extended")
    result = cli_run("demo", "--days", "1", "--symbols", "SPY", "--timeframes", "1m,1h", "--end", "2024-11-29")
    assert result.exit_code == 0, result.output
    assert "missing bars 0" in result.output
    scan = cli_run("scan", "--market", "us_equities", "--start", "2024-11-29", "--end", "2024-11-29")
    assert scan.exit_code == 0, scan.output
    assert "complete 2," in scan.output  # 1m and 1h of SPY
    monkeypatch.setenv("BACKFILL_US_EQUITIES_HOURS", "bogus")
    bad = cli_run("scan", "--market", "us_equities", "--days", "1")
    assert bad.exit_code != 0
    assert "BACKFILL_US_EQUITIES_HOURS='bogus': expected one of regular, extended" in bad.output


@pytest.mark.slow
def test_dagster_cli_run_and_step_processes_take_the_option_from_the_environment(dagster_home, tmp_path):
    env = {"DAGSTER_HOME": str(dagster_home), "BACKFILL_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}",
           "PATH": f"{sys.prefix}/bin", **EXTENDED}
    add = subprocess.run(["backfill-pipeline", "symbols", "add", "--market", "us_equities", "AAPL"],
                         env=env, capture_output=True, text=True, check=False)
    assert add.returncode == 0, add.stderr
    proc = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "backfill_pipeline.definitions", "--select", "ohlcv/us_equities/1m",
         "--partition-range", "2024-11-01|AAPL...2024-11-04|AAPL"],  # across the November DST change
        env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _per_session(env["BACKFILL_WAREHOUSE_URL"], "1m", dt.date(2024, 11, 1), dt.date(2024, 11, 4)) == [960, 960]
