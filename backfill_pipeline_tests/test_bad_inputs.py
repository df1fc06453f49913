"""Bad input: a clear message naming the problem, a non-zero exit, nothing written or launched,
and permanent configuration errors are never step-retried."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from backfill_pipeline.automation import universe
from backfill_pipeline.markets import MARKETS, SYMBOL_RULE, InvalidSymbolError, sessions_in_range, validate_symbol
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.vendors.config import VendorConfigError, check_base_url, env_problems, key_list
from backfill_pipeline.warehouse.location import check_warehouse_url
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline_tests.helpers import fetch_rows, materialize, table_rows
from backfill_pipeline_tests.instances import shipped_instance

EQ = MARKETS["us_equities"]
POLYGON = Settings(vendors={"us_equities": "polygon", "crypto": "demo"})


def backfills() -> list:
    with dg.DagsterInstance.get() as instance:
        return instance.get_backfills()


def registered(market: str) -> list[str]:
    with dg.DagsterInstance.get() as instance:
        return list(instance.get_dynamic_partitions(f"{market}_symbols"))


def retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The descriptions of the run's step failures (dg.Failure's own words)."""
    texts = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            texts.append(data.user_failure_data.description if data.user_failure_data else data.error.message)
    return "\n".join(t or "" for t in texts)


# --- gap files and ranges naming sessions without a partition ---------------------------

def test_a_gap_file_line_before_the_partitions_start_is_refused(cli_run, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKFILL_PARTITIONS_START", "2024-03-01")
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("us_equities 1m SPY 2024-03-04\nus_equities 1d SPY 2024-02-29\n")
    result = cli_run("backfill", "--from-file", str(gaps))
    assert result.exit_code == 1
    assert ("line 2: 2024-02-29 is before the first partition 2024-03-01 of ohlcv/us_equities/1d "
            "(BACKFILL_PARTITIONS_START=2024-03-01)") in result.output
    assert "nothing launched" in result.output and backfills() == []


def test_a_range_before_the_partitions_start_is_refused(cli_run, monkeypatch):
    monkeypatch.setenv("BACKFILL_PARTITIONS_START", "2024-03-01")
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    result = cli_run("backfill", "--market", "us_equities", "--symbols", "SPY", "--timeframes", "1d",
                     "--start", "2024-02-28", "--end", "2024-03-04")
    assert result.exit_code == 1
    assert "2024-02-28 is before the first partition 2024-03-01 of ohlcv/us_equities/1d" in result.output
    assert backfills() == []


@pytest.mark.date_sensitive
def test_a_gap_file_line_after_the_last_partition_is_refused(cli_run, tmp_path):
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    today = dt.datetime.now(dt.UTC).date()
    future = sessions_in_range(EQ, today + dt.timedelta(days=30), today + dt.timedelta(days=45))[0].date()
    gaps = tmp_path / "gaps.txt"
    gaps.write_text(f"us_equities 1m SPY 2024-03-04\nus_equities 1m SPY {future}\n")
    result = cli_run("backfill", "--from-file", str(gaps))
    assert result.exit_code == 1
    assert f"line 2: {future} is after the last partition" in result.output
    assert "of ohlcv/us_equities/1m: it has no partition yet" in result.output and backfills() == []


# --- symbols -----------------------------------------------------------------------------

@pytest.mark.parametrize("symbol", ["X/../MSFT", "X..MSFT", "AAPL.", "-AAPL", "BRK B", "A\tB", "BAD|KEY", "A,B"])
def test_one_symbol_rule_refuses_paths_and_doubled_separators(symbol):
    with pytest.raises(InvalidSymbolError, match="invalid symbol"):
        validate_symbol(symbol)


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "BTC-USD", "ETH-USDT", "X:BTCUSD", "ES=F", "BF_B", "C^D", "A" * 24])
def test_real_tickers_pass(symbol):
    assert validate_symbol(symbol) == symbol


def test_the_cli_refuses_a_path_like_symbol_and_registers_nothing(cli_run):
    result = cli_run("symbols", "add", "--market", "us_equities", "AAPL", "X/../MSFT")
    assert result.exit_code == 2 and "invalid symbol 'X/../MSFT'" in result.output
    assert registered("us_equities") == []
    assert cli_run("symbols", "add", "--market", "crypto", "BTC-USD", "eth-usd").exit_code == 0
    assert registered("crypto") == ["BTC-USD", "ETH-USD"]


@pytest.mark.parametrize("args", [("",), ("AAPL", ""), (" ",), (",",)])
def test_symbols_add_of_an_empty_symbol_is_an_error(cli_run, args):
    result = cli_run("symbols", "add", "--market", "us_equities", *args)
    assert result.exit_code == 2 and "an empty symbol was given" in result.output
    assert registered("us_equities") == []


