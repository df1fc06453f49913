"""gap_fill_48h_sensor over a frozen clock: what is due, what waits, what is capped."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from backfill_pipeline.automation.attempts import MAX_ENTRIES, Attempts
from backfill_pipeline.automation.build import build_automation
from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.bench.sensor_tick import fetch_row, grid_bars
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.names import RATE_LIMITED_TAG
from backfill_pipeline.settings import Settings
from backfill_pipeline.timeframes import TIMEFRAME_NAMES
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.instances import shipped_instance

EQ = MARKETS["us_equities"]
FETCHED = ("1m", "1d")
ALL = "*"  # the whole job
INTRADAY_1M = ("15m", "1h", "1m", "30m", "4h", "5m")  # 1m and what derives from it (sorted)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def store(wh: Warehouse, market, symbols, first: str, last: str, *, finalized: bool = True,
          timeframes=TIMEFRAME_NAMES, fetched_at: str = "2024-03-01") -> None:
    """Complete bars of every session in [first, last], fetched ones with an ok fetch-log row."""
    days = sessions_in_range(market, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    for tf in timeframes:
        grid = grid_bars(market, tf, days, utc("2030-01-01"))
        for symbol in symbols:
            rows = [fetch_row(market.name, symbol, tf, s, int((grid["session"] == s).sum()), finalized=finalized,
                              fetched_at=utc(fetched_at).to_pydatetime()) for s in days] if tf in FETCHED else []
            wh.replace_bars(market.name, tf, symbol, [s.date() for s in pd.DatetimeIndex(grid["session"].unique())],
                            grid, rows)


def fail(wh: Warehouse, market, symbol: str, day: str, timeframe: str = "1m", status: str = "error",
         fetched_at: str = "2024-03-05T21:05") -> None:
    wh.log_fetches([fetch_row(market.name, symbol, timeframe, pd.Timestamp(day), 0, status=status, finalized=False,
                              fetched_at=utc(fetched_at).to_pydatetime())])


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        yield inst


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'wh.db'}"


@pytest.fixture
def wh(url):
    warehouse = Warehouse(url)
    yield warehouse
    warehouse.dispose()


def tick(instance, url, now: str, settings: Settings | None = None, cursor: str | None = None):
    frozen = utc(now)
    automation = build_automation(settings or Settings(), clock=lambda: frozen)
    sensor = next(s for s in automation.sensors if s.name == "gap_fill_48h_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"warehouse": WarehouseResource(url=url)}) as context:
        return sensor(context)


def requested(result) -> list[tuple[str, str, str, str | tuple[str, ...]]]:
    out = []
    for r in result.run_requests or []:
        tfs = ALL if r.asset_selection is None else tuple(sorted(k.path[-1] for k in r.asset_selection))
        out.append((r.job_name, r.tags["dagster/asset_partition_range_start"],
                    r.tags["dagster/asset_partition_range_end"], tfs))
    return sorted(out)


def with_automation(**changes) -> Settings:
    return Settings(automation=AutomationConfig(**changes))


def test_only_closed_sessions_of_the_window_are_requested(instance, url, wh):
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-04", "2024-03-04")
    store(wh, EQ, ["MSFT", "SPY"], "2024-03-05", "2024-03-05")  # AAPL 03-05: never fetched
    before_close = tick(instance, url, "2024-03-06T20:59")  # Wednesday's session closes at 21:00 UTC
    assert requested(before_close) == [("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", ALL)]
    tags = before_close.run_requests[0].tags
    assert tags["backfill_pipeline/origin"] == "gap_sensor" and tags["backfill_pipeline/gap_classes"] == "not_fetched"
    assert tags["backfill_pipeline/attempt"] == "1" and tags["backfill_pipeline/market"] == "us_equities"
    after_close = tick(instance, url, "2024-03-06T21:00")
    assert requested(after_close) == [
        ("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-06|AAPL", ALL),  # one run per date run x block
        ("us_equities_ohlcv_job", "2024-03-06|MSFT", "2024-03-06|SPY", ALL),
    ]
    # a week later the window has moved on: nothing of that week is requested any more
    assert requested(tick(instance, url, "2024-03-13T12:00")) == [
        ("us_equities_ohlcv_job", "2024-03-11|AAPL", "2024-03-12|SPY", ALL)]


def test_unfinalized_partitions_wait_for_the_vendors_finalisation_delay(instance, url, wh):
    settings = Settings(vendors={"us_equities": "polygon", "crypto": "demo"})  # polygon: final 4h30 after the close
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-04", "2024-03-05")
    store(wh, EQ, ["AAPL"], "2024-03-05", "2024-03-05", finalized=False, timeframes=["1m"])
    early = tick(instance, url, "2024-03-06T01:29", settings)  # close 21:00 + 4h30 = 01:30
    assert requested(early) == []
    assert "awaiting finalisation 1" in early.skip_reason.skip_message
    due = tick(instance, url, "2024-03-06T01:30", settings)
    # 1m is fetched again and what derives from it resampled; 1d was final already
    assert requested(due) == [("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", INTRADAY_1M)]
    assert due.run_requests[0].tags["backfill_pipeline/gap_classes"] == "unfinalized"


def test_partitions_in_flight_are_left_to_their_run(instance, url, wh):
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-04", "2024-03-04")
    store(wh, EQ, ["SPY"], "2024-03-05", "2024-03-05")
    run = dg.DagsterRun(job_name="us_equities_ohlcv_job", status=dg.DagsterRunStatus.STARTED, tags={
        "dagster/asset_partition_range_start": "2024-03-05|AAPL", "dagster/asset_partition_range_end": "2024-03-05|AAPL"})
    instance.add_run(run)
    queued = dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.NOT_STARTED,
                           asset_selection={dg.AssetKey(["ohlcv", "us_equities", tf]) for tf in TIMEFRAME_NAMES[:-1]},
                           tags={"dagster/partition": "2024-03-05|MSFT"})
    instance.add_run(queued)
    result = tick(instance, url, "2024-03-06T12:00")
    assert requested(result) == []
    assert "in progress 2" in result.skip_reason.skip_message
    instance.report_run_failed(run)  # finished: AAPL is a gap again, MSFT still queued
    assert requested(tick(instance, url, "2024-03-06T12:00")) == [
        ("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", ALL)]


def failed_aapl_1m(wh: Warehouse, status: str = "error", fetched_at: str = "2024-03-05T21:05") -> None:
    """Everything of 03-04 and 03-05 stored but AAPL's 1m of 03-05, whose last fetch failed."""
    store(wh, EQ, ["MSFT", "SPY"], "2024-03-04", "2024-03-05")
    store(wh, EQ, ["AAPL"], "2024-03-04", "2024-03-04")
    store(wh, EQ, ["AAPL"], "2024-03-05", "2024-03-05", timeframes=["1d"])
    fail(wh, EQ, "AAPL", "2024-03-05", status=status, fetched_at=fetched_at)


