"""`read_with_lookback` on SQLite and PostgreSQL: the `lookback` bars before a range are the
last ones stored before it, however unevenly the earlier sessions are filled (an early close,
one-bar sessions, a missing day), read from the sessions the summary says hold them."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline.warehouse.bar_queries import read_with_lookback
from backfill_pipeline.warehouse.schema import bars_by_series
from backfill_pipeline.warehouse.store import Warehouse

# session -> minutes stored (from 14:30 UTC): uneven on purpose
SESSIONS = {
    dt.date(2024, 11, 25): 390, dt.date(2024, 11, 26): 1, dt.date(2024, 11, 27): 390,
    dt.date(2024, 11, 29): 210,  # the early close after Thanksgiving (11-28 closed)
    dt.date(2024, 12, 2): 1, dt.date(2024, 12, 3): 2,  # thin days
    # 12-04 missing (a gap)
    dt.date(2024, 12, 5): 390, dt.date(2024, 12, 6): 390,
}


def _bars(session: dt.date, minutes: int) -> pd.DataFrame:
    start = pd.Timestamp(session).tz_localize("UTC") + pd.Timedelta(hours=14, minutes=30)
    ts = pd.date_range(start, periods=minutes, freq="1min")
    close = np.arange(minutes, dtype="float64") + session.toordinal()  # distinct per bar
    return pd.DataFrame({"ts": ts, "open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": 10.0, "vwap": close, "trades": 1, "session": pd.Timestamp(session)})


@pytest.fixture(scope="module")
def stored(module_warehouse_url):
    wh = Warehouse(module_warehouse_url)
    for session, minutes in SESSIONS.items():
        wh.replace_bars("us_equities", "1m", "AAPL", [session], _bars(session, minutes))
    wh.replace_bars("us_equities", "1m", "MSFT", [dt.date(2024, 11, 22)], _bars(dt.date(2024, 11, 22), 390))  # a decoy series
    yield wh
    wh.dispose()


def _expected(wh: Warehouse, first: dt.date, last: dt.date, lookback: int) -> tuple[list[int], int]:
    """Every stored AAPL bar's ts, read whole; the last `lookback` before `first`, then first..last."""
    b = bars_by_series
    with wh.engine.connect() as conn:
        rows = conn.execute(sa.select(b.c.ts, b.c.session).where(b.c.symbol == "AAPL").order_by(b.c.ts)).all()
    before = [ts for ts, session in rows if session < first][-lookback:] if lookback else []
    inside = [ts for ts, session in rows if first <= session <= last]
    return before + inside, len(before)


@pytest.mark.parametrize("first", [dt.date(2024, 11, 25), dt.date(2024, 11, 27), dt.date(2024, 12, 2),
                                   dt.date(2024, 12, 5), dt.date(2024, 12, 6), dt.date(2024, 12, 9)])
@pytest.mark.parametrize("lookback", [0, 1, 2, 3, 4, 200, 211, 212, 600, 1385, 5000])
def test_lookback_is_the_last_bars_before_the_range(stored, first, lookback):
    last = first + dt.timedelta(days=1)
    frame, available = read_with_lookback(stored, "us_equities", "1m", "AAPL", first, last, lookback)
    ts, expected_available = _expected(stored, first, last, lookback)
    assert available == expected_available
    assert (frame["ts"].astype("int64") // 1_000_000_000).tolist() == ts
    assert frame["ts"].is_monotonic_increasing
    # the values are the bars' own (not only their stamps)
    if len(frame):
        minutes = (frame["ts"] - frame["session"].dt.tz_localize("UTC") - pd.Timedelta(hours=14, minutes=30))
        offset = (minutes // pd.Timedelta(minutes=1)).astype("float64")
        ordinals = frame["session"].map(lambda s: s.date().toordinal()).astype("float64")
        np.testing.assert_array_equal(frame["close"].to_numpy(), (offset + ordinals).to_numpy())


def test_no_series_or_no_history(stored):
    frame, available = read_with_lookback(stored, "us_equities", "1m", "GOOG", dt.date(2024, 12, 2),
                                          dt.date(2024, 12, 6), 100)
    assert frame.empty and available == 0
    frame, available = read_with_lookback(stored, "us_equities", "1m", "MSFT", dt.date(2024, 11, 22),
                                          dt.date(2024, 11, 22), 100)
    assert len(frame) == 390 and available == 0  # nothing before its one session
