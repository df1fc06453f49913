"""Macro indicators: configuration, the FRED-like demo source and its vintages, and the
point-in-time and latest views (hand-built vintages, a seeded randomized property against a
brute-force reference). Assets, storage and FRED end to end: test_macro_assets.py."""

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.macro.asof import daily_table, field_daily, incomplete_records, lookahead_records
from backfill_pipeline.macro.demo import DemoMacroSource
from backfill_pipeline.macro.series import MacroConfig, MacroField
from backfill_pipeline.macro.vintages import point_in_time, year_over_year_vintages
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.settings import Settings, SettingsError
from backfill_pipeline_tests.vendors.test_fred import CPI_VINTAGES

TODAY = dt.date(2025, 1, 31)
D = pd.Timestamp
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
    assert dgs2.min() > 0 and dgs10.max() < 15 and vix.min() >= 9 and vix.max() <= 85
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
