"""The offline demo vendor: determinism, calendar awareness, bar validity, injected faults."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.bars import empty_bars
from backfill_pipeline.markets import get_market
from backfill_pipeline.resample import resample_bars
from backfill_pipeline.vendors.base import VendorError
from backfill_pipeline.vendors.demo.client import DemoClient, DemoConfig
from backfill_pipeline.vendors.demo.paths import ar1

NOW = pd.Timestamp("2025-01-15 00:00", tz="UTC")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def client(market: str = "us_equities", config: DemoConfig | None = None, now: pd.Timestamp = NOW) -> DemoClient:
    return DemoClient(get_market(market), config, now=lambda: now)


def fetch(c: DemoClient, symbol: str, timeframe: str, start: str, end: str) -> pd.DataFrame:
    return c.fetch_bars(symbol, timeframe, utc(start), utc(end)).bars


def day(bars: pd.DataFrame, date: str) -> pd.DataFrame:
    return bars[bars["ts"].dt.strftime("%Y-%m-%d") == date]


@pytest.mark.parametrize(
    ("market", "symbol", "timeframe", "cuts"),
    [
        ("us_equities", "AAPL", "1m", ["2024-11-27 17:03", "2024-11-29 16:00", "2024-12-02 00:00"]),
        ("us_equities", "AAPL", "1h", ["2024-11-27 16:30", "2024-11-29 15:00"]),
        ("crypto", "BTC-USD", "1m", ["2024-11-27 06:17", "2024-11-30 00:00"]),
        ("crypto", "BTC-USD", "4h", ["2024-11-28 04:00"]),
        ("us_equities", "AAPL", "1d", ["2024-11-29", "2024-12-02"]),
    ],
)
def test_chunked_fetches_equal_the_whole_window(market: str, symbol: str, timeframe: str, cuts: list[str]) -> None:
    edges = ["2024-11-25", *cuts, "2024-12-04"]
    whole = fetch(client(market), symbol, timeframe, edges[0], edges[-1])
    fresh = client(market)  # a new client: nothing cached may leak into values
    chunks = [fetch(fresh, symbol, timeframe, a, b) for a, b in itertools.pairwise(edges)]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_exact=True)
    assert len(whole) > 0


def test_seed_changes_the_path_but_not_the_symbol_level() -> None:
    a = fetch(client(), "AAPL", "1d", "2024-06-03", "2024-06-04")
    b = fetch(client(config=DemoConfig(seed=1)), "AAPL", "1d", "2024-06-03", "2024-06-04")
    assert a["close"].iloc[0] != b["close"].iloc[0]
    assert 0.1 < a["close"].iloc[0] / b["close"].iloc[0] < 10


def test_ar1_prefix_is_stable_so_a_longer_calendar_keeps_old_values() -> None:
    shocks = np.random.default_rng(3).standard_normal(5000)
    np.testing.assert_array_equal(ar1(shocks[:1234], 0.99), ar1(shocks, 0.99)[:1234])


def test_equity_sessions_follow_the_xnys_calendar() -> None:
    bars = fetch(client(), "AAPL", "1m", "2024-03-08", "2024-12-27")
    early = day(bars, "2024-11-29")
    assert len(early) == 210
    assert (early["ts"].min(), early["ts"].max()) == (utc("2024-11-29 14:30"), utc("2024-11-29 17:59"))
    assert day(bars, "2024-03-08")["ts"].min() == utc("2024-03-08 14:30")  # EST
    assert day(bars, "2024-03-11")["ts"].min() == utc("2024-03-11 13:30")  # EDT
    assert len(day(bars, "2024-03-11")) == 390
    assert day(bars, "2024-12-25").empty
    assert day(bars, "2024-03-09").empty  # a Saturday


def test_crypto_days_have_every_minute() -> None:
    bars = fetch(client("crypto"), "BTC-USD", "1m", "2024-03-09", "2024-03-12")
    assert len(day(bars, "2024-03-10")) == 1440
    assert len(bars) == 3 * 1440


def test_window_bounds_are_start_inclusive_end_exclusive() -> None:
    c = client()
    bars = fetch(c, "AAPL", "1m", "2024-12-03 15:00", "2024-12-03 15:10")
    assert list(bars["ts"]) == list(pd.date_range("2024-12-03 15:00", periods=10, freq="1min", tz="UTC"))
    daily = fetch(c, "AAPL", "1d", "2024-12-02", "2024-12-05")
    assert list(daily["ts"]) == [utc("2024-12-02"), utc("2024-12-03"), utc("2024-12-04")]


@pytest.mark.parametrize(
    ("market", "symbol", "illiquid"),
    [("us_equities", "MSFT", False), ("us_equities", "TINY", True), ("crypto", "ETH-USD", False)],
)
@pytest.mark.parametrize("timeframe", ["1m", "15m", "1d"])
def test_bars_are_valid(market: str, symbol: str, illiquid: bool, timeframe: str) -> None:
    config = DemoConfig(illiquid_symbols=frozenset({symbol} if illiquid else set()))
    result = client(market, config).fetch_bars(symbol, timeframe, utc("2024-05-01"), utc("2024-06-01"))
    bars = result.bars
    assert list(bars.dtypes) == list(empty_bars().dtypes)
    assert len(bars) > 0 and bars["ts"].is_monotonic_increasing and bars["ts"].is_unique
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["low"] > 0).all() and (bars["volume"] > 0).all()
    assert bars["vwap"].between(bars["low"], bars["high"]).all()
    assert bars["trades"].notna().all() and (bars["trades"] >= 1).all()
    prices = bars[["open", "high", "low", "close"]].to_numpy()
    np.testing.assert_array_equal(prices, prices.round(2))
    assert result.requests == 1 and len(result.request_ids) == 1


def test_prices_and_volumes_are_plausible() -> None:
    equity = fetch(client(), "SPY", "1d", "2000-01-03", "2025-01-01")
    assert equity["close"].between(1, 5000).all()
    gaps = np.log(equity["open"].to_numpy()[1:] / equity["close"].to_numpy()[:-1])
    assert np.abs(gaps).max() < 0.1  # each session opens near the previous close
    btc = fetch(client("crypto"), "BTC-USD", "1d", "2024-01-01", "2025-01-01")
    assert btc["close"].between(1000, 500_000).all()
    minutes = fetch(client(), "SPY", "1m", "2024-05-01", "2024-06-01")
    minute_of_session = minutes.groupby(minutes["ts"].dt.date).cumcount()
    by_minute = minutes["volume"].groupby(minute_of_session).mean()
    assert by_minute.iloc[:15].mean() > 1.5 * by_minute.iloc[150:240].mean()  # U-shaped volume
    assert by_minute.iloc[-15:].mean() > 1.5 * by_minute.iloc[150:240].mean()


def test_illiquid_symbols_miss_about_the_configured_share_of_minutes() -> None:
    config = DemoConfig(illiquid_symbols=frozenset({"TINY"}), no_trade_share=0.3)
    c = client(config=config)
    illiquid = fetch(c, "TINY", "1m", "2024-05-01", "2024-06-01")
    liquid = fetch(c, "AAPL", "1m", "2024-05-01", "2024-06-01")
    assert len(liquid) == 22 * 390
    assert 1 - len(illiquid) / len(liquid) == pytest.approx(0.3, abs=0.03)
    daily = fetch(c, "TINY", "1d", "2024-05-01", "2024-06-01")
    assert len(daily) == 22 and daily["volume"].sum() == pytest.approx(illiquid["volume"].sum())


def test_dropped_sessions_have_no_bars_in_any_timeframe() -> None:
    c = client(config=DemoConfig(drop_sessions=frozenset({("AAPL", "2024-12-03")})))
    for timeframe in ("1m", "1h"):
        bars = fetch(c, "AAPL", timeframe, "2024-12-02", "2024-12-05")
        assert day(bars, "2024-12-03").empty
        assert not day(bars, "2024-12-02").empty and not day(bars, "2024-12-04").empty
    daily = fetch(c, "AAPL", "1d", "2024-12-02", "2024-12-05")
    assert list(daily["ts"]) == [utc("2024-12-02"), utc("2024-12-04")]
    assert len(day(fetch(c, "MSFT", "1m", "2024-12-03", "2024-12-04"), "2024-12-03")) == 390


def test_fail_symbols_raise_a_vendor_error() -> None:
    c = client(config=DemoConfig(fail_symbols=frozenset({"JPM"})))
    with pytest.raises(VendorError, match="injected failure") as raised:
        c.fetch_bars("JPM", "1m", utc("2024-12-02"), utc("2024-12-03"))
    assert (raised.value.vendor, raised.value.symbol) == ("demo", "JPM")
    assert not c.fetch_bars("AAPL", "1m", utc("2024-12-02"), utc("2024-12-03")).bars.empty


@pytest.mark.parametrize("session", ["2024-11-29", "2024-12-03"])
def test_daily_bar_is_the_aggregate_of_its_minutes(session: str) -> None:
    c = client(config=DemoConfig(illiquid_symbols=frozenset({"NVDA"})))
    nxt = (pd.Timestamp(session) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    for symbol in ("AAPL", "NVDA"):
        minutes = fetch(c, symbol, "1m", session, nxt)
        daily = fetch(c, symbol, "1d", session, nxt)
        assert len(daily) == 1
        bar = daily.iloc[0]
        assert bar["ts"] == utc(session)
        assert (bar["open"], bar["close"]) == (minutes["open"].iloc[0], minutes["close"].iloc[-1])
        assert (bar["high"], bar["low"]) == (minutes["high"].max(), minutes["low"].min())
        assert bar["volume"] == pytest.approx(minutes["volume"].sum())
        assert bar["trades"] == minutes["trades"].sum()
        assert bar["vwap"] == pytest.approx((minutes["vwap"] * minutes["volume"]).sum() / minutes["volume"].sum())
        derived = resample_bars(get_market("us_equities"), minutes, "1d")
        pd.testing.assert_frame_equal(daily, derived, check_exact=False, rtol=1e-12)


def test_no_bar_ends_after_now() -> None:
    now = utc("2024-12-03 15:07:30")  # inside the session: 14:30-21:00 UTC
    c = client(now=now)
    minutes = fetch(c, "AAPL", "1m", "2024-12-02", "2024-12-10")
    assert minutes["ts"].max() == utc("2024-12-03 15:06")
    five = fetch(c, "AAPL", "5m", "2024-12-02", "2024-12-10")
    assert five["ts"].max() == utc("2024-12-03 15:00")  # the 15:05 bin is still open
    daily = fetch(c, "AAPL", "1d", "2024-12-02", "2024-12-10")
    assert list(daily["ts"]) == [utc("2024-12-02")]  # 12-03 has not closed yet
    crypto = client("crypto", now=now)
    assert fetch(crypto, "BTC-USD", "1h", "2024-12-03", "2024-12-04")["ts"].max() == utc("2024-12-03 14:00")
    assert fetch(crypto, "BTC-USD", "1d", "2024-12-01", "2024-12-10")["ts"].max() == utc("2024-12-02")


def test_values_do_not_depend_on_now() -> None:
    early = fetch(client(now=utc("2024-12-03 15:07:30")), "AAPL", "1m", "2024-12-03", "2024-12-04")
    late = fetch(client(), "AAPL", "1m", "2024-12-03", "2024-12-04")
    pd.testing.assert_frame_equal(early, late.iloc[: len(early)], check_exact=True)


@pytest.mark.parametrize("timeframe", ["1w", "2m", "1M"])
def test_unknown_timeframes_raise_a_vendor_error(timeframe: str) -> None:
    with pytest.raises(VendorError, match="unsupported timeframe"):
        client().fetch_bars("AAPL", timeframe, utc("2024-12-02"), utc("2024-12-09"))


def test_request_ids_are_deterministic() -> None:
    a = client().fetch_bars("AAPL", "1m", utc("2024-12-02"), utc("2024-12-03"))
    b = client().fetch_bars("AAPL", "1m", utc("2024-12-02"), utc("2024-12-03"))
    c = client().fetch_bars("AAPL", "1m", utc("2024-12-03"), utc("2024-12-04"))
    assert a.request_ids == b.request_ids != c.request_ids
    assert client().finalization_delay == pd.Timedelta(0)
    assert client(config=DemoConfig(finalization_delay_minutes=15)).finalization_delay == pd.Timedelta(minutes=15)


def test_a_year_of_minutes_in_one_call() -> None:
    # Speed is a benchmark's business (`backfill-pipeline bench`), not an assertion here.
    bars = client().fetch_bars("AAPL", "1m", utc("2024-01-01"), utc("2025-01-01")).bars
    assert len(bars) == 252 * 390 - 3 * 180  # 252 sessions; three early closes (13:00) lose 180 minutes
    assert bars["ts"].is_monotonic_increasing and bars["ts"].is_unique


def test_the_request_count_is_one_a_call_whatever_the_window() -> None:
    from backfill_pipeline.vendors.demo.spec import SPEC

    market = get_market("us_equities")
    for timeframe, start, end in (("1m", utc("2024-01-02 14:30"), utc("2024-03-01 21:00")),
                                  ("1d", pd.Timestamp("2020-01-02"), pd.Timestamp("2024-01-01"))):
        made = client().fetch_bars("AAPL", timeframe, start, end).requests
        assert SPEC.requests(market, timeframe, start, end) == made == 1
