"""Holes cut behind the pipeline's back (direct SQL on `bars` and on the summary), SQLite and
PostgreSQL: the default scan, the report and the `complete` check see exactly them, and
`scan --recount` agrees with the default on every state. Every hand edit of the summary
(a count one bar off included) is refused; every direct write on `bars` moves it exactly."""

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
from backfill_pipeline.warehouse.schema import SessionDay, bar_sessions, bars, series
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


def _summary(conn) -> list[tuple]:
    s = bar_sessions
    return [tuple(r) for r in conn.execute(sa.select(s.c.series_id, s.c.session, s.c.bars)
                                           .order_by(s.c.series_id, s.c.session))]


def _counted(conn) -> list[tuple]:
    """bars per (series, session) counted from `bars` itself: what the summary must equal."""
    b = bars
    return [tuple(r) for r in conn.execute(sa.select(b.c.series_id, b.c.session, sa.func.count())
                                           .group_by(b.c.series_id, b.c.session).order_by(b.c.series_id, b.c.session))]


def _assert_exact(wh: Warehouse, symbols: list[str] = SYMBOLS) -> None:
    with wh.engine.connect() as conn:
        assert _summary(conn) == _counted(conn)
    pd.testing.assert_frame_equal(scan(wh, EQ, symbols, ["1m"], WEEK, SOURCES),
                                  scan(wh, EQ, symbols, ["1m"], WEEK, SOURCES, recount=True))


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


