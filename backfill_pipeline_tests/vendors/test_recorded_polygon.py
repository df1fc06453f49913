"""PolygonClient pinned to Polygon's recorded responses (fixtures/polygon, PROVENANCE.md)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.vendors.base import AuthError, PlanError, RateLimitedError, VendorError
from backfill_pipeline.vendors.polygon.client import PolygonClient
from backfill_pipeline.vendors.ratelimit import RateLimiter

from .conftest import options
from .recorded import response, serve

P = "polygon"
MINUTE = "v2/aggs/ticker/AAPL/range/1/minute/1704292200000/1704315599999"
START, END = pd.Timestamp("2024-01-03 14:30", tz="UTC"), pd.Timestamp("2024-01-03 21:00", tz="UTC")
AGGS = r"^/v2/aggs/ticker/AAPL/range/1/minute/.*"


def client(server: HTTPServer, keys: tuple[str, ...] = ("good-key-1",), **kwargs: object) -> PolygonClient:
    return PolygonClient(list(keys), base_url=server.url_for(""), options=options(**kwargs))  # type: ignore[arg-type]


def bearer(request: Request) -> str:
    """The key a request carried: Polygon's `Authorization: Bearer <key>` header."""
    assert "apiKey" not in request.args  # the key is in no URL
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def like_polygon(request: Request) -> Response:
    """Polygon's paging: the first page, then the cursor's page, computed as `adjusted` says
    (Polygon's default is adjusted=true when a request leaves it out)."""
    if "cursor" not in request.args:
        return response(P, MINUTE)
    adjusted = request.args.get("adjusted", "true") == "true"
    return response(P, f"{MINUTE}.adjusted_echo_true" if adjusted else f"{MINUTE}.cursor")


def test_daily_aggs_are_raw_and_labelled_by_session(server: HTTPServer) -> None:
    serve(server, r"^/v2/aggs/ticker/AAPL/range/1/day/2020-08-26/2020-09-02$",
          "v2/aggs/ticker/AAPL/range/1/day/2020-08-26/2020-09-02", P)
    bars = client(server).fetch_bars("AAPL", "1d", pd.Timestamp("2020-08-26"), pd.Timestamp("2020-09-03")).bars
    assert bars["ts"].dt.strftime("%Y-%m-%d").tolist() == [
        "2020-08-26", "2020-08-27", "2020-08-28", "2020-08-31", "2020-09-01", "2020-09-02"]
    row = bars.set_index(bars["ts"].dt.strftime("%Y-%m-%d")).loc["2020-08-28"]
    assert (row["close"], row["volume"], row["trades"]) == (499.23, 46_907_479, 552_103)  # before the 4:1 split


def test_follow_up_pages_re_send_adjusted_and_the_query(server: HTTPServer) -> None:
    seen = serve(server, AGGS, like_polygon)
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert len(result.bars) == 5 and result.requests == 2
    first, follow = seen
    assert first.args["adjusted"] == "false" and "cursor" not in first.args
    assert follow.args["cursor"] == "bGltaXQ9MyZzb3J0PWFzYyZmcm9tPTE3MDQyOTIzODAwMDA"
    assert (follow.args["adjusted"], follow.args["sort"], follow.args["limit"]) == ("false", "asc", "50000")
    assert bearer(follow) == "good-key-1"


def test_a_page_whose_adjusted_echo_differs_is_an_error(server: HTTPServer) -> None:
    # a server that ignores what we ask for page 2 and answers split-adjusted
    def stubborn(request: Request) -> Response:
        return response(P, MINUTE if "cursor" not in request.args else f"{MINUTE}.adjusted_echo_true")

    serve(server, AGGS, stubborn)
    with pytest.raises(VendorError, match="adjusted=true to a request for adjusted=false") as info:
        client(server).fetch_bars("AAPL", "1m", START, END)
    assert len(info.value.records) == 2  # both requests stay on the failed fetch's audit


