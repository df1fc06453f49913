"""<market>_daily_schedule ticks: the sessions that became final since the previous tick, in UTC."""

import datetime as dt

import dagster as dg
import pytest

from backfill_pipeline.automation.build import build_automation
from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline_tests.instances import shipped_instance


@pytest.fixture
def instance():
    with shipped_instance() as inst:
        inst.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "SPY"])
        inst.add_dynamic_partitions("crypto_symbols", ["BTC-USD", "ETH-USD"])
        yield inst


def schedule(settings: Settings, market: str) -> dg.ScheduleDefinition:
    return next(s for s in build_automation(settings).schedules if s.name == f"{market}_daily_schedule")


def tick(instance, market: str, when: str, settings: Settings | None = None) -> list[tuple[str, str, str]] | str:
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=moment)
    result = schedule(settings or Settings(), market)(context)
    if isinstance(result, dg.SkipReason):
        return result.skip_message
    for request in result:
        assert request.job_name == f"{market}_ohlcv_job" and request.asset_selection is None  # fetched + derived
        assert request.tags["backfill_pipeline/origin"] == "schedule"
    return [(r.job_name, r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in result]


def at(cron: str = "", **changes) -> Settings:
    return Settings(automation=AutomationConfig(schedule_cron=cron or None, **changes))


def test_default_tick_at_0200_utc_takes_the_previous_session_once(instance):
    assert schedule(Settings(), "us_equities").cron_schedule == "0 2 * * *"
    assert schedule(Settings(), "us_equities").execution_timezone == "UTC"
    friday = tick(instance, "us_equities", "2024-03-09T02:00")  # Friday closed 21:00 UTC
    assert friday == [("us_equities_ohlcv_job", "2024-03-08|AAPL", "2024-03-08|SPY")]
    assert "no us_equities session became final" in tick(instance, "us_equities", "2024-03-10T02:00")
    assert "no us_equities session became final" in tick(instance, "us_equities", "2024-03-11T02:00")
    assert tick(instance, "us_equities", "2024-03-12T02:00") == [
        ("us_equities_ohlcv_job", "2024-03-11|AAPL", "2024-03-11|SPY")]
    assert "no us_equities session" in tick(instance, "us_equities", "2024-07-05T02:00")  # Independence Day


def test_a_tick_between_the_utc_closes_of_winter_and_summer_follows_dst(instance):
    """20:30 UTC is before the 21:00 UTC close in winter (EST) and after the 20:00 UTC close
    in summer (EDT, from 2024-03-10): the same cron takes yesterday's session, then today's."""
    settings = at("30 20 * * *")
    assert tick(instance, "us_equities", "2024-03-08T20:30", settings) == [
        ("us_equities_ohlcv_job", "2024-03-07|AAPL", "2024-03-07|SPY")]
    assert tick(instance, "us_equities", "2024-03-09T20:30", settings) == [
        ("us_equities_ohlcv_job", "2024-03-08|AAPL", "2024-03-08|SPY")]
    assert "no us_equities session" in tick(instance, "us_equities", "2024-03-10T20:30", settings)
    assert tick(instance, "us_equities", "2024-03-11T20:30", settings) == [
        ("us_equities_ohlcv_job", "2024-03-11|AAPL", "2024-03-11|SPY")]  # Monday, the same day
    # and back in November: 2024-11-01 (EDT, close 20:00) same day; 2024-11-04 (EST, close 21:00) next day
    assert tick(instance, "us_equities", "2024-11-01T20:30", settings) == [
        ("us_equities_ohlcv_job", "2024-11-01|AAPL", "2024-11-01|SPY")]
    assert "no us_equities session" in tick(instance, "us_equities", "2024-11-04T20:30", settings)
    assert tick(instance, "us_equities", "2024-11-05T20:30", settings) == [
        ("us_equities_ohlcv_job", "2024-11-04|AAPL", "2024-11-04|SPY")]


def test_crypto_ticks_every_day_and_several_ticks_a_day_take_each_session_once(instance):
    assert tick(instance, "crypto", "2024-03-10T02:00") == [
        ("crypto_ohlcv_job", "2024-03-09|BTC-USD", "2024-03-09|ETH-USD")]  # a Saturday
    settings = at("0 */6 * * *")
    assert tick(instance, "crypto", "2024-03-10T00:00", settings) == [
        ("crypto_ohlcv_job", "2024-03-09|BTC-USD", "2024-03-09|ETH-USD")]
    assert "no crypto session" in tick(instance, "crypto", "2024-03-10T06:00", settings)


def test_the_vendors_finalisation_delay_moves_sessions_to_a_later_tick(instance):
    polygon = Settings(vendors={"us_equities": "polygon", "crypto": "demo"},
                       automation=AutomationConfig(schedule_hour=1, schedule_minute=0))
    # Friday closes 21:00 UTC, final at 01:30 Saturday: Saturday's 01:00 tick takes Thursday (final at
    # 01:30 Friday), Sunday's takes Friday
    assert tick(instance, "us_equities", "2024-03-09T01:00", polygon) == [
        ("us_equities_ohlcv_job", "2024-03-07|AAPL", "2024-03-07|SPY")]
    assert tick(instance, "us_equities", "2024-03-10T01:00", polygon) == [
        ("us_equities_ohlcv_job", "2024-03-08|AAPL", "2024-03-08|SPY")]


def test_symbols_are_split_into_contiguous_blocks(instance):
    assert tick(instance, "us_equities", "2024-03-09T02:00", at(symbols_per_run=2)) == [
        ("us_equities_ohlcv_job", "2024-03-08|AAPL", "2024-03-08|MSFT"),
        ("us_equities_ohlcv_job", "2024-03-08|SPY", "2024-03-08|SPY")]
    with shipped_instance() as empty:
        assert "no symbols registered in us_equities" in tick(empty, "us_equities", "2024-03-09T02:00")


def test_schedule_time_settings():
    settings = Settings.from_env({"BACKFILL_SCHEDULE_HOUR": "3", "BACKFILL_SCHEDULE_MINUTE": "15"})
    assert schedule(settings, "crypto").cron_schedule == "15 3 * * *"
    cron = Settings.from_env({"BACKFILL_SCHEDULE_CRON": "0 2,14 * * *", "BACKFILL_SCHEDULE_HOUR": "3"})
    assert schedule(cron, "crypto").cron_schedule == "0 2,14 * * *"
    running = Settings.from_env({"BACKFILL_AUTOMATION_DEFAULT_STATUS": "running"})
    assert schedule(running, "crypto").default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule(Settings(), "crypto").default_status == dg.DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BACKFILL_SCHEDULE_HOUR", "24", "BACKFILL_SCHEDULE_HOUR='24' must be a whole number between 0 and 23"),
    ("BACKFILL_SCHEDULE_MINUTE", "x", "BACKFILL_SCHEDULE_MINUTE='x'"),
    ("BACKFILL_SCHEDULE_CRON", "0 2 * *", "BACKFILL_SCHEDULE_CRON='0 2 * *' is not a 5-field cron string"),
    ("BACKFILL_GAP_WINDOW_HOURS", "0", "BACKFILL_GAP_WINDOW_HOURS"),
    ("BACKFILL_GAP_SENSOR_INTERVAL_SECONDS", "5", "BACKFILL_GAP_SENSOR_INTERVAL_SECONDS='5' must be a whole number >= 30"),
    ("BACKFILL_NEW_SYMBOL_DEPTH_2M_DAYS", "10", "BACKFILL_NEW_SYMBOL_DEPTH_2M_DAYS: unknown timeframe '2m'"),
    ("BACKFILL_FETCH_RETRY_DELAY_SECONDS", "-1", "BACKFILL_FETCH_RETRY_DELAY_SECONDS"),
    ("BACKFILL_AUTOMATION_DEFAULT_STATUS", "on", "BACKFILL_AUTOMATION_DEFAULT_STATUS='on'"),
])
def test_bad_automation_settings_are_named(name, value, message):
    with pytest.raises(SettingsError, match=message.replace("*", r"\*").replace("(", r"\(")):
        Settings.from_env({name: value})


def test_jobs_follow_the_partition_grain():
    from backfill_pipeline.definitions import build_definitions

    daily = build_definitions(Settings()).get_repository_def()
    job = daily.get_job("us_equities_ohlcv_job")
    assert {k.path[-1] for k in job.asset_layer.selected_asset_keys} == {"1m", "5m", "15m", "30m", "1h", "4h", "1d"}
    assert {k.path[-1] for k in daily.get_job("crypto_ohlcv_weekly_job").asset_layer.selected_asset_keys} == {"1w"}
    weekly = build_definitions(Settings(partition_grain="weekly")).get_repository_def()
    assert {j.name for j in weekly.get_all_jobs() if not j.name.startswith("__")} == {
        "us_equities_ohlcv_job", "crypto_ohlcv_job"}  # 1w shares the weekly grain: no separate job
    assert {s.name for s in weekly.sensor_defs} == {"gap_fill_48h_sensor", "universe_sync_sensor", "symbol_rule_sensor"}