def test_partitions_of_a_requested_backfill_are_in_flight(instance, url, wh):
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.launch import Plan, launch_in_instance

    failed_aapl_1m(wh)
    keys = {f"ohlcv/us_equities/{tf}": ["2024-03-05|AAPL"] for tf in TIMEFRAME_NAMES[:-1]}
    launch_in_instance(instance, build_definitions(Settings()), Plan(keys, 1, 1), "manual")
    result = tick(instance, url, "2024-03-06T12:00")
    assert requested(result) == [] and "in progress 1" in result.skip_reason.skip_message


def test_failed_partitions_are_retried_once_per_bucket_up_to_the_cap(instance, url, wh):
    failed_aapl_1m(wh)
    want = [("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", INTRADAY_1M)]
    first = tick(instance, url, "2024-03-06T02:10")
    assert requested(first) == want
    assert first.run_requests[0].tags["backfill_pipeline/gap_classes"] == "vendor_error"
    same_bucket = tick(instance, url, "2024-03-06T02:50", cursor=first.cursor)
    assert requested(same_bucket) == [] and same_bucket.cursor == first.cursor
    second = tick(instance, url, "2024-03-06T03:05", cursor=same_bucket.cursor)
    third = tick(instance, url, "2024-03-06T04:05", cursor=second.cursor)
    assert requested(second) == requested(third) == want
    assert [r.run_requests[0].tags["backfill_pipeline/attempt"] for r in (first, second, third)] == ["1", "2", "3"]
    assert len({r.run_requests[0].run_key for r in (first, second, third)}) == 3  # a new bucket, a new run key
    capped = tick(instance, url, "2024-03-06T05:05", cursor=third.cursor)
    assert requested(capped) == []
    assert "1 at the attempt cap, not requested: us_equities 2024-03-05|AAPL" in capped.skip_reason.skip_message
    assert "vendor_error (3 attempts)" in capped.skip_reason.skip_message
    entries = json.loads(capped.cursor)["attempts"]  # bucket: hours since the epoch of the last request
    assert entries == {"us_equities_ohlcv_job|2024-03-05|AAPL": [3, 474916, "vendor_error"]}
    later = tick(instance, url, "2024-03-06T09:05", cursor=capped.cursor)
    assert requested(later) == []
    # the cap is configurable
    more = tick(instance, url, "2024-03-06T09:05", with_automation(gap_max_attempts=5), cursor=capped.cursor)
    assert requested(more) == want


