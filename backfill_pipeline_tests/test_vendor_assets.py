"""Real vendor clients inside Dagster: a local server speaking Polygon's wire format."""

import datetime as dt
import logging

import dagster as dg
import pytest
import sqlalchemy as sa

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.names import RATE_LIMITED_TAG, ohlcv_key
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.vendors.polygon.resource import PolygonResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.schema import fetch_log, vendor_requests
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.instances import shipped_instance

SECRET = "sk_test_DO_NOT_LEAK_91f3c2"


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        yield inst


def _run(instance, warehouse_url, monkeypatch, server_url, keys, timeframes, start, end, **overrides):
    monkeypatch.setenv("POLYGON_API_KEYS", keys)
    monkeypatch.setenv("POLYGON_BASE_URL", server_url)
    # no step retries here: the vendor layer's own retries and the limiter are under test
    defs = build_definitions(Settings(vendors={"us_equities": "polygon"}, automation=AutomationConfig(fetch_retries=0)))
    resources = dict(defs.resources)
    warehouse = WarehouseResource(url=warehouse_url)
    resources["warehouse"] = warehouse
    resources["bars_us_equities"] = PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"), **overrides)
    return dg.materialize(
        list(defs.assets), selection=[ohlcv_key("us_equities", tf) for tf in timeframes], instance=instance,
        resources=resources, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
    )


def test_polygon_bars_land_in_the_warehouse_with_requests_audited(instance, warehouse_url, monkeypatch):
    with FakePolygon(keys={"k1", "k2"}) as server:
        result = _run(instance, warehouse_url, monkeypatch, server.url, "k1,k2", ["1m", "1h", "1d"],
                      "2024-03-07|AAPL", "2024-03-12|MSFT")
        assert result.success
    wh = Warehouse(warehouse_url)
    counts = wh.bar_counts("us_equities", "1m", dt.date(2024, 3, 7), dt.date(2024, 3, 12))
    assert counts["bars"].tolist() == [390] * 8  # regular session only, across the DST change
    daily = wh.read_bars("us_equities", "1d", "AAPL", dt.date(2024, 3, 7), dt.date(2024, 3, 12))
    assert daily["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-03-07 00:00", "2024-03-08 00:00", "2024-03-11 00:00", "2024-03-12 00:00"]
    with wh.engine.connect() as conn:
        requests = conn.execute(sa.select(vendor_requests)).mappings().all()
    assert len(requests) == server.stats.requests == 4  # 2 symbols x (1m, 1d), one request each
    assert all(r["request_id"] and r["vendor"] == "polygon" and r["http_status"] == 200 for r in requests)
    assert all(r["api_key"] in ("key #1 of 2", "key #2 of 2") for r in requests)
    # the window runs from the first open to the last close; Polygon also sends the extended
    # hours in between (16 h a day), which are dropped: 4 x 960 - 330 pre - 240 post-market
    assert sorted(r["bars"] for r in requests if r["timeframe"] == "1m") == [3270, 3270]
    mats = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert mats["1m"]["run_requests"].value == 2 and mats["1m"]["vendor"].value == "polygon"
    wh.dispose()


