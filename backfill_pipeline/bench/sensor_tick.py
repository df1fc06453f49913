"""Benchmark: one tick of gap_fill_48h_sensor over a realistic warehouse.

    backfill-pipeline bench sensor [--symbols 500] [--sessions 10] [--url URL] [--repeat 3]
    python -m backfill_pipeline.bench.sensor_tick ...

Builds a warehouse of N symbols in each market (us_equities and crypto) x the last D
closed sessions of every timeframe (1m and 1d fetched, with fetch-log rows; 5m..4h and 1w
derived), bulk-loaded in one transaction per (market, timeframe), with gaps on purpose:
every 13th symbol misses its newest session, every 17th has a failed fetch, every 29th an
unfinalized one. Then registers the symbols in a throwaway Dagster instance and times the
sensor's evaluation through Dagster (build_sensor_context, resources, cursor) as the daemon
runs it. Prints the build time, the tick's seconds and what it requested. Target: under
5 s (Dagster times a sensor out at 60 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backfill_pipeline.calendar_grid import expected_counts, expected_timestamps
from backfill_pipeline.markets import MARKETS, Market, last_closed_sessions
from backfill_pipeline.resample import week_labels
from backfill_pipeline.timeframes import TIMEFRAME_NAMES, derivation_sources, get_timeframe
from backfill_pipeline.warehouse.bench_store import load_fresh
from backfill_pipeline.warehouse.store import Warehouse

FETCHED = ("1m", "1d")


def grid_bars(
    market: Market, timeframe: str, sessions: pd.DatetimeIndex, now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Every bar the calendar expects for `sessions` (a flat synthetic price), with its session.
    For 1w: one bar per week, labelled with the week's first session, as the pipeline stores it."""
    if get_timeframe(timeframe).weekly:
        labels = pd.DatetimeIndex(week_labels(market, pd.Series(sessions)).unique())
        ts = labels.tz_localize("UTC")
        session = labels
    else:
        ts = expected_timestamps(market, timeframe, sessions, now)
        counts = expected_counts(market, timeframe, sessions, now)
        session = pd.DatetimeIndex(np.repeat(counts.index.to_numpy(), counts.to_numpy()))
    n = len(ts)
    price = 100.0 + np.arange(n) % 7 * 0.01
    return pd.DataFrame({
        "ts": pd.DatetimeIndex(ts).astype("datetime64[ns, UTC]"), "session": session.astype("datetime64[ns]"),
        "open": price, "high": price + 0.05, "low": price - 0.05, "close": price, "volume": np.full(n, 100.0),
        "vwap": price, "trades": pd.array(np.full(n, 10), dtype="Int64"),
    })


def fetch_row(
    market: str, symbol: str, timeframe: str, session: pd.Timestamp | dt.date, bars: int, *, status: str = "ok",
    finalized: bool = True, fetched_at: dt.datetime | None = None, vendor: str = "demo",
    fetch_id: str | None = None, run_id: str | None = None, error: str | None = None,
) -> dict[str, Any]:
    """A fetch-log row (a failed one gets a placeholder error text unless `error` is given)."""
    if error is None and status != "ok":
        error = f"{status} (synthetic)"
    return {"fetch_id": fetch_id or str(uuid.uuid4()), "market": market, "symbol": symbol, "timeframe": timeframe,
            "session": pd.Timestamp(session).date(), "vendor": vendor, "window_start": 0, "window_end": 0, "bars": bars,
            "status": status, "finalized": finalized, "fetched_at": fetched_at or dt.datetime.now(dt.UTC),
            "run_id": run_id, "error": error}


def build(warehouse: Warehouse, symbols: dict[str, list[str]], sessions: dict[str, pd.DatetimeIndex],
          now: pd.Timestamp) -> int:
    """The benchmark warehouse; returns the bars written."""
    written = 0
    fetched_at = (now - pd.Timedelta(hours=1)).to_pydatetime()
    for name, syms in symbols.items():
        market, days = MARKETS[name], sessions[name]
        sources = derivation_sources(FETCHED)
        for timeframe in TIMEFRAME_NAMES:
            grid = grid_bars(market, timeframe, days, now)
            frames: dict[str, pd.DataFrame] = {}
            rows: list[dict[str, Any]] = []
            for i, symbol in enumerate(syms):
                keep = days[:-1] if i % 13 == 0 else days  # newest session never fetched
                failed = days[-2] if i % 17 == 0 else None
                frame = grid[grid["session"].isin(keep)] if not get_timeframe(timeframe).weekly else grid
                if failed is not None:
                    frame = frame[frame["session"] != failed] if not get_timeframe(timeframe).weekly else frame
                frames[symbol] = frame
                if sources[timeframe] is None:
                    per_session = frame.groupby("session").size()
                    for s in keep:
                        status = "error" if s == failed else "ok"
                        final = not (i % 29 == 0 and s == days[-1])
                        rows.append(fetch_row(name, symbol, timeframe, s, int(per_session.get(s, 0)), status=status,
                                              finalized=final, fetched_at=fetched_at))
            written += load_fresh(warehouse, market.name, timeframe, frames, rows)
    return written


