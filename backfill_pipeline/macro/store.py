"""Stored macro observations and the daily table: idempotent slice writes and reads.

Observations: a fetch of series S over [start, end] replaces S's rows dated in that window
(the source's answer for the window is the truth, revisions included). Daily table: a run
replaces the rows of exactly the sessions it covers.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.macro.asof import DAILY_COLUMNS
from backfill_pipeline.warehouse.derived_rows import delete_in, lock, plain
from backfill_pipeline.warehouse.schema_derived import macro_daily, macro_observations
from backfill_pipeline.warehouse.store import Warehouse


def _day(value: object) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()  # type: ignore[arg-type]


def replace_observations(
    warehouse: Warehouse, series_id: str, start: dt.date, end: dt.date, frame: pd.DataFrame, vendor: str,
    fetched_at: dt.datetime,
) -> int:
    """Replace `series_id`'s observations dated start..end by `frame` (date, value, realtime_start)."""
    inside = frame[(frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))]
    inside = inside.drop_duplicates("date", keep="last")
    rows = [
        {"series_id": series_id, "date": _day(r.date), "value": plain(r.value),
         "realtime_start": _day(getattr(r, "realtime_start", None)), "vendor": vendor, "fetched_at": fetched_at}
        for r in inside.itertuples()
    ]
    with warehouse.transaction() as conn:
        lock(conn, "macro_observations", series_id)
        conn.execute(macro_observations.delete().where(
            macro_observations.c.series_id == series_id,
            macro_observations.c.date >= start,
            macro_observations.c.date <= end,
        ))
        if rows:
            conn.execute(macro_observations.insert(), rows)
    return len(rows)


def read_observations(warehouse: Warehouse, series_ids: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """series_id, date, value, realtime_start of the given series dated start..end."""
    t = macro_observations
    query = (
        sa.select(t.c.series_id, t.c.date, t.c.value, t.c.realtime_start)
        .where(t.c.series_id.in_(series_ids), t.c.date >= start, t.c.date <= end)
        .order_by(t.c.series_id, t.c.date)
    )
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["series_id", "date", "value", "realtime_start"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["realtime_start"] = pd.to_datetime(frame["realtime_start"]).astype("datetime64[ns]")
    frame["value"] = frame["value"].astype("float64")
    return frame


def replace_daily(warehouse: Warehouse, sessions: list[dt.date], table: pd.DataFrame) -> int:
    """Replace the daily rows of `sessions` by `table` (DAILY_COLUMNS)."""
    rows = [
        {"date": _day(r.date), "field": r.field, "series_id": r.series_id, "value": plain(r.value),
         "observation_date": _day(r.observation_date), "age_days": plain(r.age_days), "required": bool(r.required),
         "status": r.status}
        for r in table.itertuples()
    ]
    with warehouse.transaction() as conn:
        lock(conn, "macro_daily")
        delete_in(conn, macro_daily, (), macro_daily.c.date, sessions)
        if rows:
            conn.execute(macro_daily.insert(), rows)
    return len(rows)


def read_daily(warehouse: Warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The long daily table (DAILY_COLUMNS) for start <= date <= end."""
    t = macro_daily
    query = sa.select(*(t.c[c] for c in DAILY_COLUMNS)).where(t.c.date >= start, t.c.date <= end).order_by(t.c.date)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    for col in ("date", "observation_date"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    frame["value"] = frame["value"].astype("float64")
    frame["age_days"] = pd.array(frame["age_days"], dtype="Int64")
    return frame