def test_rate_limited_partitions_wait_for_the_cool_down(instance, url, wh):
    failed_aapl_1m(wh, status="rate_limited", fetched_at="2024-03-06T02:00")
    cooling = tick(instance, url, "2024-03-06T02:29")  # default cool-down: 30 minutes
    assert requested(cooling) == [] and "rate-limit cool-down 1" in cooling.skip_reason.skip_message
    due = tick(instance, url, "2024-03-06T02:30")
    assert requested(due) == [("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", INTRADAY_1M)]
    assert due.run_requests[0].tags["backfill_pipeline/gap_classes"] == "vendor_error"
    assert requested(tick(instance, url, "2024-03-06T02:30", with_automation(rate_limit_cooldown_minutes=60))) == []


def test_runs_the_vendor_layer_tagged_rate_limited_cool_down_too(instance, url, wh):
    failed_aapl_1m(wh)  # an error, but its run hit the rate limit
    run = dg.DagsterRun(job_name="us_equities_ohlcv_job", status=dg.DagsterRunStatus.FAILURE, tags={
        RATE_LIMITED_TAG: "true", "dagster/asset_partition_range_start": "2024-03-05|AAPL",
        "dagster/asset_partition_range_end": "2024-03-05|MSFT"})
    instance.add_run(run)
    result = tick(instance, url, "2024-03-06T12:00")
    assert requested(result) == [] and "rate-limit cool-down 1" in result.skip_reason.skip_message


def test_weekends_and_holidays_request_nothing_but_crypto_weekends_do(instance, url, wh):
    instance.add_dynamic_partitions("crypto_symbols", ["BTC-USD", "ETH-USD"])
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-08", "2024-03-08")
    sunday = tick(instance, url, "2024-03-10T12:00")  # Friday is in the window and complete; no weekend partitions
    assert requested(sunday) == [
        ("crypto_ohlcv_job", "2024-03-08|BTC-USD", "2024-03-09|ETH-USD", ALL)]  # Friday and Saturday; Sunday is open
    christmas = tick(instance, url, "2024-12-26T19:00")  # 12-24 closed 18:00 UTC (> 48 h), 12-25 holiday, 12-26 open
    assert [r for r in requested(christmas) if r[0].startswith("us_equities")] == []
    assert ("crypto_ohlcv_job", "2024-12-24|BTC-USD", "2024-12-25|ETH-USD", ALL) in requested(christmas)


