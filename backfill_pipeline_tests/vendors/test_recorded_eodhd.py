"""EodhdClient pinned to EODHD's recorded responses (fixtures/eodhd, PROVENANCE.md)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.corporate_actions.store import replace_actions
from backfill_pipeline.ingest import fetch_and_store
from backfill_pipeline.markets import get_market, sessions_in_range
from backfill_pipeline.read import read_bars
from backfill_pipeline.vendors.base import AuthError, PlanError, RateLimitedError
from backfill_pipeline.vendors.eodhd.client import EodhdClient
from backfill_pipeline.warehouse.store import Warehouse

from .conftest import options
from .recorded import response, serve

E = "eodhd"
EOD, SPLITS = r"^/api/eod/AAPL\.US$", r"^/api/splits/AAPL\.US$"
WINDOW = (pd.Timestamp("2020-08-26"), pd.Timestamp("2020-09-03"))
DAY = (pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-04", tz="UTC"))


def client(server: HTTPServer, keys: tuple[str, ...] = ("eodhd-key-1",), **kwargs: object) -> EodhdClient:
    return EodhdClient(list(keys), base_url=server.url_for(""), options=options(**kwargs))  # type: ignore[arg-type]


def by_day(bars: pd.DataFrame) -> pd.DataFrame:
    return bars.set_index(bars["ts"].dt.strftime("%Y-%m-%d"))


def test_daily_volume_is_stored_raw_prices_stay_raw(server: HTTPServer) -> None:
    serve(server, EOD, "api/eod/AAPL.US", E)
    splits = serve(server, SPLITS, "api/splits/AAPL.US", E)
    result = client(server).fetch_bars("AAPL", "1d", *WINDOW)
    bars = by_day(result.bars)
    # EODHD says 187,629,916 for 2020-08-28 (4 x, in post-split shares); 46,907,479 traded
    assert bars.loc["2020-08-28", "volume"] == 46_907_479
    assert bars.loc["2020-08-27", "volume"] == 38_888_096
    assert bars.loc["2020-08-31", "volume"] == 225_702_700  # on and after the split: as sent
    assert bars.loc["2020-08-28", "close"] == 499.23  # raw, not adjusted_close
    assert result.requests == 2 and splits[0].args["from"] == "2020-08-26" and "to" not in splits[0].args


def test_an_adjusted_read_applies_the_split_exactly_once(server: HTTPServer, warehouse_url: str) -> None:
    serve(server, EOD, "api/eod/AAPL.US", E)
    serve(server, SPLITS, "api/splits/AAPL.US", E)
    c = client(server)
    market = get_market("us_equities")
    sessions = sessions_in_range(market, dt.date(2020, 8, 26), dt.date(2020, 9, 2))
    wh = Warehouse(warehouse_url)
    fetch_and_store(wh, c, market, "1d", "AAPL", sessions, now=pd.Timestamp("2024-01-01", tz="UTC"))
    actions = c.list_splits("AAPL", dt.date(2000, 1, 1), dt.date(2024, 1, 1)).frame
    replace_actions(wh, "us_equities", "AAPL", actions, _no_dividends(), "eodhd", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    wh.dispose()
    raw = by_day(read_bars("AAPL", "1d", "2020-08-26", "2020-09-02", url=warehouse_url))
    adjusted = by_day(read_bars("AAPL", "1d", "2020-08-26", "2020-09-02", adjust="splits", url=warehouse_url))
    assert raw.loc["2020-08-28", "volume"] == 46_907_479
    assert adjusted.loc["2020-08-28", "volume"] == 187_629_916  # x4 once, not x16
    assert adjusted.loc["2020-08-28", "close"] == pytest.approx(499.23 / 4)
    assert adjusted.loc["2020-08-31", "volume"] == 225_702_700


def _no_dividends() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in (
        "ex_dividend_date", "cash_amount", "currency", "dividend_type", "pay_date", "record_date", "declaration_date")})


@pytest.mark.parametrize("fixture", ["api/eod/AAPL.US.warning_every_row", "api/eod/AAPL.US.warning_trailing"])
def test_free_plan_warning_fails_the_fetch_with_the_vendors_words(server: HTTPServer, fixture: str) -> None:
    serve(server, EOD, fixture, E)
    with pytest.raises(PlanError, match="Data is limited by one year as you have free subscription") as info:
        client(server).fetch_bars("AAPL", "1d", pd.Timestamp("2010-01-01"), pd.Timestamp("2020-09-03"))
    assert "with 2 row(s)" in str(info.value) and len(info.value.records) == 1


def test_intraday_rows_with_nulls_are_no_bar(server: HTTPServer) -> None:
    serve(server, r"^/api/intraday/AAPL\.US$", "api/intraday/AAPL.US", E)
    bars = client(server).fetch_bars("AAPL", "1m", *DAY).bars
    assert bars["ts"].dt.strftime("%H:%M").tolist() == ["14:30", "14:31", "14:33", "14:34", "14:35"]


def test_unauthenticated_key_is_parked_and_the_next_key_serves(server: HTTPServer) -> None:
    def keyed(request: Request) -> Response:
        if request.args["api_token"] == "eodhd-refused":
            return response(E, "errors/401_unauthenticated")
        return response(E, "api/intraday/AAPL.US")

    seen = serve(server, r"^/api/intraday/AAPL\.US$", keyed)
    result = client(server, ("eodhd-refused", "eodhd-key-1")).fetch_bars("AAPL", "1m", *DAY)
    assert len(result.bars) == 5
    assert [r.args["api_token"] for r in seen] == ["eodhd-refused", "eodhd-key-1"]
    with pytest.raises(AuthError, match="key #1 of 1: HTTP 401: Unauthenticated"):
        client(server, ("eodhd-refused",)).fetch_bars("AAPL", "1m", *DAY)


def test_only_eod_for_free_users_is_a_plan_error(server: HTTPServer) -> None:
    seen = serve(server, r"^/api/intraday/AAPL\.US$", "errors/403_only_eod", E)
    with pytest.raises(PlanError, match="HTTP 403: Only EOD data allowed for free users"):
        client(server, ("eodhd-free-1", "eodhd-free-2")).fetch_bars("AAPL", "1m", *DAY)
    assert len(seen) == 1  # the other key shares the plan: not burnt


def test_402_daily_limit_parks_that_key_only_and_402_plan_is_a_plan_error(server: HTTPServer) -> None:
    def quota(request: Request) -> Response:
        if request.args["api_token"] == "eodhd-spent":
            return response(E, "errors/402_daily_limit")
        return response(E, "api/intraday/AAPL.US")

    seen = serve(server, r"^/api/intraday/AAPL\.US$", quota)
    result = client(server, ("eodhd-spent", "eodhd-key-1")).fetch_bars("AAPL", "1m", *DAY)
    assert [(r.status, r.key) for r in result.records] == [(402, "key #1 of 2"), (200, "key #2 of 2")]
    with pytest.raises(RateLimitedError, match="You exceeded your daily API requests limit"):
        client(server, ("eodhd-spent",), max_wait=0.2).fetch_bars("AAPL", "1m", *DAY)
    server.clear()
    seen = serve(server, r"^/api/intraday/AAPL\.US$", "errors/402_plan", E)
    with pytest.raises(PlanError, match="not included in your current subscription"):
        client(server, ("eodhd-plan-1", "eodhd-plan-2")).fetch_bars("AAPL", "1m", *DAY)
    assert len(seen) == 1


def test_recorded_splits_and_dividends(server: HTTPServer) -> None:
    serve(server, SPLITS, "api/splits/AAPL.US", E)
    serve(server, r"^/api/div/AAPL\.US$", "api/div/AAPL.US", E)
    c = client(server)
    splits = c.list_splits("AAPL", dt.date(2000, 1, 1), dt.date(2024, 1, 1)).frame
    assert splits["ratio"].tolist() == [2.0, 2.0, 7.0, 4.0]
    dividends = c.list_dividends("AAPL", dt.date(2020, 1, 1), dt.date(2020, 12, 31)).frame
    assert dividends.loc[0, "cash_amount"] == 0.82  # unadjustedValue: raw, like the bars
