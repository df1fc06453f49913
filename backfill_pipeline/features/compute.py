"""Bar features as pure functions of a price series (one symbol, one timeframe, sorted by ts).

Definitions (n = a window of FeatureWindows):
- ret = close / prev_close - 1; log_ret = ln(close / prev_close).
- realized_vol = sample sd (ddof=1) of the last `vol` log returns x sqrt(bars per year).
- atr: Wilder's ATR. True range TR = max(high - low, |high - prev_close|, |low - prev_close|)
  (the first bar: high - low); ATR at bar n-1 is the mean of the first n TRs, then
  ATR_t = (ATR_{t-1} (n - 1) + TR_t) / n. The same as `ta`'s AverageTrueRange.
- ema_fast / ema_slow: EMA of close with alpha = 2 / (n + 1), seeded with the first close,
  defined from bar n-1 on (pandas ewm(span=n, adjust=False, min_periods=n), as in `ta`).
- trend_spread = ema_fast / ema_slow - 1; trend_slope = ln(ema_slow_t / ema_slow_{t-slope}) / slope
  (the slow EMA's log growth per bar).
- volume_z = (volume - mean) / sd (ddof=1) over the last `volume` bars, 0 when the sd is 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    prev = close.shift(1)
    ranges = pd.concat([high - low, (high - prev).abs(), (low - prev).abs()], axis=1)
    return ranges.max(axis=1, skipna=True)


def wilder_atr(high: pd.Series, low: pd.Series, close: pd.Series, n: int) -> pd.Series:
    tr = true_range(high, low, close)
    out = pd.Series(np.nan, index=tr.index, dtype="float64")
    if len(tr) < n:
        return out
    # Wilder's smoothing is an EWM with alpha = 1/n seeded by the mean of the first n TRs.
    seeded = pd.concat([pd.Series([tr.iloc[:n].mean()], index=tr.index[n - 1 : n]), tr.iloc[n:]])
    out.iloc[n - 1 :] = seeded.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return out


def ema(close: pd.Series, n: int) -> pd.Series:
    return close.ewm(span=n, adjust=False, min_periods=n).mean()


def compute_features(bars: pd.DataFrame, windows: FeatureWindows, bars_per_year: float) -> pd.DataFrame:
    """Feature columns (FEATURE_COLUMNS) for each row of `bars` (open/high/low/close/volume)."""
    close = bars["close"].astype("float64").reset_index(drop=True)
    high = bars["high"].astype("float64").reset_index(drop=True)
    low = bars["low"].astype("float64").reset_index(drop=True)
    volume = bars["volume"].astype("float64").reset_index(drop=True)
    prev = close.shift(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = close / prev - 1.0
        log_ret = pd.Series(np.log(close / prev), dtype="float64")
        fast, slow = ema(close, windows.ema_fast), ema(close, windows.ema_slow)
        mean = volume.rolling(windows.volume, min_periods=windows.volume).mean()
        sd = volume.rolling(windows.volume, min_periods=windows.volume).std(ddof=1)
        volume_z = ((volume - mean) / sd).where(sd > 0, 0.0).where(sd.notna())
        out = pd.DataFrame(
            {
                "close_adj": close,
                "ret": ret,
                "log_ret": log_ret,
                "realized_vol": log_ret.rolling(windows.vol, min_periods=windows.vol).std(ddof=1)
                * np.sqrt(bars_per_year),
                "atr": wilder_atr(high, low, close, windows.atr),
                "ema_fast": fast,
                "ema_slow": slow,
                "trend_spread": fast / slow - 1.0,
                "trend_slope": np.log(slow / slow.shift(windows.slope)) / windows.slope,
                "volume_z": volume_z,
            }
        )
    out.index = bars.index
    return out.loc[:, list(FEATURE_COLUMNS)]


def nonfinite_beyond_warmup(features: pd.DataFrame, positions: np.ndarray, warmup: int) -> pd.Series:
    """Rows (by position in the computed series) past the warm-up with a NaN or inf feature."""
    values = features.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    bad = ~np.isfinite(values).all(axis=1)
    return pd.Series(bad & (positions >= warmup), index=features.index)
