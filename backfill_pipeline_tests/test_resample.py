"""Derived bars against an independent pandas resample on the same calendar bins."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.markets import MARKETS, session_bounds, sessions_in_range
from backfill_pipeline.resample import resample_bars

EQ, CRYPTO = MARKETS["us_equities"], MARKETS["crypto"]


def random_minutes(market, first, last, missing_share=0.1, seed=7):
    """1m bars with random prices and some minutes missing (no trades)."""
    rng = np.random.default_rng(seed)
    sessions = sessions_in_range(market, first, last)
    opens, closes = session_bounds(market, sessions)
    ts = pd.DatetimeIndex(np.concatenate([
        pd.date_range(o, c, freq="1min", inclusive="left").tz_convert(None).to_numpy() for o, c in zip(opens, closes, strict=False)
    ])).tz_localize("UTC")
    ts = ts[rng.random(len(ts)) > missing_share]
    close = 100 + rng.standard_normal(len(ts)).cumsum()
    open_ = close + rng.normal(0, 0.1, len(ts))
    frame = pd.DataFrame({
        "ts": ts, "open": open_, "close": close,
        "high": np.maximum(open_, close) + rng.random(len(ts)),
        "low": np.minimum(open_, close) - rng.random(len(ts)),
        "volume": rng.integers(1, 1000, len(ts)).astype(float),
        "vwap": (open_ + close) / 2,
        "trades": pd.array(rng.integers(1, 50, len(ts)), dtype="Int64"),
    })
    return frame, sessions, opens


def independent_resample(frame, market, sessions, opens, rule):
    """Per session, pandas resample with origin at the session open (local time)."""
    parts = []
    local = frame.set_index(frame["ts"].dt.tz_convert(market.timezone))
    for session, open_ in zip(sessions, opens, strict=False):
        day = local[(local.index >= open_) & (local.index < open_ + pd.Timedelta(days=1))]
        day = day[day.index.normalize().tz_localize(None) == session] if market.name == "crypto" else day
        if day.empty:
            continue
        r = day.resample(rule, origin=open_.tz_convert(market.timezone), closed="left", label="left")
        agg = pd.DataFrame({
            "open": r["open"].first(), "high": r["high"].max(), "low": r["low"].min(),
            "close": r["close"].last(), "volume": r["volume"].sum(),
            "vwap": (day["vwap"] * day["volume"]).resample(rule, origin=open_.tz_convert(market.timezone)).sum()
            / r["volume"].sum(),
            "trades": r["trades"].sum(),
        })
        parts.append(agg[r["open"].count() > 0])
    out = pd.concat(parts)
    out.index = out.index.tz_convert("UTC")
    return out


@pytest.mark.parametrize(
    ("market", "first", "last"),
    [
        (EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 15)),  # US DST starts 2024-03-10
        (EQ, dt.date(2024, 11, 25), dt.date(2024, 11, 29)),  # Thanksgiving + early close
        (EQ, dt.date(2024, 10, 28), dt.date(2024, 11, 8)),  # US DST ends 2024-11-03
        (CRYPTO, dt.date(2024, 3, 9), dt.date(2024, 3, 11)),
    ],
)
@pytest.mark.parametrize(("timeframe", "rule"), [("5m", "5min"), ("15m", "15min"), ("30m", "30min"), ("1h", "1h"), ("4h", "4h")])
def test_intraday_bins_match_pandas(market, first, last, timeframe, rule):
    frame, sessions, opens = random_minutes(market, first, last)
    ours = resample_bars(market, frame, timeframe).set_index("ts")
    theirs = independent_resample(frame, market, sessions, opens, rule)
    pd.testing.assert_index_equal(ours.index, theirs.index, check_names=False)
    for col in ("open", "high", "low", "close", "volume", "vwap"):
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(), rtol=1e-12, err_msg=col)
    assert ours["trades"].astype("int64").tolist() == theirs["trades"].astype("int64").tolist()


def test_early_close_cuts_the_last_bin():
    frame, _, _ = random_minutes(EQ, dt.date(2024, 11, 29), dt.date(2024, 11, 29), missing_share=0)
    four_hour = resample_bars(EQ, frame, "4h")
    assert four_hour["ts"].tolist() == [pd.Timestamp("2024-11-29 14:30", tz="UTC")]
    assert four_hour["volume"].iloc[0] == frame["volume"].sum()


def test_daily_and_weekly_bars():
    frame, sessions, _ = random_minutes(EQ, dt.date(2024, 11, 25), dt.date(2024, 12, 6))
    daily = resample_bars(EQ, frame, "1d")
    assert daily["ts"].dt.strftime("%Y-%m-%d").tolist() == [f"{s:%Y-%m-%d}" for s in sessions]
    local_day = frame["ts"].dt.tz_convert("America/New_York").dt.date
    by_day = frame.groupby(local_day)
    np.testing.assert_allclose(daily["high"], by_day["high"].max().to_numpy())
    np.testing.assert_allclose(daily["close"], by_day["close"].last().to_numpy())
    weekly = resample_bars(EQ, daily, "1w")
    assert weekly["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-11-25", "2024-12-02"]
    first_week = daily.iloc[:4]  # Nov 25, 26, 27, 29 (28 is Thanksgiving)
    assert weekly["open"].iloc[0] == first_week["open"].iloc[0]
    assert weekly["close"].iloc[0] == first_week["close"].iloc[-1]
    assert weekly["volume"].iloc[0] == first_week["volume"].sum()


def test_aggregate_matches_a_pandas_groupby_with_gaps_in_vwap_and_trades():
    """The reduceat aggregation against a plain groupby: unsorted input, bins where some
    or all vwap/trades are missing, and a bin with zero volume."""
    from backfill_pipeline.resample import aggregate

    rng = np.random.default_rng(3)
    n = 600
    ts = pd.Series(pd.date_range("2024-03-08 14:30", periods=n, freq="1min", tz="UTC"))
    frame = pd.DataFrame({
        "ts": ts,
        "open": rng.random(n) + 10, "high": rng.random(n) + 11, "low": rng.random(n) + 9,
        "close": rng.random(n) + 10, "volume": rng.integers(0, 5, n).astype(float),
        "vwap": np.where(rng.random(n) < 0.05, np.nan, rng.random(n) + 10),
        "trades": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(1, 9, n)), dtype="Int64"),
    })
    frame.loc[60:74, "volume"] = 0.0  # bin 4 has no volume: vwap undefined
    frame.loc[75:89, "trades"] = pd.NA  # bin 5 has no trade counts at all
    keys = ts.dt.floor("15min")
    shuffled = rng.permutation(n)
    got = aggregate(frame.iloc[shuffled].reset_index(drop=True), keys.iloc[shuffled].reset_index(drop=True))

    g = frame.assign(_k=keys, _pv=frame["vwap"] * frame["volume"]).groupby("_k")
    all_known = g["vwap"].apply(lambda s: s.notna().all())
    volume = g["volume"].sum()
    want = pd.DataFrame({
        "ts": volume.index, "open": g["open"].first().to_numpy(), "high": g["high"].max().to_numpy(),
        "low": g["low"].min().to_numpy(), "close": g["close"].last().to_numpy(), "volume": volume.to_numpy(),
        "vwap": ((g["_pv"].sum() / volume.where(volume > 0)).where(all_known)).to_numpy(),
        "trades": g["trades"].sum(min_count=1).astype("Int64").array,
    })
    assert len(got) == n // 15
    assert np.isnan(got["vwap"].iloc[4]) and got["trades"].isna().iloc[5]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False, check_exact=False, rtol=1e-12)
