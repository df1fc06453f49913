"""All macro SQL: vintage slices and the point-in-time daily table, written idempotently.

Vintages: a fetch of series S over observation dates [start, end] (every real-time period)
replaces S's rows dated in that window, all vintages included: the source's answer for the
window is the truth. Daily table: a run replaces the rows of exactly the sessions it covers.
Frames use NaT for FRED's open realtime_end (9999-12-31, outside pandas' datetime range);
the table stores 9999-12-31 as FRED sends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.derived_rows import delete_in, insert_rows, lock, plain
from backfill_pipeline.warehouse.macro_tables import OPEN_REALTIME_END, macro_daily_pit, macro_vintages
from backfill_pipeline.warehouse.store import Warehouse

VINTAGE_COLUMNS: tuple[str, ...] = ("series_id", "date", "realtime_start", "realtime_end", "value")
PIT_COLUMNS: tuple[str, ...] = (
    "date", "field", "series_id", "value", "observation_date", "release_date", "age_days", "required", "status",
)


def _timestamps(values: Sequence[object]) -> pd.Series:
    """Dates from the database as datetime64[ns]; FRED's open end 9999-12-31 becomes NaT."""
    days = [None if v is None or v == OPEN_REALTIME_END else v for v in values]
    return pd.Series(pd.to_datetime(pd.Series(days, dtype="object")), dtype="datetime64[ns]")


def replace_vintages(
    warehouse: Warehouse, series_id: str, start: dt.date, end: dt.date, frame: pd.DataFrame, vendor: str,
    fetched_at: dt.datetime,
) -> int:
    """Replace `series_id`'s vintages of observations dated start..end by `frame`
    (date, value, realtime_start, realtime_end; NaT realtime_end = still in force)."""
    inside = frame[(frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))]
    inside = inside.drop_duplicates(["date", "realtime_start"], keep="last")
    typed = [
        {"series_id": series_id, "date": pd.Timestamp(r.date).date(),
         "realtime_start": pd.Timestamp(r.realtime_start).date(),
         "realtime_end": OPEN_REALTIME_END if pd.isna(r.realtime_end) else pd.Timestamp(r.realtime_end).date(),
         "value": plain(r.value), "vendor": vendor, "fetched_at": fetched_at}
        for r in inside.itertuples()
    ]
    columns = (*VINTAGE_COLUMNS, "vendor", "fetched_at")
    with warehouse.transaction() as conn:
        lock(conn, "macro_vintages", series_id)
        conn.execute(macro_vintages.delete().where(
            macro_vintages.c.series_id == series_id, macro_vintages.c.date >= start, macro_vintages.c.date <= end,
        ))
        if typed and conn.dialect.name == "postgresql":  # COPY on psycopg 3: text values
            text = [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in (row[c] for c in columns))
                    for row in typed]
            insert_rows(conn, macro_vintages, columns, text)
        elif typed:  # typed values, so SQLite's DateTime column reads back what was written
            conn.execute(macro_vintages.insert(), typed)
    return len(typed)


def read_vintages(warehouse: Warehouse, series_ids: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """series_id, date, value, realtime_start, realtime_end (NaT = in force): every stored
    vintage of the given series' observations dated start..end, by (series, date, realtime_start)."""
    t = macro_vintages
    query = (
        sa.select(*(t.c[c] for c in VINTAGE_COLUMNS))
        .where(t.c.series_id.in_(list(series_ids)), t.c.date >= start, t.c.date <= end)
        .order_by(t.c.series_id, t.c.date, t.c.realtime_start)
    )
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(VINTAGE_COLUMNS))
    for col in ("date", "realtime_start", "realtime_end"):
        frame[col] = _timestamps(list(frame[col]))
    frame["value"] = frame["value"].astype("float64")
    frame["series_id"] = frame["series_id"].astype("object")
    return frame.loc[:, ["series_id", "date", "value", "realtime_start", "realtime_end"]]  # the sources' order


def replace_pit_daily(warehouse: Warehouse, sessions: Sequence[dt.date], table: pd.DataFrame) -> int:
    """Replace the point-in-time daily rows of `sessions` by `table` (PIT_COLUMNS)."""
    rows = [
        {"date": pd.Timestamp(r.date).date(), "field": r.field, "series_id": r.series_id, "value": plain(r.value),
         "observation_date": None if pd.isna(r.observation_date) else pd.Timestamp(r.observation_date).date(),
         "release_date": None if pd.isna(r.release_date) else pd.Timestamp(r.release_date).date(),
         "age_days": plain(r.age_days), "required": bool(r.required), "status": r.status}
        for r in table.itertuples()
    ]
    with warehouse.transaction() as conn:
        lock(conn, "macro_daily_pit")
        delete_in(conn, macro_daily_pit, (), macro_daily_pit.c.date, list(sessions))
        if rows:
            conn.execute(macro_daily_pit.insert(), rows)
    return len(rows)


def read_pit_daily(warehouse: Warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The stored point-in-time daily table (PIT_COLUMNS) for sessions start..end."""
    t = macro_daily_pit
    query = (sa.select(*(t.c[c] for c in PIT_COLUMNS)).where(t.c.date >= start, t.c.date <= end)
             .order_by(t.c.date, t.c.field))
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(PIT_COLUMNS))
    for col in ("date", "observation_date", "release_date"):
        frame[col] = _timestamps(list(frame[col]))
    frame["value"] = frame["value"].astype("float64")
    frame["age_days"] = pd.array(frame["age_days"], dtype="Int64")
    frame["required"] = frame["required"].astype(bool)
    return frame
