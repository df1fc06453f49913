"""Warehouse writes on SQLite and PostgreSQL: idempotent slices, exact reads, set-based counts."""

import datetime as dt
import threading

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import bars_by_series as bars_table
from backfill_pipeline.warehouse.store import Warehouse


def _bars(day: str, n: int, price: float = 10.0) -> pd.DataFrame:
    ts = pd.date_range(f"{day} 14:30", periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({
        "ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price + 0.5,
        "volume": 100.0, "vwap": [price] * (n - 1) + [None], "trades": pd.array([5] * (n - 1) + [None], dtype="Int64"),
        "session": pd.Timestamp(day),
    })


def _all_rows(wh: Warehouse):
    with wh.engine.connect() as conn:
        return conn.execute(sa.select(bars_table).order_by(bars_table.c.symbol, bars_table.c.ts)).all()


def test_replace_is_idempotent_and_exact(warehouse_url):
    wh = Warehouse(warehouse_url)
    d1, d2 = dt.date(2024, 3, 6), dt.date(2024, 3, 7)
    frame = pd.concat([_bars("2024-03-06", 5), _bars("2024-03-07", 3)], ignore_index=True)
    assert wh.replace_bars("us_equities", "1m", "AAPL", [d1, d2], frame) == 8
    first = _all_rows(wh)
    assert wh.replace_bars("us_equities", "1m", "AAPL", [d1, d2], frame) == 8
    assert _all_rows(wh) == first
    # replacing one session leaves the other and other symbols untouched
    wh.replace_bars("us_equities", "1m", "MSFT", [d1], _bars("2024-03-06", 2))
    wh.replace_bars("us_equities", "1m", "AAPL", [d2], _bars("2024-03-07", 1, price=20.0))
    back = wh.read_bars("us_equities", "1m", "AAPL", d1, d2)
    assert len(back) == 6 and back["close"].iloc[-1] == 20.5
    assert back["ts"].dt.tz is not None and str(back["ts"].dt.tz) == "UTC"
    assert back["vwap"].isna().sum() == 2 and back["trades"].isna().sum() == 2
    counts = wh.bar_counts("us_equities", "1m", d1, d2)
    assert sorted(map(tuple, counts.assign(session=counts["session"].dt.strftime("%Y-%m-%d")).to_numpy().tolist())) == [
        ("AAPL", "2024-03-06", 5), ("AAPL", "2024-03-07", 1), ("MSFT", "2024-03-06", 2)]
    wh.dispose()


def test_a_failed_write_leaves_the_previous_slice(warehouse_url):
    wh = Warehouse(warehouse_url)
    d1 = dt.date(2024, 3, 6)
    wh.replace_bars("us_equities", "1m", "AAPL", [d1], _bars("2024-03-06", 4))
    broken = _bars("2024-03-06", 4)
    broken = pd.concat([broken, broken.iloc[[0]]], ignore_index=True)  # duplicate key: insert fails
    try:
        wh.replace_bars("us_equities", "1m", "AAPL", [d1], broken)
    except sa.exc.IntegrityError:
        pass
    except Exception as exc:  # noqa: BLE001  drivers raise their own integrity errors through COPY
        assert "duplicate" in str(exc).lower() or "unique" in str(exc).lower()
    else:
        raise AssertionError("duplicate keys must not be written")
    assert len(wh.read_bars("us_equities", "1m", "AAPL", d1, d1)) == 4
    wh.dispose()


def test_concurrent_writers_of_one_slice_never_duplicate(warehouse_url):
    wh = Warehouse(warehouse_url)
    d1 = dt.date(2024, 3, 6)
    errors: list[BaseException] = []

    def write(price: float) -> None:
        other = Warehouse(warehouse_url)
        try:
            for _ in range(5):
                other.replace_bars("us_equities", "1m", "AAPL", [d1], _bars("2024-03-06", 50, price))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=write, args=(p,)) for p in (10.0, 20.0, 30.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    back = wh.read_bars("us_equities", "1m", "AAPL", d1, d1)
    assert len(back) == 50 and back["open"].nunique() == 1  # one writer's slice, whole
    wh.dispose()
