"""FredClient against a local server speaking FRED's observations wire format."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.testing.fake_fred import FakeFred as FakeVintages
from backfill_pipeline.vendors.base import AuthError, VendorError
from backfill_pipeline.vendors.fred.client import FredClient

from .conftest import options

KEY = "fredtestkey0123456789abcdef01234"
PATH = "/fred/series/observations"


class FakeFred:
    """A daily series with FRED's "." on every 10th observation."""

    def __init__(self, start: str, end: str):
        self.dates = pd.date_range(start, end, freq="D")
        self.offsets: list[int] = []

    def handle(self, request: Request) -> Response:
        if request.args.get("api_key") != KEY:
            message = "Bad Request.  The value for variable api_key is not registered."
            body = {"error_code": 400, "error_message": message}
            return Response(json.dumps(body), status=400, content_type="application/json")
        assert request.args["file_type"] == "json"
        lo, hi = pd.Timestamp(request.args["observation_start"]), pd.Timestamp(request.args["observation_end"])
        limit, offset = int(request.args["limit"]), int(request.args["offset"])
        self.offsets.append(offset)
        dates = self.dates[(self.dates >= lo) & (self.dates <= hi)]
        page = [
            {
                "realtime_start": "2024-06-01",
                "realtime_end": "2024-06-01",
                "date": d.strftime("%Y-%m-%d"),
                "value": "." if i % 10 == 0 else f"{i / 100:.2f}",
            }
            for i, d in enumerate(dates[offset : offset + limit], start=offset)
        ]
        body = {
            "realtime_start": "2024-06-01",
            "realtime_end": "2024-06-01",
            "observation_start": lo.strftime("%Y-%m-%d"),
            "observation_end": hi.strftime("%Y-%m-%d"),
            "units": "lin",
            "output_type": 1,
            "file_type": "json",
            "order_by": "observation_date",
            "sort_order": "asc",
            "count": len(dates),
            "offset": offset,
            "limit": limit,
            "observations": page,
        }
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def fake(server: HTTPServer) -> FakeFred:
    fake = FakeFred("1999-01-01", "2024-05-31")
    server.expect_request(PATH).respond_with_handler(fake.handle)
    return fake


def test_a_25_year_daily_series_is_one_request(server: HTTPServer, fake: FakeFred) -> None:
    result = FredClient([KEY], base_url=server.url_for(""), options=options()).fetch_series(
        "DGS10", dt.date(1999, 1, 1), dt.date(2023, 12, 31)
    )
    assert result.requests == 1
    assert len(result.frame) == len(pd.date_range("1999-01-01", "2023-12-31"))
    assert list(result.frame.columns) == ["date", "value", "realtime_start", "realtime_end"]
    assert str(result.frame["date"].dtype) == "datetime64[ns]" and str(result.frame["value"].dtype) == "float64"


def test_offset_pagination_and_missing_values(server: HTTPServer, fake: FakeFred) -> None:
    client = FredClient([KEY], base_url=server.url_for(""), options=options(), page_limit=1000)
    result = client.fetch_series("DGS10", dt.date(2018, 1, 1), dt.date(2026, 12, 31))
    expected = pd.date_range("2018-01-01", "2024-05-31")  # 2343 observations: 3 pages
    assert fake.offsets == [0, 1000, 2000]
    assert result.requests == 3
    assert result.frame["date"].tolist() == expected.tolist()  # exact, no duplicates at page edges
    assert np.isnan(result.frame["value"].iloc[0]) and result.frame["value"].iloc[1] == 0.01  # "." kept as NaN
    assert result.frame["value"].isna().sum() == math_ceil_div(len(expected), 10)
    assert result.frame["realtime_start"].iloc[0] == pd.Timestamp("2024-06-01")
    assert result.frame["realtime_end"].iloc[0] == pd.Timestamp("2024-06-01")


def math_ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def test_empty_window_is_empty_but_an_empty_page_mid_series_is_an_error(server: HTTPServer, fake: FakeFred) -> None:
    client = FredClient([KEY], base_url=server.url_for(""), options=options())
    assert client.fetch_series("DGS10", dt.date(1990, 1, 1), dt.date(1990, 12, 31)).frame.empty
    server.clear()
    body = {"count": 500, "offset": 0, "limit": 100000, "observations": []}
    server.expect_request(PATH).respond_with_json(body)
    with pytest.raises(VendorError, match="empty page at offset 0 of 500"):
        client.fetch_series("DGS10", dt.date(2020, 1, 1), dt.date(2020, 12, 31))


