"""Macro indicators: configuration, the FRED-like demo source and its vintages, the point-in-time
and latest views (hand-built vintages, a seeded randomized property against a brute-force
reference), the assets and checks on SQLite and PostgreSQL, and the real FredClient wired in
through its resource against a local server speaking FRED's format with vintages."""

import datetime as dt
import io
import random

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backfill_pipeline.cli.main import cli
from backfill_pipeline.macro.asof import daily_table, field_daily, incomplete_records, lookahead_records
from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import MacroConfig, MacroField
from backfill_pipeline.macro.vintages import point_in_time, year_over_year_vintages
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.names import MACRO_DAILY_KEY, MACRO_OBSERVATIONS_KEY
from backfill_pipeline.read import read_macro
from backfill_pipeline.resources.macro import DemoMacroResource, FredMacroResource
from backfill_pipeline.resources.warehouse import WarehouseResource
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline.testing.fake_fred import FakeFred, rows_from_frame
from backfill_pipeline.warehouse.macro import read_vintages, replace_pit_daily, replace_vintages
from backfill_pipeline.warehouse.macro_tables import macro_daily_pit, macro_vintages
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import table_rows
from backfill_pipeline_tests.test_features_assets import checks, run
from backfill_pipeline_tests.vendors.test_fred import CPI_VINTAGES

TODAY = dt.date(2025, 1, 31)
D = pd.Timestamp
NAT = None
KEY = "k" * 32
CPI = MacroField("CPIAUCSL", "cpi", "monthly", required=False)


def vintages(rows: list[tuple[str, float, str, str | None]]) -> pd.DataFrame:
    """(date, value, realtime_start, realtime_end or None = in force) -> a vintage frame."""
    return pd.DataFrame({
        "date": pd.to_datetime([r[0] for r in rows]).astype("datetime64[ns]"),
        "value": np.array([r[1] for r in rows], dtype="float64"),
        "realtime_start": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ns]"),
        "realtime_end": pd.to_datetime([r[3] for r in rows]).astype("datetime64[ns]"),
    })


def sessions(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(days)))


def days(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else f"{v:%Y-%m-%d}" for v in values]


# A CPI month as ALFRED has it: March first released 312.230 on 2024-04-10, revised to
# 312.332 on 2024-04-24; April first "." (not published) on 2024-05-15, then 313.207.
CPI_FRAME = vintages([(r["date"], np.nan if r["value"] == "." else float(r["value"]), r["realtime_start"],
                       None if r["realtime_end"] == "9999-12-31" else r["realtime_end"]) for r in CPI_VINTAGES])


