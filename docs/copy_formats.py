"""One-off measurement behind docs/storage.md's "Bulk-load format": the same bars loaded into a
warehouse's `bars` by text COPY row by row (psycopg's write_row, the path before binary COPY)
and by binary COPY (warehouse/bulk.py today), with the client's and the server's CPU.

    .venv/bin/python docs/copy_formats.py [series] [bars_per_series]

A throwaway database on the local server (bench/pg.py), dropped afterwards; one writer, one
transaction per series, each format twice, alternating. Rows: synthetic 1m bars, every 97th
vwap NULL. Prints wall time, bars/s and CPU by process group (bench/cpu.py), then checks that
both formats stored the same floats bit for bit.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

from backfill_pipeline.bench.cpu import CpuSampler
from backfill_pipeline.bench.pg import DEFAULT_PG_ADMIN, throwaway_database
from backfill_pipeline.warehouse.bulk import bar_rows, copy_rows, insert_bars
from backfill_pipeline.warehouse.schema import BAR_INSERT_COLUMNS, bars
from backfill_pipeline.warehouse.store import Warehouse

SERIES = int(sys.argv[1]) if len(sys.argv) > 1 else 10
PER = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000


def frames() -> list[pd.DataFrame]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(SERIES):
        ts = pd.Timestamp("2024-01-02 14:30", tz="UTC") + pd.to_timedelta(np.arange(PER), unit="min")
        price = 100 + rng.standard_normal(PER).cumsum() * 0.01
        frame = pd.DataFrame({"ts": ts, "open": price, "high": price + 0.1, "low": price - 0.1, "close": price + 0.05,
                              "volume": rng.integers(1, 10_000, PER).astype(float), "vwap": price,
                              "trades": pd.array(rng.integers(1, 100, PER), dtype="Int64")})
        frame.loc[::97, "vwap"] = np.nan
        frame["session"] = ts.tz_convert(None).normalize()
        out.append(frame)
    return out


def main() -> None:
    data = frames()
    group = lambda pid, name: "PostgreSQL server" if name == "postgres" else ("client" if pid == os.getpid() else None)  # noqa: E731
    with throwaway_database(DEFAULT_PG_ADMIN, "bp_copy_formats") as url:
        warehouse = Warehouse(url)
        ids = [warehouse.series_id("us_equities", "1m", f"C{i}") for i in range(SERIES)]
        stored = {}
        for fmt in ("text", "binary", "text", "binary"):
            with warehouse.transaction() as conn:
                conn.execute(bars.delete())
            with CpuSampler(group) as cpu:
                started = time.perf_counter()
                for sid, frame in zip(ids, data, strict=True):
                    with warehouse.transaction() as conn:
                        if fmt == "text":  # psycopg 3, one write_row per row
                            copy_rows(conn, bars, BAR_INSERT_COLUMNS, bar_rows(sid, frame, "postgresql"))
                        else:
                            insert_bars(conn, sid, frame)
                wall = time.perf_counter() - started
            print(f"{fmt:6} {SERIES * PER:,} bars in {wall:.2f} s = {SERIES * PER / wall:,.0f} bars/s; {cpu.describe(wall)}")
            stored[fmt] = warehouse.read_bars("us_equities", "1m", "C0", pd.Timestamp.min.date(), pd.Timestamp.max.date())
        same = all(np.array_equal(stored["text"][c].to_numpy().view("int64"), stored["binary"][c].to_numpy().view("int64"))
                   for c in ("open", "high", "low", "close", "volume", "vwap"))
        print(f"both formats stored the same floats bit for bit: {same}")
        warehouse.dispose()


if __name__ == "__main__":
    main()
