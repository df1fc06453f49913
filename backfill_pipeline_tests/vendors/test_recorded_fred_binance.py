"""FredClient and BinanceClient pinned to recorded responses (fixtures/fred, fixtures/binance)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.vendors.base import AuthError, RateLimitedError, VendorError
from backfill_pipeline.vendors.binance.client import BinanceClient
from backfill_pipeline.vendors.fred.client import FredClient

from .conftest import options
from .recorded import response, serve

OBS = r"^/fred/series/observations$"
KLINES = r"^/api/v3/klines$"
MINUTES = (pd.Timestamp("2024-01-01 00:00", tz="UTC"), pd.Timestamp("2024-01-01 00:04", tz="UTC"))


def fred(server: HTTPServer, keys: tuple[str, ...] = ("fred-key-0001",), **kwargs: object) -> FredClient:
    return FredClient(list(keys), base_url=server.url_for(""), options=options(**kwargs))  # type: ignore[arg-type]


def binance(server: HTTPServer, **kwargs: object) -> BinanceClient:
    return BinanceClient(base_url=server.url_for(""), options=options(**kwargs))  # type: ignore[arg-type]


def test_fred_dot_is_a_missing_observation_not_a_missing_row(server: HTTPServer) -> None:
    serve(server, OBS, "fred/series/observations/DGS10", "fred")
    frame = fred(server).fetch_series("DGS10", dt.date(2024, 1, 1), dt.date(2024, 1, 5)).frame
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert math.isnan(frame["value"].iloc[0]) and frame["value"].iloc[1:].tolist() == [3.95, 3.91, 3.99, 4.05]


def test_fred_unregistered_key_moves_to_the_next_key(server: HTTPServer) -> None:
    def keyed(request: Request) -> Response:
        if request.args["api_key"] == "fred-key-bad1":
            return response("fred", "errors/400_api_key")
        return response("fred", "fred/series/observations/DGS10")

    seen = serve(server, OBS, keyed)
    result = fred(server, ("fred-key-bad1", "fred-key-0001")).fetch_series("DGS10", dt.date(2024, 1, 1),
                                                                           dt.date(2024, 1, 5))
    assert len(result.frame) == 5 and [r.args["api_key"] for r in seen] == ["fred-key-bad1", "fred-key-0001"]
    with pytest.raises(AuthError, match="variable api_key is not registered") as info:
        fred(server, ("fred-key-bad1",)).fetch_series("DGS10", dt.date(2024, 1, 1), dt.date(2024, 1, 5))
    assert "fred-key-bad1" not in str(info.value)


def test_fred_missing_series_is_a_named_error_not_retried(server: HTTPServer) -> None:
    seen = serve(server, OBS, "errors/400_series_missing", "fred")
    with pytest.raises(VendorError, match=r"HTTP 400: Bad Request\. The series does not exist\."):
        fred(server, ("fred-key-0001", "fred-key-0002")).fetch_series("NOPE", dt.date(2024, 1, 1), dt.date(2024, 1, 5))
    assert len(seen) == 1


def test_binance_klines_decode_and_zero_trade_klines_are_no_bar(server: HTTPServer) -> None:
    seen = serve(server, KLINES, "api/v3/klines/BTCUSDT_1m", "binance")
    bars = binance(server).fetch_bars("BTC-USD", "1m", *MINUTES).bars
    assert bars["ts"].dt.strftime("%H:%M").tolist() == ["00:00", "00:01", "00:02"]
    assert bars["close"].tolist() == [42298.61, 42320.0, 42325.5] and bars["trades"].tolist() == [1327, 1087, 936]
    assert bars["vwap"].iloc[0] == pytest.approx(1519032.39018670 / 35.92724)
    assert seen[0].args["symbol"] == "BTCUSDT"


@pytest.mark.parametrize("fixture, words", [
    ("errors/400_invalid_symbol", r"HTTP 400: Invalid symbol\. \(code -1121\)"),
    ("errors/400_invalid_interval", r"HTTP 400: Invalid interval\. \(code -1120\)"),
])
def test_binance_error_codes_are_named_and_not_retried(server: HTTPServer, fixture: str, words: str) -> None:
    seen = serve(server, KLINES, fixture, "binance")
    with pytest.raises(VendorError, match=words):
        binance(server).fetch_bars("BTC-USD", "1m", *MINUTES)
    assert len(seen) == 1


@pytest.mark.parametrize("fixture", ["errors/429_too_many_requests", "errors/418_ip_banned"])
def test_binance_429_and_418_park_the_ip_then_recover(server: HTTPServer, fixture: str) -> None:
    answers = [response("binance", fixture), response("binance", "api/v3/klines/BTCUSDT_1m")]
    seen = serve(server, KLINES, lambda request: answers[min(len(seen) - 1, 1)])
    result = binance(server, max_wait=5.0).fetch_bars("BTC-USD", "1m", *MINUTES)
    assert len(result.bars) == 3 and [r.status for r in result.records] == [int(fixture[7:10]), 200]
    server.clear()
    serve(server, KLINES, fixture, "binance")
    with pytest.raises(RateLimitedError, match="-1003"):
        binance(server, max_wait=0.5).fetch_bars("BTC-USD", "1m", *MINUTES)
