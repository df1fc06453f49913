"""The backfill plan's request estimate against the requests real runs make.

The plan's partitions are materialised the way the daemon runs them (single-run policy: one
ranged run per asset and symbol range) against the local server speaking Polygon's
aggregates wire format, which serves every extended-hours minute: the vendor has every bar,
so the estimate, an upper bound, is met exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import dagster as dg
import pytest

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.gap_file import GapEntry
from backfill_pipeline.launch import Plan, plan, range_requests
from backfill_pipeline.markets import get_market, sessions_in_range
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.partitions import DATE_DIM, split_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.vendors.polygon.resource import PolygonResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline_tests.instances import shipped_instance

SYMBOLS = ["AAPL", "MSFT"]


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", SYMBOLS)
        yield inst


@pytest.fixture
def polygon_env(monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEYS", "k1")
    # the free tier's 5 requests a minute would make the test wait, not change the count
    monkeypatch.setenv("BACKFILL_POLYGON_REQUESTS_PER_WINDOW", "1000")
    monkeypatch.setenv("BACKFILL_POLYGON_WINDOW_SECONDS", "1")


def gaps(timeframes: list[str], symbols: list[str], first: str, last: str) -> list[GapEntry]:
    sessions = sessions_in_range(get_market("us_equities"), dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    return [GapEntry("us_equities", tf, sym, s.date()) for tf in timeframes for sym in symbols for s in sessions]


def run_plan(the_plan: Plan, settings: Settings, instance: dg.DagsterInstance, warehouse_url: str,
             server: FakePolygon) -> int:
    """Materialise the plan's partitions as the daemon's backfill would (one ranged run per
    asset and contiguous range of a symbol's partitions); the requests the server received."""
    defs = build_definitions(settings)
    warehouse = WarehouseResource(url=warehouse_url)
    resources = {**defs.resources, "warehouse": warehouse,
                 "bars_us_equities": PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"),
                                                     base_url=server.url)}
    before = server.stats.requests
    for key, keys in the_plan.partitions.items():
        asset_key = dg.AssetKey.from_user_string(key)
        dates = defs.get_assets_def(asset_key).partitions_def.get_partitions_def_for_dimension(DATE_DIM)
        order = {k: i for i, k in enumerate(dates.get_partition_keys())}
        by_symbol: dict[str, list[str]] = defaultdict(list)
        for pk in keys:
            date_key, symbol = split_key(pk)
            by_symbol[symbol].append(date_key)
        for symbol, date_keys in by_symbol.items():
            for lo, hi in _ranges(sorted(date_keys, key=order.__getitem__), order):
                result = dg.materialize(
                    list(defs.assets), selection=[asset_key], instance=instance, resources=resources,
                    tags={"dagster/asset_partition_range_start": f"{lo}|{symbol}",
                          "dagster/asset_partition_range_end": f"{hi}|{symbol}"},
                    raise_on_error=False,
                )
                assert result.success, (key, symbol, lo, hi)
    return server.stats.requests - before


