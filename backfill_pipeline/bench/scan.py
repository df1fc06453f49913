"""Benchmark: gap scan of a warehouse holding N symbols x D sessions of 1m bars.

    backfill-pipeline bench scan [--symbols 100 --days 252] [--sqlite-only] [--pg-admin-url URL]

Builds the warehouse once per database (demo-vendor bars bulk-loaded through the same
write path the assets use, with a few sessions left out as gaps), then times:
- `scan` as the CLI runs it (per-session summary table + fetch log + vectorised grid);
- `scan --recount` (GROUP BY over `bars` itself), the audit path.
Prints seconds and bars covered per second. PostgreSQL uses a throwaway database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from backfill_pipeline.bench.pg import DEFAULT_PG_ADMIN, throwaway_database
from backfill_pipeline.gaps import scan, summarize
from backfill_pipeline.ingest import assign_sessions
from backfill_pipeline.markets import get_market, last_closed_sessions
from backfill_pipeline.timeframes import derivation_sources
from backfill_pipeline.vendors.demo.client import DemoClient
from backfill_pipeline.warehouse.store import Warehouse


def build(url: str, symbols: list[str], sessions: pd.DatetimeIndex) -> tuple[int, float]:
    """Load the bars (every 17th session of every 7th symbol left out); returns rows, seconds."""
    market = get_market("us_equities")
    warehouse = Warehouse(url)
    client = DemoClient(market)
    rows, started = 0, time.perf_counter()
    for i, symbol in enumerate(symbols):
        keep = sessions if i % 7 else sessions[[j for j in range(len(sessions)) if j % 17]]
        result = client.fetch_bars(symbol, "1m", pd.Timestamp(keep[0], tz="UTC"), pd.Timestamp(keep[-1], tz="UTC") + pd.Timedelta(days=1))
        frame, _ = assign_sessions(market, "1m", result.bars, keep)
        now = dt.datetime.now(dt.UTC)
        fetch_rows = [{"fetch_id": str(uuid.uuid4()), "market": market.name, "symbol": symbol, "timeframe": "1m",
                       "session": s.date(), "vendor": "demo", "window_start": 0, "window_end": 0, "bars": 390,
                       "status": "ok", "finalized": True, "fetched_at": now, "run_id": None, "error": None}
                      for s in keep]
        rows += warehouse.replace_bars(market.name, "1m", symbol, [s.date() for s in keep], frame, fetch_rows)
    elapsed = time.perf_counter() - started
    warehouse.dispose()
    return rows, elapsed


def time_scan(url: str, symbols: list[str], sessions: pd.DatetimeIndex, recount: bool) -> tuple[float, dict[str, int]]:
    market = get_market("us_equities")
    warehouse = Warehouse(url)
    started = time.perf_counter()
    table = scan(warehouse, market, symbols, ["1m"], sessions, derivation_sources(("1m", "1d")), recount=recount)
    elapsed = time.perf_counter() - started
    warehouse.dispose()
    return elapsed, summarize(table)


def run(label: str, url: str, symbols: list[str], sessions: pd.DatetimeIndex) -> None:
    rows, load_s = build(url, symbols, sessions)
    print(f"[{label}] loaded {rows:,} bars in {load_s:.1f} s ({rows / load_s:,.0f} bars/s through replace_bars)")
    for recount in (False, True):
        times = []
        for _ in range(3):
            seconds, summary = time_scan(url, symbols, sessions, recount)
            times.append(seconds)
        best = min(times)
        name = "scan --recount (GROUP BY bars)" if recount else "scan (session summary)"
        print(f"[{label}] {name}: best of 3 {best:.3f} s, {rows / best:,.0f} bars/s; "
              f"partitions {summary['partitions']:,}, not_fetched {summary['not_fetched']}, "
              f"missing bars {summary['missing_bars']:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backfill-pipeline bench scan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--days", type=int, default=252, help="closed XNYS sessions (252 = one year)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    args = parser.parse_args(argv)
    symbols = [f"S{i:04d}" for i in range(args.symbols)]
    sessions = last_closed_sessions(get_market("us_equities"), args.days)
    print(f"{args.symbols} symbols x {len(sessions)} sessions of 1m bars "
          f"({sessions[0]:%Y-%m-%d}..{sessions[-1]:%Y-%m-%d})")
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", symbols, sessions)
    if args.sqlite_only:
        return 0
    with throwaway_database(args.pg_admin_url) as url:
        run("postgresql", url, symbols, sessions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
