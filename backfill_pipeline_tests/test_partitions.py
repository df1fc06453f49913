import datetime as dt

import pandas as pd
import pytest

from backfill_pipeline.markets import MARKETS, OutsideCalendarError, sessions_in_range
from backfill_pipeline.partitions import date_partitions, sessions_by_symbol, split_key, window_dates

EQ, CRYPTO = MARKETS["us_equities"], MARKETS["crypto"]


def _keys(market, grain="daily", start=dt.date(2024, 1, 1), end="2025-01-01"):
    return [k for k in date_partitions(market, grain, start).get_partition_keys() if k < end]


def test_us_equities_daily_partitions_are_exactly_the_xnys_sessions_of_2024():
    keys = _keys(EQ)
    assert len(keys) == 252  # XNYS traded 252 sessions in 2024
    days = {dt.date.fromisoformat(k) for k in keys}
    assert all(d.weekday() < 5 for d in days)
    for holiday in ("2024-01-01", "2024-01-15", "2024-03-29", "2024-07-04", "2024-11-28", "2024-12-25"):
        assert dt.date.fromisoformat(holiday) not in days
    assert dt.date(2024, 11, 29) in days  # early close is still a session
    assert keys == [f"{s:%Y-%m-%d}" for s in sessions_in_range(EQ, dt.date(2024, 1, 1), dt.date(2024, 12, 31))]


def test_crypto_daily_partitions_are_every_calendar_day():
    keys = _keys(CRYPTO)
    assert len(keys) == 366
    assert "2024-12-25" in keys and "2024-03-10" in keys


@pytest.mark.parametrize(("grain", "count"), [("weekly", 53), ("monthly", 12)])
def test_partition_grain_is_a_setting(grain, count):
    assert len(_keys(EQ, grain)) == count


@pytest.mark.date_sensitive
def test_the_session_in_progress_has_a_partition():
    # end_offset=1: the newest crypto partition is today's (UTC) session, the one in progress.
    before = dt.datetime.now(dt.UTC).date().isoformat()
    keys = date_partitions(CRYPTO, "daily", dt.date(2024, 1, 1)).get_partition_keys()
    after = dt.datetime.now(dt.UTC).date().isoformat()  # the same day unless midnight passed meanwhile
    assert keys[-1] in {before, after}
    assert len(keys) == (dt.date.fromisoformat(keys[-1]) - dt.date(2024, 1, 1)).days + 1


def test_sessions_by_symbol_maps_keys_of_each_grain_to_sessions():
    got = sessions_by_symbol(EQ, "daily", ["2024-11-29|AAPL", "2024-11-27|AAPL", "2024-11-27|SPY"])
    assert list(got["AAPL"]) == [pd.Timestamp("2024-11-27"), pd.Timestamp("2024-11-29")]
    weekly = sessions_by_symbol(EQ, "weekly", ["2024-11-25|AAPL"])["AAPL"]
    assert [f"{s:%d}" for s in weekly] == ["25", "26", "27", "29"]
    monthly = sessions_by_symbol(CRYPTO, "monthly", ["2024-02-01|BTC-USD"])["BTC-USD"]
    assert len(monthly) == 29
    assert window_dates("monthly", "2024-12-01") == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert split_key("2024-01-03|BRK.B") == ("2024-01-03", "BRK.B")


def test_dates_outside_the_calendar_fail_clearly():
    with pytest.raises(OutsideCalendarError, match="outside the XNYS calendar window"):
        sessions_in_range(EQ, dt.date(1990, 1, 1), dt.date(1990, 2, 1))
