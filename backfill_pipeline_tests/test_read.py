"""The read API and its CLI (`bars`, `macro`): output formats and every bad input (message, exit != 0)."""

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from backfill_pipeline.cli.main import cli
from backfill_pipeline.macro.asof import daily_table
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.read import ReadError, read_bars, read_macro
from backfill_pipeline.warehouse.macro import replace_pit_daily, replace_vintages
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.test_corporate_actions import _daily_bars

DAYS = ["2024-03-04", "2024-03-05", "2024-03-06"]


@pytest.fixture
def url(warehouse_url, monkeypatch) -> str:
    """The read API's warehouse, on SQLite and PostgreSQL."""
    url = warehouse_url
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", url)
    wh = Warehouse(url)
    sessions = [dt.date.fromisoformat(d) for d in DAYS]
    wh.replace_bars("us_equities", "1d", "AAPL", sessions, _daily_bars([100, 101, 102], DAYS))
    wh.replace_bars("crypto", "1d", "BTC-USD", sessions, _daily_bars([60000, 61000, 62000], DAYS))
    # DGS10 of a day is published the next day; 03-05's value is first 4.2, revised to 4.25 on 03-07
    vintages = pd.DataFrame({
        "series_id": "DGS10", "date": pd.to_datetime(["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-05"]),
        "value": [4.0, 4.1, 4.2, 4.25], "realtime_start": pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-06",
                                                                           "2024-03-07"]),
        "realtime_end": pd.to_datetime([None, None, "2024-03-06", None]),
    })
    replace_vintages(wh, "DGS10", dt.date(2024, 3, 1), dt.date(2024, 3, 6), vintages, "demo",
                     dt.datetime(2024, 3, 8, tzinfo=dt.UTC))
    config = MacroConfig(required=("DGS10",), optional=())
    replace_pit_daily(wh, sessions, daily_table(vintages, config, pd.DatetimeIndex(pd.to_datetime(DAYS))))
    wh.dispose()
    return url


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_bars_as_csv_and_json(url):
    out = invoke("bars", "aapl", "--start", "2024-03-04", "--end", "2024-03-05")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.output))
    assert list(frame.columns) == ["ts", "session", "open", "high", "low", "close", "volume", "vwap", "trades"]
    assert frame["close"].tolist() == [100, 101] and frame["ts"].iloc[0] == "2024-03-04T00:00:00Z"
    out = invoke("bars", "BTC-USD", "--timeframe", "1d", "--start", "2024-03-04", "--end", "2024-03-06",
                 "--market", "crypto", "--adjusted", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["close"] for r in rows] == [60000, 61000, 62000] and rows[0]["session"] == "2024-03-04"
    assert all(r["price_factor"] == 1.0 for r in rows)  # crypto has no corporate actions


def test_bars_without_dates_prints_the_newest_stored_session(url):
    out = invoke("bars", "AAPL")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.output))
    assert frame["session"].tolist() == ["2024-03-06"] and frame["close"].tolist() == [102]
    since = pd.read_csv(io.StringIO(invoke("bars", "AAPL", "--start", "2024-03-05").output))
    assert since["session"].tolist() == ["2024-03-05", "2024-03-06"]
    missing = invoke("bars", "MSFT")
    assert missing.exit_code != 0 and "no 1d bars stored for MSFT" in missing.output
    none_1h = invoke("bars", "AAPL", "--timeframe", "1h")
    assert none_1h.exit_code != 0 and "no 1h bars stored for AAPL" in none_1h.output