def test_a_refused_key_is_an_auth_error(server: HTTPServer, fake: FakeFred) -> None:
    client = FredClient([KEY], base_url=server.url_for(""), options=options())
    assert len(client.fetch_series("DGS10", dt.date(2020, 1, 1), dt.date(2020, 1, 31)).frame) == 31
    with pytest.raises(AuthError, match=r"fred: DGS10 .*every key was refused \(key #1 of 1: HTTP 400: .*api_key"):
        FredClient(["0" * 32], base_url=server.url_for(""), options=options()).fetch_series(
            "DGS10", dt.date(2020, 1, 1), dt.date(2020, 1, 31)
        )
    with pytest.raises(ValueError):
        client.fetch_series("DGS10; DROP", dt.date(2020, 1, 1), dt.date(2020, 1, 31))


# CPIAUCSL as ALFRED serves it with realtime_start=1776-07-04&realtime_end=9999-12-31: each
# row is a value with the real-time period in which it was the published one.
CPI_VINTAGES = [
    {"realtime_start": "2024-03-12", "realtime_end": "9999-12-31", "date": "2024-02-01", "value": "310.326"},
    {"realtime_start": "2024-04-10", "realtime_end": "2024-04-23", "date": "2024-03-01", "value": "312.230"},
    {"realtime_start": "2024-04-24", "realtime_end": "9999-12-31", "date": "2024-03-01", "value": "312.332"},
    {"realtime_start": "2024-05-15", "realtime_end": "2024-05-20", "date": "2024-04-01", "value": "."},
    {"realtime_start": "2024-05-21", "realtime_end": "9999-12-31", "date": "2024-04-01", "value": "313.207"},
]


def test_every_vintage_is_fetched_and_decoded(server: HTTPServer) -> None:
    fake = FakeVintages({"CPIAUCSL": CPI_VINTAGES}, api_key=KEY, today=dt.date(2024, 6, 30))
    server.expect_request(PATH).respond_with_handler(fake.handle)
    client = FredClient([KEY], base_url=server.url_for(""), options=options(), page_limit=2)
    result = client.fetch_series("CPIAUCSL", dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    assert fake.requests["CPIAUCSL"] == 3 and result.requests == 3  # 5 rows at 2 a page: one request plus paging
    assert [o for _, o in fake.offsets] == [0, 2, 4]
    frame = result.frame
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [r["date"] for r in CPI_VINTAGES]
    assert frame["realtime_start"].dt.strftime("%Y-%m-%d").tolist() == [r["realtime_start"] for r in CPI_VINTAGES]
    ends = [None if pd.isna(e) else f"{e:%Y-%m-%d}" for e in frame["realtime_end"]]
    assert ends == [None, "2024-04-23", None, "2024-05-20", None]  # 9999-12-31: still in force
    np.testing.assert_array_equal(frame["value"], [310.326, 312.230, 312.332, np.nan, 313.207])


def test_without_realtime_parameters_fred_serves_only_todays_vintage(server: HTTPServer) -> None:
    """The fake's default real-time window is today, as FRED's: the client must ask for all."""
    fake = FakeVintages({"CPIAUCSL": CPI_VINTAGES}, api_key=KEY, today=dt.date(2024, 6, 30))
    server.expect_request(PATH).respond_with_handler(fake.handle)
    import httpx

    body = httpx.get(server.url_for(PATH), params={"series_id": "CPIAUCSL", "api_key": KEY}).json()
    assert [(o["date"], o["value"]) for o in body["observations"]] == [
        ("2024-02-01", "310.326"), ("2024-03-01", "312.332"), ("2024-04-01", "313.207")]
    assert {o["realtime_start"] for o in body["observations"]} == {"2024-06-30"}


def test_a_row_without_its_real_time_period_is_an_error(server: HTTPServer) -> None:
    body = {"count": 1, "offset": 0, "limit": 100000, "observations": [{"date": "2024-03-01", "value": "312.2"}]}
    server.expect_request(PATH).respond_with_json(body)
    client = FredClient([KEY], base_url=server.url_for(""), options=options())
    with pytest.raises(VendorError, match="lack date/value/realtime_start/realtime_end"):
        client.fetch_series("CPIAUCSL", dt.date(2024, 1, 1), dt.date(2024, 6, 30))
