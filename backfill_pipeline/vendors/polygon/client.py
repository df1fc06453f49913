"""Polygon.io (Massive) aggregates: /v2/aggs/ticker/{ticker}/range/{mult}/{timespan}/{from}/{to}.

One request covers the whole range asked for and `next_url` is followed to its end:
`limit` caps the *base* (minute) aggregates a page covers (at most 50000; Polygon returns
pre- and after-market minutes, 960 a session), so one year of 1m bars is 5 full pages
and whatever page size the vendor really uses, every page but the last is full: requests
are ceil(bars / page size), the floor (spec.polygon_requests counts them ahead, for the
backfill plan). (Planning windows ahead instead ends each window
on a partial page when the vendor pages smaller than planned: 17 requests for 14.)

A cursor (`next_url`) carries only limit/sort, and Polygon adjusts by default, so every
follow-up re-sends the first request's query (`adjusted`, `sort`, `limit`) beside the
cursor, and a page whose `adjusted` echo differs from what was asked is an error: raw and
split-adjusted pages must never mix. The link is re-rooted on our base URL so the key
only goes to the configured host; the key itself goes in the `Authorization: Bearer`
header, never in a URL.

Errors: 401 is a refused key (parked, the next key takes over); 403 NOT_AUTHORIZED "You
are not entitled to this data" / "Your plan doesn't include this data timeframe" is a plan
limit (PlanError with Polygon's words; other keys are not burnt on it).

A minute without trades has no bar. Daily bars are stamped midnight New York by Polygon;
we label them with the session date at 00:00 UTC. Bars are unadjusted by default: raw
bars stay raw, adjustment happens on read (corporate actions: see reference.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pandas as pd

from ...bars import empty_bars, normalize_bars
from ...markets import Market, get_market
from ...timeframes import get_timeframe
from ..base import PlanError
from ..client import ClientOptions, HttpClientBase
from ..responses import Verdict
from ..results import VendorFetchResult
from ..trace import FetchTrace
from ..windows import clip_and_dedupe, describe_window, keep_session_hours, to_label, to_utc
from .reference import PolygonReferenceMixin
from .spec import SPEC, polygon_ticker
from .wire import aggs_frame, decode_aggs_page

DEFAULT_BASE_URL = "https://api.polygon.io"
MAX_PAGE_LIMIT = SPEC.page_bars  # 50,000 base aggregates
TIMESPANS: dict[str, tuple[int, str]] = {
    "1m": (1, "minute"),
    "5m": (5, "minute"),
    "15m": (15, "minute"),
    "30m": (30, "minute"),
    "1h": (1, "hour"),
    "4h": (4, "hour"),
    "1d": (1, "day"),
}
_MAX_PAGES = 100_000  # a cursor loop must end in an error, not run forever
_PLAN_WORDS = ("not entitled", "plan doesn't include", "plan does not include", "upgrade your plan")


def judge_response(response: httpx.Response, said: str) -> Verdict | None:
    """Polygon's error semantics: 403 NOT_AUTHORIZED / "not entitled" is the plan, any other
    401/403 the key (Polygon answers an unknown key with 401 "Unknown API Key")."""
    if response.status_code == 403 and (
        "NOT_AUTHORIZED" in response.text or any(w in said.lower() for w in _PLAN_WORDS)
    ):
        return Verdict("plan")
    return None


class PolygonClient(PolygonReferenceMixin, HttpClientBase):
    vendor = "polygon"
    finalization_delay = SPEC.finalization_delay

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        base_url: str = DEFAULT_BASE_URL,
        options: ClientOptions | None = None,
        market: Market | str | None = None,
        adjusted: bool = False,
        extended_hours: bool | None = None,  # None: follow the market's hours option
        page_limit: int = MAX_PAGE_LIMIT,
    ):
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT}")
        # The key travels in the Authorization header (Polygon accepts "Bearer <key>"), so
        # it is in no URL at all; a key a vendor echoes into next_url is stripped anyway.
        super().__init__(base_url, api_keys, None, options, body_request_id="request_id", judge=judge_response,
                         key_header="Authorization", key_header_format="Bearer {key}")
        self.market = get_market(market) if isinstance(market, str) else market
        self.adjusted = adjusted
        self.extended_hours = extended_hours
        self.page_limit = page_limit

    def fetch_bars(
        self,
        symbol: str,
        timeframe: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        *,
        market: Market | str | None = None,
        extended_hours: bool | None = None,
    ) -> VendorFetchResult:
        """Bars with start <= ts < end. For us_equities intraday, regular-session bars only
        unless extended hours are asked for (argument, else the client's setting, else the
        market's hours option)."""
        if timeframe not in TIMESPANS:
            raise ValueError(f"polygon: timeframe {timeframe!r} is not fetched; use one of {', '.join(TIMESPANS)}")
        mkt = self._market(symbol, market)
        ticker = polygon_ticker(symbol, mkt)
        multiplier, timespan = TIMESPANS[timeframe]
        with self._traced() as trace:
            if get_timeframe(timeframe).daily:
                lo, hi = to_label(start), to_label(end)
                frames = []
                if lo < hi:
                    window = describe_window(timeframe, lo, hi)
                    last = (hi - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
                    frames = self._aggs(ticker, symbol, multiplier, timespan, lo.strftime("%Y-%m-%d"), last, window,
                                        trace)
                bars = _daily_labels(_concat(frames), mkt)
                bars = clip_and_dedupe(bars, lo.tz_localize("UTC"), hi.tz_localize("UTC"))
            else:
                lo, hi = to_utc(start), to_utc(end)
                frames = []
                if lo < hi:
                    window = describe_window(timeframe, lo, hi)
                    frm, to = str(_ms(lo)), str(_ms(hi) - 1)  # `to` is inclusive: stop 1 ms short
                    frames = self._aggs(ticker, symbol, multiplier, timespan, frm, to, window, trace)
                bars = clip_and_dedupe(_concat(frames), lo, hi)
                bars = keep_session_hours(mkt, bars, extended_hours, self.extended_hours)
        out = normalize_bars(bars) if len(bars) else empty_bars()
        return VendorFetchResult.from_trace(out, trace)

    def _aggs(
        self,
        ticker: str,
        symbol: str,
        multiplier: int,
        timespan: str,
        frm: str,
        to: str,
        window: str,
        trace: FetchTrace,
    ) -> list[pd.DataFrame]:
        url = f"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{frm}/{to}"
        query: dict[str, str | int] = {
            "adjusted": "true" if self.adjusted else "false",
            "sort": "asc",
            "limit": self.page_limit,
        }
        params = query
        frames: list[pd.DataFrame] = []
        seen_links: set[str] = set()
        for _ in range(_MAX_PAGES):
            reply = self._http.get_json(url, params, symbol=symbol, window=window, trace=trace, rows_key="results",
                                        decoder=decode_aggs_page)
            frame, next_url = self._parse_aggs(reply.body, symbol, window)
            if len(frame):
                frames.append(frame)
            if not next_url:
                return frames
            link = self._http.resolve(next_url)
            if str(link) in seen_links:
                raise self._page_error(symbol, window, "next_url repeated a cursor already followed")
            seen_links.add(str(link))
            # The cursor carries limit/sort only: re-send the rest of our query (the
            # link's own parameters win where it has them).
            url, params = str(link), {k: v for k, v in query.items() if k not in link.params}
        raise self._page_error(symbol, window, f"more than {_MAX_PAGES} pages")

    def _parse_aggs(self, body: object, symbol: str, window: str) -> tuple[pd.DataFrame, str | None]:
        if not isinstance(body, dict):
            raise self._page_error(symbol, window, f"unexpected body type {type(body).__name__}")
        status = body.get("status")
        if status == "NOT_AUTHORIZED":
            detail = self._http.scrub(str(body.get("message") or body.get("error") or ""))
            raise PlanError(self.vendor, symbol, window, f"the plan does not cover this request: {detail}".strip())
        if status not in ("OK", "DELAYED"):
            detail = body.get("error") or body.get("message") or ""
            raise self._page_error(symbol, window, f"status {status!r} {detail}".strip())
        echo = body.get("adjusted")
        if echo is not None and echo != self.adjusted:
            raise self._page_error(
                symbol, window,
                f"page answered adjusted={str(echo).lower()} to a request for adjusted={str(self.adjusted).lower()}",
            )
        results = body.get("results")
        count = body.get("resultsCount")
        next_url = body.get("next_url") or None
        if not results:
            # Only an explicit OK with resultsCount 0 means "no bars in this window"; a
            # DELAYED page, a missing count or a count > 0 without results is a broken page.
            if status == "OK" and count == 0 and results in (None, []):
                return pd.DataFrame(), next_url
            raise self._page_error(symbol, window, f"empty page (status {status}, resultsCount {count!r})")
        if not isinstance(results, list) or (count is not None and count != len(results)):
            got = len(results) if isinstance(results, list) else type(results).__name__
            raise self._page_error(symbol, window, f"resultsCount {count!r} but {got} results (truncated page)")
        return aggs_frame(results), next_url


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return empty_bars()
    return pd.concat(frames, ignore_index=True)


def _daily_labels(frame: pd.DataFrame, market: Market) -> pd.DataFrame:
    """Polygon stamps a day at its midnight in New York (or UTC for crypto); we label
    the session date at 00:00 UTC, whatever the vendor's convention."""
    if frame.empty:
        return frame
    local_day = frame["ts"].dt.tz_convert(market.timezone).dt.tz_localize(None).dt.normalize()
    return frame.assign(ts=local_day.dt.tz_localize("UTC"))
