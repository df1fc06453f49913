"""The project CLI: symbols, demo, and every bad-input path (clear message, exit != 0, nothing written)."""

import subprocess
import sys

import dagster as dg
import pytest


@pytest.fixture
def run(cli_run):
    return cli_run


def _symbols(market: str) -> list[str]:
    with dg.DagsterInstance.get() as instance:
        return list(instance.get_dynamic_partitions(f"{market}_symbols"))


def test_symbols_add_list_remove(run):
    assert run("symbols", "add", "--market", "us_equities", "aapl", "MSFT,BRK.B").exit_code == 0
    assert _symbols("us_equities") == ["AAPL", "MSFT", "BRK.B"]
    again = run("symbols", "add", "--market", "us_equities", "AAPL")
    assert again.exit_code == 0 and "already registered: AAPL" in again.output
    listed = run("symbols", "list")
    assert "us_equities (3): AAPL MSFT BRK.B" in listed.output and "crypto (0)" in listed.output
    assert run("symbols", "remove", "--market", "us_equities", "MSFT").exit_code == 0
    assert _symbols("us_equities") == ["AAPL", "BRK.B"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("symbols", "add", "--market", "forex", "EURUSD"), "unknown market 'forex'"),
        (("symbols", "add", "--market", "us_equities", "AAPL", "BAD|KEY"), "invalid symbol 'BAD|KEY'"),
        (("symbols", "add", "--market", "us_equities", "AAPL", "WAY-TOO-LONG-A-SYMBOL-NAME-X"), "invalid symbol"),
        (("symbols", "remove", "--market", "us_equities", "AAPL", "ZZZZ"), "not registered in us_equities: AAPL, ZZZZ"),
        (("demo", "--market", "forex"), "unknown market 'forex'"),
        (("demo", "--timeframes", "2m"), "unknown timeframe '2m'"),
        (("demo", "--end", "2024-02-30"), "'2024-02-30' is not a date"),
        (("demo", "--end", "2999-01-01"), "in the future"),
        (("demo", "--end", "1995-06-01"), "before the calendar start"),
        (("demo", "--days", "0"), "--days"),
        (("demo", "--symbols", "AA PL"), "invalid symbol 'AA PL'"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(run, dagster_home, tmp_path, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert _symbols("us_equities") == [] and _symbols("crypto") == []
    assert not (tmp_path / "wh.db").exists()


def test_demo_backfills_every_timeframe_and_reports(run, dagster_home):
    result = run("demo", "--days", "2", "--symbols", "SPY,BTC-USD", "--end", "2024-11-29")
    assert result.exit_code == 0, result.output
    assert "us_equities: 1 symbols x 2 sessions (2024-11-27..2024-11-29)" in result.output
    assert "crypto: 1 symbols x 2 sessions (2024-11-28..2024-11-29)" in result.output
    assert "4 Dagster runs (0 failed)" in result.output and "missing bars 0" in result.output
    # 390 + 210 minutes of SPY; 2 x 1440 of BTC-USD; plus derived timeframes
    assert "us_equities SPY" in result.output and "crypto      BTC-USD" in result.output
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_run_records()
    assert len(runs) == 4 and all(r.dagster_run.is_success for r in runs)


@pytest.mark.slow
def test_console_script_and_dagster_cli_materialize_a_partition_range(dagster_home, tmp_path):
    env = {"DAGSTER_HOME": str(dagster_home), "BACKFILL_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}",
           "PATH": f"{sys.prefix}/bin"}
    add = subprocess.run(["backfill-pipeline", "symbols", "add", "--market", "us_equities", "AAPL"],
                         env=env, capture_output=True, text=True, check=False)
    assert add.returncode == 0, add.stderr
    proc = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "backfill_pipeline.definitions", "--select", "ohlcv/us_equities/1m",
         "--partition-range", "2024-03-06|AAPL...2024-03-08|AAPL"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import datetime as dt

    from backfill_pipeline.warehouse.store import Warehouse

    wh = Warehouse(env["BACKFILL_WAREHOUSE_URL"])
    counts = wh.bar_counts("us_equities", "1m", dt.date(2024, 3, 6), dt.date(2024, 3, 8))
    assert counts["bars"].tolist() == [390, 390, 390]
    wh.dispose()


@pytest.mark.date_sensitive
def test_symbols_add_with_history_registers_and_launches_every_timeframe(run):
    from backfill_pipeline.markets import MARKETS, last_closed_sessions
    from backfill_pipeline.partitions import date_key

    sessions = last_closed_sessions(MARKETS["us_equities"], 10)
    result = run("symbols", "add", "--market", "us_equities", "nflx", "--history", "10d")
    assert result.exit_code == 0, result.output
    assert _symbols("us_equities") == ["NFLX"]
    weeks = sorted({date_key("weekly", s) for s in sessions})
    assert f"{10 * 7 + len(weeks):,} partitions over 8 assets" in result.output
    with dg.DagsterInstance.get() as instance:
        (backfill,) = instance.get_backfills()
    got = {(k.to_user_string(), str(pk)) for k, pk in backfill.asset_backfill_data.target_subset.iterate_asset_partitions()}
    want = {(f"ohlcv/us_equities/{tf}", f"{s:%Y-%m-%d}|NFLX") for tf in ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
            for s in sessions} | {("ohlcv/us_equities/1w", f"{w}|NFLX") for w in weeks}
    assert got == want
    assert backfill.title == "history of NFLX (10d)"


@pytest.mark.parametrize(("span", "problem"), [("5x", "expected a span such as 5y, 18m or 30d"),
                                               ("0y", "expected a span"), ("2d", "--wait follows")])
def test_symbols_add_refuses_a_bad_history_span_and_registers_nothing(run, span, problem):
    extra = ("--wait",) if span == "2d" else ()
    args = ("--history", span) if span != "2d" else ()
    result = run("symbols", "add", "--market", "us_equities", "NFLX", *args, *extra)
    assert result.exit_code != 0 and problem in result.output
    assert _symbols("us_equities") == []
