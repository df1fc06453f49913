"""PolygonClient against a local server speaking Polygon's aggregates wire format."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.bars import BAR_COLUMNS
from backfill_pipeline.markets import get_market
from backfill_pipeline.testing.fake_polygon import FakePolygon
from backfill_pipeline.timeframes import get_timeframe
from backfill_pipeline.vendors.polygon.client import PolygonClient
from backfill_pipeline.vendors.windows import session_mask

from .conftest import options

KEY = "polygon-test-key"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def server_minutes(fake: FakePolygon, ticker: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    ms = fake.base_minutes(ticker, int(start.value // 1_000_000), int(end.value // 1_000_000) - 1)
    return pd.Series(pd.to_datetime(ms, unit="ms", utc=True).as_unit("ns"))


@pytest.fixture
def fake() -> FakePolygon:
    with FakePolygon(keys={KEY}, missing_every=13) as server:
        yield server


def test_next_url_pagination_returns_exactly_the_servers_bars(fake: FakePolygon) -> None:
    fake.max_limit = 1000  # the server pages at 1000 base bars whatever we ask for
    start, end = utc("2024-02-01"), utc("2024-02-04")
    result = PolygonClient([KEY], base_url=fake.url, options=options()).fetch_bars("BTC-USD", "1m", start, end)
    expected = server_minutes(fake, "X:BTCUSD", start, end)
    assert result.bars["ts"].tolist() == expected.tolist()
    assert result.requests == math.ceil(len(expected) / 1000)
    served = fake.stats.served_ts["X:BTCUSD"]
    assert len(served) == len(set(served)) == len(expected)  # nothing fetched twice
    # next_url names api.polygon.io; every page still came to our base URL with our key.
    assert fake.stats.unauthorized == 0
    assert all(r.url.startswith(fake.url) and "cursor=" in r.url for r in result.records[1:])


@pytest.mark.parametrize("server_page, our_limit", [(2000, 2000), (5000, 50_000), (50_000, 50_000)])
def test_requests_are_the_floor_whatever_the_vendors_page_size(
    fake: FakePolygon, server_page: int, our_limit: int
) -> None:
    """One request per range, then next_url to its end: every page but the last is full, so
    requests = ceil(bars / page size) even when the vendor pages smaller than we ask."""
    fake.max_limit = server_page
    start, end = utc("2024-03-01"), utc("2024-05-01")
    client = PolygonClient([KEY], base_url=fake.url, options=options(), page_limit=our_limit)
    result = client.fetch_bars("AAPL", "1m", start, end, extended_hours=True)
    expected = server_minutes(fake, "AAPL", start, end)
    assert result.requests == math.ceil(len(expected) / server_page)
    assert result.bars["ts"].tolist() == expected.tolist()
    served = fake.stats.served_ts["AAPL"]
    assert len(served) == len(set(served)) == len(expected)  # no bar served twice at page edges
    assert all(r.rows == server_page for r in result.records[:-1])  # only the last page is partial


def test_one_year_of_1m_is_five_requests(fake: FakePolygon) -> None:
    start, end = utc("2023-01-01"), utc("2024-01-01")
    result = PolygonClient([KEY], base_url=fake.url, options=options()).fetch_bars("AAPL", "1m", start, end)
    assert result.requests == math.ceil(len(server_minutes(fake, "AAPL", start, end)) / 50_000) == 5


def test_intraday_equities_default_to_the_regular_session(fake: FakePolygon) -> None:
    # 2023-03-13: first session after the DST switch; 2023-11-24: early close at 13:00 ET.
    client = PolygonClient([KEY], base_url=fake.url, options=options())
    for day, first, last in (
        ("2023-03-13", "2023-03-13 13:30", "2023-03-13 19:59"),
        ("2023-11-24", "2023-11-24 14:30", "2023-11-24 17:59"),
    ):
        start = utc(day)
        bars = client.fetch_bars("AAPL", "1m", start, start + pd.Timedelta(days=1)).bars
        everything = server_minutes(fake, "AAPL", start, start + pd.Timedelta(days=1))
        regular = everything[session_mask(get_market("us_equities"), everything)]
        assert bars["ts"].tolist() == regular.tolist()
        assert bars["ts"].min() >= utc(first) and bars["ts"].max() <= utc(last)
    extended = client.fetch_bars("AAPL", "1m", utc("2023-11-24"), utc("2023-11-25"), extended_hours=True).bars
    assert extended["ts"].min() < utc("2023-11-24 14:30")


def test_bars_have_the_interface_schema(fake: FakePolygon) -> None:
    bars = PolygonClient([KEY], base_url=fake.url, options=options()).fetch_bars(
        "AAPL", "5m", utc("2024-01-03"), utc("2024-01-04")
    ).bars
    assert tuple(bars.columns) == BAR_COLUMNS
    assert str(bars["ts"].dtype) == "datetime64[ns, UTC]" and str(bars["trades"].dtype) == "Int64"
    assert bars["ts"].is_monotonic_increasing and bars["ts"].is_unique
    assert (bars["ts"].dt.minute % 5 == 0).all() and len(bars) == 78  # 6.5 h of 5m bars


def test_daily_bars_are_labelled_with_the_session_date(fake: FakePolygon) -> None:
    client = PolygonClient([KEY], base_url=fake.url, options=options())
    bars = client.fetch_bars("AAPL", "1d", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-10")).bars
    sessions = ("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09")
    assert bars["ts"].tolist() == [utc(d) for d in sessions]
    crypto = client.fetch_bars("BTC-USD", "1d", utc("2024-01-01"), utc("2024-01-04")).bars
    assert crypto["ts"].tolist() == [utc("2024-01-01"), utc("2024-01-02"), utc("2024-01-03")]
    assert (crypto["trades"] > 0).all() and np.isfinite(crypto["vwap"]).all()


def test_unsupported_timeframe_is_refused(fake: FakePolygon) -> None:
    with pytest.raises(ValueError, match="1w"):
        client = PolygonClient([KEY], base_url=fake.url, options=options())
        client.fetch_bars("AAPL", "1w", utc("2024-01-01"), utc("2024-02-01"))


def test_splits_and_dividends_are_typed_frames(server: HTTPServer) -> None:
    def splits_page(request: Request) -> Response:
        if request.args.get("cursor") == "abc":
            rows, link = [{"ticker": "AAPL", "execution_date": "2020-08-31", "split_from": 1, "split_to": 4}], None
        else:
            rows = [{"ticker": "AAPL", "execution_date": "2014-06-09", "split_from": 1, "split_to": 7}]
            link = "https://api.polygon.io/v3/reference/splits?cursor=abc"
        body = {"status": "OK", "request_id": f"s{2 if link is None else 1}", "results": rows}
        if link:
            body["next_url"] = link
        assert request.headers.get("Authorization") == f"Bearer {KEY}" and "apiKey" not in request.args
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/v3/reference/splits").respond_with_handler(splits_page)
    client = PolygonClient([KEY], base_url=server.url_for(""), options=options())
    splits = client.list_splits("AAPL", dt.date(2010, 1, 1), dt.date(2024, 1, 1))
    assert splits.frame["execution_date"].tolist() == [pd.Timestamp("2014-06-09"), pd.Timestamp("2020-08-31")]
    assert splits.frame["ratio"].tolist() == [7.0, 4.0]
    assert splits.requests == 2 and splits.request_ids == ["s1", "s2"]

    server.expect_request("/v3/reference/dividends").respond_with_data(
        json.dumps(
            {
                "status": "OK",
                "request_id": "d1",
                "results": [
                    {
                        "ticker": "AAPL",
                        "cash_amount": 0.24,
                        "currency": "USD",
                        "declaration_date": "2023-11-02",
                        "dividend_type": "CD",
                        "ex_dividend_date": "2023-11-10",
                        "frequency": 4,
                        "pay_date": "2023-11-16",
                        "record_date": "2023-11-13",
                    }
                ],
            }
        ),
        content_type="application/json",
    )
    dividends = client.list_dividends("AAPL", dt.date(2023, 1, 1), dt.date(2023, 12, 31)).frame
    assert dividends.loc[0, "cash_amount"] == 0.24 and dividends.loc[0, "frequency"] == 4
    assert dividends.loc[0, "ex_dividend_date"] == pd.Timestamp("2023-11-10")
    assert str(dividends["pay_date"].dtype) == "datetime64[ns]"


THANKSGIVING_WEEK = ("2023-11-20", "2023-11-27")  # a holiday (23rd) and an early close (24th, 13:00)


def _window(market, timeframe: str, first: str, last: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window the asset fetches for these consecutive sessions (ingest.fetch_window)."""
    from backfill_pipeline.ingest import fetch_window
    from backfill_pipeline.markets import sessions_in_range

    return fetch_window(market, timeframe, sessions_in_range(market, dt.date.fromisoformat(first),
                                                              dt.date.fromisoformat(last)))


