"""Extended hours (BACKFILL_US_EQUITIES_HOURS=extended): bounds, grids, bins, settings, vendors.

Expected figures are hand-computed: a normal session runs 04:00-20:00 New York (16 h, 960
minutes), an early-close session 04:00-17:00 (13 h, 780 minutes).
"""

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.automation.gap_finder import window_sessions
from backfill_pipeline.automation.schedules import sessions_final_between
from backfill_pipeline.calendar_grid import expected_counts, expected_timestamps
from backfill_pipeline.features.lookback import bars_per_session
from backfill_pipeline.markets import (
    MARKETS,
    Market,
    last_closed_sessions,
    session_bounds,
    sessions_in_range,
    with_hours,
)
from backfill_pipeline.resample import resample_bars, session_of
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.vendors.demo.client import DemoClient
from backfill_pipeline_tests.test_resample import independent_resample, random_minutes

REG = MARKETS["us_equities"]
EXT = with_hours(REG, "extended")
AFTER = pd.Timestamp("2030-01-01", tz="UTC")
NORMAL, EARLY, HOLIDAY = dt.date(2024, 3, 6), dt.date(2023, 11, 24), dt.date(2023, 11, 23)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def count(market: Market, day: dt.date, timeframe: str, now: pd.Timestamp = AFTER) -> int:
    return int(expected_counts(market, timeframe, sessions_in_range(market, day, day), now).sum())


def ny_times(ts: pd.Series | pd.DatetimeIndex) -> list[str]:
    return [t.tz_convert("America/New_York").strftime("%H:%M") for t in ts]


@pytest.mark.parametrize(
    ("day", "timeframe", "regular", "extended"),
    [
        (NORMAL, "1m", 390, 960),
        (NORMAL, "5m", 78, 192),
        (NORMAL, "1h", 7, 16),  # 04:00 .. 19:00
        (NORMAL, "4h", 2, 4),  # 04:00, 08:00, 12:00, 16:00
        (NORMAL, "1d", 1, 1),
        (EARLY, "1m", 210, 780),  # day after Thanksgiving: 04:00-17:00
        (EARLY, "30m", 7, 26),
        (EARLY, "1h", 4, 13),
        (EARLY, "4h", 1, 4),  # the 16:00 bin is cut at 17:00
        (HOLIDAY, "1m", 0, 0),  # Thanksgiving: no session at all
        (dt.date(2024, 3, 11), "1m", 390, 960),  # first session after the March DST change
        (dt.date(2024, 11, 4), "1m", 390, 960),  # first session after the November DST change
    ],
)
def test_grid_counts(day, timeframe, regular, extended):
    assert count(REG, day, timeframe) == regular
    assert count(EXT, day, timeframe) == extended


def test_a_holiday_has_no_session():
    assert len(sessions_in_range(EXT, HOLIDAY, HOLIDAY)) == 0
    with pytest.raises(KeyError):
        session_bounds(EXT, pd.DatetimeIndex([pd.Timestamp(HOLIDAY)]))


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc"),
    [
        ("2024-03-08", "2024-03-08 09:00", "2024-03-09 01:00"),  # EST: 04:00 New York is 09:00Z
        ("2024-03-11", "2024-03-11 08:00", "2024-03-12 00:00"),  # EDT: 08:00Z
        ("2024-11-01", "2024-11-01 08:00", "2024-11-02 00:00"),
        ("2024-11-04", "2024-11-04 09:00", "2024-11-05 01:00"),
        ("2023-11-24", "2023-11-24 09:00", "2023-11-24 22:00"),  # early close: 17:00 EST
        ("2024-07-03", "2024-07-03 08:00", "2024-07-03 21:00"),  # early close in summer: 17:00 EDT
    ],
)
def test_bounds_are_dst_correct_instants(day, open_utc, close_utc):
    opens, closes = session_bounds(EXT, pd.DatetimeIndex([day]))
    assert (opens.iloc[0], closes.iloc[0]) == (utc(open_utc), utc(close_utc))


def test_expected_timestamps_follow_dst():
    for day, first, last in (("2024-03-08", "2024-03-08 09:00", "2024-03-09 00:59"),
                             ("2024-03-11", "2024-03-11 08:00", "2024-03-11 23:59"),
                             ("2024-11-04", "2024-11-04 09:00", "2024-11-05 00:59")):
        session = sessions_in_range(EXT, dt.date.fromisoformat(day), dt.date.fromisoformat(day))
        stamps = expected_timestamps(EXT, "1m", session, AFTER)
        assert (stamps[0], stamps[-1], len(stamps)) == (utc(first), utc(last), 960)