def _ranges(date_keys: list[str], order: dict[str, int]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in date_keys:
        if out and order[k] == order[out[-1][1]] + 1:
            out[-1] = (out[-1][0], k)
        else:
            out.append((k, k))
    return out


def _settings(grain: str) -> Settings:
    return Settings(partition_grain=grain, vendors={"us_equities": "polygon"},
                    automation=AutomationConfig(fetch_retries=0))


@pytest.mark.parametrize("grain, timeframes, first, last, requests", [
    # 61 sessions of 1m: 61 x 960 - 570 = 57,990 extended minutes in [first open, last close),
    # 2 pages, and one request of 1d, per symbol (the regular-hours bars said 1 page)
    ("daily", ["1m", "1d"], "2024-01-02", "2024-03-28", 2 * (2 + 1)),
    # 22 gap sessions, but their partitions are January to March: 61 sessions, 2 pages a symbol
    ("monthly", ["1m"], "2024-01-31", "2024-03-01", 2 * 2),
    # Wednesday and Thursday: their week's 5 sessions, one page
    ("weekly", ["1m"], "2024-03-06", "2024-03-07", 2 * 1),
])
def test_the_estimate_is_the_requests_of_real_runs(instance, polygon_env, tmp_path, grain, timeframes, first, last,
                                                   requests):
    settings = _settings(grain)
    the_plan = plan(gaps(timeframes, SYMBOLS, first, last), settings)
    with FakePolygon(keys={"k1"}) as server:  # every extended-hours minute has a bar
        made = run_plan(the_plan, settings, instance, f"sqlite:///{tmp_path / 'wh.db'}", server)
    assert the_plan.requests_estimate == made == requests


def test_the_estimate_bounds_the_requests_when_minutes_have_no_trades(instance, polygon_env, tmp_path):
    settings = _settings("daily")
    the_plan = plan(gaps(["1m", "1d"], SYMBOLS, "2024-01-02", "2024-03-28"), settings)
    with FakePolygon(keys={"k1"}, missing_every=3) as server:  # a third of the minutes: 38,660 fit a page
        made = run_plan(the_plan, settings, instance, f"sqlite:///{tmp_path / 'wh.db'}", server)
    assert (made, the_plan.requests_estimate) == (2 * (1 + 1), 2 * (2 + 1))


def test_the_dry_run_says_the_estimate_is_an_upper_bound(cli_run, monkeypatch):
    for name, value in {"BACKFILL_VENDOR_US_EQUITIES": "polygon", "BACKFILL_PARTITION_GRAIN": "monthly",
                        "POLYGON_API_KEYS": "k1"}.items():
        monkeypatch.setenv(name, value)
    assert cli_run("symbols", "add", "--market", "us_equities", "AAPL").exit_code == 0
    dry = cli_run("backfill", "--market", "us_equities", "--symbols", "AAPL", "--timeframes", "1m",
                  "--start", "2024-01-31", "--end", "2024-03-01", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert ("would launch 3 partitions over 1 assets: ~1 runs (one per symbol and dependency level), "
            "at most 2 vendor requests (retries not counted)") in dry.output


@pytest.mark.parametrize("grain, start, end, requests", [
    # 61 sessions of 1m (2 pages) and one 1d request, for each of the two symbols
    ("daily", "2024-01-02|AAPL", "2024-03-28|MSFT", 2 * (2 + 1)),
    # January to March, February included: one run of 61 sessions, as above (without
    # February: two runs of 1 page and 1 request each, 2 * (2 + 2))
    ("monthly", "2024-01-01|AAPL", "2024-03-01|MSFT", 2 * (2 + 1)),
    # one symbol, the week of 2024-03-04: 5 sessions, one page of 1m and one 1d request
    ("weekly", "2024-03-04|MSFT", "2024-03-04|MSFT", 1 + 1),
])
def test_a_ranged_runs_requests_are_what_the_vendor_is_asked(instance, polygon_env, tmp_path, grain, start, end,
                                                            requests):
    """range_requests (the bench's and the distributed deployment's floor) against one real
    ranged run of 1m and 1d over the range's date partitions x symbols."""
    settings = _settings(grain)
    defs = build_definitions(settings)
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'wh.db'}")
    with FakePolygon(keys={"k1"}) as server:
        resources = {**defs.resources, "warehouse": warehouse,
                     "bars_us_equities": PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"),
                                                         base_url=server.url)}
        result = dg.materialize(
            list(defs.assets), selection=[ohlcv_key("us_equities", "1m"), ohlcv_key("us_equities", "1d")],
            instance=instance, resources=resources,
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
            raise_on_error=False,
        )
        assert result.success
        made = server.stats.requests
    estimate = sum(range_requests(settings, "us_equities", tf, start, end, SYMBOLS) for tf in ("1m", "1d"))
    assert estimate == made == requests


def test_the_plan_says_what_weighted_requests_cost():
    assert Plan({}, 1, 412).requests_text == "at most 412 vendor requests (retries not counted)"
    assert (Plan({}, 1, 412, {"eodhd": 2060}).requests_text
            == "at most 412 vendor requests, 2,060 EODHD API calls of the daily quota (retries not counted)")
    assert (Plan({}, 1, 30, {"binance": 24, "eodhd": 20}).requests_text
            == "at most 30 vendor requests, 24 units of Binance's request weight, 20 EODHD API calls of the daily "
               "quota (retries not counted)")


def test_the_dry_run_counts_eodhds_api_calls(cli_run, monkeypatch):
    for name, value in {"BACKFILL_VENDOR_US_EQUITIES": "eodhd", "EODHD_API_KEYS": "k1"}.items():
        monkeypatch.setenv(name, value)
    assert cli_run("symbols", "add", "--market", "us_equities", "AAPL").exit_code == 0
    dry = cli_run("backfill", "--market", "us_equities", "--symbols", "AAPL", "--timeframes", "1m,1d",
                  "--start", "2024-01-02", "--end", "2024-06-28", "--dry-run")
    assert dry.exit_code == 0, dry.output
    # 1m: first open to last close is 178 days, two 120-day windows of 5 calls each;
    # 1d: one EOD request and one splits request of 1 call each
    assert "at most 4 vendor requests, 12 EODHD API calls of the daily quota (retries not counted)" in dry.output
