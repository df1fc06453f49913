"""Macro assets and storage on SQLite and PostgreSQL: ranged runs, re-runs and both checks, the
no-look-ahead constraint, window replacement, and the real FredClient wired in through its
resource against a local server speaking FRED's format with vintages (stored rows equal the
served ones; `backfill-pipeline macro --as-of` around a release and a revision)."""

import datetime as dt
import io

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backfill_pipeline.cli.main import cli
from backfill_pipeline.macro.asof import field_daily
from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import MacroConfig
from backfill_pipeline.names import MACRO_DAILY_KEY, MACRO_OBSERVATIONS_KEY
from backfill_pipeline.read import read_macro
from backfill_pipeline.resources.macro import DemoMacroResource
from backfill_pipeline.settings import Settings
from backfill_pipeline.testing.fake_fred import FakeFred, rows_from_frame
from backfill_pipeline.vendors.fred.resource import FredMacroResource
from backfill_pipeline.warehouse.macro import read_vintages, replace_pit_daily, replace_vintages
from backfill_pipeline.warehouse.macro_tables import macro_daily_pit, macro_vintages
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.instances import shipped_instance
from backfill_pipeline_tests.test_features_assets import checks, run
from backfill_pipeline_tests.test_macro import CPI, CPI_FRAME, KEY, TODAY, D, sessions, vintages
from backfill_pipeline_tests.vendors.test_fred import CPI_VINTAGES


def test_macro_assets_ranged_run_rerun_and_checks(warehouse_url, monkeypatch):
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    with shipped_instance() as instance:
        keys = [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY]
        demo = DemoMacroResource(today=TODAY.isoformat())  # what was released by then, whatever today is
        result = run(instance, warehouse_url, keys, start="2024-10-01", end="2024-10-31", macro=demo)
        assert result.success
        mats = result.get_asset_materialization_events()
        assert len(mats) == 2 * 23  # 23 XNYS sessions in October 2024, both assets
        raw = next(m for m in mats if m.asset_key == MACRO_OBSERVATIONS_KEY).materialization.metadata
        assert raw["requests"].value == 9  # one request per series for the whole range, vintages included
        found = checks(result)
        assert found[("macro/daily", "required_fields")].passed
        assert found[("macro/daily", "required_fields")].metadata["incomplete_sessions"].value == 0
        pit_check = found[("macro/daily", "point_in_time")]
        assert pit_check.passed and pit_check.metadata["lookahead_rows"].value == 0
        assert pit_check.metadata["rows_checked"].value == 23 * 10
        first = (table_rows(warehouse_url, macro_vintages), table_rows(warehouse_url, macro_daily_pit))
        assert len(first[1]) == 23 * 10
        assert run(instance, warehouse_url, keys, start="2024-10-01", end="2024-10-31", macro=demo).success
        def strip(rows: list) -> list:
            return [r[:-1] for r in rows]  # without fetched_at

        assert strip(table_rows(warehouse_url, macro_vintages)) == strip(first[0])
        assert table_rows(warehouse_url, macro_daily_pit) == first[1]

        wide = read_macro("2024-10-11", "2024-10-15", url=warehouse_url).set_index("date")
        # Columbus Day: the bond market is shut, so 10-14's yield is "." and 10-11's stays
        assert wide.loc[D("2024-10-14"), "ust_10y_date"] == D("2024-10-11")
        assert wide.loc[D("2024-10-15"), "ust_10y_date"] == D("2024-10-11")
        assert wide.loc[D("2024-10-15"), "ust_10y_released"] == D("2024-10-14")
        assert wide.loc[D("2024-10-15"), "vix_date"] == D("2024-10-14")  # stocks were open
        cpi = DemoMacroSource(now=lambda: TODAY).fetch_series("CPIAUCSL", dt.date(2024, 8, 1), dt.date(2024, 9, 1)).frame
        september = cpi.loc[cpi["date"] == D("2024-09-01"), "realtime_start"].min()
        for day in wide.index:
            assert wide.loc[day, "cpi_date"] == (D("2024-09-01") if september <= day else D("2024-08-01"))
            assert wide.loc[day, "cpi_released"] <= day
        assert list(wide.columns[:3]) == ["fed_funds", "fed_funds_date", "fed_funds_released"]
        # the stored pit table is what the vintages say when read back with a cutoff
        stored = read_macro("2024-10-01", "2024-10-31", url=warehouse_url, long=True)
        computed = read_macro("2024-10-01", "2024-10-31", url=warehouse_url, long=True, as_of="2024-10-31")
        pd.testing.assert_frame_equal(stored, computed, check_dtype=False)
        latest = read_macro("2024-10-14", "2024-10-14", url=warehouse_url, view="latest").iloc[0]
        assert latest["cpi_date"] == D("2024-10-01") and latest["cpi_released"] > D("2024-10-14")  # look-ahead

        # a staleness of 3 days turns the day after the bond-market holiday into an incomplete record
        strict = Settings(macro=MacroConfig(staleness_days=(("daily", 3), ("weekly", 12), ("monthly", 100),
                                                            ("quarterly", 230))))
        result = run(instance, warehouse_url, [MACRO_DAILY_KEY], partition_key="2024-10-15", settings=strict)
        check = checks(result)[("macro/daily", "required_fields")]
        assert result.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["incomplete_list"].value == [
            ("2024-10-15: usd_broad stale (last 2024-10-11), ust_2y stale (last 2024-10-11), ust_10y stale "
             "(last 2024-10-11), ust_10y_2y stale (last 2024-10-11), bbb_yield stale (last 2024-10-11)")]


