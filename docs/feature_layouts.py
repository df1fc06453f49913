"""One-off measurement behind docs/storage.md's `features` section: bytes per feature row
and query times of candidate `features` layouts, in scratch tables (feat_l0..), not a warehouse.

    .venv/bin/python docs/feature_layouts.py PG_URL SQLITE_PATH [series] [sessions]

PG_URL a libpq URL of a scratch database (postgresql://postgres@127.0.0.1:5432/scratch),
SQLITE_PATH a new file; `-` for either skips that database.

Rows: `series` x `sessions` x 390 1m feature rows (10 float8, ts int8, series id, session),
no NULLs (warm-up rows are a vanishing share). Queries timed (median of 30):
- replace: delete one series' 5 sessions + insert their 1,950 rows, one transaction;
- read: one series' 5 sessions, ordered by ts.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import time

import numpy as np
import psycopg

N_SERIES = int(sys.argv[3]) if len(sys.argv) > 3 else 40
N_SESSIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 65
PER = 390
FCOLS = ["close_adj", "ret", "log_ret", "realized_vol", "atr", "ema_fast", "ema_slow", "trend_spread", "trend_slope",
         "volume_z"]
DAY0 = 19800  # days since epoch
rng = np.random.default_rng(0)


def rows_of(sid: int, days: list[int]) -> list[tuple]:
    out = []
    vals = rng.normal(size=(len(days) * PER, 10)).tolist()
    k = 0
    for d in days:
        base = d * 86400 + 14 * 3600 + 1800
        for m in range(PER):
            out.append((base + 60 * m, *vals[k], sid, d))
            k += 1
    return out


ALL_DAYS = list(range(DAY0, DAY0 + N_SESSIONS))
FLOATS_PG = ", ".join(f"{c} DOUBLE PRECISION" for c in FCOLS)
FLOATS_SQ = ", ".join(f"{c} FLOAT" for c in FCOLS)
COLS = ["ts", *FCOLS, "series_id", "session"]

PG_TRIGGER = """
CREATE OR REPLACE FUNCTION f_unique_{t}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows GROUP BY series_id, ts HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'dup' USING ERRCODE = 'unique_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM {t} f JOIN (SELECT DISTINCT series_id, session FROM new_rows) s
             ON f.series_id = s.series_id AND f.session = s.session
             GROUP BY f.series_id, f.ts HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'dup' USING ERRCODE = 'unique_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER {t}_unique AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION f_unique_{t}()"""


def _table(floats: str, session: str, key: str = "", text: bool = False, suffix: str = "") -> str:
    keys = ("market VARCHAR(32) NOT NULL, symbol VARCHAR(32) NOT NULL, timeframe VARCHAR(8) NOT NULL, "
            f"ts BIGINT NOT NULL, session {session} NOT NULL, {floats}") if text else (
            f"ts BIGINT NOT NULL, {floats}, series_id INTEGER NOT NULL, session {session} NOT NULL")
    return "CREATE TABLE {t} (" + keys + (f", PRIMARY KEY ({key})" if key else "") + ")" + suffix


_V1_KEY = "market, symbol, timeframe, ts"
PG_LAYOUTS = {
    "pk(series_id,ts)": [_table(FLOATS_PG, "DATE", "series_id, ts")],
    "pk(series_id,ts)+ix(series_id,session)": [_table(FLOATS_PG, "DATE", "series_id, ts"),
                                               "CREATE INDEX ON {t} (series_id, session)"],
    "ix(series_id,session) only": [_table(FLOATS_PG, "DATE"), "CREATE INDEX ON {t} (series_id, session)"],
    "ix(series_id,session)+unique trigger": [_table(FLOATS_PG, "DATE"), "CREATE INDEX ON {t} (series_id, session)",
                                             PG_TRIGGER],
    "v1 text-keyed": [_table(FLOATS_PG, "DATE", _V1_KEY, text=True),
                      "CREATE INDEX ON {t} (market, timeframe, symbol, session)"],
}

