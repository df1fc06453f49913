"""The scale guard: partitions per OHLCV asset against Dagster's recommended 100,000."""

import datetime as dt

import pytest

from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.scale import DAGSTER_RECOMMENDED_PARTITIONS, date_partitions, grain_that_fits, scale_warning

EQ = MARKETS["us_equities"]
START, TODAY = dt.date(2020, 1, 1), dt.date(2026, 12, 1)


def test_partition_counts_follow_the_calendar():
    assert date_partitions(EQ, "daily", START, TODAY) == len(sessions_in_range(EQ, START, TODAY))
    assert date_partitions(EQ, "weekly", START, TODAY) == (TODAY - dt.date(2019, 12, 30)).days // 7 + 1
    assert date_partitions(EQ, "monthly", START, TODAY) == 6 * 12 + 12
    assert date_partitions(MARKETS["crypto"], "daily", START, TODAY) == (TODAY - START).days + 1


def test_the_warning_starts_where_the_recommendation_ends_and_names_the_grain_that_fits():
    sessions = date_partitions(EQ, "daily", START, TODAY)
    most = DAGSTER_RECOMMENDED_PARTITIONS // sessions  # 57 symbols here: the 58th passes it
    assert scale_warning(EQ, "daily", START, most, TODAY) is None
    warning = scale_warning(EQ, "daily", START, most + 1, TODAY)
    assert warning is not None
    assert f"{most + 1} symbols x {sessions:,} daily date partitions since 2020-01-01 = {(most + 1) * sessions:,}" in warning
    assert "over Dagster's recommended 100,000" in warning
    weekly = (most + 1) * date_partitions(EQ, "weekly", START, TODAY)
    assert f"BACKFILL_PARTITION_GRAIN=weekly fits ({weekly:,} partitions per asset)" in warning
    assert grain_that_fits(EQ, START, 500, TODAY) == "monthly"
    assert grain_that_fits(EQ, START, 5000, TODAY) is None
    assert "even the monthly grain passes it" in scale_warning(EQ, "monthly", START, 5000, TODAY)


@pytest.mark.date_sensitive
def test_symbols_add_warns_with_the_numbers(cli_run, monkeypatch):
    monkeypatch.setenv("BACKFILL_PARTITIONS_START", "2020-01-01")
    today = dt.datetime.now(dt.UTC).date()  # the moved clock under BACKFILL_TEST_TODAY
    count = DAGSTER_RECOMMENDED_PARTITIONS // date_partitions(EQ, "daily", START, today) + 1  # the first that passes it
    symbols = [f"S{i:03d}" for i in range(count)]
    result = cli_run("symbols", "add", "--market", "us_equities", *symbols)
    assert result.exit_code == 0
    assert f"warning: us_equities: {count} symbols x " in result.output
    assert "BACKFILL_PARTITION_GRAIN=weekly fits" in result.output
    status = cli_run("status", "--market", "us_equities")
    assert f"warning: us_equities: {count} symbols x " in status.output
