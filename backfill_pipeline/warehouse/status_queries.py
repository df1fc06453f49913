"""Fetch-log and vendor-request queries behind `backfill-pipeline status` / `history` and
the reports/backfill_status asset (the figures' meaning: automation/status.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.schema import fetch_log, vendor_requests
from backfill_pipeline.warehouse.store import Warehouse

_CHUNK = 500  # run ids per IN list
RUN_FETCH_COLUMNS = ["id", "fetch_id", "symbol", "timeframe", "session", "status"]


def fetches_of_runs(warehouse: Warehouse, run_ids: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """The fetch-log rows written by `run_ids` (RUN_FETCH_COLUMNS) and the vendor requests
    those fetches made."""
    rows: list[Any] = []
    requests = 0
    f = fetch_log.c
    with warehouse.engine.connect() as conn:
        for i in range(0, len(run_ids), _CHUNK):
            ids = list(run_ids[i : i + _CHUNK])
            rows += conn.execute(sa.select(f.id, f.fetch_id, f.symbol, f.timeframe, f.session, f.status)
                                 .where(f.run_id.in_(ids))).all()
            fetches = sa.select(f.fetch_id).where(f.run_id.in_(ids)).distinct()
            count = sa.select(sa.func.count()).where(vendor_requests.c.fetch_id.in_(fetches))
            requests += conn.execute(count).scalar() or 0
    return pd.DataFrame(rows, columns=RUN_FETCH_COLUMNS), requests


def history(
    warehouse: Warehouse, market: str | None = None, symbol: str | None = None, limit: int = 50,
    status: str | None = None,
) -> pd.DataFrame:
    """Past fetches, newest first: one row per fetch attempt (a symbol-timeframe window)."""
    columns = ["fetched_at", "market", "symbol", "timeframe", "vendor", "first_session", "last_session", "sessions",
               "bars", "status", "finalized_sessions", "error", "run_id", "fetch_id"]
    f = fetch_log.c
    query = (
        sa.select(sa.func.min(f.fetched_at), f.market, f.symbol, f.timeframe, f.vendor, sa.func.min(f.session),
                  sa.func.max(f.session), sa.func.count(), sa.func.sum(f.bars), f.status,
                  sa.func.sum(sa.case((f.finalized, 1), else_=0)), sa.func.max(f.error), f.run_id, f.fetch_id)
        .group_by(f.fetch_id, f.market, f.symbol, f.timeframe, f.vendor, f.status, f.run_id)
        .order_by(sa.func.max(f.id).desc())
        .limit(limit)
    )
    for column, value in ((f.market, market), (f.symbol, symbol), (f.status, status)):
        if value is not None:
            query = query.where(column == value)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=columns)
        counts: dict[str, int] = dict(conn.execute(
            sa.select(vendor_requests.c.fetch_id, sa.func.count()).where(
                vendor_requests.c.fetch_id.in_(frame["fetch_id"].tolist())).group_by(vendor_requests.c.fetch_id)).all())
    frame["requests"] = frame["fetch_id"].map(counts).fillna(0).astype("int64")
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    return frame