SQ_LAYOUTS = {
    "WITHOUT ROWID pk(series_id,ts)": [_table(FLOATS_SQ, "INTEGER", "series_id, ts", suffix=" WITHOUT ROWID")],
    "WITHOUT ROWID pk(series_id,ts)+ix(series_id,session)": [
        _table(FLOATS_SQ, "INTEGER", "series_id, ts", suffix=" WITHOUT ROWID"),
        "CREATE INDEX ix_{t} ON {t} (series_id, session)"],
    "WITHOUT ROWID pk(series_id,session,ts)": [
        _table(FLOATS_SQ, "INTEGER", "series_id, session, ts", suffix=" WITHOUT ROWID")],
    "v1 text-keyed": [_table(FLOATS_SQ, "DATE", _V1_KEY, text=True),
                      "CREATE INDEX ix_{t} ON {t} (market, timeframe, symbol, session)"],
}


def iso(d: int) -> str:
    return str(np.datetime64(d, "D"))


def text_row(r: tuple, pg: bool) -> tuple:
    return ("us_equities", f"S{r[-2]:04d}", "1m", r[0], iso(r[-1]), *r[1:11])


TEXT_COLS = ["market", "symbol", "timeframe", "ts", "session", *FCOLS]


def slices(seed: int) -> list[tuple[int, list[int]]]:
    r = random.Random(seed)
    out = []
    for _ in range(30):
        sid = r.randrange(N_SERIES)
        start = r.randrange(N_SESSIONS - 5)
        out.append((sid, ALL_DAYS[start:start + 5]))
    return out