def time_tick(instance: Any, url: str, symbols: dict[str, list[str]], now: pd.Timestamp, cursor: str | None
              ) -> tuple[float, Any]:
    import dagster as dg

    from backfill_pipeline.automation.build import build_automation
    from backfill_pipeline.names import GAP_SENSOR
    from backfill_pipeline.settings import Settings
    from backfill_pipeline.warehouse.resource import WarehouseResource

    automation = build_automation(Settings(), clock=lambda: now)
    sensor = next(s for s in automation.sensors if s.name == GAP_SENSOR)
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"warehouse": WarehouseResource(url=url)}) as context:
        started = time.perf_counter()
        result = sensor(context)
        return time.perf_counter() - started, result


def midweek_evening() -> pd.Timestamp:
    """An hour after the close of the newest XNYS session whose previous session was the day
    before: the 48-hour window then holds two sessions of each market."""
    from backfill_pipeline.markets import session_bounds

    market = MARKETS["us_equities"]
    recent = last_closed_sessions(market, 30)
    consecutive = [s for prev, s in itertools.pairwise(recent) if (s - prev).days == 1]
    _, closes = session_bounds(market, pd.DatetimeIndex(consecutive[-1:]))
    return closes.iloc[0] + pd.Timedelta(hours=1)


def _symbols(market: str, n: int) -> list[str]:
    return [f"C{i:04d}-USD" for i in range(n)] if market == "crypto" else [f"S{i:04d}" for i in range(n)]


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backfill-pipeline bench sensor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=500, help="symbols per market")
    parser.add_argument("--sessions", type=int, default=10, help="closed sessions stored per market")
    parser.add_argument("--url", default=None, help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--repeat", type=int, default=3, help="ticks timed (the first is reported separately)")
    parser.add_argument("--now", default=None, help="evaluation time (UTC, ISO); default: an hour after the newest "
                        "XNYS close that follows another weekday's, so both markets have two sessions in the window")
    args = parser.parse_args(list(argv) if argv is not None else None)
    import dagster as dg

    now = pd.Timestamp(args.now, tz="UTC") if args.now else midweek_evening()
    symbols = {m: _symbols(m, args.symbols) for m in MARKETS}
    sessions = {m: last_closed_sessions(MARKETS[m], args.sessions, now) for m in MARKETS}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'warehouse.db'}"
        warehouse = Warehouse(url)
        started = time.perf_counter()
        bars = build(warehouse, symbols, sessions, now)
        warehouse.dispose()
        print(f"evaluation time {now:%Y-%m-%d %H:%M} UTC; warehouse: {args.symbols} symbols x {len(MARKETS)} markets x "
              f"{args.sessions} sessions, "
              f"{bars:,} bars (every timeframe) bulk-loaded in {time.perf_counter() - started:.1f} s "
              f"({'given URL' if args.url else 'SQLite'})")
        (Path(tmp) / "dagster_home").mkdir()
        with dg.instance_for_test(temp_dir=str(Path(tmp) / "dagster_home")) as instance:
            for m, syms in symbols.items():
                instance.add_dynamic_partitions(MARKETS[m].symbols_partitions_name, syms)
            cursor = None
            for i in range(max(1, args.repeat)):
                seconds, result = time_tick(instance, url, symbols, now, cursor)
                cursor = result.cursor
                requested = len(result.run_requests or [])
                label = "first tick" if i == 0 else f"tick {i + 1} (same bucket)"
                print(f"{label}: {seconds:.2f} s, {requested} run requests"
                      + (f"; {result.skip_reason.skip_message}" if result.skip_reason else ""))
                if i == 0 and result.run_requests:
                    jobs = Counter(r.job_name for r in result.run_requests)
                    print("  " + ", ".join(f"{job}: {n}" for job, n in sorted(jobs.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