def test_the_universe_file_applies_the_same_rule(tmp_path):
    text = "markets:\n  us_equities:\n    - {symbol: AAPL, asset_class: stock}\n    - {symbol: X/../MSFT, asset_class: stock}\n"
    with pytest.raises(universe.UniverseFileError) as caught:
        universe.parse(text, tmp_path / "universe.yaml")
    assert caught.value.problems == [(f"{tmp_path / 'universe.yaml'} line 4: us_equities: field 'symbol': "
                                      f"invalid symbol 'X/../MSFT': use {SYMBOL_RULE}")]


def test_a_partition_key_with_an_invalid_symbol_is_not_fetched_and_fails_unretried(tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "X/../MSFT"])  # as the UI would
        result = materialize(instance, url, "us_equities", ["1d"], start="2024-03-04|AAPL", end="2024-03-05|X/../MSFT")
    assert not result.success and retries(result) == 0
    assert "invalid symbol partition(s) of us_equities: 'X/../MSFT'; nothing fetched or written for them" in failure_text(result)
    assert {r[1] for r in table_rows(url)} == {"AAPL"}  # the valid symbol's bars are stored
    assert {r["symbol"] for r in fetch_rows(url)} == {"AAPL"}


def test_a_reversed_partition_range_is_a_clear_unretried_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL", "MSFT"])
        result = materialize(instance, url, "us_equities", ["1m"], start="2024-03-08|MSFT", end="2024-03-06|AAPL")
    assert not result.success and retries(result) == 0
    assert ("the partition range 2024-03-08|MSFT...2024-03-06|AAPL selects no partition: its first date 2024-03-08 "
            "is after its last date 2024-03-06; MSFT is registered after AAPL") in failure_text(result)
    assert table_rows(url) == [] and fetch_rows(url) == []


# --- vendor configuration ----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "what"), [(",,,", "holds only commas and blanks"), (" , ", "holds only commas and blanks"),
                                            ("", "is empty")])
def test_a_key_list_without_a_key_is_refused(raw, what):
    with pytest.raises(VendorConfigError, match=f"POLYGON_API_KEYS {what}: no API key for polygon"):
        key_list("polygon", raw)


@pytest.mark.parametrize("url", ["not a url", "api.polygon.io", "ftp://api.polygon.io", "http://", "https:///path"])
def test_a_base_url_that_is_not_an_http_url_is_refused(url):
    with pytest.raises(VendorConfigError, match=r"POLYGON_BASE_URL=.* is not a base URL"):
        check_base_url("POLYGON_BASE_URL", url)
    assert check_base_url("X", "http://127.0.0.1:8080/prefix") == "http://127.0.0.1:8080/prefix"


@pytest.mark.parametrize(("env", "problem"), [
    ({"POLYGON_API_KEYS": ",,,"}, "POLYGON_API_KEYS holds only commas and blanks"),
    ({"POLYGON_API_KEYS": "k1", "POLYGON_BASE_URL": "not a url"}, "POLYGON_BASE_URL='not a url' is not a base URL"),
])
def test_a_permanent_vendor_configuration_error_fails_the_step_once_and_writes_nothing(tmp_path, monkeypatch,
                                                                                       env, problem):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    with shipped_instance() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
        # the polygon step has a RetryPolicy (3 retries, 30 s backoff): a retried step would show here
        result = materialize(instance, url, "us_equities", ["1d"], partition_key="2024-03-04|AAPL", settings=POLYGON)
    assert not result.success and retries(result) == 0
    text = failure_text(result)
    assert problem in text and "a configuration error: the step is not retried" in text
    assert table_rows(url) == [] and fetch_rows(url) == []
    assert any(problem in p for p in env_problems({"polygon"}, env))  # what `backfill` checks before launching