def pg(url: str) -> None:
    conn = psycopg.connect(url, autocommit=True)
    for i, (name, ddl) in enumerate(PG_LAYOUTS.items()):
        t = f"feat_l{i}"
        conn.execute(f"DROP TABLE IF EXISTS {t}")
        for stmt in ddl:
            conn.execute(stmt.format(t=t))
        text = name.startswith("v1")
        cols = TEXT_COLS if text else COLS
        load_s = 0.0
        for sid in range(N_SERIES):
            rows = rows_of(sid, ALL_DAYS)
            rows = [text_row(r, True) for r in rows] if text else [(*r[:-1], iso(r[-1])) for r in rows]
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, cur.copy(f"COPY {t} ({', '.join(cols)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            load_s += time.perf_counter() - started
        conn.execute(f"VACUUM ANALYZE {t}")
        n = conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        heap = conn.execute("SELECT pg_table_size(%s::regclass)", (t,)).fetchone()[0]
        idx = conn.execute("SELECT pg_indexes_size(%s::regclass)", (t,)).fetchone()[0]
        reads, replaces = [], []
        for sid, days in slices(1):
            if text:
                q = (f"SELECT ts, session, {', '.join(FCOLS)} FROM {t} WHERE market = 'us_equities' AND timeframe = '1m' "
                     "AND symbol = %s AND session >= %s AND session <= %s ORDER BY ts")
                args: tuple = (f"S{sid:04d}", iso(days[0]), iso(days[-1]))
            else:
                q = (f"SELECT ts, session, {', '.join(FCOLS)} FROM {t} WHERE series_id = %s "
                     "AND session >= %s AND session <= %s ORDER BY ts")
                args = (sid, iso(days[0]), iso(days[-1]))
            started = time.perf_counter()
            got = conn.execute(q, args).fetchall()
            reads.append(time.perf_counter() - started)
            assert len(got) == 5 * PER, (name, len(got))
        for sid, days in slices(2):
            rows = rows_of(sid, days)
            rows = [text_row(r, True) for r in rows] if text else [(*r[:-1], iso(r[-1])) for r in rows]
            if text:
                where, args = ("market = 'us_equities' AND timeframe = '1m' AND symbol = %s AND session = ANY(%s)",
                               (f"S{sid:04d}", [iso(d) for d in days]))
            else:
                where, args = "series_id = %s AND session = ANY(%s)", (sid, [iso(d) for d in days])
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(f"DELETE FROM {t} WHERE {where.replace('ANY(%s)', 'ANY(%s::date[])')}", args)
                with conn.cursor() as cur, cur.copy(f"COPY {t} ({', '.join(cols)}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
            replaces.append(time.perf_counter() - started)
        print(f"[postgresql] {name}: {n:,} rows, {(heap + idx) / n:.1f} B/row (heap {heap / n:.1f}, indexes "
              f"{idx / n:.1f}); load {n / load_s:,.0f} rows/s; read 5 sessions {statistics.median(reads) * 1e3:.1f} ms; "
              f"replace 5 sessions {statistics.median(replaces) * 1e3:.1f} ms", flush=True)
        conn.execute(f"DROP TABLE {t}")
    conn.close()


def sq(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for i, (name, ddl) in enumerate(SQ_LAYOUTS.items()):
        t = f"feat_l{i}"
        conn.execute(f"DROP TABLE IF EXISTS {t}")
        for stmt in ddl:
            conn.execute(stmt.format(t=t))
        text = name.startswith("v1")
        cols = TEXT_COLS if text else COLS
        ins = f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        load_s = 0.0
        for sid in range(N_SERIES):
            rows = rows_of(sid, ALL_DAYS)
            if text:
                rows = [text_row(r, False) for r in rows]
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(ins, rows)
            conn.execute("COMMIT")
            load_s += time.perf_counter() - started
        conn.execute(f"ANALYZE {t}")
        n = conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
                                  "(SELECT name FROM sqlite_schema WHERE tbl_name = ?) GROUP BY name", (t,)).fetchall())
        heap = pages.pop(t, 0)
        idx = sum(pages.values())
        reads, replaces = [], []
        for sid, days in slices(1):
            if text:
                q = (f"SELECT ts, session, {', '.join(FCOLS)} FROM {t} WHERE market = 'us_equities' AND timeframe = '1m' "
                     "AND symbol = ? AND session >= ? AND session <= ? ORDER BY ts")
                args: tuple = (f"S{sid:04d}", iso(days[0]), iso(days[-1]))
            else:
                q = (f"SELECT ts, session, {', '.join(FCOLS)} FROM {t} WHERE series_id = ? "
                     "AND session >= ? AND session <= ? ORDER BY ts")
                args = (sid, days[0], days[-1])
            started = time.perf_counter()
            got = conn.execute(q, args).fetchall()
            reads.append(time.perf_counter() - started)
            assert len(got) == 5 * PER, (name, len(got))
        for sid, days in slices(2):
            rows = rows_of(sid, days)
            if text:
                rows = [text_row(r, False) for r in rows]
                where = "market = 'us_equities' AND timeframe = '1m' AND symbol = ? AND session IN (?, ?, ?, ?, ?)"
                args = (f"S{sid:04d}", *(iso(d) for d in days))
            else:
                where, args = "series_id = ? AND session IN (?, ?, ?, ?, ?)", (sid, *days)
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"DELETE FROM {t} WHERE {where}", args)
            conn.executemany(ins, rows)
            conn.execute("COMMIT")
            replaces.append(time.perf_counter() - started)
        plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM {t} WHERE series_id = 1 AND session IN (1, 2)"
                            if not text else "SELECT 'text'").fetchall()
        print(f"[sqlite] {name}: {n:,} rows, {(heap + idx) / n:.1f} B/row (table {heap / n:.1f}, indexes "
              f"{idx / n:.1f}); load {n / load_s:,.0f} rows/s; read 5 sessions {statistics.median(reads) * 1e3:.1f} ms; "
              f"replace 5 sessions {statistics.median(replaces) * 1e3:.1f} ms; plan {plan[-1][-1]}", flush=True)
        conn.execute(f"DROP TABLE {t}")
    conn.close()


if __name__ == "__main__":
    print(f"{N_SERIES} series x {N_SESSIONS} sessions x {PER} rows = {N_SERIES * N_SESSIONS * PER:,} feature rows")
    if sys.argv[2] != "-":
        sq(sys.argv[2])
    if sys.argv[1] != "-":
        pg(sys.argv[1])
