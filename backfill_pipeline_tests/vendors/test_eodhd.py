"""EodhdClient against a local server speaking EODHD's intraday and EOD wire formats."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.gap_file import GapEntry
from backfill_pipeline.ingest import fetch_runs
from backfill_pipeline.launch import plan
from backfill_pipeline.markets import Market, get_market, sessions_in_range, with_hours
from backfill_pipeline.partitions import effective_grain, sessions_by_symbol
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.base import RateLimitedError, VendorError
from backfill_pipeline.vendors.eodhd.client import INTRADAY_MAX_DAYS, EodhdClient
from backfill_pipeline.vendors.limits import Rate
from backfill_pipeline.vendors.ratelimit import RateLimiter

from .conftest import options

TOKEN = "eodhd-test-token"
STEP_S = {"1m": 60, "5m": 300, "1h": 3600}


class FakeEodhd:
    """Intraday bars once an hour (other minutes had no trades), 08:00-24:00 UTC for
    equities (pre- and after-market included) and all day for .CC crypto."""

    def __init__(self) -> None:
        self.served: dict[str, list[int]] = defaultdict(list)
        self.paths: list[str] = []

    def intraday(self, request: Request) -> Response:
        assert request.args["api_token"] in (TOKEN, "second-token") and request.args["fmt"] == "json"
        ticker = request.path.rsplit("/", 1)[-1]
        interval, lo, hi = request.args["interval"], int(request.args["from"]), int(request.args["to"])
        if hi - lo > INTRADAY_MAX_DAYS[interval] * 86_400:
            return Response(json.dumps({"errors": "range too long"}), status=422)
        self.paths.append(request.path)
        step = STEP_S[interval]
        rows = []
        for ts in range(-(-lo // 3600) * 3600, hi + 1, 3600):
            hour = ts % 86_400 // 3600
            if not ticker.endswith(".CC") and hour < 8:
                continue
            if ts % step:
                continue
            rows.append(
                {
                    "timestamp": ts,
                    "gmtoffset": 0,
                    "datetime": pd.Timestamp(ts, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
                    "open": 10.0,
                    "high": 11.0,
                    "low": 9.0,
                    "close": 10.5,
                    "volume": 100,
                }
            )
            self.served[ticker].append(ts)
        return Response(json.dumps(rows), content_type="application/json")

    def eod(self, request: Request) -> Response:
        self.paths.append(request.path)
        assert request.args["period"] == "d"
        days = pd.bdate_range(request.args["from"], request.args["to"])
        prices = {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "adjusted_close": 0.7, "volume": 9}
        rows = [{"date": f"{d:%Y-%m-%d}", **prices} for d in days]
        return Response(json.dumps(rows), content_type="application/json")


@pytest.fixture
def fake(server: HTTPServer) -> FakeEodhd:
    fake = FakeEodhd()
    # no splits: daily volume needs no un-adjusting (test_recorded_eodhd covers AAPL's)
    server.expect_request(re.compile(r"^/api/splits/.*")).respond_with_json([])
    server.expect_request(re.compile(r"^/api/intraday/.*")).respond_with_handler(fake.intraday)
    server.expect_request(re.compile(r"^/api/eod/.*")).respond_with_handler(fake.eod)
    return fake


def client(server: HTTPServer, keys: tuple[str, ...] = (TOKEN,), market: Market | None = None,
           **kwargs: object) -> EodhdClient:
    return EodhdClient(list(keys), base_url=server.url_for(""), options=options(**kwargs),  # type: ignore[arg-type]
                       market=market)


def test_intraday_is_cut_into_120_day_requests_without_overlap(server: HTTPServer, fake: FakeEodhd) -> None:
    start, end = pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-10-28", tz="UTC")  # 300 days
    result = client(server).fetch_bars("BTC-USD", "1m", start, end)
    assert result.requests == 3
    assert fake.paths == ["/api/intraday/BTC-USD.CC"] * 3
    served = fake.served["BTC-USD.CC"]
    assert len(served) == len(set(served)) == 300 * 24  # bars at the 120-day edges came once
    expected = pd.date_range(start, end, freq="h", inclusive="left")
    assert result.bars["ts"].tolist() == expected.tolist()


def test_intraday_costs_five_calls_of_the_daily_quota(server: HTTPServer, fake: FakeEodhd) -> None:
    limiter = RateLimiter.in_memory()
    minute, day = Rate(1000, 60.0, weighted=False), Rate(100_000, 86_400.0)
    c = client(server, limiter=limiter, rates=(minute, day))
    c.fetch_bars("AAPL", "1h", pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-05", tz="UTC"))
    c.fetch_bars("AAPL", "1d", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    bucket = c._http.buckets[0]
    assert limiter.store.usage(bucket, minute) == 3  # intraday, eod, and the splits that un-adjust its volume
    assert limiter.store.usage(bucket, day) == 5 + 1 + 1


def test_equities_intraday_keeps_the_regular_session_by_default(server: HTTPServer, fake: FakeEodhd) -> None:
    start, end = pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-04", tz="UTC")
    regular = client(server).fetch_bars("AAPL", "1h", start, end).bars
    assert regular["ts"].dt.hour.tolist() == [15, 16, 17, 18, 19, 20]  # 09:30-16:00 New York
    # extended hours are 04:00-20:00 New York (09:00-01:00Z in January): the fake's 08:00Z bar
    # (03:00 New York) is outside them, and the window ends at 00:00Z
    extended = client(server).fetch_bars("AAPL", "1h", start, end, extended_hours=True).bars
    assert extended["ts"].dt.hour.tolist() == list(range(9, 24))
    # unset, the flag follows the market's hours option
    market = with_hours(get_market("us_equities"), "extended")
    follows = client(server, market=market).fetch_bars("AAPL", "1h", start, end).bars
    pd.testing.assert_frame_equal(follows, extended)


def test_eod_bars_are_raw_and_labelled_by_date(server: HTTPServer, fake: FakeEodhd) -> None:
    result = client(server).fetch_bars("BRK.B", "1d", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-06"))
    assert fake.paths == ["/api/eod/BRK-B.US"] and result.requests == 2  # + /api/splits
    assert result.bars["ts"].tolist() == list(pd.date_range("2024-01-01", "2024-01-05", tz="UTC"))
    assert (result.bars["close"] == 1.5).all()  # not adjusted_close
    assert result.bars["vwap"].isna().all() and result.bars["trades"].isna().all()


def test_spent_daily_quota_parks_the_key(server: HTTPServer) -> None:
    def quota(request: Request) -> Response:
        if request.args["api_token"] == TOKEN:
            return Response('{"message":"limit reached"}', status=402)
        return Response("[]", content_type="application/json")

    server.expect_request(re.compile(r"^/api/eod/.*")).respond_with_handler(quota)
    window = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-06"))
    with pytest.raises(RateLimitedError, match="eodhd: AAPL 1d"):
        client(server).fetch_bars("AAPL", "1d", *window)
    result = client(server, keys=(TOKEN, "second-token")).fetch_bars("AAPL", "1d", *window)
    assert [(r.status, r.key) for r in result.records] == [(402, "key #1 of 2"), (200, "key #2 of 2")]


def test_error_objects_and_null_rows(server: HTTPServer) -> None:
    server.expect_request(re.compile(r"^/api/eod/.*")).respond_with_json({"errors": "Ticker Not Found."})
    with pytest.raises(VendorError, match="expected a JSON list"):
        client(server).fetch_bars("ZZZZ", "1d", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-06"))
    server.clear()
    null = {"open": None, "high": None, "low": None, "close": None, "volume": None}
    rows = [
        {"timestamp": 1704292200, "gmtoffset": 0, "datetime": "", **null},
        {"timestamp": 1704292260, "gmtoffset": 0, "open": 1, "high": 2, "low": 1, "close": 2, "volume": 5},
    ]
    server.expect_request(re.compile(r"^/api/intraday/.*")).respond_with_json(rows)
    day = (pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-04", tz="UTC"))
    bars = client(server).fetch_bars("AAPL", "1m", *day).bars
    assert bars["ts"].tolist() == [pd.Timestamp(1704292260, unit="s", tz="UTC")]
    with pytest.raises(ValueError, match="15m"):
        client(server).fetch_bars("AAPL", "15m", *day)


def test_crypto_daily_bars_need_no_splits_request(server: HTTPServer, fake: FakeEodhd) -> None:
    result = client(server).fetch_bars("BTC-USD", "1d", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-06"))
    assert fake.paths == ["/api/eod/BTC-USD.CC"] and result.requests == 1 and len(result.bars) == 5


@pytest.mark.parametrize("symbol, timeframe, start, end, requests, calls", [
    ("BTC-USD", "1m", "2023-01-01", "2023-05-01", 1, 5),  # exactly 120 days: one window
    ("BTC-USD", "1m", "2023-01-01", "2023-05-01 00:01", 2, 10),  # a minute more: a second window
    ("AAPL", "1m", "2023-01-03 14:30", "2023-10-27 20:00", 3, 15),  # first open to last close, 297 days
    ("AAPL", "5m", "2021-01-04 14:30", "2023-08-28 20:00", 2, 10),  # 966 days of 600
    ("AAPL", "1h", "2005-01-03 14:30", "2024-12-31 21:00", 2, 10),  # 7302 days of 7200
    ("AAPL", "1d", "2024-01-01", "2024-01-06", 2, 2),  # EOD + the splits that un-adjust its volume
    ("BTC-USD", "1d", "2024-01-01", "2024-01-06", 1, 1),  # crypto has no splits
])
def test_the_request_count_is_the_clients_windows(server: HTTPServer, fake: FakeEodhd, symbol: str, timeframe: str,
                                                  start: str, end: str, requests: int, calls: int) -> None:
    """spec.eodhd_requests and spec.eodhd_calls (the backfill plan's estimates) are what the
    client really asks for and what it charges the daily quota of API calls."""
    from backfill_pipeline.vendors.eodhd.spec import SPEC

    market = get_market("crypto" if symbol == "BTC-USD" else "us_equities")
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    if timeframe == "1d":
        lo, hi = lo.tz_localize(None), hi.tz_localize(None)
    limiter, day = RateLimiter.in_memory(), Rate(100_000, 86_400.0)
    c = client(server, limiter=limiter, rates=(Rate(1000, 60.0, weighted=False), day))
    made = c.fetch_bars(symbol, timeframe, lo, hi).requests
    assert SPEC.requests(market, timeframe, lo, hi) == made == requests
    assert SPEC.weights is not None
    assert SPEC.weights(market, timeframe, lo, hi) == limiter.store.usage(c._http.buckets[0], day) == calls


@pytest.mark.parametrize("grain, calls", [
    # two runs of consecutive sessions (2024-03-15 is missing) per symbol, each 1m 5 calls,
    # 1h 5 calls and 1d 1 + 1 (EOD, splits): 2 x 2 x (5 + 5 + 2)
    ("daily", 2 * 2 * (5 + 5 + 2)),
    # March is one partition: one run per symbol, 178 days of 1m (two windows), 1h, 1d
    ("monthly", 2 * (10 + 5 + 2)),
])
def test_the_plans_api_calls_are_what_the_client_charges_the_daily_quota(server: HTTPServer, fake: FakeEodhd,
                                                                         grain: str, calls: int) -> None:
    """The backfill plan's EODHD figure against the real client fetching the plan's partitions
    the way the asset does (every session of each partition, a client call per run of
    consecutive sessions: ingest.fetch_runs)."""
    timeframes = ("1m", "1h", "1d")
    settings = Settings(partition_grain=grain, vendors={"us_equities": "eodhd"}, fetched={"us_equities": timeframes})
    market = settings.market("us_equities")
    sessions = sessions_in_range(market, dt.date(2024, 1, 2), dt.date(2024, 6, 28)).drop(pd.Timestamp("2024-03-15"))
    entries = [GapEntry("us_equities", tf, sym, s.date()) for tf in timeframes for sym in ("AAPL", "MSFT")
               for s in sessions]
    the_plan = plan(entries, settings)
    limiter, day = RateLimiter.in_memory(), Rate(100_000, 86_400.0)
    c = client(server, limiter=limiter, rates=(Rate(1000, 60.0, weighted=False), day))
    made = 0
    for key, keys in the_plan.partitions.items():
        timeframe = key.rsplit("/", 1)[-1]
        for symbol, covered in sessions_by_symbol(market, effective_grain(grain, timeframe), keys).items():
            fetched = fetch_runs(c, market, timeframe, symbol, covered)
            assert not [f.result for f in fetched if isinstance(f.result, VendorError)]
            made += sum(f.result.requests for f in fetched)  # type: ignore[union-attr]
    assert the_plan.requests_estimate == made
    assert the_plan.weights_estimate == {"eodhd": limiter.store.usage(c._http.buckets[0], day)} == {"eodhd": calls}
    assert f"{calls:,} EODHD API calls of the daily quota" in the_plan.requests_text


def test_the_daily_splits_request_is_counted_even_when_no_bars_come(server: HTTPServer) -> None:
    """An upper bound: without bars there is no volume to un-adjust, and no splits request."""
    from backfill_pipeline.vendors.eodhd.spec import SPEC

    server.expect_request(re.compile(r"^/api/eod/.*")).respond_with_json([])
    lo, hi = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-06")
    assert client(server).fetch_bars("AAPL", "1d", lo, hi).requests == 1
    assert SPEC.requests(get_market("us_equities"), "1d", lo, hi) == 2
    assert SPEC.requests(get_market("us_equities"), "1m", pd.Timestamp(0, tz="UTC"), pd.Timestamp(0, tz="UTC")) == 0