def test_a_refused_key_fails_by_position_and_never_leaks(instance, warehouse_url, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    with FakePolygon(keys={"the-only-good-key"}) as server:
        result = _run(instance, warehouse_url, monkeypatch, server.url, SECRET, ["1m"],
                      "2024-03-07|AAPL", "2024-03-07|AAPL")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = failure.to_string()
    assert "key #1 of 1" in text and "polygon" in text and "AAPL" in text
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        errors = [row.error for row in conn.execute(sa.select(fetch_log))]
    assert errors and all("key #1 of 1" in e for e in errors)
    logs = instance.all_logs(result.run_id)
    everything = "\n".join([text, *errors, caplog.text, *capfd.readouterr(), *(repr(e) for e in logs)])
    assert SECRET not in everything
    wh.dispose()


def test_rate_limited_partitions_are_marked_for_resumption(instance, warehouse_url, monkeypatch):
    with FakePolygon(keys={"k1"}, rate_limit=(1, 60.0)) as server:
        result = _run(instance, warehouse_url, monkeypatch, server.url, "k1", ["1m"],
                      "2024-03-07|AAPL", "2024-03-07|MSFT", max_wait_seconds=0.5, max_attempts=2,
                      backoff_base_seconds=0.1, requests_per_window=1, window_seconds=60.0)
    assert not result.success
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        statuses = {row.symbol: row.status for row in conn.execute(sa.select(fetch_log))}
    assert statuses == {"AAPL": "ok", "MSFT": "rate_limited"}
    assert instance.get_run_by_id(result.run_id).tags.get(RATE_LIMITED_TAG) == "true"
    assert server.stats.throttled == 0  # the shared limiter waited instead of drawing 429s
    wh.dispose()


def test_vendor_timeframes_are_validated():
    with pytest.raises(SettingsError, match="does not serve 15m"):
        Settings.from_env({"BACKFILL_VENDOR_US_EQUITIES": "eodhd", "BACKFILL_FETCHED_TIMEFRAMES": "1m,15m,1d"})


def test_missing_keys_fail_the_run_with_the_variable_name(instance, warehouse_url, monkeypatch):
    monkeypatch.delenv("POLYGON_API_KEYS", raising=False)
    defs = build_definitions(Settings(vendors={"us_equities": "polygon"}, automation=AutomationConfig(fetch_retries=0)))
    with pytest.raises(dg.DagsterInvalidConfigError, match='environment variable "POLYGON_API_KEYS" which is not set'):
        dg.materialize(list(defs.assets), selection=[ohlcv_key("us_equities", "1m")], instance=instance,
                       resources={**defs.resources, "warehouse": WarehouseResource(url=warehouse_url)},
                       partition_key="2024-03-07|AAPL")
    wh = Warehouse(warehouse_url)
    assert wh.bar_counts("us_equities", "1m", dt.date(2024, 3, 7), dt.date(2024, 3, 7)).empty  # nothing written
    wh.dispose()


def test_a_refused_second_key_is_parked_and_the_backfill_stores_every_bar(instance, warehouse_url, monkeypatch):
    instance.add_dynamic_partitions("us_equities_symbols", ["NVDA"])
    with FakePolygon(keys={"k1"}) as server:  # k2 answers 401 "Unknown API Key"
        result = _run(instance, warehouse_url, monkeypatch, server.url, "k1,k2", ["1m"],
                      "2024-03-07|AAPL", "2024-03-12|NVDA")
        assert result.success
        seen = server.stats.requests
    wh = Warehouse(warehouse_url)
    counts = wh.bar_counts("us_equities", "1m", dt.date(2024, 3, 7), dt.date(2024, 3, 12))
    assert len(counts) == 3 * 4 and counts["bars"].tolist() == [390] * 12  # every bar of 3 symbols x 4 sessions
    with wh.engine.connect() as conn:
        requests = conn.execute(sa.select(vendor_requests)).mappings().all()
    assert len(requests) == seen == 3 + 1  # one page per symbol, and k2's single refused request
    refused = [r for r in requests if r["http_status"] == 401]
    assert [(r["api_key"], r["error"]) for r in refused] == [("key #2 of 2", "HTTP 401: Unknown API Key")]
    wh.dispose()


def test_plan_budgets_come_from_the_environment_every_run_reads(monkeypatch, warehouse_url):
    from backfill_pipeline.vendors.limits import Rate
    from backfill_pipeline.vendors.specs import DEFAULT_LIMITS

    settings = Settings.from_env({"BACKFILL_POLYGON_REQUESTS_PER_WINDOW": "100", "BACKFILL_POLYGON_WINDOW_SECONDS": "1",
                                  "BACKFILL_EODHD_DAILY_CALLS": "100000"})
    assert settings.limits("polygon").rates == (Rate(100, 1.0),)
    assert settings.limits("eodhd").rates[1] == Rate(100_000, 86_400.0)
    assert Settings.from_env({}).limits("polygon") == DEFAULT_LIMITS["polygon"]  # the free tier: 5 a minute
    for name, raw in (("BACKFILL_POLYGON_REQUESTS_PER_WINDOW", "lots"), ("BACKFILL_FRED_WINDOW_SECONDS", "0"),
                      ("BACKFILL_EODHD_DAILY_CALLS", "-3")):
        with pytest.raises(SettingsError, match=f"{name}='{raw}'"):
            Settings.from_env({name: raw})
    # the resource reads the run process's environment, so schedule, sensor, UI and CLI runs alike get it
    resource = PolygonResource(warehouse=WarehouseResource(url=warehouse_url), api_keys="k1")
    assert resource._limits() == DEFAULT_LIMITS["polygon"]
    monkeypatch.setenv("BACKFILL_POLYGON_REQUESTS_PER_WINDOW", "6")
    monkeypatch.setenv("BACKFILL_POLYGON_WINDOW_SECONDS", "10")
    assert resource._limits().rates == (Rate(6, 10.0),)
    # run config still wins for one run
    assert PolygonResource(warehouse=WarehouseResource(url=warehouse_url), api_keys="k1",
                           requests_per_window=2)._limits().rates == (Rate(2, 10.0),)
    monkeypatch.setenv("BACKFILL_POLYGON_WINDOW_SECONDS", "soon")
    with pytest.raises(dg.Failure, match="BACKFILL_POLYGON_WINDOW_SECONDS='soon'"):
        resource._limits()


def test_switching_a_markets_vendor_changes_configuration_not_the_asset_graph():
    demo, polygon = build_definitions(Settings()), build_definitions(Settings(vendors={"us_equities": "polygon"}))

    def graph(defs):
        return {(tuple(sorted(k.to_user_string() for k in a.keys)), tuple(sorted(a.required_resource_keys)),
                 tuple(sorted(str(d) for d in a.dependency_keys))) for a in defs.assets}

    assert graph(demo) == graph(polygon)
    assert {k for k in demo.resources if k.startswith("bars_")} == {"bars_us_equities", "bars_crypto"}
    assert type(demo.resources["bars_us_equities"]).__name__ == "DemoVendorResource"
    assert isinstance(polygon.resources["bars_us_equities"], PolygonResource)
    assert "polygon" not in polygon.resources and "demo" not in polygon.resources
