"""The interface of a corporate-actions source, and the typed frames it returns.

Shaped after Polygon's reference endpoints (vendors/polygon/reference.py:
`list_splits` / `list_dividends` returning an object with `.frame` and `.requests`), so
the Polygon client satisfies it as it is; an EODHD /splits and /div client needs only to
return the same columns. Dates are tz-naive datetime64 (ex-dates in the exchange's dates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

# split: ratio = split_to / split_from (4.0 for a 4-for-1 split)
SPLIT_COLUMNS: tuple[str, ...] = ("symbol", "execution_date", "split_from", "split_to", "ratio")
DIVIDEND_COLUMNS: tuple[str, ...] = (
    "symbol", "ex_dividend_date", "pay_date", "record_date", "declaration_date", "cash_amount", "currency",
    "dividend_type",
)


class ActionsFrame(Protocol):
    frame: pd.DataFrame
    requests: int


@dataclass
class ActionsResult:
    frame: pd.DataFrame
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)


class CorporateActionsSource(Protocol):
    vendor: str

    def list_splits(self, symbol: str, start: dt.date, end: dt.date) -> ActionsFrame:
        """Splits with start <= execution (ex-)date <= end; columns SPLIT_COLUMNS."""
        ...

    def list_dividends(self, symbol: str, start: dt.date, end: dt.date) -> ActionsFrame:
        """Cash dividends with start <= ex-date <= end; columns DIVIDEND_COLUMNS (at least)."""
        ...

    def close(self) -> None: ...


def empty_splits() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype="string"),
            "execution_date": pd.Series([], dtype="datetime64[ns]"),
            **{c: pd.Series([], dtype="float64") for c in ("split_from", "split_to", "ratio")},
        }
    )


def empty_dividends() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype="string"),
            **{c: pd.Series([], dtype="datetime64[ns]") for c in ("ex_dividend_date", "pay_date", "record_date",
                                                                 "declaration_date")},
            "cash_amount": pd.Series([], dtype="float64"),
            "currency": pd.Series([], dtype="string"),
            "dividend_type": pd.Series([], dtype="string"),
        }
    )
