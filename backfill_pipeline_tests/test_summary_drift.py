"""Holes cut behind the pipeline's back (direct SQL on `bars` and on the summary), SQLite and
PostgreSQL: the default scan, the report and the `complete` check see exactly them, and
`scan --recount` agrees with the default on every state."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline.assets.ohlcv_checks import completeness_result
from backfill_pipeline.gaps import FILLABLE, scan
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.report import series_report
from backfill_pipeline.timeframes import derivation_sources
from backfill_pipeline.vendors.demo.resource import DemoVendorResource
from backfill_pipeline.warehouse.schema import bar_sessions, bars, series
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.helpers import materialize

EQ = MARKETS["us_equities"]
SOURCES = derivation_sources(("1m", "1d"))
# Thanksgiving week 2024: 11-28 closed, 11-29 closes at 13:00 ET (210 one-minute bars)
WEEK = sessions_in_range(EQ, dt.date(2024, 11, 25), dt.date(2024, 11, 29))
SYMBOLS = ["AAPL", "MSFT", "SPY", "IWM", "THIN"]


def _sid(conn, symbol: str) -> int:
    return conn.execute(sa.select(series.c.id).where(series.c.symbol == symbol, series.c.timeframe == "1m")).scalar_one()


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def stored(warehouse_url):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("us_equities_symbols", SYMBOLS)
        for symbol in SYMBOLS[:-1]:
            assert materialize(instance, warehouse_url, "us_equities", ["1m"],
                               start=f"2024-11-25|{symbol}", end=f"2024-11-29|{symbol}").success
        thin = DemoVendorResource(illiquid_symbols=["THIN"], no_trade_share=0.2)
        assert materialize(instance, warehouse_url, "us_equities", ["1m"], start="2024-11-25|THIN",
                           end="2024-11-29|THIN", demo=thin).success
    wh = Warehouse(warehouse_url)
    yield wh
    wh.dispose()


def _fillable(table: pd.DataFrame) -> set[tuple[str, str]]:
    gaps = table[table["gap_class"].isin(FILLABLE)]
    return {(r.symbol, f"{r.session:%Y-%m-%d}") for r in gaps.itertuples()}


def test_holes_cut_by_direct_sql_are_found_by_the_default_scan(stored):
    wh = stored
    before = scan(wh, EQ, SYMBOLS, ["1m"], WEEK, SOURCES)
    assert _fillable(before) == set()
    b = bars
    with wh.engine.begin() as conn:
        # a whole session; one minute; the last minute of the early close; a thin symbol's whole session
        conn.execute(b.delete().where(b.c.series_id == _sid(conn, "AAPL"), b.c.session == _day("2024-11-26")))
        msft = _sid(conn, "MSFT")
        conn.execute(b.delete().where(b.c.series_id == msft, b.c.session == _day("2024-11-25"),
                                      b.c.ts == int(pd.Timestamp("2024-11-25 15:00", tz="UTC").timestamp())))
        spy = _sid(conn, "SPY")
        last = sa.select(sa.func.max(b.c.ts)).where(b.c.series_id == spy, b.c.session == _day("2024-11-29"))
        last_ts = conn.execute(last).scalar_one()
        assert pd.Timestamp(last_ts, unit="s", tz="UTC") == pd.Timestamp("2024-11-29 17:59", tz="UTC")
        conn.execute(b.delete().where(b.c.series_id == spy, b.c.ts == last_ts))
        conn.execute(b.delete().where(b.c.series_id == _sid(conn, "THIN"), b.c.session == _day("2024-11-27")))
    damaged = {("AAPL", "2024-11-26"), ("MSFT", "2024-11-25"), ("SPY", "2024-11-29"), ("THIN", "2024-11-27")}
    # the summary alone cannot be changed: deleting or altering a row of it is refused
    iwm = None
    for statement in ("delete", "update", "insert"):
        with pytest.raises(sa.exc.DatabaseError, match="bar_sessions is kept by the database"), wh.engine.begin() as conn:
            iwm = _sid(conn, "IWM")
            key = (bar_sessions.c.series_id == iwm, bar_sessions.c.session == _day("2024-11-27"))
            if statement == "delete":
                conn.execute(bar_sessions.delete().where(*key))
            elif statement == "update":
                conn.execute(bar_sessions.update().where(*key).values(bars=100))
            else:  # a summary row for a session with no bars
                conn.execute(bar_sessions.insert().values(series_id=iwm, session=_day("2024-12-02"), bars=1))

    table = scan(wh, EQ, SYMBOLS, ["1m"], WEEK, SOURCES)
    found = _fillable(table)
    assert found == damaged  # precision and recall 1.0; IWM (the decoy) stays complete
    assert set(table[table["symbol"] == "IWM"]["gap_class"]) == {"complete"}
    counts = table.set_index(["symbol", "session"])["present"]
    assert counts[("AAPL", pd.Timestamp("2024-11-26"))] == 0
    assert counts[("MSFT", pd.Timestamp("2024-11-25"))] == 389
    assert counts[("SPY", pd.Timestamp("2024-11-29"))] == 209
    audit = scan(wh, EQ, SYMBOLS, ["1m"], WEEK, SOURCES, recount=True)
    pd.testing.assert_frame_equal(table, audit)

    report = series_report(table).set_index("symbol")
    assert report.loc["AAPL", "missing"] == 390 and report.loc["MSFT", "missing"] == 1
    assert report.loc["SPY", "missing"] == 1 and report.loc["IWM", "missing"] == 0
    assert report["not_fetched"].sum() == len(damaged)
    check = completeness_result(dg.AssetKey(["ohlcv", "us_equities", "1m"]), table, tolerance=0.5)
    assert not check.passed and check.metadata["failing_partitions"].value == len(damaged)
    listed = {tuple(item.split(":")[0].split(" ")) for item in check.metadata["short_partition_list"].value
              if item.endswith("not_fetched")}
    assert listed == damaged


def test_bars_inserted_and_updated_by_direct_sql_move_the_summary(stored):
    wh = stored
    b = bars
    with wh.engine.begin() as conn:
        aapl = _sid(conn, "AAPL")
        moved = b.update().where(b.c.series_id == aapl, b.c.session == _day("2024-11-25"),
                                 b.c.ts >= int(pd.Timestamp("2024-11-25 20:00", tz="UTC").timestamp()))
        conn.execute(moved.values(session=_day("2024-11-26")))  # a bad fix: last hour re-labelled
    table = scan(wh, EQ, ["AAPL"], ["1m"], WEEK, SOURCES).set_index("session")["present"]
    assert table[pd.Timestamp("2024-11-25")] == 390 - 60 and table[pd.Timestamp("2024-11-26")] == 390 + 60
    pd.testing.assert_frame_equal(scan(wh, EQ, ["AAPL"], ["1m"], WEEK, SOURCES),
                                  scan(wh, EQ, ["AAPL"], ["1m"], WEEK, SOURCES, recount=True))
    with wh.engine.begin() as conn:
        conn.execute(b.delete().where(b.c.series_id == aapl))  # every AAPL bar: its summary rows go too
        assert conn.execute(sa.select(sa.func.count()).select_from(bar_sessions)
                            .where(bar_sessions.c.series_id == aapl)).scalar_one() == 0


def test_a_duplicate_bar_is_refused(stored):
    wh = stored
    frame = wh.read_bars("us_equities", "1m", "AAPL", _day("2024-11-25"), _day("2024-11-25"))
    from backfill_pipeline.warehouse.bulk import insert_bars

    sid = wh.series_id("us_equities", "1m", "AAPL")
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"), wh.transaction() as conn:
        insert_bars(conn, sid, frame.iloc[:1])
    assert len(wh.read_bars("us_equities", "1m", "AAPL", _day("2024-11-25"), _day("2024-11-25"))) == 390
