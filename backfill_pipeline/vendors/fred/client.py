"""FRED series observations: /fred/series/observations.

One request returns up to 100000 observations (a 25-year daily series is one request);
longer series page with `offset`. A value of "." is FRED's "no observation on this date":
it stays a row with value NaN, so "missing at the source" is told apart from "not fetched".

Every request asks for all vintages (ALFRED): realtime_start=1776-07-04 and
realtime_end=9999-12-31, so each row is one value of one observation with the real-time
period in which it was the published value; a revised observation has several rows. This
costs no extra request: the vintages come in the same pages (100,000 rows each, by
`offset`). Without these parameters FRED answers with today's vintage only.

FRED refuses a bad key with HTTP 400 (not 401) and an error_message naming api_key; that
is a refused key like a 401 elsewhere (parked; AuthError once every key is refused).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import httpx
import pandas as pd

from ..client import ClientOptions, HttpClientBase
from ..responses import Verdict
from ..results import SeriesResult
from ..trace import FetchTrace

DEFAULT_BASE_URL = "https://api.stlouisfed.org"
MAX_PAGE_LIMIT = 100_000
SERIES_COLUMNS: tuple[str, ...] = ("date", "value", "realtime_start", "realtime_end")
# FRED's bounds of all real time: ask for every vintage of every observation
EARLIEST_REALTIME = "1776-07-04"
LATEST_REALTIME = "9999-12-31"
_ROW_FIELDS = ("date", "value", "realtime_start", "realtime_end")
_SERIES_ID_RE = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_MAX_PAGES = 1_000


def judge_response(response: httpx.Response, said: str) -> Verdict | None:
    """FRED refuses a key with 400 "Bad Request.  The value for variable api_key is not
    registered." (not 401): that key is refused; any other 400 (a series that does not
    exist) is a plain error carrying FRED's error_message."""
    if response.status_code == 400 and "api_key" in said:
        return Verdict("refused")
    return None


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
        super().__init__(base_url, api_keys, "api_key", options, judge=judge_response)
        self.page_limit = page_limit

    def fetch_series(self, series_id: str, start: dt.date, end: dt.date) -> SeriesResult:
        """Every vintage of the observations with start <= date <= end (both inclusive, as
        FRED's parameters are), sorted by date then realtime_start."""
        if not _SERIES_ID_RE.match(series_id):
            raise ValueError(f"invalid FRED series id {series_id!r}")
        window = f"[{start.isoformat()}, {end.isoformat()}]"
        trace = FetchTrace()
        base_params: dict[str, str | int] = {
            "series_id": series_id,
            "observation_start": start.isoformat(),
            "observation_end": end.isoformat(),
            "realtime_start": EARLIEST_REALTIME,
            "realtime_end": LATEST_REALTIME,
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
        if any(not isinstance(o, dict) or any(k not in o for k in _ROW_FIELDS) for o in page):
            raise self._page_error(series_id, window, "observations lack date/value/realtime_start/realtime_end fields")
        return page, count


def _day_column(raw: pd.Series) -> pd.Series:
    """YYYY-MM-DD strings -> datetime64[ns]; FRED's open end 9999-12-31 -> NaT (beyond pandas' range)."""
    text = raw.astype("string")
    return pd.to_datetime(text.where(text != LATEST_REALTIME, None), format="%Y-%m-%d").astype("datetime64[ns]")


def _frame(observations: list[dict[str, object]]) -> pd.DataFrame:
    if not observations:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "value" else "datetime64[ns]")
                             for c in SERIES_COLUMNS})
    raw = pd.DataFrame.from_records(observations)
    values = raw["value"].astype("string")
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["date"], format="%Y-%m-%d").astype("datetime64[ns]"),
            "value": pd.to_numeric(values.where(values != ".", None), errors="coerce").astype("float64"),
            "realtime_start": pd.to_datetime(raw["realtime_start"], format="%Y-%m-%d").astype("datetime64[ns]"),
            "realtime_end": _day_column(raw["realtime_end"]),
        }
    )
    return frame.sort_values(["date", "realtime_start"], kind="stable").reset_index(drop=True)
