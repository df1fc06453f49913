"""One-off measurement behind docs/storage.md's "Native partitioning (PostgreSQL)": the v2
`bars` table as revision 0002 creates it (0003 and 0004 change none of it on PostgreSQL):
one table, the (series_id, session) btree, the summary and duplicate triggers of
warehouse/summary_sql.py, the `bar_sessions` summary and its guard; against the same table
range-partitioned by `session`, one partition a month (index and triggers on the parent).

    .venv/bin/python docs/bar_partitioning.py [ADMIN_URL] [series] [years]

ADMIN_URL a libpq URL of the server's admin database (default
postgresql://postgres@127.0.0.1:5432/postgres): each variant is built in its own throwaway
database (created, dropped afterwards). Rows: `series` x every weekday of `years` calendar
years from 2021 x 390 1m bars, loaded a year at a time, series by series (as backfills write),
by INSERT ... SELECT generate_series (server-side: the load is not what is measured; it
fires the same triggers as a COPY). VACUUM ANALYZE, then medians of repetitions of:

- replace month / year: one series' sessions deleted (`session IN (...)`, bound values) and
  the same number of bars COPYed back, one transaction with the writer's advisory lock:
  Warehouse.replace_bars;
- VACUUM after 20 monthly replaces (20 series, one month): the whole table; partitioned, the
  touched partition and, in separate rounds, the whole partitioned table;
- read: one series' month ordered by ts; the lookback read (1,000 bars before a month,
  `session < first ORDER BY ts DESC LIMIT`, read_with_lookback);
- recount: GROUP BY (series_id, session) over all bars (`scan --recount`);
- retention, once, at the end: the oldest year dropped. One table: DELETE (triggers move
  the summary), then VACUUM. Partitioned: DETACH + DROP of its 12 partitions, and the summary
  rows deleted with the guard disabled in the same transaction (a dropped partition fires
  no delete trigger).
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import psycopg

from backfill_pipeline.warehouse.summary_sql import PG_DDL

ADMIN = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
N_SERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 40
N_YEARS = int(sys.argv[3]) if len(sys.argv) > 3 else 4
YEAR0 = 2021
PER = 390
OPEN_S = 14 * 3600 + 1800  # 14:30 UTC
REPS_MONTH, REPS_YEAR, REPS_VACUUM, REPS_READ = 9, 5, 5, 15
LOOKBACK = 1000

COLUMNS = "ts, open, high, low, close, volume, vwap, trades, series_id, session"
# revision 0002's bars (column order: no alignment padding)
BARS = """CREATE TABLE bars (ts BIGINT NOT NULL, open DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
   low DOUBLE PRECISION NOT NULL, close DOUBLE PRECISION NOT NULL, volume DOUBLE PRECISION NOT NULL,
   vwap DOUBLE PRECISION, trades BIGINT, series_id INTEGER NOT NULL, session DATE NOT NULL)"""
SUMMARY = """CREATE TABLE bar_sessions (series_id INTEGER NOT NULL, session DATE NOT NULL, bars INTEGER NOT NULL,
   PRIMARY KEY (series_id, session))"""
INDEX = "CREATE INDEX ix_bars_series_session ON bars (series_id, session)"
LOAD = f"""INSERT INTO bars ({COLUMNS})
SELECT extract(epoch FROM d)::bigint + {OPEN_S} + 60 * m, 100 + random(), 101 + random(), 99 + random(),
       100 + random(), 1000 * random(), 100 + random(), (100 * random())::bigint, %s, d::date