def test_backfill_refuses_a_bad_vendor_configuration_before_launching(cli_run, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKFILL_VENDOR_US_EQUITIES", "polygon")
    monkeypatch.setenv("POLYGON_API_KEYS", ",,,")
    monkeypatch.setenv("POLYGON_BASE_URL", "not a url")
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("us_equities 1d SPY 2024-03-04\n")
    result = cli_run("backfill", "--from-file", str(gaps))
    assert result.exit_code == 1 and "vendor configuration; nothing launched" in result.output
    assert "POLYGON_API_KEYS holds only commas and blanks" in result.output
    assert "POLYGON_BASE_URL='not a url' is not a base URL" in result.output
    assert backfills() == []


# --- the warehouse URL -------------------------------------------------------------------

def test_a_sqlite_warehouse_in_a_missing_directory_is_an_error_and_nothing_is_created(cli_run, tmp_path, monkeypatch):
    missing = tmp_path / "typo" / "dir"
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", f"sqlite:///{missing / 'wh.db'}")
    for args in (("scan", "--days", "2"), ("report", "--days", "2")):
        result = cli_run(*args)
        assert result.exit_code == 1
        assert f"the directory {missing} does not exist, so the SQLite warehouse cannot be there" in result.output
    assert not (tmp_path / "typo").exists()
    with pytest.raises(SettingsError, match="does not exist"):
        WarehouseResource(url=f"sqlite:///{missing / 'wh.db'}").get()
    assert not (tmp_path / "typo").exists()


def test_the_embedded_default_still_creates_its_own_home_and_warehouse(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from backfill_pipeline.cli.main import cli

    monkeypatch.delenv("BACKFILL_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["symbols", "add", "--market", "us_equities", "SPY"], catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, ["scan", "--market", "us_equities", "--start", "2024-03-04", "--end", "2024-03-05"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".dagster_home" / "dagster.yaml").is_file()
    assert (tmp_path / ".dagster_home" / "warehouse.db").is_file()


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://user:s3cret@db.example/wh", ("BACKFILL_WAREHOUSE_URL='mysql://user:***@db.example/wh': the warehouse "
                                           "runs on SQLite or PostgreSQL, not 'mysql'")),
    ("just words", "BACKFILL_WAREHOUSE_URL is not a database URL: expected sqlite:///path/to/warehouse.db"),
    ("postgresql+nosuchdriver://u@h/db", "unknown or missing database driver 'postgresql+nosuchdriver'"),
    ("sqlite:///:memory:", "the warehouse must be a SQLite file"),
])
def test_a_bad_warehouse_url_is_a_clear_error(cli_run, monkeypatch, url, message):
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", url)
    result = cli_run("scan", "--days", "2")
    assert result.exit_code == 1 and message in result.output
    assert "s3cret" not in result.output
    with pytest.raises(SettingsError):
        check_warehouse_url(url, "BACKFILL_WAREHOUSE_URL")


def test_an_unreachable_warehouse_is_a_clear_error(cli_run, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{port}/wh")
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    result = cli_run("scan", "--market", "us_equities", "--days", "2")
    assert result.exit_code == 1
    assert "database error: connection failed" in result.output and "Connection refused" in result.output
    assert f"(warehouse: postgresql+psycopg://postgres:***@127.0.0.1:{port}/wh)" in result.output
    assert "s3cret" not in result.output


def test_backfill_refuses_a_bad_warehouse_url_before_launching(cli_run, tmp_path, monkeypatch):
    assert cli_run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", "mysql://u@h/db")
    gaps = tmp_path / "gaps.txt"
    gaps.write_text("us_equities 1d SPY 2024-03-04\n")
    result = cli_run("backfill", "--from-file", str(gaps))
    assert result.exit_code == 1 and "not 'mysql'" in result.output and backfills() == []


# --- output files ------------------------------------------------------------------------

def test_scan_output_into_a_missing_directory_is_refused_before_scanning(cli_run, tmp_path):
    target = tmp_path / "nope" / "gaps.txt"
    result = cli_run("scan", "--days", "2", "--output", str(target))
    assert result.exit_code == 2
    assert f"the directory {target.parent} does not exist; create it first (nothing was written)" in result.output
    assert "partitions" not in result.output  # nothing was scanned
    assert not target.parent.exists()
    report = cli_run("report", "--days", "2", "--output", str(target))
    assert report.exit_code == 2 and "does not exist" in report.output


# --- Dagster's own CLI -------------------------------------------------------------------

@pytest.mark.slow
def test_dagster_cli_with_a_reversed_partition_range_names_the_problem(dagster_home, tmp_path):
    env = {"DAGSTER_HOME": str(dagster_home), "BACKFILL_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}",
           "PATH": f"{sys.prefix}/bin"}
    add = subprocess.run(["backfill-pipeline", "symbols", "add", "--market", "us_equities", "AAPL", "MSFT"],
                         env=env, capture_output=True, text=True, check=False)
    assert add.returncode == 0, add.stderr
    proc = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "backfill_pipeline.definitions", "--select", "ohlcv/us_equities/1m",
         "--partition-range", "2024-03-08|MSFT...2024-03-06|AAPL"],
        env=env, capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "the partition range 2024-03-08|MSFT...2024-03-06|AAPL selects no partition" in output
    assert "KeyError" not in output