def _upsert(conn, table: sa.Table):
    from sqlalchemy.dialects import postgresql, sqlite

    return (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(table)


def _hand_edits(conn) -> dict[str, list]:
    """Edits a user could type in a database shell, each one transaction's statements."""
    s = bar_sessions
    iwm, thin = _sid(conn, "IWM"), _sid(conn, "THIN")
    key = (s.c.series_id == iwm, s.c.session == _day("2024-11-27"))
    edits = {
        "one bar less": [s.update().where(*key).values(bars=s.c.bars - 1)],
        "one bar more": [s.update().where(*key).values(bars=s.c.bars + 1)],
        "any count": [s.update().where(*key).values(bars=100)],
        "every row one less": [s.update().values(bars=s.c.bars - 1)],
        "moved to another session": [s.update().where(*key).values(session=_day("2024-12-02"))],
        "a row deleted": [s.delete().where(*key)],
        "every row deleted": [s.delete()],
        "a row for a session without bars": [s.insert().values(series_id=iwm, session=_day("2024-12-02"), bars=1)],
        "a row for another series' session": [s.insert().values(series_id=999, session=_day("2024-11-27"), bars=390)],
        "one more by upsert": [_upsert(conn, s).values(series_id=thin, session=_day("2024-11-27"), bars=1)
                               .on_conflict_do_update(index_elements=["series_id", "session"],
                                                      set_={"bars": s.c.bars + 1})],
    }
    if conn.dialect.name == "sqlite":  # forging the guard's marks (adding_ts / removing_ts) first
        where = "WHERE series_id = :sid AND session = :day"
        stored_ts = sa.select(sa.func.min(bars.c.ts)).where(bars.c.series_id == iwm, bars.c.session == _day("2024-11-27"))
        first = conn.execute(stored_ts).scalar_one()
        args = {"sid": iwm, "day": (_day("2024-11-27") - dt.date(1970, 1, 1)).days, "ts": first, "gone": 12345}
        mark = {
            "a row replaced": ["INSERT OR REPLACE INTO bar_sessions (series_id, session, bars) VALUES (:sid, :day, 1)"],
            "one more, marked with a stored bar": [f"UPDATE bar_sessions SET adding_ts = :ts {where}",
                                                   f"UPDATE bar_sessions SET bars = bars + 1, adding_ts = NULL {where}"],
            "one more, marked with a missing bar": [f"UPDATE bar_sessions SET adding_ts = :gone {where}",
                                                    f"UPDATE bar_sessions SET bars = bars + 1, adding_ts = NULL {where}"],
            "one more, mark and count at once": [f"UPDATE bar_sessions SET bars = bars + 1, adding_ts = :ts {where}"],
            "one less, marked with a stored bar": [f"UPDATE bar_sessions SET removing_ts = :ts {where}",
                                                   f"UPDATE bar_sessions SET bars = bars - 1, removing_ts = NULL {where}"],
            "one less, marked with a missing bar": [f"UPDATE bar_sessions SET removing_ts = :gone {where}",
                                                    f"UPDATE bar_sessions SET bars = bars - 1, removing_ts = NULL {where}"],
        }
        edits |= {name: [sa.text(sql).bindparams(**{k: v for k, v in args.items() if f":{k}" in sql}) for sql in sqls]
                  for name, sqls in mark.items()}
    return edits


def test_every_hand_edit_of_the_summary_is_refused(stored):
    wh = stored
    with wh.engine.connect() as conn:
        before = _summary(conn)
        edits = _hand_edits(conn)
    assert len(edits) == (16 if wh.is_sqlite else 10)
    for name, statements in edits.items():
        with pytest.raises(sa.exc.DatabaseError, match="bar_sessions is kept by the database"), wh.transaction() as conn:
            for statement in statements:
                conn.execute(statement)
        with wh.engine.connect() as conn:
            assert _summary(conn) == before, name
    _assert_exact(wh)
    assert _fillable(scan(wh, EQ, SYMBOLS, ["1m"], WEEK, SOURCES)) == set()


def test_replacing_a_stored_bar_in_place_is_refused_on_sqlite(stored):
    """SQLite's OR REPLACE deletes the old row without its delete trigger: the summary would
    count the bar twice, so the bars' insert trigger refuses it as a duplicate."""
    wh = stored
    if not wh.is_sqlite:
        pytest.skip("PostgreSQL has no OR REPLACE (and bars no unique index to conflict on)")
    with wh.engine.connect() as conn:
        sid = _sid(conn, "AAPL")
        ts = conn.execute(sa.select(sa.func.min(bars.c.ts)).where(bars.c.series_id == sid)).scalar_one()
    row = "(ts, open, high, low, close, volume, series_id, session) VALUES (:ts, 1, 1, 1, 1, 1, :sid, :day)"
    for statement, day in ((f"INSERT OR REPLACE INTO bars {row}", "2024-11-25"),  # same session
                           (f"INSERT OR REPLACE INTO bars {row}", "2024-11-27"),  # another session
                           (f"INSERT INTO bars {row} ON CONFLICT DO UPDATE SET session = excluded.session", "2024-11-27"),
                           ("UPDATE OR REPLACE bars SET ts = :ts WHERE series_id = :sid AND ts = :ts + 60", None)):
        args = {"ts": ts, "sid": sid, "day": (_day(day or "2024-11-25") - dt.date(1970, 1, 1)).days}
        with pytest.raises(sa.exc.IntegrityError, match="duplicate bar"), wh.transaction() as conn:
            conn.execute(sa.text(statement).bindparams(**{k: v for k, v in args.items() if f":{k}" in statement}))
    with pytest.raises(sa.exc.IntegrityError, match=r"NOT NULL constraint failed: bars\.ts"), wh.transaction() as conn:
        conn.execute(sa.text("UPDATE bars SET ts = NULL WHERE series_id = :sid").bindparams(sid=sid))  # its own error
    _assert_exact(wh)


def test_direct_writes_on_bars_and_a_pipeline_refill_keep_the_summary_exact(stored, warehouse_url):
    wh = stored
    b = bars
    minute = 60
    with wh.engine.begin() as conn:
        msft, iwm = _sid(conn, "MSFT"), _sid(conn, "IWM")
        day = b.c.session == _day("2024-11-27")
        conn.execute(b.update().where(b.c.series_id == msft, day).values(ts=b.c.ts + minute // 2))  # ts moved, same session
        conn.execute(b.update().where(b.c.series_id == iwm, day).values(series_id=999))  # to another series
        values = [c for c in b.c if c.name not in ("ts", "session")]
        conn.execute(b.insert().from_select(  # copied into a session of their own
            [*(c.name for c in values), "ts", "session"],
            sa.select(*values, b.c.ts + 8 * 86400, sa.literal(_day("2024-12-04"), SessionDay()))
            .where(b.c.series_id == msft, b.c.session == _day("2024-11-26"))))
        conn.execute(b.delete().where(b.c.series_id == msft, b.c.session == _day("2024-11-25"), b.c.ts % 120 == 0))
    with wh.engine.connect() as conn:
        counts = {(sid, day): n for sid, day, n in _summary(conn)}
    assert counts[(msft, _day("2024-11-27"))] == 390 and counts[(999, _day("2024-11-27"))] == 390
    assert (iwm, _day("2024-11-27")) not in counts and counts[(msft, _day("2024-12-04"))] == 390
    assert counts[(msft, _day("2024-11-25"))] == 195
    _assert_exact(wh)
    with dg.instance_for_test() as instance:  # the pipeline's replace (delete the slices, load) puts them back
        instance.add_dynamic_partitions("us_equities_symbols", SYMBOLS)
        for symbol in ("MSFT", "IWM"):
            assert materialize(instance, warehouse_url, "us_equities", ["1m"],
                               start=f"2024-11-25|{symbol}", end=f"2024-11-29|{symbol}").success
    _assert_exact(wh)
    assert _fillable(scan(wh, EQ, SYMBOLS, ["1m"], WEEK, SOURCES)) == set()