def test_a_session_in_progress_counts_from_the_pre_market_open():
    now = utc("2024-03-06 10:00")  # 05:00 New York: an hour into the pre-market
    assert count(EXT, NORMAL, "1m", now) == 60
    assert count(EXT, NORMAL, "1h", now) == 1
    assert count(REG, NORMAL, "1m", now) == 0


def test_closed_means_the_extended_close():
    evening = utc("2024-03-06 23:00")  # 18:00 New York: regular session over, after-hours still on
    assert last_closed_sessions(REG, 1, evening)[-1] == pd.Timestamp("2024-03-06")
    assert last_closed_sessions(EXT, 1, evening)[-1] == pd.Timestamp("2024-03-05")
    assert list(window_sessions(REG, evening, 3)) == [pd.Timestamp("2024-03-06")]
    assert list(window_sessions(EXT, evening, 3)) == []
    after, until = dt.datetime(2024, 3, 6, 20, tzinfo=dt.UTC), dt.datetime(2024, 3, 7, 0, 30, tzinfo=dt.UTC)
    assert list(sessions_final_between(REG, pd.Timedelta(0), after, until)) == [pd.Timestamp("2024-03-06")]
    assert list(sessions_final_between(EXT, pd.Timedelta(0), after, until)) == []


def test_bins_start_at_the_extended_open_and_the_early_close_cuts_the_last():
    frame, _, _ = random_minutes(EXT, NORMAL, NORMAL, missing_share=0)
    assert len(frame) == 960
    hourly = resample_bars(EXT, frame, "1h")
    assert ny_times(hourly["ts"]) == [f"{h:02d}:00" for h in range(4, 20)]
    assert ny_times(resample_bars(EXT, frame, "4h")["ts"]) == ["04:00", "08:00", "12:00", "16:00"]
    early, _, _ = random_minutes(EXT, EARLY, EARLY, missing_share=0)
    four = resample_bars(EXT, early, "4h")
    assert ny_times(four["ts"]) == ["04:00", "08:00", "12:00", "16:00"]
    last_hour = early[early["ts"] >= utc("2023-11-24 21:00")]  # 16:00-17:00 New York
    assert len(last_hour) == 60 and four["volume"].iloc[-1] == last_hour["volume"].sum()
    daily = resample_bars(EXT, early, "1d")
    assert daily["ts"].tolist() == [utc("2023-11-24")] and daily["volume"].iloc[0] == early["volume"].sum()


@pytest.mark.parametrize(
    ("first", "last"),
    [(dt.date(2024, 3, 4), dt.date(2024, 3, 15)), (dt.date(2023, 11, 20), dt.date(2023, 11, 27)),
     (dt.date(2024, 10, 28), dt.date(2024, 11, 8))],
)
@pytest.mark.parametrize(("timeframe", "rule"), [("15m", "15min"), ("1h", "1h"), ("4h", "4h")])
def test_extended_bins_match_pandas(first, last, timeframe, rule):
    frame, sessions, opens = random_minutes(EXT, first, last)
    ours = resample_bars(EXT, frame, timeframe).set_index("ts")
    theirs = independent_resample(frame, EXT, sessions, opens, rule)
    pd.testing.assert_index_equal(ours.index, theirs.index, check_names=False)
    np.testing.assert_allclose(ours["volume"].to_numpy(), theirs["volume"].to_numpy())
    np.testing.assert_allclose(ours["close"].to_numpy(), theirs["close"].to_numpy())


def test_after_hours_past_utc_midnight_belong_to_their_session():
    ts = pd.Series([utc("2024-03-09 00:59"), utc("2024-03-11 08:00"), utc("2024-03-11 23:59")])
    assert session_of(EXT, ts).dt.strftime("%Y-%m-%d").tolist() == ["2024-03-08", "2024-03-11", "2024-03-11"]


def test_feature_windows_count_extended_bars():
    assert bars_per_session(REG, "1h") == 7 and bars_per_session(EXT, "1h") == 16
    assert bars_per_session(EXT, "1m") == 960


def test_setting_the_option():
    assert Settings().market("us_equities") == REG and Settings.from_env({}).market("us_equities").hours == "regular"
    settings = Settings.from_env({"BACKFILL_US_EQUITIES_HOURS": " Extended "})
    assert settings.market("us_equities") == EXT and settings.market("crypto") == MARKETS["crypto"]
    assert [m.hours for m in settings.markets()] == ["extended", "regular"]
    assert Settings.from_env({"BACKFILL_US_EQUITIES_HOURS": "regular"}).market("us_equities") == REG


