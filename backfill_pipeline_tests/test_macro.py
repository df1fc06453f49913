"""Macro indicators: configuration, the FRED-like demo source, as-of logic over holidays and
monthly/quarterly series, "." values, the assets on SQLite and PostgreSQL, and the real
FredClient wired in through its resource against a local server speaking FRED's format."""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from werkzeug import Request, Response

from backfill_pipeline.macro.asof import daily_table, field_asof, incomplete_records, year_over_year
from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import DEFAULT_REQUIRED, MacroConfig, MacroField
from backfill_pipeline.names import MACRO_DAILY_KEY, MACRO_OBSERVATIONS_KEY
from backfill_pipeline.read import read_macro
from backfill_pipeline.resources.macro import FredMacroResource
from backfill_pipeline.resources.warehouse import WarehouseResource
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.warehouse.schema_derived import macro_daily, macro_observations
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.test_features_assets import checks, run

TODAY = dt.date(2025, 1, 31)
D = pd.Timestamp
OCT = pd.DatetimeIndex(pd.to_datetime(["2024-10-10", "2024-10-11", "2024-10-14", "2024-10-15"]))


def test_series_list_and_staleness_are_configuration():
    config = MacroConfig.from_env({
        "BACKFILL_MACRO_REQUIRED": "DGS10,DEXUSEU@daily", "BACKFILL_MACRO_OPTIONAL": "CPIAUCSL:yoy",
        "BACKFILL_MACRO_STALENESS": "daily=3", "BACKFILL_MACRO_VENDOR": "FRED",
    })
    assert [(f.field, f.frequency, f.required, f.yoy) for f in config.fields()] == [
        ("ust_10y", "daily", True, False), ("dexuseu", "daily", True, False), ("cpi_yoy", "monthly", False, True)]
    assert config.vendor == "fred" and config.staleness("daily") == 3 and config.staleness("monthly") == 100
    assert config.series() == {"DGS10": "daily", "DEXUSEU": "daily", "CPIAUCSL": "monthly"}
    assert config.fetch_lookback_days("CPIAUCSL") == 100 + 370  # a year more for year-over-year
    assert MacroConfig().fields()[0].field == "fed_funds" and len(MacroConfig().fields()) == 10
    for env, message in (
        ({"BACKFILL_MACRO_VENDOR": "quandl"}, "BACKFILL_MACRO_VENDOR='quandl'"),
        ({"BACKFILL_MACRO_REQUIRED": "DEXUSEU"}, "give its frequency"),
        ({"BACKFILL_MACRO_OPTIONAL": "DGS10:yoy"}, "only ':yoy' of a monthly or quarterly"),
        ({"BACKFILL_MACRO_OPTIONAL": "DGS10"}, "configured twice: ust_10y"),
        ({"BACKFILL_MACRO_STALENESS": "hourly=1"}, "not FREQUENCY=DAYS"),
    ):
        with pytest.raises(SettingsError, match=message):
            Settings.from_env(env)


