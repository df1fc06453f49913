"""Timeframes know their kind (intraday, daily, weekly); derivation follows the kinds."""

import pytest

from backfill_pipeline.timeframes import DAILY, TIMEFRAMES, WEEKLY, Timeframe, derivation_sources, get_timeframe


def test_each_timeframe_has_exactly_one_kind():
    kinds = {name: tf.kind for name, tf in TIMEFRAMES.items()}
    assert kinds == {"1m": "intraday", "5m": "intraday", "15m": "intraday", "30m": "intraday", "1h": "intraday",
                     "4h": "intraday", "1d": "daily", "1w": "weekly"}
    for tf in TIMEFRAMES.values():
        assert [tf.intraday, tf.daily, tf.weekly].count(True) == 1
        assert tf.dated == (not tf.intraday)
        assert (tf.minutes is None) == tf.dated
    assert (DAILY.name, WEEKLY.name) == ("1d", "1w")
    assert get_timeframe("4h").minutes == 240 and get_timeframe("1d").daily and get_timeframe("1w").weekly


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2d", None, "fortnightly"), "unknown kind 'fortnightly'"),
        (("2d", None, "intraday"), "an intraday timeframe has minutes"),
        (("2h", 120, "daily"), "a daily one none"),
    ],
)
def test_a_timeframe_whose_minutes_contradict_its_kind_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        Timeframe(*args)


def test_derivation_by_kind():
    assert derivation_sources(("1m", "1d")) == {"1m": None, "5m": "1m", "15m": "1m", "30m": "1m", "1h": "1m",
                                                "4h": "1m", "1d": None, "1w": "1d"}
    both = derivation_sources(("1m", "5m"))
    assert both["1d"] == "1m" and both["15m"] == "5m"  # daily from the finest intraday, 15m from the coarsest that nests
    with pytest.raises(ValueError, match="1w cannot be fetched: it is always derived from 1d by exchange week"):
        derivation_sources(("1m", "1w"))
