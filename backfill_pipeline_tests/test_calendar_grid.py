"""Expected bar counts from the calendar, checked against hand-computed figures."""

import datetime as dt

import pandas as pd
import pytest

from backfill_pipeline.calendar_grid import expected_counts, expected_timestamps
from backfill_pipeline.markets import MARKETS, sessions_in_range

EQ, CRYPTO = MARKETS["us_equities"], MARKETS["crypto"]
AFTER = pd.Timestamp("2030-01-01", tz="UTC")


def _one(market, day, timeframe):
    sessions = sessions_in_range(market, day, day)
    return int(expected_counts(market, timeframe, sessions, AFTER).sum())


@pytest.mark.parametrize(
    ("day", "timeframe", "count"),
    [
        (dt.date(2024, 3, 6), "1m", 390),   # 09:30-16:00
        (dt.date(2024, 3, 6), "5m", 78),
        (dt.date(2024, 3, 6), "1h", 7),     # 09:30 .. 15:30, last bin 30 minutes
        (dt.date(2024, 3, 6), "4h", 2),     # 09:30 and 13:30
        (dt.date(2024, 11, 29), "1m", 210),  # day after Thanksgiving closes 13:00
        (dt.date(2024, 11, 29), "30m", 7),
        (dt.date(2024, 11, 29), "1h", 4),
        (dt.date(2024, 11, 29), "4h", 1),
        (dt.date(2024, 11, 28), "1m", 0),   # Thanksgiving
        (dt.date(2024, 3, 11), "1m", 390),  # first session after the March DST change
    ],
)
def test_equity_counts(day, timeframe, count):
    assert _one(EQ, day, timeframe) == count


def test_dst_moves_the_open_in_utc():
    before = expected_timestamps(EQ, "1m", sessions_in_range(EQ, dt.date(2024, 3, 8), dt.date(2024, 3, 8)), AFTER)
    after = expected_timestamps(EQ, "1m", sessions_in_range(EQ, dt.date(2024, 3, 11), dt.date(2024, 3, 11)), AFTER)
    assert before[0] == pd.Timestamp("2024-03-08 14:30", tz="UTC")
    assert after[0] == pd.Timestamp("2024-03-11 13:30", tz="UTC")
    nov = expected_timestamps(EQ, "1m", sessions_in_range(EQ, dt.date(2024, 11, 4), dt.date(2024, 11, 4)), AFTER)
    assert nov[0] == pd.Timestamp("2024-11-04 14:30", tz="UTC") and nov[-1] == pd.Timestamp("2024-11-04 20:59", tz="UTC")


def test_crypto_day_and_weeks():
    assert _one(CRYPTO, dt.date(2024, 3, 10), "1m") == 1440
    assert _one(CRYPTO, dt.date(2024, 3, 10), "4h") == 6
    week = sessions_in_range(EQ, dt.date(2024, 11, 25), dt.date(2024, 12, 6))
    counts = expected_counts(EQ, "1w", week, AFTER)
    assert counts[counts > 0].index.strftime("%Y-%m-%d").tolist() == ["2024-11-25", "2024-12-02"]


def test_a_session_in_progress_expects_only_finished_bins():
    sessions = sessions_in_range(EQ, dt.date(2024, 3, 6), dt.date(2024, 3, 6))
    now = pd.Timestamp("2024-03-06 15:00", tz="UTC")  # 30 minutes after the open
    assert int(expected_counts(EQ, "1m", sessions, now).sum()) == 30
    assert int(expected_counts(EQ, "1h", sessions, now).sum()) == 0
    assert int(expected_counts(EQ, "1d", sessions, now).sum()) == 0
