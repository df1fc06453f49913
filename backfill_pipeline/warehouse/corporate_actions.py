"""All splits/dividends SQL: replace a symbol's actions whole, read them back.

A symbol's actions are replaced in one transaction under the symbol's writer lock (its
partition is the symbol, and a source's answer for the full window is the truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.warehouse.derived_rows import lock
from backfill_pipeline.warehouse.schema_derived import dividends, splits
from backfill_pipeline.warehouse.store import Warehouse


def replace_action_rows(
    warehouse: Warehouse, market: str, symbol: str, split_rows: Sequence[dict[str, Any]],
    dividend_rows: Sequence[dict[str, Any]],
) -> None:
    """Store `symbol`'s split and dividend rows (the tables' columns) in place of the old ones."""
    with warehouse.transaction() as conn:
        lock(conn, "corporate_actions", market, symbol)
        for table in (splits, dividends):
            conn.execute(table.delete().where(table.c.market == market, table.c.symbol == symbol))
        if split_rows:
            conn.execute(splits.insert(), list(split_rows))
        if dividend_rows:
            conn.execute(dividends.insert(), list(dividend_rows))


def read_actions(warehouse: Warehouse, market: str, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(splits: ex_date, split_from, split_to, ratio; dividends: ex_date, cash_amount, dividend_type)."""
    with warehouse.engine.connect() as conn:
        s = conn.execute(
            sa.select(splits.c.ex_date, splits.c.split_from, splits.c.split_to, splits.c.ratio)
            .where(splits.c.market == market, splits.c.symbol == symbol).order_by(splits.c.ex_date)
        ).all()
        d = conn.execute(
            sa.select(dividends.c.ex_date, dividends.c.cash_amount, dividends.c.dividend_type)
            .where(dividends.c.market == market, dividends.c.symbol == symbol).order_by(dividends.c.ex_date)
        ).all()
    split_frame = pd.DataFrame(s, columns=["ex_date", "split_from", "split_to", "ratio"])
    dividend_frame = pd.DataFrame(d, columns=["ex_date", "cash_amount", "dividend_type"])
    for frame in (split_frame, dividend_frame):
        frame["ex_date"] = pd.to_datetime(frame["ex_date"]).astype("datetime64[ns]")
    return split_frame, dividend_frame
