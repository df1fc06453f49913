"""Corporate actions: adjustment factors of a split and a dividend, the demo source, storage on
SQLite and PostgreSQL, and the corporate_actions asset (idempotent, validity check)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.corporate_actions.adjust import adjustment_events, cumulative_factors
from backfill_pipeline.corporate_actions.demo import DemoCorporateActions
from backfill_pipeline.corporate_actions.store import load_events, replace_actions
from backfill_pipeline.markets import MARKETS, get_calendar
from backfill_pipeline.names import corporate_actions_key
from backfill_pipeline.warehouse.corporate_actions import read_actions
from backfill_pipeline.warehouse.schema_derived import dividends, splits
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.instances import shipped_instance
from backfill_pipeline_tests.test_features_assets import checks, run

EQ = MARKETS["us_equities"]
D = pd.Timestamp


def test_factors_of_a_split_and_a_dividend():
    split = pd.DataFrame({"ex_date": [D("2024-03-05")], "ratio": [2.0]})
    dividend = pd.DataFrame({"ex_date": [D("2024-03-07")], "cash_amount": [1.0]})
    events = adjustment_events(split, dividend, pd.Series([50.0], index=[D("2024-03-07")]))
    sessions = pd.Series(pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]))
    price, volume = cumulative_factors(events, sessions, "all")
    # before the split: 1/2 x (1 - 1/50); between split and dividend: 0.98; from the dividend on: 1
    np.testing.assert_allclose(price, [0.5 * 0.98, 0.98, 0.98, 1.0, 1.0])
    np.testing.assert_allclose(volume, [2.0, 1.0, 1.0, 1.0, 1.0])
    price, volume = cumulative_factors(events, sessions, "splits")
    np.testing.assert_allclose(price, [0.5, 1.0, 1.0, 1.0, 1.0])
    assert cumulative_factors(events, sessions, "raw")[0].tolist() == [1.0] * 5
    with pytest.raises(ValueError, match="unknown adjustment"):
        cumulative_factors(events, sessions, "dividends")


def test_a_dividend_without_a_previous_close_is_reported_not_applied():
    events = adjustment_events(pd.DataFrame({"ex_date": [], "ratio": []}),
                               pd.DataFrame({"ex_date": [D("2024-03-07")], "cash_amount": [0.5]}),
                               pd.Series(dtype="float64"))
    assert events.dividend_factor.tolist() == [] and len(events.skipped) == 1
    assert "2024-03-07 dividend 0.5" in events.skipped[0]


def test_demo_source_is_deterministic_and_realistic():
    today = dt.date(2025, 6, 30)
    source = DemoCorporateActions(EQ, now=lambda: today)
    whole = source.list_dividends("AAPL", dt.date(2000, 1, 3), today).frame
    parts = pd.concat([source.list_dividends("AAPL", dt.date(2000, 1, 3), dt.date(2012, 12, 31)).frame,
                       source.list_dividends("AAPL", dt.date(2013, 1, 1), today).frame], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    assert len(whole) == 4 * 25 + 2 and (whole["cash_amount"] > 0).all()  # quarterly since 2000
    sessions = get_calendar("XNYS").sessions
    assert whole["ex_dividend_date"].isin(sessions).all() and (whole["ex_dividend_date"] <= D(today)).all()
    every = pd.concat([source.list_splits(s, dt.date(2000, 1, 3), today).frame for s in EQ.demo_symbols])
    assert len(every) >= 3 and every["ratio"].isin([2.0, 3.0, 4.0, 5.0, 10.0]).all()
    assert every["execution_date"].isin(sessions).all()
    assert DemoCorporateActions(EQ, split_rate=0.0, now=lambda: today).list_splits("AAPL", dt.date(2000, 1, 3), today).frame.empty


def _daily_bars(closes: list[float], sessions: list[str]) -> pd.DataFrame:
    days = pd.to_datetime(sessions)
    close = np.array(closes)
    return pd.DataFrame({
        "ts": days.tz_localize("UTC"), "session": days, "open": close, "high": close + 1, "low": close - 1,
        "close": close, "volume": 1000.0, "vwap": close, "trades": pd.array([10] * len(close), dtype="Int64"),
    })


def test_read_api_raw_and_adjusted(warehouse_url):
    from backfill_pipeline.read import read_bars

    wh = Warehouse(warehouse_url)
    days = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
    wh.replace_bars("us_equities", "1d", "AAPL", [D(d).date() for d in days], _daily_bars([100, 50, 51, 50, 49], days))
    split = pd.DataFrame({"symbol": ["AAPL"], "execution_date": [D("2024-03-05")], "split_from": [1.0], "split_to": [2.0]})
    dividend = pd.DataFrame({"symbol": ["AAPL"], "ex_dividend_date": [D("2024-03-07")], "cash_amount": [0.51],
                             "currency": ["USD"], "dividend_type": ["CD"]})
    now = dt.datetime(2024, 3, 9, tzinfo=dt.UTC)
    assert replace_actions(wh, "us_equities", "AAPL", split, dividend, "test", now) == (1, 1)
    assert replace_actions(wh, "us_equities", "AAPL", split, dividend, "test", now) == (1, 1)  # replaces, no duplicates
    stored_splits, stored_divs = read_actions(wh, "us_equities", "AAPL")
    assert stored_splits["ratio"].tolist() == [2.0] and stored_divs["cash_amount"].tolist() == [0.51]
    events = load_events(wh, "us_equities", "AAPL", as_of=dt.date(2024, 3, 9))
    np.testing.assert_allclose(events.dividend_factor, [1.0, 1 - 0.51 / 51])  # the close before the ex-date: 51
    wh.dispose()

    raw = read_bars("aapl", "1d", "2024-03-04", "2024-03-08", url=warehouse_url)
    assert raw["close"].tolist() == [100, 50, 51, 50, 49] and "price_factor" not in raw
    by_split = read_bars("AAPL", "1d", "2024-03-04", "2024-03-08", adjust="splits", url=warehouse_url)
    assert by_split["close"].tolist() == [50, 50, 51, 50, 49] and by_split["volume"].tolist()[:2] == [2000, 1000]
    full = read_bars("AAPL", "1d", "2024-03-04", "2024-03-08", market="us_equities", adjust=True, url=warehouse_url)
    factor = 1 - 0.51 / 51
    np.testing.assert_allclose(full["close"], [50 * factor, 50 * factor, 51 * factor, 50, 49])
    np.testing.assert_allclose(full["price_factor"], [0.5 * factor, factor, factor, 1, 1])
    np.testing.assert_allclose(full["high"], (raw["high"] * full["price_factor"]).to_numpy())


def test_corporate_actions_asset_is_idempotent(warehouse_url):
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT", "NVDA"])
        key = corporate_actions_key("us_equities")
        result = run(instance, warehouse_url, [key], start="AAPL", end="NVDA")
        assert result.success
        assert len(result.get_asset_materialization_events()) == 3
        assert checks(result)[("corporate_actions/us_equities", "actions_valid")].passed
        first = (table_rows(warehouse_url, splits), table_rows(warehouse_url, dividends))
        assert len(first[1]) > 50 and {r[1] for r in first[1]} <= {"AAPL", "MSFT", "NVDA"}
        assert run(instance, warehouse_url, [key], partition_key="MSFT").success
        again = (table_rows(warehouse_url, splits), table_rows(warehouse_url, dividends))
        def strip(rows):
            return [r[:-1] for r in rows]
        assert strip(again[0]) == strip(first[0]) and strip(again[1]) == strip(first[1])


def test_polygon_is_a_corporate_actions_source(warehouse_url, httpserver, monkeypatch):
    """The asset against a local server speaking Polygon's /v3/reference wire format."""
    import json

    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.settings import Settings
    from backfill_pipeline.vendors.polygon.resource import PolygonCorporateActionsResource
    from backfill_pipeline.warehouse.resource import WarehouseResource

    split = {"ticker": "AAPL", "execution_date": "2020-08-31", "split_from": 1, "split_to": 4, "id": "s1"}
    dividend = {"ticker": "AAPL", "cash_amount": 0.24, "currency": "USD", "declaration_date": "2023-11-02",
                "dividend_type": "CD", "ex_dividend_date": "2023-11-10", "frequency": 4, "pay_date": "2023-11-16",
                "record_date": "2023-11-13"}
    httpserver.expect_request("/v3/reference/splits").respond_with_data(
        json.dumps({"status": "OK", "request_id": "r1", "results": [split]}), content_type="application/json")
    httpserver.expect_request("/v3/reference/dividends").respond_with_data(
        json.dumps({"status": "OK", "request_id": "r2", "results": [dividend]}), content_type="application/json")
    monkeypatch.setenv("POLYGON_API_KEYS", "k1")
    wired = build_definitions(Settings(corporate_actions_vendor="polygon")).resources["corporate_actions"]
    assert type(wired) is PolygonCorporateActionsResource
    resource = PolygonCorporateActionsResource(warehouse=WarehouseResource(url=warehouse_url), api_keys="k1",
                                               base_url=httpserver.url_for("").rstrip("/"))
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
        result = run(instance, warehouse_url, [corporate_actions_key("us_equities")], partition_key="AAPL",
                     corporate_actions=resource)
        assert result.success
    wh = Warehouse(warehouse_url)
    split_frame, dividend_frame = read_actions(wh, "us_equities", "AAPL")
    assert split_frame["ex_date"].tolist() == [D("2020-08-31")] and split_frame["ratio"].tolist() == [4.0]
    assert dividend_frame["ex_date"].tolist() == [D("2023-11-10")] and dividend_frame["cash_amount"].tolist() == [0.24]
    wh.dispose()
    with pytest.raises(Exception, match="BACKFILL_CORPORATE_ACTIONS_VENDOR"):
        Settings.from_env({"BACKFILL_CORPORATE_ACTIONS_VENDOR": "iex"})


