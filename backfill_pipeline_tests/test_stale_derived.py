"""A 1w bar built from part of its week: stale once the rest of its 1d bars arrive behind the
pipeline's back, rebuilt (equal to an independent resample of the five days) when they arrive
through a 1d-only materialisation. SQLite and PostgreSQL."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from backfill_pipeline.gaps import STALE, scan
from backfill_pipeline.ingest import fetch_and_store
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.resample import resample_bars
from backfill_pipeline.timeframes import derivation_sources
from backfill_pipeline.vendors.demo.client import DemoClient
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import materialize

EQ = MARKETS["us_equities"]
SOURCES = derivation_sources(("1m", "1d"))
WEEK = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 8))
MONDAY, FRIDAY = dt.date(2024, 3, 4), dt.date(2024, 3, 8)


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
        yield inst


def _one_day_week(instance, url: str) -> Warehouse:
    assert materialize(instance, url, "us_equities", ["1d"], partition_key="2024-03-04|AAPL").success
    assert materialize(instance, url, "us_equities", ["1w"], partition_key="2024-03-04|AAPL").success
    wh = Warehouse(url)
    weekly = wh.read_bars("us_equities", "1w", "AAPL", MONDAY, MONDAY)
    monday = wh.read_bars("us_equities", "1d", "AAPL", MONDAY, MONDAY)
    assert len(weekly) == 1 and weekly["volume"].iloc[0] == monday["volume"].iloc[0]  # built from Monday only
    return wh


def _independent_week(wh: Warehouse) -> pd.DataFrame:
    daily = wh.read_bars("us_equities", "1d", "AAPL", MONDAY, FRIDAY)
    assert len(daily) == 5
    return resample_bars(EQ, daily.drop(columns="session"), "1w")


def test_a_week_whose_days_arrived_behind_its_back_is_stale_then_refilled(instance, warehouse_url):
    wh = _one_day_week(instance, warehouse_url)
    # the other days stored by a writer that does not rebuild the week (not the pipeline's assets)
    now = pd.Timestamp("2024-03-20", tz="UTC")
    fetch_and_store(wh, DemoClient(EQ), EQ, "1d", "AAPL", WEEK[1:], now=now)
    table = scan(wh, EQ, ["AAPL"], ["1w"], WEEK, SOURCES, now=now)
    assert table["gap_class"].tolist() == [STALE]
    from backfill_pipeline.gap_file import format_text

    lines = [line for line in format_text(table, {}).splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1 and "1w" in lines[0] and "2024-03-04" in lines[0] and "stale" in lines[0]  # a line to fill
    # the gap partition is filled like any other: materialising the 1w partition rebuilds it
    assert materialize(instance, warehouse_url, "us_equities", ["1w"], partition_key="2024-03-04|AAPL").success
    assert scan(wh, EQ, ["AAPL"], ["1w"], WEEK, SOURCES, now=now)["gap_class"].tolist() == ["complete"]
    weekly = wh.read_bars("us_equities", "1w", "AAPL", MONDAY, MONDAY).drop(columns="session")
    pd.testing.assert_frame_equal(weekly.reset_index(drop=True), _independent_week(wh).reset_index(drop=True),
                                  check_dtype=False)
    wh.dispose()


def test_a_1d_only_materialisation_rebuilds_the_weeks_it_touches(instance, warehouse_url):
    wh = _one_day_week(instance, warehouse_url)
    assert materialize(instance, warehouse_url, "us_equities", ["1d"], start="2024-03-05|AAPL",
                       end="2024-03-08|AAPL").success
    weekly = wh.read_bars("us_equities", "1w", "AAPL", MONDAY, MONDAY).drop(columns="session")
    pd.testing.assert_frame_equal(weekly.reset_index(drop=True), _independent_week(wh).reset_index(drop=True),
                                  check_dtype=False)
    assert scan(wh, EQ, ["AAPL"], ["1w"], WEEK, SOURCES)["gap_class"].tolist() == ["complete"]
    wh.dispose()
