"""A v1 warehouse (the previous release's DDL and rows, no alembic_version) and a v2 one at
revision 0002 (text-keyed features) on SQLite and PostgreSQL: opening it names the upgrade
command; `warehouse upgrade` brings it to head with every bar, fetch-log row and feature
equal; a new warehouse is created at head; a v2 one gets revision 0004's summary guard
with its summary recounted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from backfill_pipeline.cli.main import cli
from backfill_pipeline.markets import MARKETS, sessions_in_range
from backfill_pipeline.vendors.demo.client import DemoClient
from backfill_pipeline.warehouse.features import read_features
from backfill_pipeline.warehouse.migrate import HEAD, WarehouseOutdated, revision, upgrade
from backfill_pipeline.warehouse.migrations import v1_tables as v1
from backfill_pipeline.warehouse.schema import bar_sessions, bars_by_series
from backfill_pipeline.warehouse.schema_derived import features_by_series
from backfill_pipeline.warehouse.store import Warehouse

EQ = MARKETS["us_equities"]
BAR_KEYS = ("market", "symbol", "timeframe", "ts", "session", "open", "high", "low", "close", "volume", "vwap", "trades")
FEATURE_KEYS = ("market", "symbol", "timeframe", "ts", "session", *v1.FEATURE_COLUMNS)


def _text_keyed_features(sessions: pd.DatetimeIndex) -> list[dict]:
    """Feature rows as v1 and revision 0002 stored them: AAPL 1d (a series with bars) and
    MSFT 1h (features whose series has no bars and no `series` row), some values NULL."""
    rows = [{"market": "us_equities", "symbol": "AAPL", "timeframe": "1d", "ts": 1709510400 + 86400 * i,
             "session": s.date(), **{c: float(i) + j / 7 for j, c in enumerate(v1.FEATURE_COLUMNS)}}
            for i, s in enumerate(sessions)]
    for i, s in enumerate(sessions):
        for hour in range(7):
            values = {c: None if (hour == 0 and j % 2) else -1.5 * i + hour + j * 1e-9
                      for j, c in enumerate(v1.FEATURE_COLUMNS)}
            rows.append({"market": "us_equities", "symbol": "MSFT", "timeframe": "1h",
                         "ts": 1709562600 + 86400 * i + 3600 * hour, "session": s.date(), **values})
    return rows


def _features_after(conn: sa.Connection) -> list[tuple]:
    f = features_by_series
    return [tuple(r) for r in conn.execute(sa.select(*(f.c[k] for k in FEATURE_KEYS))
                                           .order_by(f.c.market, f.c.symbol, f.c.timeframe, f.c.ts))]


def _features_before(conn: sa.Connection) -> list[tuple]:
    f = v1.features
    return [tuple(r) for r in conn.execute(sa.select(*(f.c[k] for k in FEATURE_KEYS))
                                           .order_by(f.c.market, f.c.symbol, f.c.timeframe, f.c.ts))]


def _v1_warehouse(url: str) -> dict[str, list[tuple]]:
    """v1 DDL and rows as the previous release wrote them; returns the rows per table."""
    engine = sa.create_engine(url)
    v1.metadata.create_all(engine)
    client = DemoClient(EQ)
    sessions = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 6))
    bar_rows, stats = [], []
    for symbol in ("AAPL", "MSFT"):
        for timeframe in ("1m", "1d"):
            frame = client.fetch_bars(symbol, timeframe, pd.Timestamp("2024-03-04", tz="UTC"),
                                      pd.Timestamp("2024-03-07", tz="UTC")).bars
            if timeframe == "1m":
                frame.loc[frame.index[::7], "vwap"] = np.nan  # some bars without vwap / trades
                frame["trades"] = frame["trades"].astype("Int64")
                frame.loc[frame.index[::11], "trades"] = pd.NA
            ts = frame["ts"].astype("int64") // 10**9
            day = pd.to_datetime(frame["ts"]).dt.tz_convert("America/New_York").dt.date
            for i, r in enumerate(frame.itertuples()):
                bar_rows.append({"market": "us_equities", "symbol": symbol, "timeframe": timeframe, "ts": int(ts.iloc[i]),
                                 "session": day.iloc[i], "open": r.open, "high": r.high, "low": r.low, "close": r.close,
                                 "volume": r.volume, "vwap": None if pd.isna(r.vwap) else r.vwap,
                                 "trades": None if pd.isna(r.trades) else int(r.trades)})
            for session, n in pd.Series(day).value_counts().items():
                stats.append({"market": "us_equities", "timeframe": timeframe, "symbol": symbol, "session": session,
                              "bars": int(n), "first_ts": 0, "last_ts": 0})
    now = dt.datetime(2024, 3, 7, tzinfo=dt.UTC)
    fetches = [{"fetch_id": f"f{i}", "market": "us_equities", "symbol": "AAPL", "timeframe": "1m",
                "session": s.date(), "vendor": "demo", "window_start": 0, "window_end": 1, "bars": 390,
                "status": "ok", "finalized": True, "fetched_at": now, "run_id": "r", "error": None}
               for i, s in enumerate(sessions)]
    features = _text_keyed_features(sessions)
    with engine.begin() as conn:
        conn.execute(v1.bars.insert(), bar_rows)
        conn.execute(v1.bar_sessions.insert(), stats)
        conn.execute(v1.fetch_log.insert(), fetches)
        conn.execute(v1.features.insert(), features)
    out = {}
    with engine.connect() as conn:
        out["bars"] = [tuple(r) for r in conn.execute(sa.select(*(v1.bars.c[k] for k in BAR_KEYS))
                                                      .order_by(v1.bars.c.market, v1.bars.c.symbol, v1.bars.c.timeframe,
                                                                v1.bars.c.ts))]
        out["fetch_log"] = [tuple(r) for r in conn.execute(sa.select(v1.fetch_log).order_by(v1.fetch_log.c.id))]
        out["features"] = _features_before(conn)
    engine.dispose()
    return out


def test_a_v1_warehouse_upgrades_with_every_bar_equal(warehouse_url, monkeypatch):
    before = _v1_warehouse(warehouse_url)
    assert len(before["bars"]) > 2000
    with pytest.raises(WarehouseOutdated, match="backfill-pipeline warehouse upgrade"):
        Warehouse(warehouse_url)
    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    refused = CliRunner().invoke(cli, ["bars", "AAPL", "--start", "2024-03-04", "--end", "2024-03-06"])
    assert refused.exit_code == 1 and "run `backfill-pipeline warehouse upgrade`" in refused.output

    result = CliRunner().invoke(cli, ["warehouse", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"from revision 0001 to {HEAD}" in result.output
    wh = Warehouse(warehouse_url)  # opens at head now
    b = bars_by_series
    with wh.engine.connect() as conn:
        assert revision(conn) == HEAD
        after = [tuple(r) for r in conn.execute(sa.select(*(b.c[k] for k in BAR_KEYS))
                                                .order_by(b.c.market, b.c.symbol, b.c.timeframe, b.c.ts))]
        assert [tuple(r) for r in conn.execute(sa.select(v1.fetch_log).order_by(v1.fetch_log.c.id))] == before["fetch_log"]
        assert _features_after(conn) == before["features"]  # every feature, NULLs kept
        _assert_features_keyed_by_the_bars_series(conn)
    assert after == before["bars"]  # every bar, exactly (float64 prices, NULL vwap/trades kept)
    for tf in ("1m", "1d"):
        fast = wh.bar_counts("us_equities", tf, dt.date(2024, 3, 1), dt.date(2024, 3, 8))
        slow = wh.bar_counts("us_equities", tf, dt.date(2024, 3, 1), dt.date(2024, 3, 8), recount=True)
        assert fast.sort_values(["symbol", "session"]).values.tolist() == slow.sort_values(["symbol", "session"]).values.tolist()
        assert len(fast) == 6
    wh.dispose()
    again = CliRunner().invoke(cli, ["warehouse", "upgrade"])
    assert again.exit_code == 0 and "already at revision" in again.output
    status = CliRunner().invoke(cli, ["warehouse", "status"])
    assert status.exit_code == 0 and f"schema revision: {HEAD}" in status.output
    assert f"bars: {len(before['bars']):,} rows" in status.output and "B/bar" in status.output


def _assert_features_keyed_by_the_bars_series(conn: sa.Connection) -> None:
    f, b = features_by_series, bars_by_series
    aapl = conn.execute(sa.select(b.c.series_id).where(b.c.symbol == "AAPL", b.c.timeframe == "1d").distinct()).all()
    assert conn.execute(sa.select(f.c.series_id).where(f.c.symbol == "AAPL").distinct()).all() == aapl
    msft = conn.execute(sa.select(f.c.series_id).where(f.c.symbol == "MSFT", f.c.timeframe == "1h").distinct()).all()
    assert len(msft) == 1 and msft != aapl  # a series row made for features without bars
    columns = {c["name"] for c in sa.inspect(conn).get_columns("features")}
    assert columns == {"ts", "series_id", "session", *v1.FEATURE_COLUMNS}  # no text keys left


def test_a_v2_warehouse_with_text_keyed_features_upgrades_with_every_feature_equal(warehouse_url, monkeypatch):
    engine = sa.create_engine(warehouse_url)
    assert upgrade(engine, to="0002") == (None, "0002")  # a warehouse made by the release at 0002
    old = Warehouse(warehouse_url, check_schema=False)
    daily = DemoClient(EQ).fetch_bars("AAPL", "1d", pd.Timestamp("2024-03-04", tz="UTC"),
                                      pd.Timestamp("2024-03-07", tz="UTC")).bars
    daily["session"] = daily["ts"].dt.tz_localize(None)
    sessions = sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 6))
    assert old.replace_bars("us_equities", "1d", "AAPL", [s.date() for s in sessions], daily) == 3
    with old.transaction() as conn:
        conn.execute(v1.features.insert(), _text_keyed_features(sessions))
        before = _features_before(conn)
    old.dispose()
    with pytest.raises(WarehouseOutdated, match="revision 0002"):
        Warehouse(warehouse_url)

    monkeypatch.setenv("BACKFILL_WAREHOUSE_URL", warehouse_url)
    result = CliRunner().invoke(cli, ["warehouse", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"from revision 0002 to {HEAD}" in result.output and f"features {len(before):,}" in result.output
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        assert _features_after(conn) == before
        _assert_features_keyed_by_the_bars_series(conn)
    read = read_features(wh, "us_equities", "1h", "MSFT", dt.date(2024, 3, 5), dt.date(2024, 3, 5))
    wh.dispose()
    expected = [r for r in before if r[1] == "MSFT" and r[4] == dt.date(2024, 3, 5)]
    assert read["ts"].astype("int64").floordiv(10**9).tolist() == [r[3] for r in expected]
    assert (read["session"] == pd.Timestamp("2024-03-05")).all()
    np.testing.assert_array_equal(read[list(v1.FEATURE_COLUMNS)].to_numpy(),
                                  np.array([r[5:] for r in expected], dtype="float64"))  # None reads as NaN
    status = CliRunner().invoke(cli, ["warehouse", "status"])
    assert status.exit_code == 0 and f"features: {len(before):,} rows" in status.output
    assert f"features storage: {len(before):,} feature rows: " in status.output and "B/feature row" in status.output
    engine.dispose()


def test_a_new_warehouse_is_created_at_head(warehouse_url):
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        assert revision(conn) == HEAD
        assert {"series", "bars", "bar_sessions"} <= set(sa.inspect(conn).get_table_names())
    wh.dispose()


def test_a_v2_warehouse_is_recounted_and_its_summary_refuses_one_bar_edits(warehouse_url):
    """Revision 0004. v2's SQLite guard let a count move by exactly one bar, so a hand edit
    drifted the summary; the upgrade recounts it from `bars` and refuses such edits from then
    on. PostgreSQL's v2 guard already refused them (and 0004 leaves it as it was)."""
    wh = Warehouse(warehouse_url, check_schema=False)
    assert upgrade(wh.engine, to="0002") == (None, "0002")  # a warehouse made by the release at 0002
    sessions = [s.date() for s in sessions_in_range(EQ, dt.date(2024, 3, 4), dt.date(2024, 3, 6))]
    frame = DemoClient(EQ).fetch_bars("AAPL", "1m", pd.Timestamp("2024-03-04", tz="UTC"),
                                      pd.Timestamp("2024-03-07", tz="UTC")).bars
    frame["session"] = pd.to_datetime(frame["ts"]).dt.tz_convert("America/New_York").dt.date
    wh.replace_bars("us_equities", "1m", "AAPL", sessions, frame)
    s = bar_sessions
    one_less = s.update().where(s.c.session == sessions[1]).values(bars=s.c.bars - 1)
    with wh.engine.connect() as conn:
        assert revision(conn) == "0002"
    if wh.is_sqlite:
        with wh.transaction() as conn:
            conn.execute(one_less)  # v2 let it through: the summary drifts from the bars
    else:
        with pytest.raises(sa.exc.DatabaseError, match="bar_sessions is kept by the database"), wh.transaction() as conn:
            conn.execute(one_less)
    fast = wh.bar_counts("us_equities", "1m", sessions[0], sessions[-1]).sort_values("session")
    assert fast["bars"].tolist() == ([390, 389, 390] if wh.is_sqlite else [390] * 3)

    assert upgrade(wh.engine) == ("0002", HEAD)
    recounted = wh.bar_counts("us_equities", "1m", sessions[0], sessions[-1]).sort_values("session")
    assert recounted["bars"].tolist() == [390] * 3
    for edit in (one_less, s.update().where(s.c.session == sessions[1]).values(bars=s.c.bars + 1)):
        with pytest.raises(sa.exc.DatabaseError, match="bar_sessions is kept by the database"), wh.transaction() as conn:
            conn.execute(edit)
    half = frame[frame["session"] == sessions[1]].iloc[::2]
    wh.replace_bars("us_equities", "1m", "AAPL", sessions[1:2], half)  # the new triggers at work
    counts = wh.bar_counts("us_equities", "1m", sessions[0], sessions[-1]).sort_values("session")
    slow = wh.bar_counts("us_equities", "1m", sessions[0], sessions[-1], recount=True).sort_values("session")
    assert counts["bars"].tolist() == slow["bars"].tolist() == [390, 195, 390]
    wh.dispose()
