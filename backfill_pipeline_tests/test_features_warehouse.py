"""`features` on SQLite and PostgreSQL: keyed by the bars' series, idempotent session replaces,
exact reads (NULL as NaN), duplicate rows refused with the previous slice kept."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from backfill_pipeline.warehouse.features import read_features, replace_features
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS, features_by_series
from backfill_pipeline.warehouse.store import Warehouse


def _frames(day: str, n: int, scale: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bars' ts/session of `n` minutes of `day` and computed features (the first row undefined)."""
    frame = pd.DataFrame({"ts": pd.date_range(f"{day} 14:30", periods=n, freq="1min", tz="UTC"),
                          "session": pd.Timestamp(day)})
    values = np.arange(n * len(FEATURE_COLUMNS), dtype="float64").reshape(n, -1) * scale + 0.25
    values[0, ::2] = np.nan
    values[0, 1] = np.inf  # non-finite: stored as NULL like NaN
    return frame, pd.DataFrame(values, columns=list(FEATURE_COLUMNS))


def _rows(wh: Warehouse) -> list[tuple]:
    f = features_by_series
    with wh.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(f).order_by(f.c.symbol, f.c.ts))]


def test_features_are_keyed_by_the_bars_series_and_replaced_by_session(warehouse_url):
    wh = Warehouse(warehouse_url)
    d1, d2 = dt.date(2024, 3, 6), dt.date(2024, 3, 7)
    bars = pd.DataFrame({"ts": pd.date_range("2024-03-06 14:30", periods=3, freq="1min", tz="UTC"), "open": 1.0,
                         "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0, "vwap": 1.0, "trades": 1,
                         "session": pd.Timestamp("2024-03-06")})
    wh.replace_bars("us_equities", "1m", "AAPL", [d1], bars)
    frame = pd.concat([_frames("2024-03-06", 3)[0], _frames("2024-03-07", 2)[0]], ignore_index=True)
    computed = pd.concat([_frames("2024-03-06", 3)[1], _frames("2024-03-07", 2)[1]], ignore_index=True)
    assert replace_features(wh, "us_equities", "1m", "AAPL", [d1, d2], frame, computed) == 5
    first = _rows(wh)
    assert replace_features(wh, "us_equities", "1m", "AAPL", [d1, d2], frame, computed) == 5
    assert _rows(wh) == first  # idempotent
    assert {r[-1] for r in first} == {wh.series_id("us_equities", "1m", "AAPL")}  # the bars' series
    # replacing one session leaves the other and other series untouched
    replace_features(wh, "us_equities", "1m", "MSFT", [d1], *_frames("2024-03-06", 2))
    replace_features(wh, "us_equities", "1m", "AAPL", [d2], *_frames("2024-03-07", 1, scale=-1.0))
    back = read_features(wh, "us_equities", "1m", "AAPL", d1, d2)
    assert len(back) == 4 and str(back["ts"].dt.tz) == "UTC"
    assert back["session"].tolist() == [pd.Timestamp(d1)] * 3 + [pd.Timestamp(d2)]
    expected = np.vstack([_frames("2024-03-06", 3)[1].to_numpy(), _frames("2024-03-07", 1, scale=-1.0)[1].to_numpy()])
    expected[~np.isfinite(expected)] = np.nan
    np.testing.assert_array_equal(back[list(FEATURE_COLUMNS)].to_numpy(), expected)
    assert len(read_features(wh, "us_equities", "1m", "MSFT", d1, d2)) == 2
    assert read_features(wh, "us_equities", "1m", "GOOG", d1, d2).empty  # no series: nothing, nothing registered
    assert "GOOG" not in {r[1] for r in _rows(wh)}
    wh.dispose()


def test_a_duplicate_feature_row_is_refused_and_the_slice_kept(warehouse_url):
    wh = Warehouse(warehouse_url)
    d1 = dt.date(2024, 3, 6)
    replace_features(wh, "us_equities", "1m", "AAPL", [d1], *_frames("2024-03-06", 4))
    frame, computed = _frames("2024-03-06", 4, scale=2.0)
    frame, computed = pd.concat([frame, frame.iloc[[1]]], ignore_index=True), pd.concat([computed, computed.iloc[[1]]])
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"):  # COPY raises the driver's own error
        replace_features(wh, "us_equities", "1m", "AAPL", [d1], frame, computed)
    kept = read_features(wh, "us_equities", "1m", "AAPL", d1, d1)
    np.testing.assert_array_equal(kept["close_adj"].to_numpy()[1:], _frames("2024-03-06", 4)[1]["close_adj"][1:])
    # a row repeating a stored one of the same session, inserted outside replace_features
    series_id = wh.series_id("us_equities", "1m", "AAPL")
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"), wh.transaction() as conn:
        conn.execute(sa.text("INSERT INTO features (ts, series_id, session) SELECT ts, series_id, session FROM features "
                             "WHERE series_id = :s LIMIT 1"), {"s": series_id})
    assert len(read_features(wh, "us_equities", "1m", "AAPL", d1, d1)) == 4
    wh.dispose()