def test_weekly_bars_wait_for_every_daily_session_of_their_week(instance, url, wh):
    daily = [tf for tf in TIMEFRAME_NAMES if tf != "1w"]
    store(wh, EQ, ["MSFT", "SPY"], "2024-03-04", "2024-03-05", timeframes=daily)
    store(wh, EQ, ["AAPL"], "2024-03-04", "2024-03-04", timeframes=daily)
    result = tick(instance, url, "2024-03-06T12:00")
    assert requested(result) == [
        ("us_equities_ohlcv_job", "2024-03-05|AAPL", "2024-03-05|AAPL", ALL),
        ("us_equities_ohlcv_weekly_job", "2024-03-04|MSFT", "2024-03-04|SPY", ALL),  # AAPL's week waits for 03-05
    ]
    assert "1w waiting for its 1d 1" in tick(instance, url, "2024-03-06T12:30", cursor=result.cursor).skip_reason.skip_message


def test_derived_gaps_alone_rerun_only_the_derived_assets(instance, url, wh):
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-04", "2024-03-05", timeframes=["1m", "1d", "5m", "15m", "30m", "1w"])
    assert requested(tick(instance, url, "2024-03-06T12:00")) == [
        ("us_equities_ohlcv_job", "2024-03-04|AAPL", "2024-03-05|SPY", ("1h", "4h"))]


def test_symbol_blocks_respect_registration_order_and_size(instance, url, wh):
    instance.add_dynamic_partitions("us_equities_symbols", ["NVDA", "JPM"])
    store(wh, EQ, ["MSFT"], "2024-03-04", "2024-03-05")  # order AAPL MSFT SPY NVDA JPM: MSFT splits the blocks
    result = tick(instance, url, "2024-03-06T12:00", with_automation(symbols_per_run=2))
    assert requested(result) == [
        ("us_equities_ohlcv_job", "2024-03-04|AAPL", "2024-03-05|AAPL", ALL),
        ("us_equities_ohlcv_job", "2024-03-04|JPM", "2024-03-05|JPM", ALL),
        ("us_equities_ohlcv_job", "2024-03-04|SPY", "2024-03-05|NVDA", ALL),
    ]


def test_cursor_is_bounded():
    attempts = Attempts()
    for i in range(MAX_ENTRIES + 10):
        attempts.decide(Attempts.key("j", f"2024-03-{1 + i % 28:02d}", f"S{i}"), "not_fetched", 1, 3)
    attempts.decide(Attempts.key("j", "2024-02-01", "OLD"), "not_fetched", 1, 3)
    attempts.prune("2024-03-01")
    assert len(attempts.entries) == MAX_ENTRIES and "j|2024-02-01|OLD" not in attempts.entries
    assert Attempts.load("not json").unreadable and Attempts.load(attempts.dump()).entries == attempts.entries


def test_stale_weekly_bars_are_requested(instance, url, wh):
    """A 1w built when its week held one day is stale once the other days are stored (by a
    writer that did not rebuild it): the weekly job is requested for it."""
    from backfill_pipeline.ingest import derive_and_store

    daily = [tf for tf in TIMEFRAME_NAMES if tf != "1w"]
    week = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-04", "2024-03-04", timeframes=daily)
    derive_and_store(wh, EQ, "1w", "1d", "AAPL", week[:1])  # built from Monday alone
    store(wh, EQ, ["AAPL", "MSFT", "SPY"], "2024-03-05", "2024-03-08", timeframes=daily)
    for symbol in ("MSFT", "SPY"):  # their weeks built from all five days
        derive_and_store(wh, EQ, "1w", "1d", symbol, week)
    assert requested(tick(instance, url, "2024-03-09T12:00")) == [
        ("us_equities_ohlcv_weekly_job", "2024-03-04|AAPL", "2024-03-04|AAPL", ALL)]