def test_the_warehouse_refuses_a_value_released_after_its_session(warehouse_url):
    wh = Warehouse(warehouse_url)
    try:
        ahead = field_daily(CPI_FRAME, CPI, sessions("2024-04-09"), 100, view="latest")  # released 2024-05-21
        with pytest.raises(sa.exc.IntegrityError, match=r"ck_macro_daily_pit_no_lookahead|CHECK constraint"):
            replace_pit_daily(wh, [dt.date(2024, 4, 9)], ahead)
        assert table_rows(warehouse_url, macro_daily_pit) == []
    finally:
        wh.dispose()


def test_a_fetch_replaces_exactly_its_window_of_observations(warehouse_url):
    wh = Warehouse(warehouse_url)
    at = dt.datetime(2024, 6, 30, tzinfo=dt.UTC)
    try:
        assert replace_vintages(wh, "CPIAUCSL", dt.date(2024, 1, 1), dt.date(2024, 6, 30), CPI_FRAME, "fred", at) == 5
        # a later fetch of March alone brings a second revision: March's rows are replaced, the rest untouched
        march = vintages([("2024-03-01", 312.230, "2024-04-10", "2024-04-23"),
                          ("2024-03-01", 312.332, "2024-04-24", "2025-02-11"),
                          ("2024-03-01", 312.107, "2025-02-12", None)])
        assert replace_vintages(wh, "CPIAUCSL", dt.date(2024, 3, 1), dt.date(2024, 3, 31), march, "fred", at) == 3
        back = read_vintages(wh, ["CPIAUCSL"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
        expected = pd.concat([CPI_FRAME[CPI_FRAME["date"] != D("2024-03-01")], march]).sort_values(
            ["date", "realtime_start"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(back.drop(columns="series_id"), expected)
        assert (back["series_id"] == "CPIAUCSL").all()
    finally:
        wh.dispose()


def _fred(httpserver, warehouse_url: str, fake: FakeFred) -> FredMacroResource:
    httpserver.expect_request("/fred/series/observations").respond_with_handler(fake.handle)
    return FredMacroResource(api_keys=KEY, base_url=httpserver.url_for("").rstrip("/"),
                             warehouse=WarehouseResource(url=warehouse_url))


def _served(fake: FakeFred, series_id: str) -> list[tuple]:
    return [(series_id, r["date"], r["realtime_start"], r["realtime_end"],
             None if r["value"] == "." else float(r["value"]), "fred") for r in fake.series[series_id]]


def test_fred_client_plugs_in_through_its_resource(httpserver, warehouse_url):
    demo = DemoMacroSource(now=lambda: TODAY)
    served = {s: rows_from_frame(demo.fetch_series(s, dt.date(2023, 6, 1), dt.date(2024, 10, 31)).frame)
              for s in MacroConfig().series()}
    fake = FakeFred(served, api_key=KEY, today=TODAY)
    with shipped_instance() as instance:
        result = run(instance, warehouse_url, [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY], start="2024-10-10",
                     end="2024-10-15", macro=_fred(httpserver, warehouse_url, fake))
        assert result.success
        assert fake.requests == dict.fromkeys(MacroConfig().series(), 1)  # one request per series per range
        assert checks(result)[("macro/daily", "required_fields")].passed
        assert checks(result)[("macro/daily", "point_in_time")].passed
    config = MacroConfig()
    stored = [tuple(str(x) if isinstance(x, dt.date) else x for x in r[:6])
              for r in table_rows(warehouse_url, macro_vintages)]
    expected = sorted(
        row for s in config.series() for row in _served(fake, s)
        if str(dt.date(2024, 10, 10) - dt.timedelta(days=config.fetch_lookback_days(s))) <= row[1] <= "2024-10-15"
    )
    assert stored == expected  # every vintage stored exactly as served
    wide = read_macro("2024-10-15", "2024-10-15", url=warehouse_url)
    assert wide["ust_10y_date"].iloc[0] == D("2024-10-11")


def test_fred_vintages_as_of_a_release(httpserver, warehouse_url, monkeypatch):
    """March 2024 CPI: 310.326 (February) until 2024-04-10, 312.230 from its release, 312.332
    from its revision on 2024-04-24; April's first vintage is "." and does not count."""
    fake = FakeFred({"CPIAUCSL": CPI_VINTAGES}, api_key=KEY, today=dt.date(2024, 6, 30))
    only_cpi = Settings(macro=MacroConfig(vendor="fred", required=(), optional=("CPIAUCSL",)))
    with shipped_instance() as instance:
        result = run(instance, warehouse_url, [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY], start="2024-04-01",
                     end="2024-05-31", settings=only_cpi, macro=_fred(httpserver, warehouse_url, fake))
        assert result.success and fake.requests == {"CPIAUCSL": 1}
        assert checks(result)[("macro/daily", "point_in_time")].passed
    stored = [tuple(str(x) if isinstance(x, dt.date) else x for x in r[:6])
              for r in table_rows(warehouse_url, macro_vintages)]
    assert stored == _served(fake, "CPIAUCSL")
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BACKFILL_MACRO_REQUIRED", "")
    monkeypatch.setenv("BACKFILL_MACRO_OPTIONAL", "CPIAUCSL")

    def cli_cpi(*args: str) -> pd.DataFrame:
        out = CliRunner().invoke(cli, ["macro", "--series", "CPIAUCSL", *args], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        return pd.read_csv(io.StringIO(out.output))

    def known(session: str, as_of: str) -> tuple[float, str, str]:
        row = cli_cpi("--start", session, "--end", session, "--as-of", as_of).iloc[0]
        return row["cpi"], row["cpi_date"], row["cpi_released"]

    assert known("2024-04-10", "2024-04-09") == (310.326, "2024-02-01", "2024-03-12")  # the day before the release
    assert known("2024-04-10", "2024-04-10") == (312.230, "2024-03-01", "2024-04-10")  # release day: first value
    assert known("2024-04-24", "2024-04-24") == (312.332, "2024-03-01", "2024-04-24")  # after the revision
    assert known("2024-05-16", "2024-05-16") == (312.332, "2024-03-01", "2024-04-24")  # April is "." there
    assert known("2024-05-21", "2024-05-21") == (313.207, "2024-04-01", "2024-05-21")
    pit = cli_cpi("--start", "2024-04-08", "--end", "2024-05-31")  # the stored macro/daily
    changes = pit[pit["cpi"].ne(pit["cpi"].shift())]
    assert changes["date"].tolist() == ["2024-04-08", "2024-04-10", "2024-04-24", "2024-05-21"]
    assert (changes["date"].iloc[1:] == changes["cpi_released"].iloc[1:]).all()
    latest = cli_cpi("--start", "2024-04-08", "--end", "2024-04-08", "--view", "latest").iloc[0]
    assert (latest["cpi"], latest["cpi_date"], latest["cpi_released"]) == (313.207, "2024-04-01", "2024-05-21")
    old = cli_cpi("--start", "2024-03-15", "--end", "2024-03-15", "--view", "latest", "--as-of", "2024-04-12")
    assert old["cpi"].tolist() == [312.230]  # March as first published, dated by observation


def test_the_fred_vendor_is_one_setting():
    from backfill_pipeline.definitions import build_definitions

    fred = build_definitions(Settings.from_env({"BACKFILL_MACRO_VENDOR": "fred"}))
    assert isinstance(fred.resources["macro"], FredMacroResource)  # keys from FRED_API_KEYS at run time
    assert {k: a.op.pool for a in fred.assets for k in a.keys}[MACRO_OBSERVATIONS_KEY] == "vendor_fred"
    demo = build_definitions(Settings())
    assert isinstance(demo.resources["macro"], DemoMacroResource)
    assert {k: a.op.pool for a in demo.assets for k in a.keys}[MACRO_OBSERVATIONS_KEY] == "vendor_demo"
