"""A v1 warehouse (the previous release's DDL and rows, no alembic_version) on SQLite and
PostgreSQL: opening it names the upgrade command; `warehouse upgrade` brings it to v2 with
every bar, fetch-log row and feature equal; a new warehouse is created at head."""

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
from backfill_pipeline.warehouse.migrate import HEAD, WarehouseOutdated, revision
from backfill_pipeline.warehouse.migrations import v1_tables as v1
from backfill_pipeline.warehouse.schema import bars_by_series
from backfill_pipeline.warehouse.store import Warehouse

EQ = MARKETS["us_equities"]
BAR_KEYS = ("market", "symbol", "timeframe", "ts", "session", "open", "high", "low", "close", "volume", "vwap", "trades")


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
    features = [{"market": "us_equities", "symbol": "AAPL", "timeframe": "1d", "ts": 1709510400 + 86400 * i,
                 "session": s.date(), **{c: float(i) for c in v1.FEATURE_COLUMNS}} for i, s in enumerate(sessions)]
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
        for table in (v1.fetch_log, v1.features):
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
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
        for table in (v1.fetch_log, v1.features):
            rows = [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
            assert rows == before[table.name]
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


def test_a_new_warehouse_is_created_at_head(warehouse_url):
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        assert revision(conn) == HEAD
        assert {"series", "bars", "bar_sessions"} <= set(sa.inspect(conn).get_table_names())
    wh.dispose()
