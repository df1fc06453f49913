"""The Dagster UI as a user sees it, in headless Chromium (Debian's package, driven by
Playwright), against the deployed stack's webserver after `backfill-pipeline demo`.

Screenshots go to test_artifacts/ (or $BACKFILL_TEST_ARTIFACTS). With
BACKFILL_UPDATE_DOCS_SCREENSHOT=1 the partitions screenshot also replaces docs/ui-partitions.png.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline.markets import MARKETS, last_closed_sessions
from backfill_pipeline.names import CHECK_COMPLETE, CHECK_OHLC_VALID, ohlcv_key
from backfill_pipeline_tests.deploy.conftest import REPO, PgDatabases, Stack, artifacts_dir
from backfill_pipeline_tests.optional import REQUIRE_BROWSER, import_deploy_tool, unavailable

sync_api = import_deploy_tool("playwright.sync_api")  # the `deploy` extra: skip (or fail in CI) without it
PlaywrightTimeout = sync_api.TimeoutError
sync_playwright = sync_api.sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("BACKFILL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ASSET = ohlcv_key("us_equities", "1m")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")  # session: set up (or skipped) before the deployed stack starts
def browser() -> Iterator[object]:
    # No test installs system packages: .ci/run installs Debian's chromium (or set BACKFILL_CHROMIUM).
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or set BACKFILL_CHROMIUM)",
                    REQUIRE_BROWSER)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")  # the last closed sessions, from the calendar (whatever today is)
def demo_sessions(deployed_stack: Stack) -> list[str]:
    """`backfill-pipeline demo --days 2` into the deployment (PostgreSQL instance and warehouse)."""
    sessions = last_closed_sessions(MARKETS["us_equities"], 2)
    end = sessions[-1].date().isoformat()
    result = deployed_stack.run("backfill-pipeline", "demo", "--days", "2", "--end", end, timeout_s=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [s.date().isoformat() for s in sessions]


def _expected_asset_keys(stack: Stack) -> list[str]:
    """Every asset of the code location (OHLCV, and features/macro/... where they exist)."""
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.settings import Settings

    graph = build_definitions(Settings.from_env(stack.env)).resolve_asset_graph()
    return sorted(key.to_user_string() for key in graph.get_all_asset_keys())


def _check_names(stack: Stack) -> list[str]:
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.settings import Settings

    graph = build_definitions(Settings.from_env(stack.env)).resolve_asset_graph()
    return sorted(check.name for check in graph.asset_check_keys if check.asset_key == ASSET)


def _registered_symbols(dbs: PgDatabases) -> list[str]:
    engine = sa.create_engine(dbs.instance_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = :name ORDER BY id"),
            {"name": MARKETS["us_equities"].symbols_partitions_name},
        ).all()
    engine.dispose()
    return [r[0] for r in rows]


def _shot(page, name: str) -> Path:
    path = artifacts_dir() / "ui" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path


def test_ui_shows_assets_partitions_and_checks(
    browser, deployed_stack: Stack, deploy_databases: PgDatabases, demo_sessions: list[str]
) -> None:
    started = time.monotonic()
    base = deployed_stack.webserver_url
    keys = _expected_asset_keys(deployed_stack)
    assert {f"ohlcv/{m}/1m" for m in MARKETS} <= set(keys)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)

    # Catalog: every asset of the definitions, tall enough that no row is virtualised away.
    page.set_viewport_size({"width": 1440, "height": max(900, 70 * len(keys) + 300)})
    page.goto(f"{base}/assets")
    page.get_by_text(" / ".join(keys[0].split("/")), exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    body = page.inner_text("body")
    missing = [k for k in keys if " / ".join(k.split("/")) not in body]
    assert not missing, f"not in the catalog: {missing}"
    _shot(page, "catalog")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto(f"{base}/asset-groups")
    page.wait_for_load_state("networkidle")
    try:  # cosmetic: let the group nodes finish loading their statuses
        page.get_by_text("fetching statuses").first.wait_for(state="detached", timeout=10_000)
    except PlaywrightTimeout:
        pass
    _shot(page, "lineage")

    # Partitions: the session x symbol grid of the demo window, all materialised.
    symbols = _registered_symbols(deploy_databases)
    first, last = demo_sessions[0], demo_sessions[-1]
    page.goto(f"{base}/assets/{ASSET.to_user_string()}?view=partitions")
    range_input = page.get_by_placeholder(re.compile(r"^ex: "))
    range_input.fill(f"[{first}...{last}]")
    range_input.press("Enter")
    demo_symbols = [s for s in MARKETS["us_equities"].demo_symbols if s in symbols]
    selected, materialized = len(demo_sessions) * len(symbols), len(demo_sessions) * len(demo_symbols)
    page.get_by_text(f"{selected} Partitions Selected").wait_for()
    page.get_by_text(f"Materialized ({materialized})").wait_for()
    page.get_by_text(f"Missing ({selected - materialized})").wait_for()
    page.get_by_text(last, exact=True).filter(visible=True).first.click()
    page.get_by_text(demo_symbols[0], exact=True).filter(visible=True).first.click()
    page.get_by_text(f"{last}|{demo_symbols[0]}").filter(visible=True).first.wait_for()
    page.get_by_text("run_bars_written").first.wait_for()
    assert page.get_by_text("Materialized", exact=True).filter(visible=True).count() >= 1
    shot = _shot(page, "partitions")
    if os.environ.get("BACKFILL_UPDATE_DOCS_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copy2(shot, REPO / "docs" / "ui-partitions.png")

    # Checks: every check of the asset is listed; completeness and validity were evaluated.
    page.goto(f"{base}/assets/{ASSET.to_user_string()}?view=checks")
    for name in _check_names(deployed_stack):
        page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_text(CHECK_COMPLETE, exact=True).first.click()
    page.get_by_text("Evaluation result").first.wait_for()
    page.get_by_text("Passed", exact=True).first.wait_for()
    page.get_by_text("completeness_pct").first.wait_for()
    _shot(page, "checks_complete")
    page.get_by_text(CHECK_OHLC_VALID, exact=True).first.click()
    page.get_by_text("Passed", exact=True).first.wait_for()
    _shot(page, "checks_ohlc_valid")
    page.close()
    print(f"\nUI checks took {time.monotonic() - started:.1f} s over {len(keys)} assets")


_ADD_PARTITION = """
mutation AddDynamicPartition($name: String!, $key: String!, $repo: RepositorySelector!) {
  addDynamicPartition(partitionsDefName: $name, partitionKey: $key, repositorySelector: $repo) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on Error { message }
  }
}
"""
_LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"


def test_a_symbol_added_in_the_ui_follows_the_clis_rule(
    browser, deployed_stack: Stack, deploy_databases: PgDatabases, demo_sessions: list[str]
) -> None:
    """`nflx` added the way the UI's "Add a partition" does (its GraphQL mutation) is renamed to
    NFLX by symbol_rule_sensor in the deployment's daemon; the UI's partition grid shows NFLX;
    the CLI removes it."""
    from backfill_pipeline.graphql_client import execute

    base = deployed_stack.webserver_url
    (location,) = [e["name"] for e in execute(base, _LOCATIONS)["workspaceOrError"]["locationEntries"]]
    name = MARKETS["us_equities"].symbols_partitions_name
    added = execute(base, _ADD_PARTITION, {"name": name, "key": "nflx", "repo": {
        "repositoryLocationName": location, "repositoryName": "__repository__"}})["addDynamicPartition"]
    assert added["__typename"] == "AddDynamicPartitionSuccess", added
    deadline = time.monotonic() + 240  # the sensor ticks every 30 s once the daemon evaluates it
    while time.monotonic() < deadline and "NFLX" not in _registered_symbols(deploy_databases):
        time.sleep(3)
    symbols = _registered_symbols(deploy_databases)
    assert "NFLX" in symbols and "nflx" not in symbols, (symbols, deployed_stack.log_tail("daemon"))

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/assets/{ASSET.to_user_string()}?view=partitions")
    page.get_by_text("NFLX", exact=True).filter(visible=True).first.wait_for()
    assert page.get_by_text("nflx", exact=True).count() == 0
    _shot(page, "partitions_ui_added_symbol")
    page.close()

    removed = deployed_stack.run("backfill-pipeline", "symbols", "remove", "--market", "us_equities", "nflx")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "NFLX" not in _registered_symbols(deploy_databases)


_LAUNCH_WITH_CONFIG = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
def _partition_counts(page, base: str, asset: str, session: str) -> dict[str, int]:
    """The partitions tab of `asset`, filtered to one date partition: the legend's counts."""
    page.goto(f"{base}/assets/{asset}?view=partitions")
    range_input = page.get_by_placeholder(re.compile(r"^ex: "))
    range_input.fill(f"[{session}...{session}]")
    range_input.press("Enter")
    page.get_by_text(re.compile(r"^\d+ Partitions? Selected$")).first.wait_for()
    counts: dict[str, int] = {}
    for state in ("Materialized", "Failed", "Missing", "Materializing"):
        found = page.get_by_text(re.compile(rf"^{state} \((\d+)\)$")).filter(visible=True)
        if found.count():
            counts[state] = int(re.search(r"\((\d+)\)", found.first.inner_text()).group(1))  # type: ignore[union-attr]
    return counts