@pytest.mark.parametrize("market_name, symbol", [("us_equities", "AAPL"), ("extended", "AAPL"), ("crypto", "BTC-USD")])
@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "30m", "1h", "4h", "1d"])
def test_the_request_count_is_the_clients_paging(market_name: str, symbol: str, timeframe: str) -> None:
    """spec.polygon_requests (the backfill plan's estimate) against the requests the client
    makes when the server has every minute of the extended sessions, in pages of 1000 base
    minutes: exact for 1m and 1d; an upper bound for longer bars, which a page never splits
    (a page then holds 1000 - bar minutes + 1 minutes at least)."""
    from backfill_pipeline.markets import with_hours
    from backfill_pipeline.vendors.polygon.spec import polygon_requests

    market = with_hours(get_market("us_equities"), "extended") if market_name == "extended" else get_market(market_name)
    start, end = _window(market, timeframe, *THANKSGIVING_WEEK)
    with FakePolygon(keys={KEY}, max_limit=1000) as server:
        made = PolygonClient([KEY], base_url=server.url, options=options(), market=market,
                             page_limit=1000).fetch_bars(symbol, timeframe, start, end).requests
        minutes = server.bars_in_range(f"X:{symbol.replace('-', '')}" if market.is_24_7 else symbol,
                                       int(start.value // 1_000_000), int(end.value // 1_000_000) - 1)
    estimate = polygon_requests(market, timeframe, start, end, page=1000)
    if timeframe in ("1m", "1d"):
        assert estimate == made == (math.ceil(minutes / 1000) if timeframe == "1m" else 1)
    else:  # a page ends between bars: 960 minutes of 1h bars, 761-1000 of 4h ones
        bar = get_timeframe(timeframe).minutes
        assert made <= estimate == math.ceil(minutes / (1000 - bar + 1))


def test_the_request_count_counts_the_pre_and_after_market_minutes_polygon_sends() -> None:
    from backfill_pipeline.vendors.polygon.spec import SPEC
    from backfill_pipeline.vendors.windows import vendor_minutes

    market = get_market("us_equities")
    # one session: 390 regular minutes asked for, and that is all Polygon sends
    assert vendor_minutes(market, *_window(market, "1m", "2024-03-07", "2024-03-07")) == 390
    # four: from the first open to the last close Polygon also sends the 16 h of the
    # sessions in between: 4 x 960 - 330 pre-market (first) - 240 after-hours (last)
    assert vendor_minutes(market, *_window(market, "1m", "2024-03-07", "2024-03-12")) == 3270
    # Thanksgiving week: 5 sessions, the last but one closing early (extended hours 04:00-17:00)
    assert vendor_minutes(market, *_window(market, "1m", *THANKSGIVING_WEEK)) == 4 * 960 + 780 - 330 - 240
    # 2023's 250 sessions, two of them early closes (07-03, 11-24): 239,070 minutes sent, 5
    # pages; its 97,140 regular-hours bars would say 2
    year = _window(market, "1m", "2023-01-03", "2023-12-29")
    assert vendor_minutes(market, *year) == 248 * 960 + 2 * 780 - 330 - 240 == 239_070
    assert SPEC.requests(market, "1m", *year) == 5
    assert SPEC.requests(market, "1m", year[0], year[0]) == 0


def test_fewer_bars_than_minutes_make_fewer_requests_than_the_estimate(fake: FakePolygon) -> None:
    """The estimate is an upper bound: a minute without trades has no bar to page over."""
    from backfill_pipeline.vendors.polygon.spec import polygon_requests

    fake.max_limit = 1000  # `fake` leaves every 13th minute without a trade
    market = get_market("crypto")
    start, end = utc("2024-01-01"), utc("2024-01-03 06:00")  # 3240 minutes: 4 pages, 2990 bars: 3
    made = PolygonClient([KEY], base_url=fake.url, options=options(), page_limit=1000).fetch_bars(
        "BTC-USD", "1m", start, end).requests
    assert (made, polygon_requests(market, "1m", start, end, page=1000)) == (3, 4)
