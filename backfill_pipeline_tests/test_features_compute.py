"""Feature computations (no Dagster): a hand-checked case, `ta` as an independent library,
warm-up, the lookback that makes a partition equal the whole history, configuration."""

import math

import numpy as np
import pandas as pd
import pytest
import ta

from backfill_pipeline.features.compute import compute_features, nonfinite_beyond_warmup
from backfill_pipeline.features.lookback import bars_per_year, lookback_partitions
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.markets import MARKETS

EQ, CRYPTO = MARKETS["us_equities"], MARKETS["crypto"]
SMALL = FeatureWindows(vol=2, atr=3, ema_fast=2, ema_slow=3, slope=1, volume=3)


def _bars(close, high, low, volume) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": volume}, dtype="float64")


def random_bars(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.lognormal(10, 0.5, n).round()
    return pd.DataFrame({"open": opens, "high": high, "low": low, "close": close, "volume": volume})


def test_hand_checked_small_case():
    bars = _bars([10, 11, 10.5, 11.5, 12], [10.5, 11.5, 11, 12, 12.5], [9.5, 10, 10, 10.5, 11.5], [100, 200, 300, 200, 100])
    f = compute_features(bars, SMALL, bars_per_year=4.0)
    nan = np.nan
    np.testing.assert_allclose(f["ret"], [nan, 0.1, 10.5 / 11 - 1, 11.5 / 10.5 - 1, 12 / 11.5 - 1])
    np.testing.assert_allclose(f["log_ret"], [nan, math.log(1.1), math.log(10.5 / 11), math.log(11.5 / 10.5), math.log(12 / 11.5)])
    lr = f["log_ret"].to_numpy()
    # sd of two values is |a - b| / sqrt(2); annualised by sqrt(4) = 2
    np.testing.assert_allclose(f["realized_vol"], [nan, nan, abs(lr[1] - lr[2]) / math.sqrt(2) * 2,
                                                   abs(lr[2] - lr[3]) / math.sqrt(2) * 2, abs(lr[3] - lr[4]) / math.sqrt(2) * 2])
    # true ranges 1, 1.5, 1, 1.5, 1 -> Wilder ATR(3): 7/6, (7/6*2+1.5)/3, ...
    np.testing.assert_allclose(f["atr"], [nan, nan, 7 / 6, 23 / 18, 32 / 27])
    np.testing.assert_allclose(f["ema_fast"], [nan, 32 / 3, 95 / 9, 302 / 27, 950 / 81])
    np.testing.assert_allclose(f["ema_slow"], [nan, nan, 10.5, 11.0, 11.5])
    np.testing.assert_allclose(f["trend_spread"], [nan, nan, (95 / 9) / 10.5 - 1, (302 / 27) / 11 - 1, (950 / 81) / 11.5 - 1])
    np.testing.assert_allclose(f["trend_slope"], [nan, nan, nan, math.log(11 / 10.5), math.log(11.5 / 11)])
    np.testing.assert_allclose(f["volume_z"], [nan, nan, 1.0, -1 / math.sqrt(3), -1.0])
    assert SMALL.warmup_bars == 3
    assert not nonfinite_beyond_warmup(f, np.arange(5), SMALL.warmup_bars).any()
    assert nonfinite_beyond_warmup(f, np.arange(5), 0).tolist() == [True, True, True, False, False]


def test_against_ta_and_direct_loops():
    bars = random_bars(600)
    w = FeatureWindows()
    f = compute_features(bars, w, bars_per_year=252.0)
    atr = ta.volatility.AverageTrueRange(bars["high"], bars["low"], bars["close"], window=w.atr).average_true_range()
    np.testing.assert_allclose(f["atr"].iloc[w.atr - 1 :], atr.iloc[w.atr - 1 :], rtol=1e-12)
    assert f["atr"].iloc[: w.atr - 1].isna().all()
    for col, n in (("ema_fast", w.ema_fast), ("ema_slow", w.ema_slow)):
        expected = ta.trend.EMAIndicator(bars["close"], window=n).ema_indicator()
        np.testing.assert_allclose(f[col], expected, rtol=1e-12)  # NaN positions must match too
    log_ret = np.log(bars["close"].to_numpy()[1:] / bars["close"].to_numpy()[:-1])
    for i in (w.vol, 100, 599):
        window = log_ret[i - w.vol : i]  # log_ret[k] is the return into bar k + 1
        assert f["realized_vol"].iloc[i] == pytest.approx(np.std(window, ddof=1) * math.sqrt(252), rel=1e-9)
        vol = bars["volume"].to_numpy()[i - w.volume + 1 : i + 1]
        assert f["volume_z"].iloc[i] == pytest.approx((vol[-1] - vol.mean()) / vol.std(ddof=1), rel=1e-9)
    slow = f["ema_slow"]
    assert f["trend_slope"].iloc[300] == pytest.approx(math.log(slow.iloc[300] / slow.iloc[300 - w.slope]) / w.slope)
    warm = w.warmup_bars
    assert f.iloc[warm:].notna().all().all() and f.iloc[: warm].isna().any(axis=1).all()


def test_lookback_makes_a_partition_equal_the_whole_history():
    bars = random_bars(1500, seed=3)
    w = FeatureWindows()
    full = compute_features(bars, w, 252.0)
    start = 1200
    part = compute_features(bars.iloc[start - w.lookback_bars :], w, 252.0)
    np.testing.assert_allclose(part.loc[start:], full.loc[start:], rtol=1e-6)
    # without a lookback the first bars of the partition are in warm-up or off
    cold = compute_features(bars.iloc[start:], w, 252.0)
    assert cold.iloc[: w.warmup_bars].isna().any(axis=1).all()


def test_constant_volume_has_zero_z_and_bad_prices_are_flagged():
    bars = _bars([10, 11, 10, 11, 0.0, 11], [11] * 6, [9] * 6, [5] * 6)
    f = compute_features(bars, SMALL, 4.0)
    assert f["volume_z"].iloc[2:].tolist() == [0.0] * 4
    flagged = nonfinite_beyond_warmup(f, np.arange(6), SMALL.warmup_bars)
    assert flagged.tolist() == [False, False, False, False, True, True]  # a zero close: -inf log return


def test_annualisation_and_declared_lookback():
    assert bars_per_year(EQ, "1m") == 252 * 390 and bars_per_year(EQ, "1h") == 252 * 7
    assert bars_per_year(EQ, "1d") == 252 and bars_per_year(EQ, "1w") == 52
    assert bars_per_year(CRYPTO, "1h") == 365 * 24 and bars_per_year(CRYPTO, "1d") == 365
    lookback = FeatureWindows().lookback_bars
    assert lookback == 279  # warm-up 30 + 249 bars for (13/14)^n < 1e-8
    assert lookback_partitions(EQ, "1m", "daily", lookback) == 1
    assert lookback_partitions(EQ, "1h", "daily", lookback) == 47  # 6 full hourly bins a session
    assert lookback_partitions(EQ, "1d", "daily", lookback) == 279
    assert lookback_partitions(EQ, "1d", "weekly", lookback) == 70
    assert lookback_partitions(EQ, "1w", "weekly", lookback) == 279
    assert lookback_partitions(CRYPTO, "1h", "daily", lookback) == 12


def test_windows_are_configuration():
    w = FeatureWindows.from_env({"BACKFILL_FEATURE_WINDOWS": "vol=10, atr=7", "BACKFILL_FEATURE_LOOKBACK_BARS": "500"})
    assert (w.vol, w.atr, w.ema_slow, w.lookback_bars) == (10, 7, 26, 500)
    for env, message in (
        ({"BACKFILL_FEATURE_WINDOWS": "speed=3"}, "unknown window 'speed'"),
        ({"BACKFILL_FEATURE_WINDOWS": "vol=x"}, "not a whole number"),
        ({"BACKFILL_FEATURE_WINDOWS": "ema_fast=30"}, "must be shorter than ema_slow"),
        ({"BACKFILL_FEATURE_WINDOWS": "vol=1"}, ">= 2"),
        ({"BACKFILL_FEATURE_LOOKBACK_BARS": "5"}, "shorter than the warm-up"),
    ):
        with pytest.raises(ValueError, match=message):
            FeatureWindows.from_env(env)
