"""FRED series observations: /fred/series/observations.

One request returns up to 100000 observations (a 25-year daily series is one request);
longer series page with `offset`. A value of "." is FRED's "no observation on this date":
it stays a row with value NaN, so "missing at the source" is told apart from "not fetched".

FRED refuses a bad key with HTTP 400 (not 401) and an error_message naming api_key; that
is an AuthError like a 401 elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import httpx
import numpy as np
import pandas as pd

from .client import ClientOptions, HttpClientBase
from .results import SeriesResult
from .trace import FetchTrace

DEFAULT_BASE_URL = "https://api.stlouisfed.org"
MAX_PAGE_LIMIT = 100_000
SERIES_COLUMNS: tuple[str, ...] = ("date", "value", "realtime_start")
_SERIES_ID_RE = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_MAX_PAGES = 1_000


def _refused_key(response: httpx.Response) -> bool:
    if response.status_code != 400:
        return False
    try:
        message = str(response.json().get("error_message", ""))
    except (ValueError, AttributeError):
        return False
    return "api_key" in message


class FredClient(HttpClientBase):
    vendor = "fred"

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        base_url: str = DEFAULT_BASE_URL,
        options: ClientOptions | None = None,
        page_limit: int = MAX_PAGE_LIMIT,
    ):
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT}")
        super().__init__(base_url, api_keys, "api_key", options, is_auth_failure=_refused_key)
        self.page_limit = page_limit

    def fetch_series(self, series_id: str, start: dt.date, end: dt.date) -> SeriesResult:
        """Observations with start <= date <= end (both inclusive, as FRED's parameters are)."""
        if not _SERIES_ID_RE.match(series_id):
            raise ValueError(f"invalid FRED series id {series_id!r}")
        window = f"[{start.isoformat()}, {end.isoformat()}]"
        trace = FetchTrace()
        base_params: dict[str, str | int] = {
            "series_id": series_id,
            "observation_start": start.isoformat(),
            "observation_end": end.isoformat(),
            "file_type": "json",
            "sort_order": "asc",
            "limit": self.page_limit,
        }
        observations: list[dict[str, object]] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            params = {**base_params, "offset": offset}
            reply = self._http.get_json(
                "/fred/series/observations",
                params,
                symbol=series_id,
                window=window,
                trace=trace,
                rows_key="observations",
            )
            page, count = self._page(reply.body, series_id, window, offset)
            observations.extend(page)
            offset += len(page)
            if offset >= count:
                return SeriesResult.from_trace(_frame(observations), trace)
        raise self._page_error(series_id, window, f"more than {_MAX_PAGES} pages")

    def _page(self, body: object, series_id: str, window: str, offset: int) -> tuple[list[dict[str, object]], int]:
        if not isinstance(body, dict) or not isinstance(body.get("observations"), list):
            raise self._page_error(series_id, window, "response has no observations list")
        page = body["observations"]
        count = body.get("count")
        if not isinstance(count, int):
            raise self._page_error(series_id, window, "response has no observation count")
        if count > offset and not page:
            # The series has more rows than we hold, yet the page is empty: a broken page.
            raise self._page_error(series_id, window, f"empty page at offset {offset} of {count} observations")
        if any(not isinstance(o, dict) or "date" not in o or "value" not in o for o in page):
            raise self._page_error(series_id, window, "observations lack date/value fields")
        return page, count


def _frame(observations: list[dict[str, object]]) -> pd.DataFrame:
    if not observations:
        return pd.DataFrame(
            {
                "date": pd.Series([], dtype="datetime64[ns]"),
                "value": pd.Series([], dtype="float64"),
                "realtime_start": pd.Series([], dtype="datetime64[ns]"),
            }
        )
    raw = pd.DataFrame.from_records(observations)
    values = raw["value"].astype("string")
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["date"], format="%Y-%m-%d").astype("datetime64[ns]"),
            "value": pd.to_numeric(values.where(values != ".", None), errors="coerce").astype("float64"),
            "realtime_start": (
                pd.to_datetime(raw["realtime_start"], format="%Y-%m-%d").astype("datetime64[ns]")
                if "realtime_start" in raw
                else pd.Series(np.datetime64("NaT"), index=raw.index, dtype="datetime64[ns]")
            ),
        }
    )
    return frame