def test_demo_source_looks_like_fred():
    source = DemoMacroSource(now=lambda: TODAY)
    q4 = (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    dff = source.fetch_series("DFF", *q4).frame
    assert len(dff) == 92 and dff["value"].notna().all()  # every calendar day
    dgs10 = source.fetch_series("DGS10", *q4).frame.set_index("date")["value"]
    assert (dgs10.index.dayofweek < 5).all() and len(dgs10) == 66
    # "." on Columbus Day, Veterans Day, Thanksgiving, Christmas (bond market holidays)
    assert list(dgs10[dgs10.isna()].index.strftime("%m-%d")) == ["10-14", "11-11", "11-28", "12-25"]
    vix = source.fetch_series("VIXCLS", *q4).frame.set_index("date")["value"]
    assert list(vix[vix.isna()].index.strftime("%m-%d")) == ["11-28", "12-25"]  # stocks open on Columbus Day
    dgs2 = source.fetch_series("DGS2", *q4).frame.set_index("date")["value"]
    spread = source.fetch_series("T10Y2Y", *q4).frame.set_index("date")["value"]
    np.testing.assert_allclose(spread.dropna(), (dgs10 - dgs2).dropna().round(2))
    assert 0 < dgs2.min() and dgs10.max() < 15 and 9 <= vix.min() and vix.max() <= 85
    cpi = source.fetch_series("CPIAUCSL", dt.date(2024, 1, 1), dt.date(2025, 1, 31)).frame
    assert cpi["date"].dt.day.eq(1).all() and cpi["date"].iloc[-1] == D("2024-12-01")  # January not published yet
    gdp = source.fetch_series("A191RL1Q225SBEA", dt.date(2024, 1, 1), dt.date(2025, 1, 31)).frame
    assert list(gdp["date"].dt.strftime("%m-%d")) == ["01-01", "04-01", "07-01", "10-01"]  # Q4 out 120 days on
    early = DemoMacroSource(now=lambda: dt.date(2025, 1, 28)).fetch_series("A191RL1Q225SBEA", dt.date(2024, 1, 1), TODAY)
    assert len(early.frame) == 3
    whole = source.fetch_series("VIXCLS", dt.date(2024, 1, 1), dt.date(2024, 12, 31)).frame
    parts = pd.concat([DemoMacroSource(now=lambda: TODAY).fetch_series("VIXCLS", dt.date(2024, 1, 1), dt.date(2024, 6, 30)).frame,
                       source.fetch_series("VIXCLS", dt.date(2024, 7, 1), dt.date(2024, 12, 31)).frame], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)
    assert (whole["realtime_start"] == D(TODAY)).all()


def _obs(pairs: list[tuple[str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime([d for d, _ in pairs]), "value": [v for _, v in pairs]})


def test_asof_skips_dots_over_holidays_and_goes_stale():
    daily = MacroField("DGS10", "ust_10y", "daily", required=True)
    obs = _obs([("2024-10-10", 4.06), ("2024-10-11", 4.10), ("2024-10-14", np.nan), ("2024-10-15", 4.03)])
    rows = field_asof(obs, daily, OCT, staleness_days=5)
    assert rows["value"].tolist() == [4.06, 4.10, 4.10, 4.03]
    assert rows["observation_date"].dt.strftime("%m-%d").tolist() == ["10-10", "10-11", "10-11", "10-15"]
    assert rows["age_days"].tolist() == [0, 0, 3, 0] and rows["status"].tolist() == ["ok"] * 4
    strict = field_asof(obs, daily, OCT, staleness_days=2)
    assert strict["status"].tolist() == ["ok", "ok", "stale", "ok"] and pd.isna(strict["value"].iloc[2])
    early = field_asof(obs, daily, pd.DatetimeIndex([D("2024-10-09")]), staleness_days=5)
    assert early["status"].tolist() == ["missing"] and pd.isna(early["observation_date"].iloc[0])


def test_asof_of_monthly_quarterly_and_year_over_year():
    cpi = _obs([(f"{y}-{m:02d}-01", 300.0 + (y - 2023) * 12 + m) for y in (2023, 2024) for m in range(1, 13)])
    field = MacroField("CPIAUCSL", "cpi", "monthly", required=False)
    sessions = pd.DatetimeIndex(pd.to_datetime(["2024-03-15", "2024-04-01", "2025-04-15"]))
    rows = field_asof(cpi, field, sessions, staleness_days=100)
    assert rows["value"].tolist()[:2] == [315.0, 316.0] and rows["status"].tolist() == ["ok", "ok", "stale"]
    assert rows["observation_date"].iloc[2] == D("2024-12-01") and rows["age_days"].iloc[2] == 135
    yoy = year_over_year(cpi)
    assert yoy["date"].min() == D("2024-01-01") and yoy["value"].iloc[0] == pytest.approx((313 / 301 - 1) * 100)
    yoy_rows = field_asof(cpi, MacroField("CPIAUCSL", "cpi_yoy", "monthly", False, yoy=True), sessions, 100)
    assert yoy_rows["value"].iloc[0] == pytest.approx((315 / 303 - 1) * 100)
    gdp = _obs([("2024-01-01", 1.6), ("2024-04-01", 3.0), ("2024-07-01", 3.1)])
    g = field_asof(gdp, MacroField("A191RL1Q225SBEA", "gdp_growth", "quarterly", False), sessions, 200)
    np.testing.assert_allclose(g["value"], [1.6, 3.0, np.nan])
    assert g["observation_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-04-01", "2024-07-01"]
    assert g["status"].tolist() == ["ok", "ok", "stale"]  # 288 days after the last quarter's start


def test_incomplete_records_list_dates_and_fields():
    config = MacroConfig(required=("DGS10", "VIXCLS"), optional=(), staleness_days=(("daily", 2),))
    obs = pd.concat([
        _obs([("2024-10-10", 4.06), ("2024-10-11", 4.10), ("2024-10-15", 4.03)]).assign(series_id="DGS10"),
        _obs([("2024-10-10", 20.0), ("2024-10-11", 21.0), ("2024-10-14", 22.0)]).assign(series_id="VIXCLS"),
    ])
    table = daily_table(obs, config, OCT)
    count, lines = incomplete_records(table)
    assert count == 1 and lines == ["2024-10-14: ust_10y stale (last 2024-10-11)"]
    assert table.set_index(["date", "field"]).loc[(D("2024-10-15"), "vix"), "age_days"] == 1


def test_macro_assets_ranged_run_rerun_and_check(warehouse_url):
    with dg.instance_for_test() as instance:
        keys = [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY]
        result = run(instance, warehouse_url, keys, start="2024-10-01", end="2024-10-31")
        assert result.success
        mats = result.get_asset_materialization_events()
        assert len(mats) == 2 * 23  # 23 XNYS sessions in October 2024, both assets
        raw = next(m for m in mats if m.asset_key == MACRO_OBSERVATIONS_KEY).materialization.metadata
        assert raw["requests"].value == 9  # one request per series for the whole range
        check = checks(result)[("macro/daily", "required_fields")]
        assert check.passed and check.metadata["incomplete_sessions"].value == 0
        first = (table_rows(warehouse_url, macro_observations), table_rows(warehouse_url, macro_daily))
        assert len(first[1]) == 23 * 10
        assert run(instance, warehouse_url, keys, start="2024-10-01", end="2024-10-31").success
        strip = lambda rows: [r[:-1] for r in rows]
        assert strip(table_rows(warehouse_url, macro_observations)) == strip(first[0])
        assert table_rows(warehouse_url, macro_daily) == first[1]

        wide = read_macro("2024-10-11", "2024-10-14", url=warehouse_url).set_index("date")
        assert wide.loc[D("2024-10-14"), "ust_10y_date"] == D("2024-10-11")  # Columbus Day: Friday's yield
        assert wide.loc[D("2024-10-14"), "ust_10y"] == wide.loc[D("2024-10-11"), "ust_10y"]
        assert wide.loc[D("2024-10-14"), "vix_date"] == D("2024-10-14")
        assert wide.loc[D("2024-10-14"), "cpi_date"] == D("2024-10-01")
        assert wide.loc[D("2024-10-14"), "gdp_growth_date"] == D("2024-10-01")
        assert list(wide.columns[:2]) == ["fed_funds", "fed_funds_date"]

        # a staleness of 0 days turns the bond-market holiday into an incomplete record
        strict = Settings(macro=MacroConfig(staleness_days=(("daily", 0), ("weekly", 12), ("monthly", 100),
                                                            ("quarterly", 200))))
        result = run(instance, warehouse_url, [MACRO_DAILY_KEY], partition_key="2024-10-14", settings=strict)
        check = checks(result)[("macro/daily", "required_fields")]
        assert result.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["incomplete_list"].value == [
            ("2024-10-14: usd_broad stale (last 2024-10-11), ust_2y stale (last 2024-10-11), ust_10y stale "
            "(last 2024-10-11), ust_10y_2y stale (last 2024-10-11), bbb_yield stale (last 2024-10-11)")]


def test_fred_client_plugs_in_through_its_resource(httpserver, warehouse_url):
    demo = DemoMacroSource(now=lambda: TODAY)
    requests: list[str] = []

    def handle(request: Request) -> Response:
        series = request.args["series_id"]
        requests.append(series)
        frame = demo.fetch_series(series, dt.date.fromisoformat(request.args["observation_start"]),
                                  dt.date.fromisoformat(request.args["observation_end"])).frame
        rows = [{"realtime_start": "2025-01-31", "realtime_end": "2025-01-31", "date": f"{d:%Y-%m-%d}",
                 "value": "." if np.isnan(v) else f"{v}"} for d, v in zip(frame["date"], frame["value"], strict=True)]
        return Response(json.dumps({"count": len(rows), "offset": 0, "limit": 100000, "observations": rows}),
                        content_type="application/json")

    httpserver.expect_request("/fred/series/observations").respond_with_handler(handle)
    fred = FredMacroResource(api_keys="k" * 32, base_url=httpserver.url_for("").rstrip("/"),
                             warehouse=WarehouseResource(url=warehouse_url))
    with dg.instance_for_test() as instance:
        result = run(instance, warehouse_url, [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY], start="2024-10-10",
                     end="2024-10-15", macro=fred)
        assert result.success
        assert sorted(requests) == sorted(MacroConfig().series())
        assert checks(result)[("macro/daily", "required_fields")].passed
    stored = {r[0]: r[4] for r in table_rows(warehouse_url, macro_observations)}
    assert set(stored.values()) == {"fred"} and set(DEFAULT_REQUIRED) <= set(stored)
    wide = read_macro("2024-10-14", "2024-10-14", url=warehouse_url)
    assert wide["ust_10y_date"].iloc[0] == D("2024-10-11")


def test_the_fred_vendor_is_one_setting():
    from backfill_pipeline.definitions import build_definitions
    from backfill_pipeline.resources.macro import DemoMacroResource

    fred = build_definitions(Settings.from_env({"BACKFILL_MACRO_VENDOR": "fred"}))
    assert isinstance(fred.resources["macro"], FredMacroResource)  # keys from FRED_API_KEYS at run time
    assert {k: a.op.pool for a in fred.assets for k in a.keys}[MACRO_OBSERVATIONS_KEY] == "vendor_fred"
    demo = build_definitions(Settings())
    assert isinstance(demo.resources["macro"], DemoMacroResource)
    assert {k: a.op.pool for a in demo.assets for k in a.keys}[MACRO_OBSERVATIONS_KEY] == "vendor_demo"
