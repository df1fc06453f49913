"""OHLCV assets through Dagster: single partitions, ranged runs, re-runs, failures, checks."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.markets import MARKETS
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import fetch_rows, materialize, table_rows
from backfill_pipeline_tests.instances import shipped_instance
from backfill_pipeline_tests.test_resample import independent_resample

EQ = MARKETS["us_equities"]


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        inst.add_dynamic_partitions("crypto_symbols", ["BTC-USD"])
        yield inst


def _checks(result):
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def test_one_partition(instance, warehouse_url):
    result = materialize(instance, warehouse_url, "us_equities", ["1m"], partition_key="2024-11-29|AAPL")
    assert result.success
    rows = table_rows(warehouse_url)
    assert len(rows) == 210  # early close: 09:30-13:00
    assert {r[1] for r in rows} == {"AAPL"} and {r[2] for r in rows} == {"1m"}
    log = fetch_rows(warehouse_url)
    assert [(r["symbol"], r["session"], r["bars"], r["status"], r["finalized"]) for r in log] == [
        ("AAPL", dt.date(2024, 11, 29), 210, "ok", True)]
    checks = _checks(result)
    assert {name for tf, name in checks} == {"ohlc_valid", "unique_timestamps", "inside_session", "complete", "fresh"}
    assert all(checks[("1m", name)].passed for name in ("ohlc_valid", "unique_timestamps", "inside_session", "complete"))
    fresh = checks[("1m", "fresh")]  # a 2024 partition is not the newest session
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN
    assert "behind" in fresh.metadata["stale_symbols"].value["AAPL"]
    assert checks[("1m", "complete")].metadata["expected_bars"].value == 210


def test_ranged_run_rerun_and_derived_bars(instance, warehouse_url):
    timeframes = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
    kwargs = {"start": "2024-03-07|AAPL", "end": "2024-03-12|MSFT"}  # spans the DST change
    result = materialize(instance, warehouse_url, "us_equities", timeframes, **kwargs)
    assert result.success
    # one run covers both symbols x 4 sessions for all seven assets
    mats = result.get_asset_materialization_events()
    assert len(mats) == 7 * 2 * 4
    first = table_rows(warehouse_url)
    assert materialize(instance, warehouse_url, "us_equities", timeframes, **kwargs).success
    assert table_rows(warehouse_url) == first  # re-materialising leaves identical rows

    wh = Warehouse(warehouse_url)
    minutes = wh.read_bars("us_equities", "1m", "MSFT", dt.date(2024, 3, 7), dt.date(2024, 3, 12))
    assert len(minutes) == 4 * 390
    sessions = pd.DatetimeIndex(sorted(minutes["session"].unique()))
    opens = minutes.groupby("session")["ts"].min()
    for tf, rule in (("5m", "5min"), ("1h", "1h"), ("4h", "4h")):
        stored = wh.read_bars("us_equities", tf, "MSFT", dt.date(2024, 3, 7), dt.date(2024, 3, 12)).set_index("ts")
        expected = independent_resample(minutes.drop(columns="session"), EQ, sessions, opens.to_numpy(), rule)
        pd.testing.assert_index_equal(stored.index, expected.index, check_names=False)
        np.testing.assert_allclose(stored["close"], expected["close"])
        np.testing.assert_allclose(stored["volume"], expected["volume"])
    daily = wh.read_bars("us_equities", "1d", "MSFT", dt.date(2024, 3, 7), dt.date(2024, 3, 12))
    assert daily["high"].tolist() == minutes.groupby("session")["high"].max().tolist()
    wh.dispose()


def test_weekly_bars_follow_the_daily_asset(instance, warehouse_url):
    assert materialize(instance, warehouse_url, "us_equities", ["1d"], start="2024-11-25|SPY", end="2024-11-29|SPY").success
    result = materialize(instance, warehouse_url, "us_equities", ["1w"], partition_key="2024-11-25|SPY")
    assert result.success
    wh = Warehouse(warehouse_url)
    daily = wh.read_bars("us_equities", "1d", "SPY", dt.date(2024, 11, 25), dt.date(2024, 11, 29))
    weekly = wh.read_bars("us_equities", "1w", "SPY", dt.date(2024, 11, 25), dt.date(2024, 11, 25))
    assert len(daily) == 4 and len(weekly) == 1
    assert weekly["open"].iloc[0] == daily["open"].iloc[0] and weekly["close"].iloc[0] == daily["close"].iloc[-1]
    assert weekly["high"].iloc[0] == daily["high"].max() and weekly["volume"].iloc[0] == daily["volume"].sum()
    wh.dispose()


def test_a_vendor_failure_fails_the_run_and_writes_nothing_for_that_symbol(instance, warehouse_url):
    demo = DemoVendorResource(fail_symbols=["MSFT"])
    result = materialize(instance, warehouse_url, "us_equities", ["1m"], start="2024-03-06|AAPL", end="2024-03-06|MSFT", demo=demo)
    assert not result.success
    rows = table_rows(warehouse_url)
    assert {r[1] for r in rows} == {"AAPL"}
    failures = [r for r in fetch_rows(warehouse_url) if r["status"] != "ok"]
    assert [(r["symbol"], r["status"]) for r in failures] == [("MSFT", "error")]
    assert "injected failure" in failures[0]["error"]
    # Dagster records AAPL's partition as materialised and MSFT's as failed (the UI's colours)
    key = dg.AssetKey(["ohlcv", "us_equities", "1m"])
    assert {str(k) for k in instance.get_materialized_partitions(key)} == {"2024-03-06|AAPL"}


def test_completeness_check_names_short_partitions(instance, warehouse_url):
    demo = DemoVendorResource(drop_sessions=["AAPL@2024-03-07"])
    result = materialize(instance, warehouse_url, "us_equities", ["1m", "1h"], start="2024-03-06|AAPL", end="2024-03-08|AAPL", demo=demo)
    assert result.success
    checks = _checks(result)
    for tf, expected in (("1m", 390), ("1h", 7)):
        check = checks[(tf, "complete")]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["short_partition_list"].value == [f"AAPL 2024-03-07: 0/{expected} no_trades"]
        assert check.metadata["expected_bars"].value == 3 * expected
    assert checks[("1m", "ohlc_valid")].passed


def test_crypto_runs_every_day(instance, warehouse_url):
    result = materialize(instance, warehouse_url, "crypto", ["1m", "4h", "1d"], start="2024-03-09|BTC-USD", end="2024-03-10|BTC-USD")
    assert result.success
    wh = Warehouse(warehouse_url)
    counts = wh.bar_counts("crypto", "1m", dt.date(2024, 3, 9), dt.date(2024, 3, 10))
    assert counts["bars"].tolist() == [1440, 1440]
    assert len(wh.read_bars("crypto", "4h", "BTC-USD", dt.date(2024, 3, 9), dt.date(2024, 3, 10))) == 12
    wh.dispose()


def test_fused_step_derives_the_symbols_whose_fetch_worked_and_a_subset_rederives_from_storage(instance, warehouse_url):
    """1m and the timeframes resampled from it share a step. When MSFT's fetch fails, MSFT's
    stored 1m and 5m bars stay exactly as they were and AAPL's are written; selecting 5m
    alone re-derives it from the stored 1m."""
    kwargs = {"start": "2024-03-06|AAPL", "end": "2024-03-06|MSFT"}
    assert materialize(instance, warehouse_url, "us_equities", ["1m", "5m"], **kwargs).success
    msft_before = [r for r in table_rows(warehouse_url) if r[1] == "MSFT"]
    assert len(msft_before) == 390 + 78
    with Warehouse(warehouse_url).transaction() as conn:  # AAPL starts empty: its rows must come from the new run
        conn.exec_driver_sql("DELETE FROM bars WHERE series_id IN (SELECT id FROM series WHERE symbol = 'AAPL')")
    demo = DemoVendorResource(fail_symbols=["MSFT"])
    result = materialize(instance, warehouse_url, "us_equities", ["1m", "5m"], demo=demo, **kwargs)
    assert not result.success
    rows = table_rows(warehouse_url)
    assert [r for r in rows if r[1] == "MSFT"] == msft_before
    aapl = pd.Series([r[2] for r in rows if r[1] == "AAPL"]).value_counts().to_dict()
    assert aapl == {"1m": 390, "5m": 78}
    first = [r for r in rows if r[2] == "5m"]
    assert materialize(instance, warehouse_url, "us_equities", ["5m"], partition_key="2024-03-06|AAPL").success
    assert [r for r in table_rows(warehouse_url) if r[2] == "5m"] == first
