"""EODHD corporate actions: /api/splits/{T} and /api/div/{T} (one request per symbol range).

Splits come as {"date": "2020-08-31", "split": "4.000000/1.000000"} (new/old shares);
dividends as {"date": ex-date, "declarationDate", "recordDate", "paymentDate", "value",
"unadjustedValue", "currency", "period"}. `value` is split-adjusted by EODHD, so the raw
(unadjusted) amount is kept, like Polygon's cash_amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from ...markets import Market
from ..actions_source import DIVIDEND_COLUMNS, SPLIT_COLUMNS
from ..base import VendorError
from ..results import FrameResult
from ..trace import FetchTrace
from ..windows import describe_window
from .spec import CALLS, eodhd_ticker

if TYPE_CHECKING:
    from ..http import VendorHttp


class EodhdReferenceMixin:
    vendor: str
    _http: VendorHttp
    _market: Callable[[str, Market | str | None], Market]  # HttpClientBase's

    def list_splits(self, symbol: str, start: dt.date, end: dt.date) -> FrameResult:
        """Splits on start <= date <= end; ratio = new shares / old shares (4.0 for 4-for-1)."""
        result, rows = self._actions("splits", symbol, start, end, ("date", "split"))
        parts = rows["split"].astype(str).str.split("/", n=1, expand=True) if len(rows) else None
        try:
            split_to = pd.to_numeric(parts[0]) if parts is not None else pd.Series(dtype="float64")
            split_from = pd.to_numeric(parts[1]) if parts is not None else pd.Series(dtype="float64")
        except (ValueError, KeyError):
            raise VendorError(self.vendor, symbol, f"splits {start}..{end}", "a split is not 'to/from'") from None
        frame = pd.DataFrame({
            "symbol": pd.Series([symbol] * len(rows), dtype="string"),
            "execution_date": pd.to_datetime(rows["date"]) if len(rows) else pd.Series([], dtype="datetime64[ns]"),
            "split_from": split_from.astype("float64").to_numpy(),
            "split_to": split_to.astype("float64").to_numpy(),
        })
        frame["ratio"] = frame["split_to"] / frame["split_from"]
        result.frame = frame.loc[:, list(SPLIT_COLUMNS)]
        return result

    def list_dividends(self, symbol: str, start: dt.date, end: dt.date) -> FrameResult:
        """Cash dividends going ex on start <= date <= end (raw amounts)."""
        result, rows = self._actions("div", symbol, start, end, ("date",))

        def dates(col: str) -> pd.Series:
            values = rows[col] if col in rows else pd.Series([None] * len(rows))
            return pd.to_datetime(values, errors="coerce").astype("datetime64[ns]")

        amount = rows["unadjustedValue"] if "unadjustedValue" in rows else rows.get("value", pd.Series(dtype=float))
        frame = pd.DataFrame({
            "symbol": pd.Series([symbol] * len(rows), dtype="string"),
            "ex_dividend_date": dates("date"),
            "pay_date": dates("paymentDate"),
            "record_date": dates("recordDate"),
            "declaration_date": dates("declarationDate"),
            "cash_amount": pd.to_numeric(amount, errors="coerce").astype("float64").to_numpy() if len(rows) else [],
            "currency": pd.Series(rows["currency"] if "currency" in rows else [None] * len(rows), dtype="string"),
            "dividend_type": pd.Series(["CD"] * len(rows), dtype="string"),
            "frequency": pd.Series(rows["period"] if "period" in rows else [None] * len(rows), dtype="string"),
        })
        result.frame = frame.loc[:, list(DIVIDEND_COLUMNS)]
        return result

    def _actions(self, kind: str, symbol: str, start: dt.date, end: dt.date | None,
                 required: tuple[str, ...], trace: FetchTrace | None = None) -> tuple[FrameResult, pd.DataFrame]:
        """Rows of /api/{kind}/{T} from `start` to `end` (None: to the vendor's present)."""
        if end is not None:
            window = describe_window("1d", pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1))
        else:
            window = f"1d [{start.isoformat()}, today]"
        trace = trace if trace is not None else FetchTrace()
        ticker = eodhd_ticker(symbol, self._market(symbol, None))
        params: dict[str, str | int] = {"from": start.isoformat(), "fmt": "json"}
        if end is not None:
            params["to"] = end.isoformat()
        reply = self._http.get_json(f"/api/{kind}/{ticker}", params, symbol=symbol, window=window, trace=trace,
                                    weight=CALLS[kind])
        body = reply.body
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise VendorError(self.vendor, symbol, window, f"{kind}: expected a JSON list of objects")
        rows = pd.DataFrame.from_records(body)
        missing = set(required) - set(rows.columns) if len(rows) else set()
        if missing:
            raise VendorError(self.vendor, symbol, window, f"{kind}: rows lack fields {sorted(missing)}")
        return FrameResult.from_trace(pd.DataFrame(), trace), rows.reset_index(drop=True)
