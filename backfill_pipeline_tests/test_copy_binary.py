"""Binary COPY (warehouse/copy_binary.py): what PostgreSQL stores is what the frame held, bit
for bit, and the same as the text path (psycopg2) and SQLite's executemany store."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pandas as pd
import pytest

from backfill_pipeline.warehouse.bulk import bar_columns, prepare_bars
from backfill_pipeline.warehouse.copy_binary import SIGNATURE, TRAILER, Column, encode
from backfill_pipeline.warehouse.features import read_features, replace_features
from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline.warehouse.urls import with_driver

# values text formatting or parsing could bend: the shortest repr, subnormals, huge, -0.0
AWKWARD = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 123456.78901234567, 1 / 3, 2.0**-1074 * 3, 99.99]


def _bars(n: int, session: str = "2024-11-29") -> pd.DataFrame:
    """n 1m bars from 14:30 UTC of one session, with awkward floats, some NaN vwap and NA trades."""
    rng = np.random.default_rng(7)
    ts = pd.Timestamp(f"{session} 14:30", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
    prices = rng.uniform(1, 1000, n)
    prices[: len(AWKWARD)] = AWKWARD[:n]
    vwap = prices.copy()
    vwap[1::5] = np.nan
    trades = pd.array(rng.integers(0, 2**40, n), dtype="Int64")
    trades[2::7] = pd.NA
    return pd.DataFrame({
        "ts": ts, "open": prices, "high": prices + 0.5, "low": prices / 3, "close": np.nextafter(prices, 0),
        "volume": rng.uniform(0, 1e12, n), "vwap": vwap, "trades": trades,
        "session": pd.Timestamp(session),
    })


def _frame_equal(stored: pd.DataFrame, frame: pd.DataFrame) -> None:
    assert stored["ts"].tolist() == frame["ts"].tolist()
    for col in ("open", "high", "low", "close", "volume", "vwap"):
        got, want = stored[col].to_numpy(dtype="float64"), frame[col].to_numpy(dtype="float64")
        # bit for bit, NaN where NULL; -0.0 keeps its sign
        assert np.array_equal(got.view("int64")[~np.isnan(want)], want.view("int64")[~np.isnan(want)]), col
        assert np.array_equal(np.isnan(got), np.isnan(want)), col
    assert stored["trades"].astype("Int64").tolist() == frame["trades"].tolist()


def test_the_stream_is_postgresqls_binary_format() -> None:
    """One row with a NULL, byte by byte as the COPY docs define it."""
    stream = encode([Column("int8", np.array([7])), Column("float8", np.array([np.nan]), np.array([True])),
                     Column("int4", np.array([3])), Column("date", np.array([10_958]))])  # 2000-01-02
    assert stream.startswith(SIGNATURE) and stream.endswith(TRAILER)
    row = stream[len(SIGNATURE):-len(TRAILER)]
    assert row == struct.pack(">h", 4) + struct.pack(">iq", 8, 7) + struct.pack(">i", -1) \
        + struct.pack(">ii", 4, 3) + struct.pack(">ii", 4, 1)


def test_every_null_pattern_keeps_its_rows() -> None:
    """Rows are grouped by NULL pattern: none is lost or doubled."""
    n = 50
    a_missing, b_missing = np.arange(n) % 3 == 0, np.arange(n) % 4 == 0
    stream = encode([Column("int8", np.arange(n)), Column("float8", np.arange(n) * 1.0, a_missing),
                     Column("float8", np.arange(n) * 2.0, b_missing)])
    body = stream[len(SIGNATURE):-len(TRAILER)]
    ids, offset = [], 0
    while offset < len(body):
        (count,) = struct.unpack_from(">h", body, offset)
        assert count == 3
        offset += 2
        values = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", body, offset)
            offset += 4
            values.append(None if length == -1 else body[offset:offset + length])
            offset += max(length, 0)
        row = struct.unpack(">q", values[0])[0]  # type: ignore[arg-type]
        ids.append(row)
        assert (values[1] is None) == a_missing[row] and (values[2] is None) == b_missing[row]
    assert sorted(ids) == list(range(n))


def test_bad_blocks_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="column kind 'text'"):
        Column("text", np.array(["a"]))
    with pytest.raises(ValueError, match="same length"):
        encode([Column("int8", np.arange(3)), Column("int8", np.arange(2))])


def test_postgresql_stores_the_frame_bit_for_bit_on_both_drivers(pg_server_url: str) -> None:
    frame = _bars(400)
    stored = {}
    for driver in ("postgresql+psycopg", "postgresql+psycopg2"):  # binary COPY, text COPY
        warehouse = Warehouse(with_driver(pg_server_url, driver))
        try:
            load = prepare_bars(warehouse.engine, warehouse.series_id("us_equities", "1m", "BIN"), frame)
            assert (load.binary is not None) == (driver == "postgresql+psycopg")
            symbol = f"B{len(stored)}"
            warehouse.replace_bars("us_equities", "1m", symbol, [dt.date(2024, 11, 29)], frame)
            stored[driver] = warehouse.read_bars("us_equities", "1m", symbol, dt.date(2024, 11, 29),
                                                 dt.date(2024, 11, 29))
            counts = warehouse.bar_counts("us_equities", "1m", dt.date(2024, 11, 29), dt.date(2024, 11, 29), [symbol])
            assert counts["bars"].tolist() == [400]  # the summary triggers saw every row
        finally:
            warehouse.dispose()
    for got in stored.values():
        _frame_equal(got, frame)
        assert (got["session"] == pd.Timestamp("2024-11-29")).all()


def test_sessions_before_postgresqls_epoch_are_stored_as_given(pg_server_url: str) -> None:
    """Day numbers are shifted to PostgreSQL's 2000-01-01 epoch: 1999-12-31 and 2000-01-03 stay."""
    warehouse = Warehouse(pg_server_url)
    try:
        for day in ("1999-12-31", "2000-01-03"):
            frame = _bars(3, day)
            warehouse.replace_bars("us_equities", "1m", "EPOCH", [pd.Timestamp(day).date()], frame)
            got = warehouse.read_bars("us_equities", "1m", "EPOCH", pd.Timestamp(day).date(), pd.Timestamp(day).date())
            assert got["session"].tolist() == [pd.Timestamp(day)] * 3
    finally:
        warehouse.dispose()