def test_a_bad_value_names_the_variable_and_the_choices(monkeypatch):
    message = r"BACKFILL_US_EQUITIES_HOURS='premarket': expected one of regular, extended"
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"BACKFILL_US_EQUITIES_HOURS": "premarket"})
    monkeypatch.setenv("BACKFILL_US_EQUITIES_HOURS", "24h")
    from backfill_pipeline.definitions import defs

    with pytest.raises(SettingsError, match="BACKFILL_US_EQUITIES_HOURS"):
        defs()  # the code location fails to load with the message


def test_crypto_has_no_extended_hours():
    with pytest.raises(SettingsError, match=r"BACKFILL_CRYPTO_HOURS='extended': market crypto trades 24/7"):
        Settings.from_env({"BACKFILL_CRYPTO_HOURS": "extended"})
    with pytest.raises(ValueError, match="no extended hours"):
        with_hours(MARKETS["crypto"], "extended")
    with pytest.raises(ValueError, match="not one of regular, extended"):
        with_hours(REG, "overnight")


def test_definitions_carry_the_option():
    from backfill_pipeline.automation.jobs import all_job_groups
    from backfill_pipeline.definitions import build_definitions

    settings = Settings.from_env({"BACKFILL_US_EQUITIES_HOURS": "extended"})
    defs = build_definitions(settings)
    described = {spec.key.to_user_string(): spec.description for a in defs.assets for spec in a.specs}
    assert "XNYS calendar, extended hours" in described["ohlcv/us_equities/1m"]
    assert "24/7 calendar, regular hours" in described["ohlcv/crypto/1m"]
    assert {(g.market.name, g.market.hours) for g in all_job_groups(settings)} == {
        ("us_equities", "extended"), ("crypto", "regular")}


def demo(market: Market) -> DemoClient:
    return DemoClient(market, now=lambda: utc("2025-01-15"))


def by_ny_day(bars: pd.DataFrame) -> dict[str, int]:
    return bars.groupby(bars["ts"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")).size().to_dict()


def test_demo_vendor_serves_the_market_hours():
    bars = demo(EXT).fetch_bars("AAPL", "1m", utc("2023-11-22 09:00"), utc("2023-11-25")).bars
    assert by_ny_day(bars) == {"2023-11-22": 960, "2023-11-24": 780}
    assert ny_times(bars["ts"].iloc[[0, 959, 960, -1]]) == ["04:00", "19:59", "04:00", "16:59"]
    regular = demo(REG).fetch_bars("AAPL", "1m", utc("2023-11-22"), utc("2023-11-25")).bars
    assert by_ny_day(regular) == {"2023-11-22": 390, "2023-11-24": 210}


def test_demo_vendor_trades_thinly_outside_regular_hours():
    bars = demo(EXT).fetch_bars("MSFT", "1m", utc("2024-05-01"), utc("2024-06-01")).bars
    local = bars["ts"].dt.tz_convert("America/New_York")
    minute = local.dt.hour * 60 + local.dt.minute
    regular = (minute >= 9 * 60 + 30) & (minute < 16 * 60)
    assert bars.loc[~regular, "volume"].mean() < 0.2 * bars.loc[regular, "volume"].mean()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all() and (bars["volume"] > 0).all()


def test_demo_vendor_is_deterministic_across_chunks_and_its_daily_bar_aggregates_every_minute():
    whole = demo(EXT).fetch_bars("SPY", "1m", utc("2024-03-08"), utc("2024-03-13")).bars
    cuts = [utc(t) for t in ("2024-03-08", "2024-03-08 10:17", "2024-03-09 00:30", "2024-03-11 23:00", "2024-03-13")]
    fresh = demo(EXT)
    chunks = [fresh.fetch_bars("SPY", "1m", a, b).bars for a, b in itertools.pairwise(cuts)]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_exact=True)
    daily = demo(EXT).fetch_bars("SPY", "1d", utc("2024-03-11"), utc("2024-03-12")).bars
    minutes = demo(EXT).fetch_bars("SPY", "1m", utc("2024-03-11 08:00"), utc("2024-03-12")).bars
    assert len(minutes) == 960
    np.testing.assert_allclose(daily["volume"].iloc[0], minutes["volume"].sum())
    assert (daily["open"].iloc[0], daily["close"].iloc[0]) == (minutes["open"].iloc[0], minutes["close"].iloc[-1])


def test_fake_polygon_serves_the_same_extended_hours():
    fake = FakePolygon()
    for day, expected in (("2024-03-11", 960), ("2023-11-24", 780), ("2023-11-23", 0)):
        local = pd.Timestamp(day, tz="America/New_York")
        lo, hi = (int(t.tz_convert("UTC").value // 1_000_000) for t in (local, local + pd.Timedelta(days=1)))
        assert fake.bars_in_range("AAPL", lo, hi - 1) == expected, day
