"""The sensors' run requests executed for real: the gap sensor closes the gaps it finds, and
the weekly rollup sensor re-derives the weeks whose 1d bars were written."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from backfill_pipeline.automation.build import build_automation
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.gaps import scan
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES, derivation_sources
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import materialize
from backfill_pipeline_tests.instances import shipped_instance

EQ = MARKETS["us_equities"]
# Several Dagster runs per test (each sensor request executed): the slow tier. The fast tier
# keeps test_gap_sensor.py (which runs the sensors request, for every gap class) and
# test_ohlcv_assets.py (a ranged run fills its partitions, 1w follows 1d).
pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", url)  # the jobs' WarehouseResource() reads it
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        yield instance, url


def sensor_tick(instance, url, name: str, now: str | None = None, cursor: str | None = None):
    frozen = pd.Timestamp(now or "2024-03-06T12:00", tz="UTC")
    sensor = next(s for s in build_automation(Settings(), clock=lambda: frozen).sensors if s.name == name)
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"warehouse": WarehouseResource(url=url)}) as context:
        return sensor(context)


def execute(instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = build_definitions(Settings()).resolve_job_def(request.job_name)
    return job.execute_in_process(instance=instance, tags=request.tags, asset_selection=request.asset_selection,
                                  raise_on_error=False)


def gaps(url: str) -> dict[str, int]:
    wh = Warehouse(url)
    days = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 5))
    table = scan(wh, EQ, ["AAPL", "MSFT"], list(TIMEFRAME_NAMES), days, derivation_sources(("1m", "1d")),
                 pd.Timestamp("2024-03-06T12:00", tz="UTC"))
    wh.dispose()
    return table.groupby("gap_class").size().to_dict()


def test_the_gap_sensors_requests_fill_every_gap(env):
    instance, url = env
    assert materialize(instance, url, "us_equities", ["1m", "1d"], start="2024-03-04|AAPL", end="2024-03-05|AAPL").success
    first = sensor_tick(instance, url, "gap_fill_48h_sensor")
    assert sorted((r.job_name, r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"],
                   len(r.asset_selection or [])) for r in first.run_requests) == [
        ("us_equities_ohlcv_job", "2024-03-04|AAPL", "2024-03-05|AAPL", 5),  # derived only: 5m..4h
        ("us_equities_ohlcv_job", "2024-03-04|MSFT", "2024-03-05|MSFT", 0),  # the whole job
        ("us_equities_ohlcv_weekly_job", "2024-03-04|AAPL", "2024-03-04|AAPL", 0),  # AAPL's 1d week is stored
    ]
    for request in first.run_requests:
        assert execute(instance, request).success
    assert gaps(url) == {"complete": 2 * 2 * 7 + 1, "not_fetched": 1}  # MSFT's week was waiting for its 1d
    second = sensor_tick(instance, url, "gap_fill_48h_sensor", "2024-03-06T13:00", first.cursor)
    ((job, start, end),) = [(r.job_name, r.tags["dagster/asset_partition_range_start"],
                             r.tags["dagster/asset_partition_range_end"]) for r in second.run_requests]
    assert (job, start, end) == ("us_equities_ohlcv_weekly_job", "2024-03-04|MSFT", "2024-03-04|MSFT")
    assert execute(instance, second.run_requests[0]).success
    assert gaps(url) == {"complete": 2 * 2 * 7 + 2}
    done = sensor_tick(instance, url, "gap_fill_48h_sensor", "2024-03-06T14:00", second.cursor)
    assert not done.run_requests and done.skip_reason.skip_message.startswith("0 partitions requested")


def test_the_weekly_rollup_follows_1d_materialisations(env):
    instance, url = env
    assert materialize(instance, url, "us_equities", ["1d"], start="2024-03-04|AAPL", end="2024-03-04|AAPL").success
    first = sensor_tick(instance, url, "weekly_rollup_sensor")
    assert not first.run_requests  # the first tick starts from the newest materialisation
    assert materialize(instance, url, "us_equities", ["1d"], start="2024-03-05|AAPL", end="2024-03-06|MSFT").success
    assert materialize(instance, url, "us_equities", ["1d"], start="2024-02-29|MSFT", end="2024-03-12|MSFT").success
    second = sensor_tick(instance, url, "weekly_rollup_sensor", cursor=first.cursor)
    assert sorted((r.job_name, r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                  for r in second.run_requests) == [
        ("us_equities_ohlcv_weekly_job", "2024-02-26|MSFT", "2024-03-11|MSFT"),  # three weeks in one run
        ("us_equities_ohlcv_weekly_job", "2024-03-04|AAPL", "2024-03-04|AAPL"),
    ]
    for request in second.run_requests:
        assert request.tags["backfill_pipeline/origin"] == "weekly_rollup"
        assert execute(instance, request).success
    wh = Warehouse(url)
    weekly = wh.read_bars("us_equities", "1w", "AAPL", dt.date(2024, 3, 4), dt.date(2024, 3, 4))
    daily = wh.read_bars("us_equities", "1d", "AAPL", dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    assert len(daily) == 3 and weekly["volume"].iloc[0] == daily["volume"].sum()  # Mon-Wed stored so far
    wh.dispose()
    third = sensor_tick(instance, url, "weekly_rollup_sensor", cursor=second.cursor)
    assert not third.run_requests  # 1w materialisations are not 1d ones
