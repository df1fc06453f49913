"""Stored splits and dividends: a source's frames as rows, and the adjustment events of a
symbol built from its stored actions and 1d closes (the SQL: warehouse/corporate_actions.py).

A symbol's actions are replaced whole (its partition is the symbol, and a source's answer
for the full window is the truth), in one transaction under the symbol's writer lock.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from backfill_pipeline.corporate_actions.adjust import AdjustmentEvents, adjustment_events
from backfill_pipeline.markets import Market
from backfill_pipeline.warehouse.bar_queries import daily_closes
from backfill_pipeline.warehouse.corporate_actions import read_actions, replace_action_rows
from backfill_pipeline.warehouse.derived_rows import plain
from backfill_pipeline.warehouse.store import Warehouse


def has_corporate_actions(market: Market) -> bool:
    """Stocks and ETFs have splits and dividends; crypto pairs have none."""
    return any(kind in market.asset_classes for kind in ("stock", "etf"))


def _day(value: object) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def replace_actions(
    warehouse: Warehouse, market: str, symbol: str, split_frame: pd.DataFrame, dividend_frame: pd.DataFrame,
    vendor: str, fetched_at: dt.datetime,
) -> tuple[int, int]:
    """Store a source's splits and dividends of `symbol` in place of the old ones."""
    split_rows = [
        {"market": market, "symbol": symbol, "ex_date": _day(r.execution_date), "split_from": float(r.split_from),
         "split_to": float(r.split_to), "ratio": float(r.split_to) / float(r.split_from), "vendor": vendor,
         "fetched_at": fetched_at}
        for r in split_frame.itertuples() if not pd.isna(r.execution_date)
    ]
    divs = dividend_frame.dropna(subset=["ex_dividend_date", "cash_amount"]).copy()
    divs["dividend_type"] = divs["dividend_type"].astype("string").fillna("CD") if "dividend_type" in divs else "CD"
    # two dividends of one type on one ex-date (a correction split in two) add up
    key = ["ex_dividend_date", "dividend_type"]
    firsts = divs.groupby(key, sort=True).first()
    firsts["cash_amount"] = divs.groupby(key, sort=True)["cash_amount"].sum()
    dividend_rows = [
        {"market": market, "symbol": symbol, "ex_date": _day(ex), "dividend_type": str(kind),
         "cash_amount": float(r["cash_amount"]), "currency": plain(r.get("currency")),
         "pay_date": _day(r.get("pay_date")), "record_date": _day(r.get("record_date")),
         "declaration_date": _day(r.get("declaration_date")), "vendor": vendor, "fetched_at": fetched_at}
        for (ex, kind), r in firsts.iterrows()
    ]
    replace_action_rows(warehouse, market, symbol, split_rows, dividend_rows)
    return len(split_rows), len(dividend_rows)


def closes_before(warehouse: Warehouse, market: str, symbol: str, ex_dates: pd.Series) -> pd.Series:
    """Raw 1d close of the last session before each ex-date (NaN where no 1d bar is stored)."""
    if len(ex_dates) == 0:
        return pd.Series(dtype="float64")
    first = (ex_dates.min() - pd.Timedelta(days=14)).date()
    daily = daily_closes(warehouse, market, symbol, first, ex_dates.max().date())
    wanted = pd.DataFrame({"ex": pd.to_datetime(ex_dates).astype("datetime64[ns]")}).sort_values("ex")
    merged = pd.merge_asof(wanted, daily, left_on="ex", right_on="session", direction="backward",
                           allow_exact_matches=False, tolerance=pd.Timedelta(days=14))
    return pd.Series(merged["close"].to_numpy(dtype="float64"), index=merged["ex"])


def load_events(
    warehouse: Warehouse, market: str, symbol: str, as_of: dt.date | None = None, with_dividends: bool = True
) -> AdjustmentEvents:
    """Adjustment events of `symbol` with ex-date <= as_of (default: today)."""
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    split_frame, dividend_frame = read_actions(warehouse, market, symbol)
    cutoff = pd.Timestamp(as_of)
    split_frame = split_frame[split_frame["ex_date"] <= cutoff]
    # split-only readers (features) skip the dividends and the closes they need
    dividend_frame = dividend_frame[(dividend_frame["ex_date"] <= cutoff) & with_dividends]
    unique_ex = pd.Series(dividend_frame["ex_date"].unique())
    prev = closes_before(warehouse, market, symbol, unique_ex)
    return adjustment_events(split_frame, dividend_frame, prev)