FROM generate_series(%s::date, %s::date, interval '1 day') d, generate_series(0, {PER - 1}) m
WHERE extract(isodow FROM d) < 6 ORDER BY d, m"""


def months() -> list[dt.date]:
    return [dt.date(YEAR0 + i // 12, i % 12 + 1, 1) for i in range(12 * N_YEARS)]


def next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def weekdays(first: dt.date, end: dt.date) -> list[dt.date]:
    days = (first + dt.timedelta(n) for n in range((end - first).days))
    return [d for d in days if d.weekday() < 5]


def partition_ddl() -> list[str]:
    out = [BARS + " PARTITION BY RANGE (session)"]
    for m in months():
        out.append(f"CREATE TABLE bars_{m:%Y_%m} PARTITION OF bars FOR VALUES FROM ('{m}') TO ('{next_month(m)}')")
    return out


VARIANTS: dict[str, list[str]] = {"one table": [BARS], "monthly partitions": partition_ddl()}


@contextmanager
def throwaway(admin: str) -> Iterator[str]:
    name = f"bp_partition_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows_of(sid: int, days: list[dt.date], rng: random.Random) -> list[tuple]:
    out = []
    for d in days:
        base = (d - dt.date(1970, 1, 1)).days * 86400 + OPEN_S
        iso = d.isoformat()
        for m in range(PER):
            p = 100 + rng.random()
            out.append((base + 60 * m, p, p + 1, p - 1, p + 0.5, 1000.0, p + 0.2, 10, sid, iso))
    return out


def replace(conn: psycopg.Connection, sid: int, days: list[dt.date], rows: list[tuple]) -> float:
    """Warehouse.replace_bars' statements: lock, delete the sessions, COPY the rows, commit."""
    marks = ", ".join(["%s"] * len(days))
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (sid,))
        conn.execute(f"DELETE FROM bars WHERE series_id = %s AND session IN ({marks})", (sid, *days))
        with conn.cursor() as cur, cur.copy(f"COPY bars ({COLUMNS}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
    return time.perf_counter() - started


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one(conn: psycopg.Connection, sql: str, args: tuple = ()) -> tuple:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return row


def sizes(conn: psycopg.Connection) -> tuple[int, int, int]:
    """(bars, heap bytes, index bytes) over the table or all its partitions."""
    heap, idx = one(conn, "SELECT sum(pg_table_size(t)), sum(pg_indexes_size(t)) FROM unnest(%s::regclass[]) t",
                    (leaves(conn),))
    n = one(conn, "SELECT count(*) FROM bars")[0]
    return n, int(heap), int(idx)


def leaves(conn: psycopg.Connection) -> list[str]:
    """The tables that hold bars: the partitions, or `bars` itself (pg_partition_tree lists
    nothing for a plain table)."""
    rows = conn.execute("SELECT relid::text FROM pg_partition_tree('bars') WHERE isleaf").fetchall()
    return [r[0] for r in rows] or ["bars"]


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:,.0f} ms"


def build(name: str, ddl: list[str], url: str, out: dict[str, str]) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    for stmt in [*ddl, SUMMARY, INDEX, *PG_DDL]:
        conn.execute(stmt)
    for t in leaves(conn):  # the server's autovacuum is off here, but make sure: VACUUM is measured
        conn.execute(f"ALTER TABLE {t} SET (autovacuum_enabled = false)")
    started = time.perf_counter()
    for y in range(N_YEARS):
        for sid in range(N_SERIES):
            conn.execute(LOAD, (sid, dt.date(YEAR0 + y, 1, 1), dt.date(YEAR0 + y, 12, 31)))
    load_s = time.perf_counter() - started
    conn.execute("VACUUM ANALYZE bars")
    conn.execute("VACUUM ANALYZE bar_sessions")
    n, heap, idx = sizes(conn)
    out["bars"] = f"{n:,}"
    out["load (INSERT ... SELECT, triggers; not interleaved)"] = f"{n / load_s:,.0f} bars/s"
    out["bytes / bar (heap + indexes)"] = f"{(heap + idx) / n:.1f} ({heap / n:.1f} + {idx / n:.1f})"
    print(f"[{name}] loaded {n:,} bars in {load_s:.0f} s", flush=True)
    return conn


def vacuum(conn: psycopg.Connection, target: str, options: str) -> tuple[float, int]:
    """Seconds of `VACUUM (options) target` and the index scans it made (VERBOSE's report)."""
    notes: list[str] = []
    def note(d: psycopg.errors.Diagnostic) -> None:
        notes.append(d.message_primary or "")
    conn.add_notice_handler(note)
    took = timed(lambda: conn.execute(f"VACUUM (VERBOSE{options}) {target}"))
    conn.remove_notice_handler(note)
    scans = sum(int(line.split("index scans: ")[1].split()[0]) for note in notes for line in note.splitlines()
                if "index scans: " in line)
    return took, scans


