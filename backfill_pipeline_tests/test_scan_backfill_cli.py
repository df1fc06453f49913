"""scan -> reviewable file -> backfill, and reports, through the CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from backfill_pipeline_tests.homes import cli_in, copy_state


@pytest.fixture
def run(cli_run):
    return cli_run


@pytest.fixture(scope="module")
def partly_filled_state(tmp_path_factory):
    """SPY and AAPL registered; only SPY 2024-03-04..05 stored (1m, 1d and derived): built
    once per module, copied into each test that uses it (homes.py)."""
    root = tmp_path_factory.mktemp("partly_filled")
    with cli_in(root) as run:
        assert run("symbols", "add", "--market", "us_equities", "SPY", "AAPL").exit_code == 0
        result = run("demo", "--market", "us_equities", "--symbols", "SPY", "--days", "2", "--end", "2024-03-05",
                     "--timeframes", "1m,1h,1d")
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def partly_filled(run, partly_filled_state, tmp_path):
    copy_state(partly_filled_state, tmp_path)
    return run


def _backfills():
    with dg.DagsterInstance.get() as instance:
        return instance.get_backfills()


def test_scan_writes_a_reviewable_file_and_backfill_reads_it_back(partly_filled, tmp_path):
    gaps = tmp_path / "gaps.txt"
    result = partly_filled("scan", "--market", "us_equities", "--timeframes", "1m,1h", "--start", "2024-03-04",
                           "--end", "2024-03-06", "--output", str(gaps))
    assert result.exit_code == 0, result.output
    assert "partitions 12, complete 4, no_trades 0, not_fetched 8" in result.output
    assert "estimated missing bars 1588 (1588 to fill)" in result.output  # 4 x 390 (1m) + 4 x 7 (1h)
    text = gaps.read_text()
    assert text.startswith("# backfill-pipeline gaps\n# generated_at: ")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert "us_equities 1m AAPL 2024-03-04  # not_fetched 390/390 missing" in lines
    assert len(lines) == 8 and not any("SPY 2024-03-04" in ln for ln in lines)

    dry = partly_filled("backfill", "--from-file", str(gaps), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "ohlcv/us_equities/1m: 4 partitions: 2024-03-04|AAPL, 2024-03-05|AAPL, 2024-03-06|AAPL, 2024-03-06|SPY" in dry.output
    assert "would launch 8 partitions over 2 assets" in dry.output
    assert _backfills() == []

    launched = partly_filled("backfill", "--from-file", str(gaps), "--title", "fill march")
    assert launched.exit_code == 0, launched.output
    (backfill,) = _backfills()
    assert backfill.title == "fill march"
    subset = backfill.asset_backfill_data.target_subset
    got = {(k.to_user_string(), str(pk)) for k, pk in subset.iterate_asset_partitions()}
    want = {(f"ohlcv/us_equities/{tf}", f"{d}|{s}") for tf in ("1m", "1h")
            for s, d in [("AAPL", "2024-03-04"), ("AAPL", "2024-03-05"), ("AAPL", "2024-03-06"), ("SPY", "2024-03-06")]}
    assert got == want


def test_timeframes_are_ordered_by_duration_in_gap_files_dry_runs_and_compare(partly_filled, tmp_path):
    """Alphabetically 15m < 1d < 1h < 1m < 4h; every listing orders them by duration instead."""
    by_duration = ["1m", "15m", "1h", "4h", "1d"]
    asked = ",".join(sorted(by_duration))  # given in alphabetical order on purpose
    gaps = tmp_path / "gaps.txt"
    scanned = partly_filled("scan", "--market", "us_equities", "--timeframes", asked, "--start", "2024-03-04",
                            "--end", "2024-03-04", "--output", str(gaps))
    assert scanned.exit_code == 0, scanned.output
    in_file = [ln.split()[1] for ln in gaps.read_text().splitlines() if ln and not ln.startswith("#")]
    assert list(dict.fromkeys(in_file)) == by_duration

    dry = partly_filled("backfill", "--from-file", str(gaps), "--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [m for ln in dry.output.splitlines() for m in [ln.partition(":")[0].strip()]
              if m.startswith("ohlcv/us_equities/")]
    assert [m.rsplit("/", 1)[1] for m in listed] == by_duration

    reports = []
    for name in ("before", "after"):
        reports.append(tmp_path / f"{name}.json")
        result = partly_filled("report", "--market", "us_equities", "--timeframes", asked, "--start", "2024-03-04",
                               "--end", "2024-03-04", "--format", "json", "--output", str(reports[-1]))
        assert result.exit_code == 0, result.output
    compared = partly_filled("report", "--compare", *map(str, reports))
    rows = [ln.split()[0] for ln in compared.output.splitlines() if ln.split() and ln.split()[0] in by_duration]
    assert rows == by_duration, compared.output


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("forex 1m EURUSD 2024-03-04", "unknown market 'forex'"),
        ("us_equities 2m SPY 2024-03-04", "unknown timeframe '2m'"),
        ("us_equities 1m MSFT 2024-03-04", "symbol 'MSFT' is not in the us_equities partition set"),
        ("us_equities 1m spy! 2024-03-04", "invalid symbol 'spy!'"),
        ("us_equities 1m SPY 2024-02-30", "'2024-02-30' is not a date"),
        ("us_equities 1m SPY 2024-03-09", "2024-03-09 is not a XNYS session"),
        ("us_equities 1m SPY 1990-01-02", "dates 1990-01-02..1990-01-02 fall outside the XNYS calendar window"),
        ("us_equities 1m SPY", "expected 'market timeframe symbol YYYY-MM-DD'"),
    ],
)
def test_a_malformed_line_is_reported_with_its_number_and_nothing_is_launched(run, tmp_path, line, problem):
    assert run("symbols", "add", "--market", "us_equities", "SPY").exit_code == 0
    gaps = tmp_path / "gaps.txt"
    gaps.write_text(f"# header\n\nus_equities 1m SPY 2024-03-04  # fine\n{line}  # comment\n")
    result = run("backfill", "--from-file", str(gaps))
    assert result.exit_code != 0
    assert f"line 4: {problem}" in result.output and "nothing launched" in result.output
    assert _backfills() == []


def test_malformed_files(run, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only comments\n\n")
    assert "names no partitions" in run("backfill", "--from-file", str(empty)).output
    broken = tmp_path / "broken.json"
    broken.write_text('{"gaps": [{"market": "us_equities"')
    result = run("backfill", "--from-file", str(broken))
    assert result.exit_code != 0 and "malformed JSON gap file" in result.output
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert run("backfill", "--from-file", str(binary)).exit_code != 0
    assert run("backfill", "--from-file", str(tmp_path / "missing.txt")).exit_code != 0
    assert _backfills() == []


def test_scan_and_backfill_option_errors(run):
    assert "give either --days or --start/--end" in run("scan", "--days", "3", "--start", "2024-01-02").output
    assert "is after --end" in run("scan", "--start", "2024-03-05", "--end", "2024-03-01").output
    assert "unknown timeframe '3m'" in run("scan", "--timeframes", "3m").output
    assert "not registered in any market: ZZZ" in run("scan", "--symbols", "ZZZ").output
    assert run("backfill").exit_code != 0


def test_json_gap_file_round_trip(partly_filled, tmp_path):
    gaps = tmp_path / "gaps.json"
    assert partly_filled("scan", "--market", "us_equities", "--timeframes", "1d", "--start", "2024-03-04",
                         "--end", "2024-03-06", "--format", "json", "--output", str(gaps)).exit_code == 0
    data = json.loads(gaps.read_text())
    assert [(g["symbol"], g["session"], g["gap_class"]) for g in data["gaps"]] == [
        ("AAPL", "2024-03-04", "not_fetched"), ("AAPL", "2024-03-05", "not_fetched"),
        ("AAPL", "2024-03-06", "not_fetched"), ("SPY", "2024-03-06", "not_fetched")]
    dry = partly_filled("backfill", "--from-file", str(gaps), "--dry-run")
    assert "would launch 4 partitions over 1 assets: ~2 runs" in dry.output


def test_report_formats_heatmap_and_compare(partly_filled, tmp_path):
    before = tmp_path / "before.json"
    result = partly_filled("report", "--market", "us_equities", "--timeframes", "1m,1d", "--start", "2024-03-04",
                           "--end", "2024-03-05", "--format", "json", "--output", str(before))
    assert result.exit_code == 0, result.output
    data = json.loads(before.read_text())
    series = {(s["symbol"], s["timeframe"]): s for s in data["series"]}
    assert series[("SPY", "1m")]["completeness_pct"] == 100.0 and series[("SPY", "1m")]["missing"] == 0
    assert series[("SPY", "1m")]["first_ts"] == "2024-03-04T14:30:00+00:00"
    assert series[("SPY", "1m")]["last_ts"] == "2024-03-05T20:59:00+00:00"
    assert series[("AAPL", "1m")]["missing"] == 780 and series[("AAPL", "1m")]["not_fetched"] == 2
    png = before.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    partly_filled("demo", "--market", "us_equities", "--symbols", "AAPL", "--days", "1", "--end", "2024-03-04",
                  "--timeframes", "1m,1d")
    after = tmp_path / "after.json"
    partly_filled("report", "--market", "us_equities", "--timeframes", "1m,1d", "--start", "2024-03-04",
                  "--end", "2024-03-05", "--format", "json", "--output", str(after))
    compared = partly_filled("report", "--compare", str(before), str(after))
    assert "missing bars reduced by 391 (50.0%)" in compared.output
    md = partly_filled("report", "--market", "us_equities", "--timeframes", "1m", "--start", "2024-03-04", "--end", "2024-03-05")
    assert "| market | symbol | 1m |" in md.output and "| us_equities | SPY | 100.0 |" in md.output
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert "not a JSON report" in partly_filled("report", "--compare", str(bad), str(after)).output


@pytest.mark.slow
def test_a_launched_backfill_is_executed_by_the_daemon(partly_filled, dagster_home, tmp_path):
    """The real thing: dagster-daemon picks the backfill up and runs it with ranged runs."""
    gaps = tmp_path / "gaps.txt"
    partly_filled("scan", "--market", "us_equities", "--timeframes", "1m,1h", "--start", "2024-03-04",
                  "--end", "2024-03-06", "--output", str(gaps))
    assert partly_filled("backfill", "--from-file", str(gaps)).exit_code == 0
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dagster-daemon"), "run",
                               "-m", "backfill_pipeline.definitions"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            (backfill,) = _backfills()
            if backfill.status.value.startswith("COMPLETED") or backfill.status.value == "FAILED":
                break
            if daemon.poll() is not None:
                break
            time.sleep(3)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(30)
    assert backfill.status.value == "COMPLETED_SUCCESS", (tmp_path / "daemon.log").read_text()[-4000:]
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    assert 1 <= len(runs) <= 4  # ranged: one run per symbol (and level), not one per partition
    after = partly_filled("scan", "--market", "us_equities", "--timeframes", "1m,1h", "--start", "2024-03-04", "--end", "2024-03-06")
    assert "partitions 12, complete 12" in after.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_backfill_through_the_webserver_graphql_api(partly_filled, dagster_home, tmp_path):
    import httpx

    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "dagster-webserver"), "-m", "backfill_pipeline.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        result = partly_filled("backfill", "--market", "us_equities", "--symbols", "AAPL", "--timeframes", "1d",
                               "--start", "2024-03-04", "--end", "2024-03-05", "--url", url)
        assert result.exit_code == 0, result.output
        assert f"through {url}" in result.output
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    (backfill,) = _backfills()
    got = {(k.to_user_string(), str(pk)) for k, pk in backfill.asset_backfill_data.target_subset.iterate_asset_partitions()}
    assert got == {("ohlcv/us_equities/1d", "2024-03-04|AAPL"), ("ohlcv/us_equities/1d", "2024-03-05|AAPL")}
    assert backfill.tags.get("backfill_pipeline/source") == "cli"


def test_an_unreachable_webserver_is_a_clear_error(partly_filled):
    result = partly_filled("backfill", "--market", "us_equities", "--symbols", "AAPL", "--timeframes", "1d",
                           "--start", "2024-03-04", "--end", "2024-03-05", "--url", f"http://127.0.0.1:{_free_port()}")
    assert result.exit_code != 0 and "launch through http://127.0.0.1:" in result.output
    assert _backfills() == []