def test_eodhd_is_a_corporate_actions_source(warehouse_url, httpserver):
    """The asset against a local server speaking EODHD's /api/splits and /api/div format."""
    import json

    from backfill_pipeline.vendors.eodhd.resource import EodhdCorporateActionsResource
    from backfill_pipeline.warehouse.resource import WarehouseResource

    httpserver.expect_request("/api/splits/AAPL.US").respond_with_data(
        json.dumps([{"date": "2020-08-31", "split": "4.000000/1.000000"}]), content_type="application/json")
    httpserver.expect_request("/api/div/AAPL.US").respond_with_data(json.dumps([
        {"date": "2019-11-07", "declarationDate": "2019-10-30", "recordDate": "2019-11-11",
         "paymentDate": "2019-11-14", "period": "Quarterly", "value": 0.1925, "unadjustedValue": 0.77,
         "currency": "USD"}]), content_type="application/json")
    resource = EodhdCorporateActionsResource(warehouse=WarehouseResource(url=warehouse_url), api_keys="k1",
                                             base_url=httpserver.url_for("").rstrip("/"))
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
        result = run(instance, warehouse_url, [corporate_actions_key("us_equities")], partition_key="AAPL",
                     corporate_actions=resource)
        assert result.success
    wh = Warehouse(warehouse_url)
    split_frame, dividend_frame = read_actions(wh, "us_equities", "AAPL")
    assert split_frame["ratio"].tolist() == [4.0] and split_frame["ex_date"].tolist() == [D("2020-08-31")]
    # the raw amount, as paid before the 2020 split (EODHD's `value` is split-adjusted)
    assert dividend_frame["cash_amount"].tolist() == [0.77] and dividend_frame["ex_date"].tolist() == [D("2019-11-07")]
    assert all(r.query_string.decode().count("api_token=k1") == 1 for r, _ in httpserver.log)
    wh.dispose()