def test_delayed_pages_carry_bars_and_an_empty_ok_page_is_no_bars(server: HTTPServer) -> None:
    serve(server, AGGS, f"{MINUTE}.delayed", P)
    assert len(client(server).fetch_bars("AAPL", "1m", START, END).bars) == 5
    server.clear()
    serve(server, AGGS, "v2/aggs/ticker/AAPL/range/1/minute/empty", P)
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert result.bars.empty and result.requests == 1


def test_a_refused_key_is_parked_everywhere_and_the_next_key_serves(server: HTTPServer, tmp_path) -> None:
    def keyed(request: Request) -> Response:
        if bearer(request) == "refused-key":
            return response(P, "errors/401_unknown_api_key")
        return like_polygon(request)

    seen = serve(server, AGGS, keyed)
    shared = f"sqlite:///{tmp_path / 'limits.sqlite'}"
    one = client(server, ("refused-key", "good-key-1"), limiter=RateLimiter.from_url(shared))
    result = one.fetch_bars("AAPL", "1m", START, END)  # equal headroom: the limiter tries key #1 first
    assert len(result.bars) == 5
    assert [(r.status, r.key) for r in result.records] == [(401, "key #1 of 2"), (200, "key #2 of 2"), (200, "key #2 of 2")]
    assert [bearer(r) for r in seen] == ["refused-key", "good-key-1", "good-key-1"]
    # another process (its own limiter on the same store) never sends the refused key again
    other = client(server, ("refused-key",), limiter=RateLimiter.from_url(shared))
    with pytest.raises(AuthError, match=r"every key was refused \(key #1 of 1: HTTP 401: Unknown API Key\)"):
        other.fetch_bars("AAPL", "1m", START, END)
    assert len(seen) == 3  # failed before any request: the park is shared


def test_every_key_refused_fails_with_the_vendors_words(server: HTTPServer) -> None:
    seen = serve(server, AGGS, "errors/401_unknown_api_key", P)
    with pytest.raises(AuthError) as info:
        client(server, ("bad-key-one", "bad-key-two")).fetch_bars("AAPL", "1m", START, END)
    message = str(info.value)
    assert "key #1 of 2: HTTP 401: Unknown API Key" in message and "key #2 of 2: HTTP 401: Unknown API Key" in message
    assert len(seen) == 2 == len(info.value.records)  # one request per key, none retried
    assert "bad-key" not in message


@pytest.mark.parametrize("fixture, words", [
    ("errors/403_not_entitled", "You are not entitled to this data"),
    ("errors/403_plan_timeframe", "Your plan doesn't include this data timeframe"),
])
def test_not_entitled_is_a_plan_error_that_burns_no_other_key(server: HTTPServer, fixture: str, words: str) -> None:
    seen = serve(server, AGGS, fixture, P)
    with pytest.raises(PlanError, match="the plan does not cover this request: HTTP 403: " + words):
        client(server, ("plan-key-one", "plan-key-two")).fetch_bars("AAPL", "1m", START, END)
    assert len(seen) == 1


def test_429_body_is_kept_in_the_error(server: HTTPServer) -> None:
    serve(server, AGGS, "errors/429_rate_limit", P)
    with pytest.raises(RateLimitedError, match="You've exceeded the maximum requests per minute"):
        client(server).fetch_bars("AAPL", "1m", START, END)


def test_recorded_splits_and_dividends(server: HTTPServer) -> None:
    serve(server, r"^/v3/reference/splits$", "v3/reference/splits", P)
    serve(server, r"^/v3/reference/dividends$", "v3/reference/dividends", P)
    c = client(server)
    splits = c.list_splits("AAPL", dt.date(2010, 1, 1), dt.date(2024, 1, 1)).frame
    assert splits["execution_date"].dt.strftime("%Y-%m-%d").tolist() == ["2014-06-09", "2020-08-31"]
    assert splits["ratio"].tolist() == [7.0, 4.0]
    dividends = c.list_dividends("AAPL", dt.date(2023, 1, 1), dt.date(2023, 12, 31)).frame
    assert dividends.loc[0, "cash_amount"] == 0.24 and dividends.loc[0, "ex_dividend_date"] == pd.Timestamp("2023-11-10")