def _wait_for(predicate, timeout_s: float, what: str, poll_s: float = 3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_a_ui_backfill_of_one_selection_fills_every_timeframe(
    browser, deployed_stack: Stack, deploy_databases: PgDatabases, demo_sessions: list[str]
) -> None:
    """The README's UI path: the catalog filtered by the selection `ui_selection` (typed into
    its search bar, here in the URL it keeps) shows the market's eight OHLCV assets; select
    all, *Materialize selected*, one session and every symbol picked in the dialog, *Launch
    backfill*: the daemon runs that one backfill, which writes every timeframe (1w: the
    session's week), and the partitions tab of each shows that session materialised."""
    from backfill_pipeline.graphql_client import wait_for_backfill
    from backfill_pipeline.names import ui_selection
    from backfill_pipeline.timeframes import TIMEFRAME_NAMES

    base = deployed_stack.webserver_url
    market = MARKETS["us_equities"]
    session = last_closed_sessions(market, 3)[0].date().isoformat()  # the session before the demo's
    assert session not in demo_sessions
    symbols = _registered_symbols(deploy_databases)
    keys = [ohlcv_key(market.name, tf).to_user_string() for tf in TIMEFRAME_NAMES]

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/assets?asset-selection={quote(ui_selection(market.name))}")
    for key in keys:
        page.get_by_text(" / ".join(key.split("/")), exact=True).first.wait_for()
    shown = page.locator("[data-testid^='checkbox-']").evaluate_all("els => els.map(e => e.dataset.testid)")
    assert sorted(shown) == sorted(f"checkbox-{k}" for k in keys)  # exactly the eight, nothing else
    page.get_by_role("checkbox").first.locator("xpath=..").click()  # the header's: select all
    page.get_by_role("button").filter(has_text=re.compile(rf"^Materialize selected \({len(keys)}\)")).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"Launch runs to materialize {len(keys)} assets").wait_for()
    date_input = dialog.get_by_placeholder(re.compile(r"^ex: "))
    date_input.fill(session)
    date_input.press("Enter")
    dialog.get_by_role("button", name="All", exact=True).nth(1).click()  # every symbol
    dialog.get_by_text(f"{len(symbols)} partitions selected").wait_for()
    _shot(page, "ui_backfill_dialog")
    dialog.get_by_role("button", name="Launch backfill").click()
    created = page.get_by_text(re.compile(r"^Created backfill \w+$")).first
    created.wait_for()
    backfill_id = created.inner_text().split()[-1]
    status = wait_for_backfill(base, backfill_id, timeout_s=600, poll_s=5)
    assert status.succeeded, (status, deployed_stack.log_tail("daemon"))

    # every timeframe of every registered symbol holds bars of that session (1w: its week)
    engine = sa.create_engine(deploy_databases.warehouse_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT timeframe, count(DISTINCT symbol) FROM bars_by_series WHERE market = :m AND session = :s GROUP BY timeframe"),
            {"m": market.name, "s": session}).all()
    engine.dispose()
    assert {tf: n for tf, n in rows if tf != "1w"} == {tf: len(symbols) for tf in TIMEFRAME_NAMES if tf != "1w"}
    week = pd.Timestamp(session) - pd.Timedelta(days=pd.Timestamp(session).weekday())  # 1w keys: Mondays
    for tf in TIMEFRAME_NAMES:
        key = session if tf != "1w" else f"{week:%Y-%m-%d}"
        counts = _partition_counts(page, base, ohlcv_key(market.name, tf).to_user_string(), key)
        assert counts.get("Materialized") == len(symbols) and not counts.get("Failed"), (tf, counts)
    _shot(page, "ui_backfill_derived_4h")
    page.close()


