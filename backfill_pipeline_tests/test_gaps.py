"""Gap classes produced on purpose, and a scan that finds exactly them (SQLite and PostgreSQL)."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline.gaps import scan, summarize
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.timeframes import derivation_sources
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.schema import bars, series
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import materialize
from backfill_pipeline_tests.instances import shipped_instance

EQ = MARKETS["us_equities"]
SOURCES = derivation_sources(("1m", "1d"))
WEEK = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 8))  # Mon..Fri


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY", "IWM"])
        yield inst


@pytest.fixture(scope="module")
def gappy(module_warehouse_url):
    """AAPL fetched Mon-Wed only; MSFT fails; SPY is thin; IWM fetched before finalisation.
    Built once per backend (module scope): the tests read it, or restore what they change."""
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY", "IWM"])
        yield from _gappy(instance, module_warehouse_url)


def _gappy(instance, warehouse_url):
    tfs = ["1m", "5m", "1h", "1d"]
    assert materialize(instance, warehouse_url, "us_equities", tfs, start="2024-03-04|AAPL", end="2024-03-06|AAPL").success
    assert not materialize(instance, warehouse_url, "us_equities", ["1m"], partition_key="2024-03-05|MSFT",
                           demo=DemoVendorResource(fail_symbols=["MSFT"])).success
    assert materialize(instance, warehouse_url, "us_equities", tfs, start="2024-03-04|SPY", end="2024-03-08|SPY",
                       demo=DemoVendorResource(illiquid_symbols=["SPY"], no_trade_share=0.2)).success
    assert materialize(instance, warehouse_url, "us_equities", ["1m", "1d"], partition_key="2024-03-07|IWM",
                       demo=DemoVendorResource(finalization_delay_minutes=10_000_000)).success
    wh = Warehouse(warehouse_url)
    yield wh
    wh.dispose()


def _classes(table, timeframe):
    sub = table[(table["timeframe"] == timeframe) & (table["gap_class"] != "complete")]
    return {(r.symbol, f"{r.session:%m-%d}"): r.gap_class for r in sub.itertuples()}


def test_scan_finds_exactly_the_injected_gaps(gappy):
    table = scan(gappy, EQ, ["AAPL", "MSFT", "SPY", "IWM"], ["1m", "5m", "1h", "1d", "1w"], WEEK, SOURCES)
    one_minute = _classes(table, "1m")
    expected = {("AAPL", "03-07"): "not_fetched", ("AAPL", "03-08"): "not_fetched",
                ("MSFT", "03-04"): "not_fetched", ("MSFT", "03-05"): "vendor_error",
                ("MSFT", "03-06"): "not_fetched", ("MSFT", "03-07"): "not_fetched", ("MSFT", "03-08"): "not_fetched",
                ("IWM", "03-04"): "not_fetched", ("IWM", "03-05"): "not_fetched", ("IWM", "03-06"): "not_fetched",
                ("IWM", "03-07"): "unfinalized", ("IWM", "03-08"): "not_fetched"}
    expected |= {("SPY", d): "no_trades" for d in ("03-04", "03-05", "03-06", "03-07", "03-08")}
    assert one_minute == expected
    # derived timeframes inherit their source's reason; IWM 5m was never resampled
    five = _classes(table, "5m")
    assert five[("MSFT", "03-05")] == "vendor_error" and five[("IWM", "03-07")] == "unfinalized"
    assert five[("AAPL", "03-07")] == "not_fetched" and ("AAPL", "03-04") not in five
    daily = _classes(table, "1d")
    assert ("SPY", "03-04") not in daily  # a thin day still has its daily bar
    weekly = _classes(table, "1w")
    assert weekly == {("AAPL", "03-04"): "not_fetched", ("MSFT", "03-04"): "not_fetched",  # its 1d never fetched
                      ("SPY", "03-04"): "not_fetched", ("IWM", "03-04"): "unfinalized"}
    spy = table[(table["symbol"] == "SPY") & (table["timeframe"] == "1m")]
    share = 1 - spy["present"].sum() / spy["expected"].sum()
    assert 0.1 < share < 0.3
    totals = summarize(table[table["timeframe"] == "1m"])
    assert (totals["not_fetched"], totals["vendor_error"], totals["unfinalized"], totals["no_trades"]) == (10, 1, 1, 5)


def test_summary_counts_agree_with_group_by(gappy):
    fast = scan(gappy, EQ, ["AAPL", "SPY"], ["1m", "1h"], WEEK, SOURCES)
    slow = scan(gappy, EQ, ["AAPL", "SPY"], ["1m", "1h"], WEEK, SOURCES, recount=True)
    pd.testing.assert_frame_equal(fast, slow)


def test_bars_lost_after_a_fetch_are_not_fetched(gappy):
    b = bars
    with gappy.engine.begin() as conn:
        aapl = conn.execute(sa.select(series.c.id).where(series.c.symbol == "AAPL", series.c.timeframe == "1m")).scalar_one()
        lost = (b.c.series_id == aapl, b.c.session == dt.date(2024, 3, 4))
        kept = [dict(r) for r in conn.execute(sa.select(b).where(*lost)).mappings()]
        conn.execute(b.delete().where(*lost))  # behind the pipeline's back: the summary follows by itself
    try:
        table = scan(gappy, EQ, ["AAPL"], ["1m"], WEEK[:1], SOURCES)
        assert table["gap_class"].tolist() == ["not_fetched"]
    finally:  # the module's other tests read the same warehouse
        with gappy.engine.begin() as conn:
            conn.execute(b.insert(), kept)
    assert scan(gappy, EQ, ["AAPL"], ["1m"], WEEK[:1], SOURCES)["gap_class"].tolist() == ["complete"]


def test_the_complete_check_fails_for_thin_partitions_over_the_tolerance(instance, warehouse_url):
    demo = DemoVendorResource(illiquid_symbols=["SPY"], no_trade_share=0.2)
    result = materialize(instance, warehouse_url, "us_equities", ["1m"], partition_key="2024-03-04|SPY", demo=demo)
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "complete")
    assert not check.passed and check.metadata["partitions_no_trades"].value == 1
    assert check.metadata["short_partition_list"].value[0].endswith("no_trades")
    from backfill_pipeline.settings import Settings

    lenient = materialize(instance, warehouse_url, "us_equities", ["1m"], partition_key="2024-03-04|SPY", demo=demo,
                          settings=Settings(no_trades_tolerance={"us_equities/1m": 0.5}))
    check = next(e for e in lenient.get_asset_check_evaluations() if e.check_name == "complete")
    assert check.passed


def test_weekly_partitions_read_the_daily_partitions_of_their_week():
    from backfill_pipeline.dagster_private import partition_loading_context
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.settings import Settings

    graph = build_definitions(Settings()).get_repository_def().asset_graph
    with shipped_instance() as inst, partition_loading_context(dynamic_partitions_store=inst):
        inst.add_dynamic_partitions("us_equities_symbols", ["SPY"])
        parents = graph.get_parent_partition_keys_for_child(
            dg.MultiPartitionKey({"date": "2024-11-25", "symbol": "SPY"}),
            dg.AssetKey(["ohlcv", "us_equities", "1d"]), dg.AssetKey(["ohlcv", "us_equities", "1w"]))
    assert sorted(parents.partitions_subset.get_partition_keys()) == [
        "2024-11-25|SPY", "2024-11-26|SPY", "2024-11-27|SPY", "2024-11-29|SPY"]


def test_fetch_log_counts_requests(gappy):
    from backfill_pipeline.warehouse.schema import vendor_requests

    with gappy.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(vendor_requests)).scalar()
    # AAPL 1m+1d, SPY 1m+1d, IWM 1m+1d: one demo request per consecutive-session range
    assert n == 6


@pytest.mark.date_sensitive
def test_report_asset_shows_the_completeness_matrix(instance, warehouse_url):
    from backfill_pipeline.calendar_grid import expected_counts
    from backfill_pipeline.markets import last_closed_sessions

    last_twenty = last_closed_sessions(EQ, 20)
    last_two = last_twenty[-2:]
    # The share of the last 20 sessions' 1m bars that the last two hold: 10.0 in a plain
    # month, more when an early close (210 bars) falls among the other 18.
    never = pd.Timestamp.max.tz_localize("UTC")
    share = 100 * expected_counts(EQ, "1m", last_two, never).sum() / expected_counts(EQ, "1m", last_twenty, never).sum()
    start, end = (f"{d:%Y-%m-%d}|AAPL" for d in last_two)
    assert materialize(instance, warehouse_url, "us_equities", ["1m", "1d"], start=start, end=end).success
    result = materialize(instance, warehouse_url, "us_equities", [], extra=[dg.AssetKey(["reports", "completeness"])])
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    table = meta["completeness_matrix"].value
    assert table.splitlines()[0] == "| market | symbol | 1m | 5m | 15m | 30m | 1h | 4h | 1d | 1w |"
    aapl = next(line for line in table.splitlines() if "| AAPL |" in line)
    cells = [c.strip() for c in aapl.strip("|").split("|")]
    assert cells[:2] == ["us_equities", "AAPL"]
    assert float(cells[2]) == pytest.approx(share, abs=0.06)  # 1m: the last 2 of the last 20 sessions
    assert float(cells[3]) == 0.0  # 5m was not materialised
    assert meta["sessions"].value == 20
