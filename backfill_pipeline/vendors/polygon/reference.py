"""Polygon reference data for corporate actions: /v3/reference/splits and /dividends.

Typed frames, one row per event, paginated by next_url (limit 1000 per page).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from ..base import VendorError
from ..results import FrameResult
from ..trace import FetchTrace
from ..windows import describe_window

if TYPE_CHECKING:
    from ..http import VendorHttp

SPLIT_COLUMNS: tuple[str, ...] = ("symbol", "execution_date", "split_from", "split_to", "ratio")
DIVIDEND_COLUMNS: tuple[str, ...] = (
    "symbol",
    "ex_dividend_date",
    "pay_date",
    "record_date",
    "declaration_date",
    "cash_amount",
    "currency",
    "dividend_type",
    "frequency",
)
_PAGE = 1000
_MAX_PAGES = 1000


class PolygonReferenceMixin:
    vendor: str
    _http: VendorHttp

    def list_splits(self, symbol: str, start: dt.date, end: dt.date) -> FrameResult:
        """Splits executed on start <= date <= end. ratio = split_to / split_from (4.0 for 4-for-1)."""
        rows = self._reference("/v3/reference/splits", "execution_date", symbol, start, end)
        frame = pd.DataFrame(
            {
                "symbol": pd.Series([symbol] * len(rows.frame), dtype="string"),
                "execution_date": _dates(rows.frame, "execution_date"),
                "split_from": _floats(rows.frame, "split_from"),
                "split_to": _floats(rows.frame, "split_to"),
            }
        )
        frame["ratio"] = frame["split_to"] / frame["split_from"]
        rows.frame = frame.loc[:, list(SPLIT_COLUMNS)]
        return rows

    def list_dividends(self, symbol: str, start: dt.date, end: dt.date) -> FrameResult:
        """Cash dividends going ex on start <= date <= end (missing dates are NaT)."""
        rows = self._reference("/v3/reference/dividends", "ex_dividend_date", symbol, start, end)
        raw = rows.frame
        rows.frame = pd.DataFrame(
            {
                "symbol": pd.Series([symbol] * len(raw), dtype="string"),
                "ex_dividend_date": _dates(raw, "ex_dividend_date"),
                "pay_date": _dates(raw, "pay_date"),
                "record_date": _dates(raw, "record_date"),
                "declaration_date": _dates(raw, "declaration_date"),
                "cash_amount": _floats(raw, "cash_amount"),
                "currency": _strings(raw, "currency"),
                "dividend_type": _strings(raw, "dividend_type"),
                "frequency": pd.array(raw["frequency"] if "frequency" in raw else [pd.NA] * len(raw), dtype="Int64"),
            }
        )
        return rows

    def _reference(self, path: str, date_field: str, symbol: str, start: dt.date, end: dt.date) -> FrameResult:
        window = describe_window("1d", pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1))
        trace = FetchTrace()
        params: dict[str, str | int] = {
            "ticker": symbol,
            f"{date_field}.gte": start.isoformat(),
            f"{date_field}.lte": end.isoformat(),
            "order": "asc",
            "sort": date_field,
            "limit": _PAGE,
        }
        url, records, seen = path, [], set()
        for _ in range(_MAX_PAGES):
            reply = self._http.get_json(url, params, symbol=symbol, window=window, trace=trace, rows_key="results")
            body = reply.body
            if not isinstance(body, dict) or body.get("status") != "OK":
                status = body.get("status") if isinstance(body, dict) else type(body).__name__
                raise self._ref_error(symbol, window, f"unexpected reference page (status {status!r})")
            results = body.get("results", [])
            if not isinstance(results, list):
                raise self._ref_error(symbol, window, "results is not a list")
            records.extend(results)
            next_url = body.get("next_url")
            if not next_url:
                return FrameResult.from_trace(pd.DataFrame.from_records(records), trace)
            link = str(self._http.resolve(next_url))
            if link in seen:
                raise self._ref_error(symbol, window, "next_url repeated a cursor already followed")
            seen.add(link)
            url, params = link, {}
        raise self._ref_error(symbol, window, f"more than {_MAX_PAGES} pages")

    def _ref_error(self, symbol: str, window: str, reason: str) -> VendorError:
        return VendorError(self.vendor, symbol, window, self._http.scrub(reason))


def _dates(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[col], errors="coerce").astype("datetime64[ns]")


def _floats(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(float("nan"), index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64")


def _strings(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[col].astype("string")