def test_series_list_and_staleness_are_configuration():
    config = MacroConfig.from_env({
        "BACKFILL_MACRO_REQUIRED": "DGS10,DEXUSEU@daily", "BACKFILL_MACRO_OPTIONAL": "CPIAUCSL:yoy",
        "BACKFILL_MACRO_STALENESS": "daily=3", "BACKFILL_MACRO_VENDOR": "FRED",
    })
    assert [(f.field, f.frequency, f.required, f.yoy) for f in config.fields()] == [
        ("ust_10y", "daily", True, False), ("dexuseu", "daily", True, False), ("cpi_yoy", "monthly", False, True)]
    assert config.vendor == "fred" and config.staleness("daily") == 3 and config.staleness("monthly") == 100
    assert config.staleness("quarterly") == 230
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
    # daily values: one vintage each, published the next weekday
    expected = dff["date"] + pd.to_timedelta(np.where(dff["date"].dt.dayofweek == 4, 3,
                                                      np.where(dff["date"].dt.dayofweek == 5, 2, 1)), unit="D")
    assert (dff["realtime_start"] == expected).all() and dff["realtime_end"].isna().all()
    whole = source.fetch_series("VIXCLS", dt.date(2024, 1, 1), dt.date(2024, 12, 31)).frame
    parts = pd.concat([DemoMacroSource(now=lambda: TODAY).fetch_series("VIXCLS", dt.date(2024, 1, 1), dt.date(2024, 6, 30)).frame,
                       source.fetch_series("VIXCLS", dt.date(2024, 7, 1), dt.date(2024, 12, 31)).frame], ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def _chained(frame: pd.DataFrame) -> None:
    """Each observation's real-time periods follow each other without gap or overlap."""
    for _, rows in frame.groupby("date"):
        starts, ends = rows["realtime_start"].tolist(), rows["realtime_end"].tolist()
        assert all(e == s - pd.Timedelta(days=1) for e, s in zip(ends[:-1], starts[1:], strict=True))
        assert pd.isna(ends[-1])


def test_demo_source_publishes_cpi_and_gdp_late_and_revises_some():
    source = DemoMacroSource(now=lambda: TODAY)
    cpi = source.fetch_series("CPIAUCSL", dt.date(2022, 1, 1), dt.date(2025, 1, 31)).frame
    first = cpi.groupby("date")["realtime_start"].min()
    assert (first.index.day == 1).all() and first.index[-1] == D("2024-12-01")  # January not released by Jan 31
    nxt = first.index + pd.DateOffset(months=1)
    xnys = sessions_in_range(MARKETS["us_equities"], dt.date(2022, 1, 1), dt.date(2025, 3, 1))
    assert ((first - nxt).dt.days.between(9, 17)).all() and first.isin(xnys).all()  # from the 10th, a business day
    _chained(cpi)
    revised = cpi[cpi.duplicated("date", keep=False)]
    months = revised["date"].nunique()
    assert 0.2 < months / first.size < 0.5  # about a third
    for date, rows in revised.groupby("date"):  # revised at the next month's first release, by 0.05-0.2%
        assert rows["realtime_start"].iloc[1] == first[date + pd.DateOffset(months=1)]
        assert 0.0005 <= abs(rows["value"].iloc[0] / rows["value"].iloc[1] - 1) <= 0.002 + 1e-6
    gdp = source.fetch_series("A191RL1Q225SBEA", dt.date(2022, 1, 1), dt.date(2025, 1, 31)).frame
    _chained(gdp)
    advance = gdp.groupby("date")["realtime_start"].min()
    quarter_end = advance.index + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    assert ((advance - quarter_end).dt.days.between(26, 33)).all()
    assert gdp.groupby("date").size().max() == 3 and gdp.groupby("date").size().mean() > 2  # advance, second, third
    # what "today" knows is what a later day knows, cut at today: nothing is rewritten
    later = DemoMacroSource(now=lambda: dt.date(2030, 1, 1)).fetch_series("CPIAUCSL", dt.date(2022, 1, 1),
                                                                           dt.date(2025, 1, 31)).frame
    cut = later[later["realtime_start"] <= D(TODAY)].copy()
    cut.loc[cut["realtime_end"] >= D(TODAY), "realtime_end"] = pd.NaT
    pd.testing.assert_frame_equal(cut.reset_index(drop=True), cpi)


def test_point_in_time_sees_a_value_from_its_release_day_at_its_published_value():
    days_ = sessions("2024-04-09", "2024-04-10", "2024-04-23", "2024-04-24", "2024-05-16", "2024-05-21")
    pit = field_daily(CPI_FRAME, CPI, days_, staleness_days=100)
    assert pit["value"].tolist() == [310.326, 312.230, 312.230, 312.332, 312.332, 313.207]
    assert days(pit["observation_date"]) == ["2024-02-01", "2024-03-01", "2024-03-01", "2024-03-01", "2024-03-01",
                                             "2024-04-01"]  # April's "." vintage is no value: March stays
    assert days(pit["release_date"]) == ["2024-03-12", "2024-04-10", "2024-04-10", "2024-04-24", "2024-04-24",
                                         "2024-05-21"]
    assert pit["age_days"].tolist() == [68, 40, 53, 54, 76, 50] and set(pit["status"]) == {"ok"}
    assert lookahead_records(pit)[0] == 0
    # as of the day before the release, a later session still sees February
    known = field_daily(CPI_FRAME, CPI, days_, 100, as_of=dt.date(2024, 4, 9))
    assert days(known["observation_date"]) == ["2024-02-01"] * 6 and known["value"].tolist()[:4] == [310.326] * 4
    assert known["status"].tolist() == ["ok"] * 4 + ["stale"] * 2  # 105 and 110 days old by May
    assert field_daily(CPI_FRAME, CPI, days_, 100, as_of=dt.date(2024, 4, 23))["value"].tolist()[-1] == 312.230
    # latest: today's vintage dated by observation: April on 9 April, weeks before its release
    latest = field_daily(CPI_FRAME, CPI, days_, 100, view="latest")
    assert latest["value"].tolist() == [313.207] * 6 and days(latest["release_date"])[0] == "2024-05-21"
    count, lines = lookahead_records(latest)
    assert count == 5 and lines[0] == "2024-04-09: cpi observed 2024-04-01 released 2024-05-21"
    # latest as of a date: the vintage in force then (ALFRED's series as of that day)
    before = field_daily(CPI_FRAME, CPI, sessions("2024-03-15"), 100, view="latest", as_of=dt.date(2024, 4, 12))
    after = field_daily(CPI_FRAME, CPI, sessions("2024-03-15"), 100, view="latest", as_of=dt.date(2024, 4, 24))
    assert before["value"].tolist() == [312.230] and after["value"].tolist() == [312.332]
    early = field_daily(CPI_FRAME, CPI, sessions("2024-03-11"), 100)
    assert early["status"].tolist() == ["missing"] and pd.isna(early["release_date"].iloc[0])
    with pytest.raises(ValueError, match="unknown macro view 'final'"):
        field_daily(CPI_FRAME, CPI, days_, 100, view="final")


def test_year_over_year_is_known_while_both_values_are():
    prior = vintages([("2023-03-01", 300.0, "2023-04-12", "2024-02-13"), ("2023-03-01", 301.0, "2024-02-14", None)])
    yoy = year_over_year_vintages(pd.concat([prior, CPI_FRAME], ignore_index=True))
    assert days(yoy["date"]) == ["2024-03-01", "2024-03-01"]
    assert days(yoy["realtime_start"]) == ["2024-04-10", "2024-04-24"] and days(yoy["realtime_end"]) == ["2024-04-23", None]
    np.testing.assert_allclose(yoy["value"], [(312.230 / 301 - 1) * 100, (312.332 / 301 - 1) * 100])
    field = MacroField("CPIAUCSL", "cpi_yoy", "monthly", False, yoy=True)
    pit = field_daily(pd.concat([prior, CPI_FRAME]), field, sessions("2024-04-09", "2024-04-10"), 100)
    assert pit["status"].tolist() == ["missing", "ok"]  # no year-earlier February: nothing to compare yet
    assert pit["value"].iloc[1] == pytest.approx((312.230 / 301 - 1) * 100)


def test_holidays_staleness_and_incomplete_records():
    dgs10 = vintages([("2024-10-10", 4.06, "2024-10-11", None), ("2024-10-11", 4.10, "2024-10-14", None),
                      ("2024-10-14", np.nan, "2024-10-15", None), ("2024-10-15", 4.03, "2024-10-16", None)])
    field = MacroField("DGS10", "ust_10y", "daily", required=True)
    rows = field_daily(dgs10, field, sessions("2024-10-11", "2024-10-14", "2024-10-15", "2024-10-16"), 5)
    assert rows["value"].tolist() == [4.06, 4.10, 4.10, 4.03]
    assert days(rows["observation_date"]) == ["2024-10-10", "2024-10-11", "2024-10-11", "2024-10-15"]
    assert rows["age_days"].tolist() == [1, 3, 4, 1]
    strict = field_daily(dgs10, field, sessions("2024-10-15"), 3)
    assert strict["status"].tolist() == ["stale"] and pd.isna(strict["value"].iloc[0])
    assert days(strict["release_date"]) == ["2024-10-14"]  # dates kept when stale
    config = MacroConfig(required=("DGS10",), optional=(), staleness_days=(("daily", 3),))
    table = daily_table(dgs10.assign(series_id="DGS10"), config, sessions("2024-10-14", "2024-10-15"))
    assert incomplete_records(table) == (1, ["2024-10-15: ust_10y stale (last 2024-10-11)"])


def _brute_force(rows: list[tuple], s: pd.Timestamp, cutoff: pd.Timestamp) -> tuple | None:
    """The newest observation (then the newest vintage) whose value is in force at the cutoff."""
    known = [(d, rs, v) for d, v, rs, re in rows
             if rs <= cutoff and (pd.isna(re) or re >= cutoff) and not np.isnan(v) and d <= s]
    if not known:
        return None
    d, rs, v = max(known, key=lambda k: (k[0], k[1]))
    return d, v, rs


def test_point_in_time_never_sees_a_release_after_its_session_randomized():
    """Seeded randomized property: on random vintage histories (revisions, "." vintages,
    withdrawn values, out-of-order releases) and random as-of dates, the pit view equals a
    brute-force reading of "known at the cutoff", and no release date is after its session."""
    rng = random.Random(20241010)
    base = D("2020-01-01")
    for _ in range(150):
        rows = []
        for obs in sorted(rng.sample(range(400), rng.randint(1, 12))):
            start = obs + rng.randint(0, 60)
            for k in range(rng.randint(1, 4)):
                length = rng.randint(1, 50)
                last = k == 3 or rng.random() < 0.3
                end = None if last and rng.random() < 0.8 else start + length
                value = np.nan if rng.random() < 0.15 else round(rng.uniform(1, 100), 3)
                rows.append(((base + pd.Timedelta(days=obs)).isoformat(), value,
                             (base + pd.Timedelta(days=start)).isoformat(),
                             None if end is None else (base + pd.Timedelta(days=end)).isoformat()))
                if end is None:
                    break
                start = end + 1
        v = vintages(rows)
        days_ = pd.DatetimeIndex(sorted({base + pd.Timedelta(days=rng.randint(0, 500)) for _ in range(40)}))
        as_of = None if rng.random() < 0.5 else (base + pd.Timedelta(days=rng.randint(0, 500))).date()
        pit = point_in_time(v, days_, as_of)
        listed = list(zip(v["date"], v["value"], v["realtime_start"], v["realtime_end"], strict=True))
        for row in pit.itertuples():
            cutoff = row.date if as_of is None else min(row.date, D(as_of))
            expected = _brute_force(listed, row.date, cutoff)
            if expected is None:
                assert pd.isna(row.observation_date) and pd.isna(row.release_date)
                continue
            assert (row.observation_date, row.value, row.release_date) == expected
            assert row.release_date <= cutoff <= row.date and row.observation_date <= row.date


def test_demo_pit_has_no_lookahead_and_latest_has():
    source = DemoMacroSource(now=lambda: TODAY)
    config = MacroConfig()
    frames = [source.fetch_series(s, dt.date(2018, 1, 1), dt.date(2024, 12, 31)).frame.assign(series_id=s)
              for s in config.series()]
    days_ = pd.DatetimeIndex(sessions_in_range(MARKETS["us_equities"], dt.date(2019, 6, 1), dt.date(2024, 12, 31)))
    pit = daily_table(pd.concat(frames, ignore_index=True), config, days_)
    assert lookahead_records(pit)[0] == 0 and incomplete_records(pit)[0] == 0
    cpi = pit[pit["field"] == "cpi"]
    changes = cpi[cpi["value"].ne(cpi["value"].shift())].iloc[1:]
    assert (changes["release_date"] == changes["date"]).all()  # CPI moves only on release days (XNYS sessions)
    latest = daily_table(pd.concat(frames, ignore_index=True), config, days_, view="latest")
    assert lookahead_records(latest)[0] > 0


def test_macro_assets_ranged_run_rerun_and_checks(warehouse_url, monkeypatch):
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    with dg.instance_for_test() as instance:
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
        strip = lambda rows: [r[:-1] for r in rows]  # fetched_at
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
        with pytest.raises(sa.exc.IntegrityError, match="ck_macro_daily_pit_no_lookahead|CHECK constraint"):
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
    with dg.instance_for_test() as instance:
        result = run(instance, warehouse_url, [MACRO_OBSERVATIONS_KEY, MACRO_DAILY_KEY], start="2024-10-10",
                     end="2024-10-15", macro=_fred(httpserver, warehouse_url, fake))
        assert result.success
        assert fake.requests == {s: 1 for s in MacroConfig().series()}  # one request per series per range
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
    with dg.instance_for_test() as instance:
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
