"""EODHD: intraday /api/intraday/{TICKER} and end-of-day /api/eod/{TICKER}.

Intraday serves only 1m, 5m and 1h, and caps the span of one request (120 days of 1m,
600 of 5m, 7200 of 1h; spec.py), so a range is cut into back-to-back spans of that size:
the request floor for this vendor (spec.eodhd_requests counts them ahead). An intraday
request costs 5 "API calls" of the daily quota (its limiter weight), an EOD or splits request 1
(spec.CALLS; spec.eodhd_calls counts them ahead). Bars are final 2-3 hours after the
close. EOD open/high/low/close are raw (adjusted_close is ignored: adjustment happens
on read), but EODHD reports EOD *volume* split-adjusted (in today's shares). We store it
raw: each daily fetch also reads the symbol's splits (/api/splits, 1 call) and divides a
day's volume by the ratios of the splits after it, so an adjusted read
(corporate_actions/adjust.py) applies each split exactly once. Intraday equities come with
pre- and after-market bars, which are kept only with extended hours (see
windows.keep_session_hours).

Errors and plan limits, as EODHD words them:
- 401 "Unauthenticated": the key is refused (parked in every process, the next key takes over);
- 403 "Only EOD data allowed for free users": the plan (PlanError; other keys not burnt);
- 402 "You exceeded your daily API requests limit": this key's daily quota, parked until
  midnight GMT; any other 402 is the plan (a product the subscription lacks);
- 200 with a `warning` ("Data is limited by one year as you have free subscription"), on
  every row or as a trailing {"warning": ...} element: the free plan cut the history.
  That is a PlanError quoting the warning, never a short answer taken for "no trades".

Tickers: AAPL.US (share classes with a dash: BRK-B.US), crypto BTC-USD.CC.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np
import pandas as pd

from ...bars import empty_bars, normalize_bars
from ...markets import Market, get_market
from ...timeframes import DAILY, get_timeframe
from ..base import PlanError
from ..client import ClientOptions, HttpClientBase
from ..responses import Verdict
from ..results import VendorFetchResult
from ..trace import FetchTrace
from ..windows import clip_and_dedupe, describe_window, fixed_chunks, keep_session_hours, to_label, to_utc
from .reference import EodhdReferenceMixin
from .spec import CALLS, SPEC, eodhd_ticker

DEFAULT_BASE_URL = "https://eodhd.com"
INTRADAY_MAX_DAYS = SPEC.request_days  # 1m 120 days, 5m 600, 1h 7200
_FIELDS = ("open", "high", "low", "close")


_PLAN_WORDS = ("allowed for free users", "free subscription", "not available", "subscription", "upgrade",
               "plan", "prohibited")


def judge_response(response: httpx.Response, said: str) -> Verdict | None:
    """EODHD's error semantics (see the module docstring)."""
    words = said.lower()
    if response.status_code == 402:
        if "daily" in words or "exceeded" in words or "limit" in words:
            # the quota resets at midnight GMT: park this key until then, others carry on
            now = pd.Timestamp.now(tz="UTC")
            return Verdict("quota", (now.normalize() + pd.Timedelta(days=1) - now).total_seconds())
        return Verdict("plan")
    if response.status_code in (403, 423) and any(w in words for w in _PLAN_WORDS):
        return Verdict("plan")
    return None