def test_a_failed_partition_shows_as_failed_in_the_ui(
    browser, deployed_stack: Stack, deploy_databases: PgDatabases, demo_sessions: list[str]
) -> None:
    """A backfill whose fetch fails for one symbol (launched as the dialog does with run config,
    here the demo vendor's injected failure): the daemon's ranged run fails, and the partitions
    tab shows that symbol's partition as failed and the others as materialised, on the
    production event log storage (one planned event per asset and run)."""
    from backfill_pipeline.graphql_client import execute, wait_for_backfill

    base = deployed_stack.webserver_url
    market = MARKETS["us_equities"]
    session = last_closed_sessions(market, 4)[0].date().isoformat()  # not touched by the other tests
    symbols = [s for s in _registered_symbols(deploy_databases) if s in market.demo_symbols]
    failing = symbols[-1]
    asset = ohlcv_key(market.name, "1m")
    params = {
        "partitionsByAssets": [{"assetKey": {"path": list(asset.path)},
                                "partitions": {"ranges": [{"start": f"{session}|{symbols[0]}",
                                                           "end": f"{session}|{failing}"}]}}],
        "runConfigData": {"resources": {f"bars_{market.name}": {"config": {"fail_symbols": [failing]}}}},
        "title": "failure case",
    }
    result = execute(base, _LAUNCH_WITH_CONFIG, {"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    status = wait_for_backfill(base, result["backfillId"], timeout_s=600, poll_s=5)
    assert status.status == "COMPLETED_FAILED", (status, deployed_stack.log_tail("daemon"))
    assert "FAILURE" in status.run_statuses.values()

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    counts = _partition_counts(page, base, asset.to_user_string(), session)
    assert counts.get("Failed") == 1 and counts.get("Materialized") == len(symbols) - 1, counts
    page.get_by_text(session, exact=True).filter(visible=True).first.click()
    page.get_by_text(failing, exact=True).filter(visible=True).first.click()
    page.get_by_text(f"{session}|{failing}").filter(visible=True).first.wait_for()
    # the partition's latest run, read from the run's one planned event (its partition range)
    failed_run = next(r for r, st in status.run_statuses.items() if st == "FAILURE")
    page.get_by_text(re.compile(rf"Run {failed_run[:8]} failed, and did not materialize this asset")).first.wait_for()
    _shot(page, "partitions_failed")
    page.close()
