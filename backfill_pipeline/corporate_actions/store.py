"""Stored splits and dividends: replace a symbol's actions, read them, build its factors.

A symbol's actions are replaced whole (its partition is the symbol, and a source's answer
for the full window is the truth), in one transaction under the symbol's writer lock.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from backfill_pipeline.corporate_actions.adjust import AdjustmentEvents, adjustment_events
from backfill_pipeline.markets import Market
from backfill_pipeline.warehouse.derived_rows import lock, plain
from backfill_pipeline.warehouse.schema import bars
from backfill_pipeline.warehouse.schema_derived import dividends, splits
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
    with warehouse.transaction() as conn:
        lock(conn, "corporate_actions", market, symbol)
        for table in (splits, dividends):
            conn.execute(table.delete().where(table.c.market == market, table.c.symbol == symbol))
        if split_rows:
            conn.execute(splits.insert(), split_rows)
        if dividend_rows:
            conn.execute(dividends.insert(), dividend_rows)
    return len(split_rows), len(dividend_rows)


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


def closes_before(warehouse: Warehouse, market: str, symbol: str, ex_dates: pd.Series) -> pd.Series:
    """Raw 1d close of the last session before each ex-date (NaN where no 1d bar is stored)."""
    if len(ex_dates) == 0:
        return pd.Series(dtype="float64")
    first = (ex_dates.min() - pd.Timedelta(days=14)).date()
    query = sa.select(bars.c.session, bars.c.close).where(
        bars.c.market == market, bars.c.symbol == symbol, bars.c.timeframe == "1d",
        bars.c.session >= first, bars.c.session < ex_dates.max().date(),
    ).order_by(bars.c.session)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(query).all()
    daily = pd.DataFrame(rows, columns=["session", "close"])
    daily["session"] = pd.to_datetime(daily["session"]).astype("datetime64[ns]")
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
