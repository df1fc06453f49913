"""Benchmark: what a bar costs to store, and how fast the pipeline's write path loads it.

    backfill-pipeline bench storage [--symbols 20 --days 60] [--sqlite-only] [--pg-admin-url URL]

N symbols x D sessions of demo 1m bars, plus every timeframe derived from them (5m..4h, 1d,
1w), loaded into SQLite and PostgreSQL (a throwaway database). Printed per database:
- bytes per bar of `bars` (table incl. TOAST and maps, indexes, total; after VACUUM ANALYZE),
  and of the same rows in the v1 layout (text-keyed, release before storage v2);
- bulk-load bars/s through `Warehouse.replace_bars` (the assets' write path: delete the slice,
  load, the summary triggers, one transaction per series);
- the raw write ceiling: the same rows, prebuilt, loaded into the emptied `bars` (same schema,
  triggers and index) by the bulk path alone, one transaction per series; and the ratio;
- bytes per feature row of `features` (every series' features, computed untimed, written
  through `replace_features`, rows/s), and of the same rows in the v1 (text-keyed) layout.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from backfill_pipeline.bench.pg import DEFAULT_PG_ADMIN, throwaway_database
from backfill_pipeline.features.compute import compute_features
from backfill_pipeline.features.lookback import bars_per_year
from backfill_pipeline.features.windows import FeatureWindows
from backfill_pipeline.ingest import assign_sessions
from backfill_pipeline.markets import get_market, last_closed_sessions
from backfill_pipeline.resample import resample_bars
from backfill_pipeline.vendors.demo.client import DemoClient
from backfill_pipeline.warehouse.bench_store import timed_raw_load, v1_features_storage, v1_layout_storage
from backfill_pipeline.warehouse.features import replace_features
from backfill_pipeline.warehouse.storage import table_storage
from backfill_pipeline.warehouse.store import Warehouse

MARKET = get_market("us_equities")
INTRADAY = ("5m", "15m", "30m", "1h", "4h")
Series = tuple[str, str, pd.DataFrame]  # timeframe, symbol, bars with `session`


def build_frames(symbols: list[str], sessions: pd.DatetimeIndex) -> list[Series]:
    client = DemoClient(MARKET)
    out: list[Series] = []
    start, end = pd.Timestamp(sessions[0], tz="UTC"), pd.Timestamp(sessions[-1], tz="UTC") + pd.Timedelta(days=1)
    for symbol in symbols:
        minute, _ = assign_sessions(MARKET, "1m", client.fetch_bars(symbol, "1m", start, end).bars, sessions)
        out.append(("1m", symbol, minute))
        raw = minute.drop(columns="session")
        for tf in INTRADAY:
            frame, _ = assign_sessions(MARKET, tf, resample_bars(MARKET, raw, tf), sessions)
            out.append((tf, symbol, frame))
        daily = resample_bars(MARKET, raw, "1d")
        daily["session"] = daily["ts"].dt.tz_localize(None)
        out.append(("1d", symbol, daily))
        weekly = resample_bars(MARKET, daily.drop(columns="session"), "1w")
        weekly["session"] = weekly["ts"].dt.tz_localize(None)
        out.append(("1w", symbol, weekly))
    return out


def _sessions(frame: pd.DataFrame) -> list:
    return [d.date() for d in pd.DatetimeIndex(frame["session"].unique())]


def pipeline_load(url: str, series: list[Series]) -> tuple[int, float]:
    warehouse = Warehouse(url)
    for tf, symbol, _ in series:  # series ids registered outside the timed part
        warehouse.series_id(MARKET.name, tf, symbol)
    started, rows = time.perf_counter(), 0
    for tf, symbol, frame in series:
        rows += warehouse.replace_bars(MARKET.name, tf, symbol, _sessions(frame), frame)
    elapsed = time.perf_counter() - started
    warehouse.dispose()
    return rows, elapsed


def raw_ceiling(url: str, series: list[Series]) -> tuple[int, float]:
    warehouse = Warehouse(url)
    try:
        return timed_raw_load(warehouse, [(MARKET.name, tf, symbol, frame) for tf, symbol, frame in series])
    finally:
        warehouse.dispose()


def v1_bytes(url: str, series: list[Series]) -> str:
    """The same rows in the v1 layout (text keys, 4-column primary key and session index)."""
    return v1_layout_storage(url, [(MARKET.name, tf, symbol, frame) for tf, symbol, frame in series]).line()


def features_load(url: str, v1_url: str, series: list[Series]) -> tuple[str, str, float]:
    """Every series' features (computed untimed) written through replace_features: the v2
    line, the v1 layout's line for the same rows, and rows/s of the write."""
    windows = FeatureWindows()
    computed = [(tf, symbol, frame, compute_features(frame, windows, bars_per_year(MARKET, tf)))
                for tf, symbol, frame in series]
    warehouse = Warehouse(url)
    started, rows = time.perf_counter(), 0
    for tf, symbol, frame, values in computed:
        rows += replace_features(warehouse, MARKET.name, tf, symbol, _sessions(frame), frame, values)
    elapsed = time.perf_counter() - started
    line = table_storage(warehouse, "features", vacuum=True).line()
    warehouse.dispose()
    v1 = v1_features_storage(v1_url, [(MARKET.name, tf, symbol, frame, values) for tf, symbol, frame, values in computed])
    return line, v1.line(), rows / elapsed


def run(label: str, url: str, v1_url: str, series: list[Series]) -> None:
    rows, load_s = pipeline_load(url, series)
    warehouse = Warehouse(url)
    storage = table_storage(warehouse, vacuum=True)
    warehouse.dispose()
    print(f"[{label}] v2 bars: {storage.line()}")
    print(f"[{label}] v1 layout, same rows: {v1_bytes(v1_url, series)}")
    ceiling_rows, ceiling_s = raw_ceiling(url, series)
    load_rate, ceiling_rate = rows / load_s, ceiling_rows / ceiling_s
    print(f"[{label}] bulk load through replace_bars: {rows:,} bars in {load_s:.2f} s = {load_rate:,.0f} bars/s")
    print(f"[{label}] raw write ceiling (same rows, same schema): {ceiling_rows:,} bars in {ceiling_s:.2f} s = "
          f"{ceiling_rate:,.0f} bars/s; load / ceiling = {load_rate / ceiling_rate:.2f}")
    features, v1_features, feature_rate = features_load(url, v1_url, series)
    print(f"[{label}] v2 features: {features}; written through replace_features at {feature_rate:,.0f} rows/s")
    print(f"[{label}] v1 layout, same feature rows: {v1_features}")


def _pg_pair(admin_url: str) -> Iterator[tuple[str, str]]:
    with throwaway_database(admin_url) as url, throwaway_database(admin_url) as v1_url:
        yield url, v1_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backfill-pipeline bench storage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--days", type=int, default=60, help="closed XNYS sessions")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    sessions = last_closed_sessions(MARKET, args.days)
    series = build_frames(symbols, sessions)
    minute = sum(len(f) for tf, _, f in series if tf == "1m")
    total = sum(len(f) for _, _, f in series)
    print(f"{args.symbols} symbols x {len(sessions)} sessions ({sessions[0]:%Y-%m-%d}..{sessions[-1]:%Y-%m-%d}): "
          f"{minute:,} 1m bars + {total - minute:,} derived (5m..4h, 1d, 1w)")
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'v2.db'}", f"sqlite:///{Path(tmp) / 'v1.db'}", series)
    if not args.sqlite_only:
        for url, v1_url in _pg_pair(args.pg_admin_url):
            run("postgresql", url, v1_url, series)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