def test_macro_wide_and_long(url, monkeypatch):
    out = invoke("macro", "--start", "2024-03-04", "--end", "2024-03-06")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.output))
    assert frame.columns.tolist() == ["date", "ust_10y", "ust_10y_date", "ust_10y_released"]
    # point in time: each session sees the previous day's yield, at its first release
    assert frame["ust_10y"].tolist() == [4.0, 4.1, 4.2] and frame["ust_10y_date"].tolist()[-1] == "2024-03-05"
    assert frame["ust_10y_released"].tolist() == ["2024-03-04", "2024-03-05", "2024-03-06"]
    rows = json.loads(invoke("macro", "--start", "2024-03-06", "--end", "2024-03-06", "--long", "--format", "json").output)
    assert rows == [{"date": "2024-03-06", "field": "ust_10y", "series_id": "DGS10", "value": 4.2,
                     "observation_date": "2024-03-05", "release_date": "2024-03-06", "age_days": 1,
                     "required": True, "status": "ok"}]
    monkeypatch.setenv("BACKFILL_MACRO_REQUIRED", "DGS10")
    monkeypatch.setenv("BACKFILL_MACRO_OPTIONAL", "")
    latest = read_macro(dt.date(2024, 3, 4), "2024-03-06", url=url, view="latest")
    np.testing.assert_allclose(latest["ust_10y"], [4.1, 4.25, 4.25])  # dated by observation, revised: look-ahead
    assert latest["ust_10y_released"].iloc[1] == pd.Timestamp("2024-03-07")
    out = invoke("macro", "--start", "2024-03-05", "--end", "2024-03-06", "--view", "latest", "--as-of", "2024-03-06",
                 "--series", "dgs10")
    assert pd.read_csv(io.StringIO(out.output))["ust_10y"].tolist() == [4.2, 4.2]  # before the revision


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bars", "ZZZZ", "--start", "2024-03-04", "--end", "2024-03-05"), "unknown symbol 'ZZZZ'"),
        (("bars", "AAPL", "--market", "crypto", "--start", "2024-03-04", "--end", "2024-03-05"),
         "unknown symbol 'AAPL' in crypto"),
        (("bars", "BAD|X", "--start", "2024-03-04", "--end", "2024-03-05"), "invalid symbol 'BAD|X'"),
        (("bars", "AAPL", "--timeframe", "2m", "--start", "2024-03-04", "--end", "2024-03-05"), "unknown timeframe '2m'"),
        (("bars", "AAPL", "--market", "forex", "--start", "2024-03-04", "--end", "2024-03-05"), "unknown market 'forex'"),
        (("bars", "AAPL", "--start", "2024-02-30", "--end", "2024-03-05"), "'2024-02-30' is not a date"),
        (("bars", "AAPL", "--start", "2024-03-05", "--end", "2024-03-04"), "start 2024-03-05 is after end 2024-03-04"),
        (("bars", "AAPL", "--start", "2024-03-04", "--end", "2024-03-05", "--splits-only"), "--splits-only needs --adjusted"),
        (("bars", "AAPL", "--start", "2024-03-04", "--end", "2024-03-05", "--format", "xml"), "'xml' is not one of"),
        (("bars", "AAPL", "--start", "2024-03-32"), "'2024-03-32' is not a date"),
        (("macro", "--start", "yesterday", "--end", "2024-03-05"), "'yesterday' is not a date"),
        (("macro", "--start", "2024-03-06", "--end", "2024-03-05"), "is after end"),
        (("macro", "--start", "2024-03-04", "--end", "2024-03-05", "--view", "final"), "'final' is not one of"),
        (("macro", "--start", "2024-03-04", "--end", "2024-03-05", "--as-of", "soon"), "'soon' is not a date"),
        (("macro", "--start", "2024-03-04", "--end", "2024-03-05", "--series", "GDPC1"), "unknown macro series GDPC1"),
    ],
)
def test_bad_input_is_named(url, args, message):
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_read_api_errors(url):
    with pytest.raises(ReadError, match="unknown timeframe '7m'"):
        read_bars("AAPL", "7m", "2024-03-04", "2024-03-05")
    with pytest.raises(ReadError, match="unknown adjustment 'dividends'"):
        read_bars("AAPL", "1d", "2024-03-04", "2024-03-05", adjust="dividends")
    with pytest.raises(ReadError, match="start 2024-03-06 is after end 2024-03-05"):
        read_bars("AAPL", "1d", "2024-03-06", "2024-03-05")
    with pytest.raises(ReadError, match="unknown market 'forex'"):
        read_bars("AAPL", "1d", "2024-03-04", "2024-03-05", market="forex")
    assert read_bars("AAPL", "1d", "2024-03-04", "2024-03-06")["close"].tolist() == [100, 101, 102]


def test_a_dividend_without_a_close_before_it_is_reported(url):
    from backfill_pipeline.corporate_actions.store import replace_actions

    wh = Warehouse(url)
    dividend = pd.DataFrame({"symbol": ["AAPL"], "ex_dividend_date": [pd.Timestamp("2024-03-04")], "cash_amount": [0.5],
                             "currency": ["USD"], "dividend_type": ["CD"]})
    splits = pd.DataFrame(columns=["symbol", "execution_date", "split_from", "split_to"])
    replace_actions(wh, "us_equities", "AAPL", splits, dividend, "test", dt.datetime(2024, 3, 7, tzinfo=dt.UTC))
    wh.dispose()
    frame = read_bars("AAPL", "1d", "2024-03-04", "2024-03-06", adjust="all")
    assert frame["close"].tolist() == [100, 101, 102]
    assert frame.attrs["skipped_dividends"] == ["2024-03-04 dividend 0.5: no usable close before the ex-date (nan)"]
    out = invoke("bars", "AAPL", "--start", "2024-03-04", "--end", "2024-03-06", "--adjusted")
    assert out.exit_code == 0 and "warning: not adjusted for 2024-03-04 dividend 0.5" in out.output


def test_without_dagster_home_the_cli_reads_the_warehouse_the_demo_wrote(tmp_path, monkeypatch):
    """The README's shell: no DAGSTER_HOME exported, the demo's ./.dagster_home/warehouse.db."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("BACKFILL_WAREHOUSE_URL", raising=False)
    (tmp_path / ".dagster_home").mkdir()
    wh = Warehouse(f"sqlite:///{tmp_path / '.dagster_home' / 'warehouse.db'}")
    wh.replace_bars("us_equities", "1d", "AAPL", [dt.date(2024, 3, 4)], _daily_bars([100], DAYS[:1]))
    wh.dispose()
    out = invoke("bars", "AAPL")
    assert out.exit_code == 0, out.output
    assert pd.read_csv(io.StringIO(out.output))["session"].tolist() == ["2024-03-04"]