class EodhdClient(EodhdReferenceMixin, HttpClientBase):
    vendor = "eodhd"
    finalization_delay = SPEC.finalization_delay

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        base_url: str = DEFAULT_BASE_URL,
        options: ClientOptions | None = None,
        market: Market | str | None = None,
        extended_hours: bool | None = None,  # None: follow the market's hours option
    ):
        super().__init__(base_url, api_keys, "api_token", options, judge=judge_response)
        self.market = get_market(market) if isinstance(market, str) else market
        self.extended_hours = extended_hours

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
        mkt = self._market(symbol, market)
        ticker = eodhd_ticker(symbol, mkt)
        if timeframe != DAILY.name and timeframe not in INTRADAY_MAX_DAYS:
            served = ", ".join([*INTRADAY_MAX_DAYS, DAILY.name])
            raise ValueError(f"eodhd: timeframe {timeframe!r} is not served; use one of {served}")
        with self._traced() as trace:
            if get_timeframe(timeframe).daily:
                lo, hi = to_label(start), to_label(end)
                bars = self._eod(ticker, symbol, lo, hi, trace) if lo < hi else empty_bars()
                bars = clip_and_dedupe(bars, lo.tz_localize("UTC"), hi.tz_localize("UTC"))
                if len(bars) and any(kind in mkt.asset_classes for kind in ("stock", "etf")):  # crypto: no splits
                    bars = self._raw_volume(symbol, bars, trace)
            else:
                lo, hi = to_utc(start), to_utc(end)
                frames = [
                    self._intraday(ticker, symbol, timeframe, c0, c1, trace)
                    for c0, c1 in fixed_chunks(lo, hi, pd.Timedelta(days=INTRADAY_MAX_DAYS[timeframe]))
                ]
                bars = clip_and_dedupe(pd.concat(frames, ignore_index=True) if frames else empty_bars(), lo, hi)
                bars = keep_session_hours(mkt, bars, extended_hours, self.extended_hours)
        out = normalize_bars(bars) if len(bars) else empty_bars()
        return VendorFetchResult.from_trace(out, trace)

    def _intraday(
        self, ticker: str, symbol: str, timeframe: str, lo: pd.Timestamp, hi: pd.Timestamp, trace: FetchTrace
    ) -> pd.DataFrame:
        window = describe_window(timeframe, lo, hi)
        params: dict[str, str | int] = {
            "interval": timeframe,
            "from": int(lo.timestamp()),
            "to": int(hi.timestamp()) - 1,  # `to` is inclusive: stop before the next window
            "fmt": "json",
        }
        reply = self._http.get_json(
            f"/api/intraday/{ticker}", params, symbol=symbol, window=window, trace=trace, weight=CALLS["intraday"]
        )
        rows = self._rows(reply.body, symbol, window, ("timestamp", *_FIELDS))
        if rows.empty:
            return empty_bars()
        return pd.DataFrame(
            {
                "ts": pd.to_datetime(rows["timestamp"].astype("int64"), unit="s", utc=True),
                **{c: rows[c] for c in _FIELDS},
                "volume": rows["volume"] if "volume" in rows else float("nan"),
            }
        )

    def _eod(self, ticker: str, symbol: str, lo: pd.Timestamp, hi: pd.Timestamp, trace: FetchTrace) -> pd.DataFrame:
        window = describe_window("1d", lo, hi)
        params: dict[str, str | int] = {
            "from": lo.strftime("%Y-%m-%d"),
            "to": (hi - pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
            "period": "d",
            "fmt": "json",
        }
        reply = self._http.get_json(
            f"/api/eod/{ticker}", params, symbol=symbol, window=window, trace=trace, weight=CALLS["eod"]
        )
        rows = self._rows(reply.body, symbol, window, ("date", *_FIELDS))
        if rows.empty:
            return empty_bars()
        return pd.DataFrame(
            {
                "ts": pd.to_datetime(rows["date"], format="%Y-%m-%d").dt.tz_localize("UTC"),
                **{c: rows[c] for c in _FIELDS},
                "volume": rows["volume"] if "volume" in rows else float("nan"),
            }
        )

    def _raw_volume(self, symbol: str, bars: pd.DataFrame, trace: FetchTrace) -> pd.DataFrame:
        """Undo EODHD's split adjustment of daily volume: a day's volume is divided by the
        ratio of every split executed after it (to today: the vendor adjusts to its present)."""
        first = bars["ts"].min().date()
        _, splits = self._actions("splits", symbol, first, None, ("date", "split"), trace)
        ratios = _split_ratios(splits, symbol)
        if ratios.empty:
            return bars
        days = bars["ts"].dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        ex = ratios.index.to_numpy(dtype="datetime64[ns]")
        after = np.ones(len(ex) + 1)
        after[:-1] = np.cumprod(ratios.to_numpy()[::-1])[::-1]  # after[i]: product of ratios[i:]
        factor = after[np.searchsorted(ex, days, side="right")]
        return bars.assign(volume=bars["volume"].astype("float64") / factor)

    def _rows(self, body: object, symbol: str, window: str, required: tuple[str, ...]) -> pd.DataFrame:
        """The body's rows; an empty list is a real "no bars", anything but a list is an error,
        and a free-plan `warning` (on the rows or as a trailing object) is a PlanError."""
        self._refuse_warnings(body, symbol, window)
        if not isinstance(body, list):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("message") or body.get("error") or body.get("errors") or "")[:200]
            raise self._page_error(symbol, window, f"expected a JSON list, got {type(body).__name__} {detail}".strip())
        if not body:
            return pd.DataFrame()
        if not all(isinstance(r, dict) for r in body):
            raise self._page_error(symbol, window, "rows are not JSON objects")
        frame = pd.DataFrame.from_records(body)
        missing = set(required) - set(frame.columns)
        if missing:
            raise self._page_error(symbol, window, f"rows lack fields {sorted(missing)}")
        for col in (*_FIELDS, "volume"):
            if col in frame:
                frame[col] = pd.to_numeric(frame[col], errors="coerce")
        # EODHD sometimes sends a row with null prices for an interval without trades:
        # that is "no bar", not a bar of NaNs.
        return frame.dropna(subset=list(_FIELDS)).reset_index(drop=True)

    def _refuse_warnings(self, body: object, symbol: str, window: str) -> None:
        rows = body if isinstance(body, list) else [body]
        warnings = {str(r["warning"]) for r in rows if isinstance(r, dict) and r.get("warning")}
        if warnings:
            data_rows = sum(1 for r in rows if isinstance(r, dict) and set(r) - {"warning"})
            said = self._http.scrub("; ".join(sorted(warnings)))[:300]
            raise PlanError(
                self.vendor, symbol, window,
                f"plan limit: EODHD answered 200 with {data_rows} row(s) and the warning \"{said}\"; "
                "the history the plan leaves out would be taken for missing bars, so nothing is stored",
            )


def _split_ratios(rows: pd.DataFrame, symbol: str) -> pd.Series:
    """EODHD split rows ("4.000000/1.000000", new/old) -> ratio per execution date, ascending."""
    if rows.empty:
        return pd.Series(dtype="float64")
    parts = rows["split"].astype(str).str.split("/", n=1, expand=True)
    if parts.shape[1] != 2:
        raise ValueError(f"eodhd: {symbol}: a split is not 'new/old': {rows['split'].tolist()[:3]}")
    ratio = pd.to_numeric(parts[0], errors="coerce") / pd.to_numeric(parts[1], errors="coerce")
    dates = pd.to_datetime(rows["date"], format="%Y-%m-%d")
    out = pd.Series(ratio.to_numpy(dtype="float64"), index=dates).dropna()
    return out.groupby(level=0).prod().sort_index()

