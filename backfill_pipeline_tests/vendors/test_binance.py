"""BinanceClient against a local server speaking Binance's klines wire format."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.vendors.base import RateLimitedError, VendorError
from backfill_pipeline.vendors.binance.client import INTERVAL_MS, BinanceClient
from backfill_pipeline.vendors.limits import Rate
from backfill_pipeline.vendors.ratelimit import RateLimiter
from backfill_pipeline.vendors.ratelimit_store import memory_store
from backfill_pipeline_tests.clocks import FakeClock

from .conftest import options

PATH = "/api/v3/klines"


class FakeBinance:
    """Klines for every interval; every 7th has no trades (Binance still sends it)."""

    def __init__(self, used_weight: int | None = None) -> None:
        self.served: list[int] = []
        self.requests: list[dict[str, str]] = []
        self.used_weight = used_weight

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        self.requests.append(args)
        if args["symbol"] != "BTCUSDT":
            return Response(json.dumps({"code": -1121, "msg": "Invalid symbol."}), status=400)
        step = INTERVAL_MS[args["interval"]]
        lo, hi, limit = int(args["startTime"]), int(args["endTime"]), min(int(args["limit"]), 1000)
        rows = []
        for t in range(-(-lo // step) * step, hi + 1, step):
            if len(rows) == limit:
                break
            empty = (t // step) % 7 == 0
            volume, quote = (0.0, 0.0) if empty else (2.0, 2.0 * 100.5)
            trades = 0 if empty else 5
            prices = ["100.0", "101.0", "99.0", "100.5"]
            rows.append([t, *prices, f"{volume}", t + step - 1, f"{quote}", trades, "1", "100", "0"])
            self.served.append(t)
        used = self.used_weight if self.used_weight is not None else 2 * len(self.requests)
        return Response(json.dumps(rows), content_type="application/json", headers={"X-MBX-USED-WEIGHT-1M": str(used)})


@pytest.fixture
def fake(server: HTTPServer) -> FakeBinance:
    fake = FakeBinance()
    server.expect_request(PATH).respond_with_handler(fake.handle)
    return fake


def client(server: HTTPServer, **kwargs: object) -> BinanceClient:
    keep = bool(kwargs.pop("keep_empty_bars", False))
    clock = kwargs.pop("clock", time.time)
    opts = options(**kwargs)  # type: ignore[arg-type]
    return BinanceClient(base_url=server.url_for(""), options=opts, keep_empty_bars=keep, clock=clock)  # type: ignore[arg-type]


START = pd.Timestamp("2024-01-01", tz="UTC")


def test_pages_of_1000_klines_return_exactly_the_servers_bars(server: HTTPServer, fake: FakeBinance) -> None:
    end = START + pd.Timedelta(minutes=2500)
    result = client(server).fetch_bars("BTC-USD", "1m", START, end)
    assert result.requests == 3
    first_ms = int(START.value // 10**6)
    assert [r["startTime"] for r in fake.requests] == [str(first_ms + i * 1000 * 60_000) for i in range(3)]
    assert len(fake.served) == len(set(fake.served)) == 2500
    every = pd.date_range(START, end, freq="min", inclusive="left").as_unit("ns")
    traded = every[(every.asi8 // 60_000_000_000) % 7 != 0]
    assert result.bars["ts"].tolist() == traded.tolist()  # zero-trade klines dropped
    assert (result.bars["vwap"] == 100.5).all() and (result.bars["trades"] == 5).all()
    everything = client(server, keep_empty_bars=True).fetch_bars("BTC-USD", "1m", START, end).bars
    assert everything["ts"].tolist() == every.tolist()


def test_daily_klines_are_session_labels(server: HTTPServer, fake: FakeBinance) -> None:
    c = client(server, keep_empty_bars=True)
    bars = c.fetch_bars("BTC-USD", "1d", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-04")).bars
    assert bars["ts"].tolist() == [pd.Timestamp(d, tz="UTC") for d in ("2024-01-01", "2024-01-02", "2024-01-03")]


def test_symbols_and_errors(server: HTTPServer, fake: FakeBinance) -> None:
    with pytest.raises(ValueError, match="crypto only"):
        client(server).fetch_bars("AAPL", "1m", START, START + pd.Timedelta(hours=1))
    with pytest.raises(VendorError, match=r"HTTP 400.*Invalid symbol"):
        client(server).fetch_bars("ETH-BTC", "1m", START, START + pd.Timedelta(hours=1))
    assert fake.requests[-1]["symbol"] == "ETHBTC"


def test_weight_counts_and_the_ip_ban_is_honoured(server: HTTPServer) -> None:
    fake = FakeBinance()
    calls: list[int] = []

    def banned_once(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return Response('{"code":-1003,"msg":"banned"}', status=418, headers={"Retry-After": "1"})
        return fake.handle(request)

    server.expect_request(PATH).respond_with_handler(banned_once)
    limiter = RateLimiter.in_memory()
    minute = Rate(6000, 60.0)
    c = client(server, limiter=limiter, rates=(minute,))
    started = time.monotonic()
    result = c.fetch_bars("BTC-USD", "1m", START, START + pd.Timedelta(minutes=10))
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in result.records] == [418, 200]
    assert limiter.store.usage(c._http.buckets[0], minute) == 4  # klines weigh 2, the 418 counted too


def test_binances_own_weight_count_parks_the_ip(server: HTTPServer) -> None:
    clock = FakeClock()  # 2024-01-01T00:00:00Z: Binance's minute ends 60 s later, far past max_wait
    limiter = RateLimiter(memory_store(clock=clock.time), sleep=clock.sleep, monotonic=clock.monotonic)
    fake = FakeBinance(used_weight=5999)
    server.expect_request(PATH).respond_with_handler(fake.handle)
    c = client(server, max_wait=0.5, rates=(Rate(6000, 60.0),), limiter=limiter, clock=clock.time)
    c.fetch_bars("BTC-USD", "1m", START, START + pd.Timedelta(minutes=10))
    with pytest.raises(RateLimitedError, match=r"binance: BTC-USD .*per-IP budget"):
        c.fetch_bars("BTC-USD", "1m", START, START + pd.Timedelta(minutes=10))
    assert clock.sleeps == []  # parked until the minute ends (60.5 s): past max_wait, so no wait at all


@pytest.mark.parametrize("timeframe, start, end, page, requests", [
    ("1m", "2024-01-01", "2024-01-01 00:01", 1000, 1),  # one kline
    ("1m", "2024-01-01", "2024-01-02 09:20", 1000, 2),  # 2000 klines: two full pages, no third request
    ("1m", "2024-01-01", "2024-01-02 09:21", 1000, 3),  # 2001: a third page of one
    ("1m", "2024-01-01 00:00:30", "2024-01-01 00:01", 1000, 1),  # no kline starts inside: one empty answer
    ("5m", "2024-01-01 00:03", "2024-01-03 00:03", 100, 6),  # unaligned start: 576 klines from 00:05
    ("1h", "2024-01-01", "2024-03-01", 500, 3),  # 1440 klines
    ("4h", "2024-01-01 02:00", "2024-02-01", 50, 4),  # 185 klines: they open at 00:00, 04:00 ... UTC
    ("1d", "2021-04-06", "2024-01-01", 1000, 1),  # 1000 days: one full page
    ("1d", "2021-04-05", "2024-01-01", 1000, 2),  # 1001 days
])
def test_the_request_count_is_the_clients_paging(server: HTTPServer, fake: FakeBinance, timeframe: str, start: str,
                                                 end: str, page: int, requests: int) -> None:
    """spec.binance_requests and spec.binance_weight (the backfill plan's estimates) are what
    the client really asks for and what it charges the per-minute request weight."""
    from backfill_pipeline.markets import get_market
    from backfill_pipeline.vendors.binance.spec import SPEC, binance_requests

    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    if timeframe == "1d":
        lo, hi = lo.tz_localize(None), hi.tz_localize(None)  # daily windows are session labels
    limiter, minute = RateLimiter.in_memory(), Rate(60_000, 60.0)
    c = BinanceClient(base_url=server.url_for(""), options=options(limiter=limiter, rates=(minute,)), page_limit=page)
    made = c.fetch_bars("BTC-USD", timeframe, lo, hi).requests
    assert binance_requests(get_market("crypto"), timeframe, lo, hi, page=page) == made == len(fake.requests) == requests
    assert limiter.store.usage(c._http.buckets[0], minute) == 2 * made  # klines weigh 2 whatever their limit
    if page == SPEC.page_bars:
        assert SPEC.requests(get_market("crypto"), timeframe, lo, hi) == made
        assert SPEC.weights is not None
        assert SPEC.weights(get_market("crypto"), timeframe, lo, hi) == limiter.store.usage(c._http.buckets[0], minute)


def test_the_request_count_of_an_empty_window_is_zero() -> None:
    from backfill_pipeline.markets import get_market
    from backfill_pipeline.vendors.binance.spec import binance_requests

    assert binance_requests(get_market("crypto"), "1m", START, START) == 0
    assert binance_requests(get_market("crypto"), "1d", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-01")) == 0