def test_features_keep_nulls_and_values_through_binary_copy(warehouse_url: str) -> None:
    """Warm-up rows (NULL features) and non-finite values come back as NaN, the rest exact."""
    frame = _bars(60)[["ts", "session"]]
    values = np.random.default_rng(3).standard_normal((60, len(FEATURE_COLUMNS)))
    values[:20, 0] = np.nan  # warm-up of the first feature
    values[:5, :] = np.nan  # rows before any feature is defined
    values[30, 1] = np.inf
    computed = pd.DataFrame(values, columns=list(FEATURE_COLUMNS))
    warehouse = Warehouse(warehouse_url)
    try:
        day = dt.date(2024, 11, 29)
        assert replace_features(warehouse, "us_equities", "1m", "F", [day], frame, computed) == 60
        got = read_features(warehouse, "us_equities", "1m", "F", day, day)
    finally:
        warehouse.dispose()
    want = np.where(np.isfinite(values), values, np.nan)
    stored = got[list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    assert np.array_equal(np.isnan(stored), np.isnan(want))
    assert np.array_equal(stored[~np.isnan(want)].view("int64"), want[~np.isnan(want)].view("int64"))
    assert got["ts"].tolist() == frame["ts"].tolist()


def test_bar_columns_mark_the_nulls() -> None:
    frame = _bars(20)
    ts, *_, vwap, trades, series_id, session = bar_columns(5, frame)
    assert vwap.missing is not None and vwap.missing.tolist() == frame["vwap"].isna().tolist()
    assert trades.missing is not None and trades.missing.tolist() == frame["trades"].isna().tolist()
    assert series_id.values.tolist() == [5] * 20
    assert session.values.tolist() == [(dt.date(2024, 11, 29) - dt.date(1970, 1, 1)).days] * 20
    assert ts.values[0] == int(pd.Timestamp("2024-11-29 14:30", tz="UTC").timestamp())