def measure(conns: dict[str, psycopg.Connection], out: dict[str, dict[str, str]]) -> None:
    """Every measurement alternates the variants repetition by repetition (the machine is shared)."""
    rng = random.Random(0)
    ms_ = months()[12:]  # replaces and reads after the first year (it is dropped last)

    def each(label: str, reps: int, pick: Callable[[], tuple], fn: Callable[[psycopg.Connection, tuple], float]) -> None:
        got: dict[str, list[float]] = {k: [] for k in conns}
        for _ in range(reps):
            args = pick()
            for k, conn in conns.items():
                got[k].append(fn(conn, args))
        for k in conns:
            out[k][label] = ms(got[k])

    def month() -> tuple:
        sid, m = rng.randrange(N_SERIES), rng.choice(ms_)
        return sid, m, next_month(m) - dt.timedelta(1)

    each("read one series' month, by ts", REPS_READ, month, lambda c, a: timed(lambda: c.execute(
        "SELECT ts, open, high, low, close, volume, vwap, trades, session FROM bars "
        "WHERE series_id = %s AND session >= %s AND session <= %s ORDER BY ts", a).fetchall()))
    each(f"lookback read ({LOOKBACK:,} bars before a month)", REPS_READ, month, lambda c, a: timed(lambda: c.execute(
        "SELECT ts, open, high, low, close, volume, session FROM bars WHERE series_id = %s AND session < %s "
        "ORDER BY ts DESC LIMIT %s", (a[0], a[1], LOOKBACK)).fetchall()))

    def month_rows() -> tuple:
        sid, m = rng.randrange(N_SERIES), rng.choice(ms_)
        days = weekdays(m, next_month(m))
        return sid, days, rows_of(sid, days, rng)

    def year_rows() -> tuple:
        sid, y = rng.randrange(N_SERIES), YEAR0 + rng.randrange(1, N_YEARS)
        days = weekdays(dt.date(y, 1, 1), dt.date(y + 1, 1, 1))
        return sid, days, rows_of(sid, days, rng)

    each("replace one series' month (~8,500 bars)", REPS_MONTH, month_rows, lambda c, a: replace(c, *a))
    each("replace one series' year (~102,000 bars)", REPS_YEAR, year_rows, lambda c, a: replace(c, *a))

    def direct_insert(c: psycopg.Connection, a: tuple) -> float:
        rows = a[2]
        shifted = [(r[0] + 30, *r[1:]) for r in rows]  # new ts in sessions that hold bars: the duplicate check runs
        started = time.perf_counter()
        with c.transaction(force_rollback=True), c.cursor() as cur, cur.copy(f"COPY bars ({COLUMNS}) FROM STDIN") as cp:
            for r in shifted:
                cp.write_row(r)
        return time.perf_counter() - started

    def session_rows() -> tuple:
        sid, m = rng.randrange(N_SERIES), rng.choice(ms_)
        days = weekdays(m, next_month(m))[:1]
        return sid, days, rows_of(sid, days, rng)

    each("COPY one session into a session holding bars (duplicate check), rolled back", REPS_MONTH, session_rows,
         direct_insert)
    for c in conns.values():
        c.execute("VACUUM bars")  # the replaces above are not what the next VACUUMs measure

    m = dt.date(YEAR0 + 2, 6, 1)
    days = weekdays(m, next_month(m))
    targets = {"one table": [("the table", "bars")],
               "monthly partitions": [("the touched partition", f"bars_{m:%Y_%m}"), ("all partitions", "bars")]}
    for options, what in (("", "VACUUM"), (", INDEX_CLEANUP ON", "VACUUM (INDEX_CLEANUP ON)")):
        for i in range(2):
            got: dict[str, list[tuple[float, int]]] = {}
            for _ in range(REPS_VACUUM):
                sids = rng.sample(range(N_SERIES), min(20, N_SERIES))
                batch = [(sid, rows_of(sid, days, rng)) for sid in sids]
                for k, c in conns.items():
                    if i >= len(targets[k]):
                        continue
                    label, target = targets[k][i]
                    for sid, rows in batch:
                        replace(c, sid, days, rows)
                    got.setdefault(k, []).append(vacuum(c, target, options))
            for k, runs in got.items():
                label = f"{what} after 20 monthly replaces (one month): {targets[k][i][0]}"
                out[k][label] = f"{ms([r[0] for r in runs])} (index scans {'/'.join(str(r[1]) for r in runs)})"

    each("recount (GROUP BY series, session over all bars)", 5, tuple, lambda c, a: timed(lambda: c.execute(
        "SELECT series_id, session, count(*) FROM bars GROUP BY series_id, session").fetchall()))
    for k, c in conns.items():
        plan = c.execute("EXPLAIN SELECT ts FROM bars WHERE series_id = 1 AND session >= '2023-03-01' "
                         "AND session <= '2023-03-31' ORDER BY ts").fetchall()
        out[k]["plan (month read)"] = " / ".join(r[0].strip(" ->").split("  (")[0] for r in plan[:3])


def retention(name: str, conn: psycopg.Connection, out: dict[str, str]) -> None:
    """The oldest year dropped, once (destructive: last)."""
    cut = dt.date(YEAR0 + 1, 1, 1)
    _, heap0, idx0 = sizes(conn)
    if name == "monthly partitions":
        def drop_year() -> None:
            with conn.transaction():
                for m in months()[:12]:
                    conn.execute(f"ALTER TABLE bars DETACH PARTITION bars_{m:%Y_%m}")
                    conn.execute(f"DROP TABLE bars_{m:%Y_%m}")
                # a dropped partition fires no delete trigger: the summary rows go by hand
                conn.execute("ALTER TABLE bar_sessions DISABLE TRIGGER bar_sessions_guard")
                conn.execute("DELETE FROM bar_sessions WHERE session < %s", (cut,))
                conn.execute("ALTER TABLE bar_sessions ENABLE TRIGGER bar_sessions_guard")
        out["drop the oldest year"] = f"{timed(drop_year) * 1e3:,.0f} ms (DETACH + DROP 12 partitions, summary rows)"
    else:
        took = timed(lambda: conn.execute("DELETE FROM bars WHERE session < %s", (cut,)))
        out["drop the oldest year"] = f"{took * 1e3:,.0f} ms (DELETE) + {timed(lambda: conn.execute('VACUUM bars')) * 1e3:,.0f} ms (VACUUM)"
    n1, heap1, idx1 = sizes(conn)
    left = one(conn, "SELECT count(*), coalesce(sum(bars), 0) FROM bar_sessions WHERE session < %s", (cut,))
    assert left == (0, 0), left
    assert one(conn, "SELECT sum(bars) FROM bar_sessions")[0] == n1
    out["bytes on disk after the drop"] = f"{(heap1 + idx1) / 1e6:,.0f} MB (before {(heap0 + idx0) / 1e6:,.0f} MB)"


def main() -> None:
    with psycopg.connect(ADMIN) as c:
        version = c.info.server_version
    print(f"{N_SERIES} series x {N_YEARS} years ({YEAR0}-{YEAR0 + N_YEARS - 1}, weekdays) x {PER} 1m bars; "
          f"PostgreSQL {version}", flush=True)
    results: dict[str, dict[str, str]] = {k: {} for k in VARIANTS}
    with ExitStack() as stack:
        conns = {k: build(k, ddl, stack.enter_context(throwaway(ADMIN)), results[k]) for k, ddl in VARIANTS.items()}
        measure(conns, results)
        for k, c in conns.items():
            retention(k, c, results[k])
            c.close()
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    print("\n| | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for k in keys:
        print(f"| {k} | " + " | ".join(r.get(k, "") for r in results.values()) + " |")


if __name__ == "__main__":
    main()
