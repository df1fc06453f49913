"""Binance spot klines: /api/v3/klines (no key; limits are per IP request weight).

Pages of up to 1000 klines, walked forward by open time (spec.binance_requests counts them
ahead). Binance limits request weight per IP per minute (6000; klines weigh 2, spec.KLINES_WEIGHT)
and says how much this IP has used in X-MBX-USED-WEIGHT-1M: when that shows the minute nearly
spent (other programs share the IP), the bucket is parked until the next minute in every
process. 429 and 418 (IP ban) carry Retry-After. Key rotation does not apply: there is no key.

Symbols: BTC-USD -> BTCUSDT (Binance has no USD book; USDT stands in, see symbols.py).
A kline with zero trades (Binance emits one per interval, flat at the last price) is
dropped by default, so a bar always means trades happened, as with Polygon.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd

from ...bars import empty_bars, normalize_bars
from ...markets import Market, get_market
from ...timeframes import get_timeframe
from ..client import ClientOptions, HttpClientBase
from ..http import Reply
from ..results import VendorFetchResult
from ..retry import parse_retry_after
from ..trace import FetchTrace
from ..windows import clip_and_dedupe, describe_window, to_label, to_utc
from .spec import KLINES_WEIGHT, SPEC, binance_symbol

DEFAULT_BASE_URL = "https://api.binance.com"
INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
MAX_PAGE_LIMIT = SPEC.page_bars  # 1000 klines
_MAX_PAGES = 100_000


def _banned(response: httpx.Response) -> float | None:
    if response.status_code != 418:
        return None
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return -1.0 if retry_after is None else retry_after


class BinanceClient(HttpClientBase):
    vendor = "binance"
    finalization_delay = SPEC.finalization_delay  # Binance does not revise closed klines

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        options: ClientOptions | None = None,
        market: Market | str | None = None,
        page_limit: int = MAX_PAGE_LIMIT,
        keep_empty_bars: bool = False,
        clock: Callable[[], float] = time.time,  # epoch seconds: where Binance's minute ends (tests fake it)
    ):
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT}")
        super().__init__(base_url, None, None, options, throttle_seconds=_banned)
        self.market = get_market(market) if isinstance(market, str) else market
        self.page_limit = page_limit
        self.keep_empty_bars = keep_empty_bars
        self._clock = clock

    def fetch_bars(
        self,
        symbol: str,
        timeframe: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        *,
        market: Market | str | None = None,
    ) -> VendorFetchResult:
        if timeframe not in INTERVAL_MS:
            raise ValueError(f"binance: timeframe {timeframe!r} is not fetched; use one of {', '.join(INTERVAL_MS)}")
        pair = binance_symbol(symbol, self._market(symbol, market))
        if get_timeframe(timeframe).daily:  # Binance days open at 00:00 UTC: the crypto session label
            lo, hi = to_label(start).tz_localize("UTC"), to_label(end).tz_localize("UTC")
        else:
            lo, hi = to_utc(start), to_utc(end)
        window = describe_window(timeframe, lo, hi)
        step = INTERVAL_MS[timeframe]
        with self._traced() as trace:
            frames = self._pages(pair, symbol, timeframe, lo, hi, window, step, trace)
        bars = clip_and_dedupe(pd.concat(frames, ignore_index=True), lo, hi) if frames else empty_bars()
        if not self.keep_empty_bars and len(bars):
            bars = bars.loc[bars["trades"] > 0].reset_index(drop=True)
        out = normalize_bars(bars) if len(bars) else empty_bars()
        return VendorFetchResult.from_trace(out, trace)

    def _pages(self, pair: str, symbol: str, timeframe: str, lo: pd.Timestamp, hi: pd.Timestamp, window: str,
               step: int, trace: FetchTrace) -> list[pd.DataFrame]:
        frames: list[pd.DataFrame] = []
        cursor, end_ms = _ms(lo), _ms(hi) - 1
        for _ in range(_MAX_PAGES):
            if cursor > end_ms:
                break
            params: dict[str, str | int] = {
                "symbol": pair,
                "interval": timeframe,
                "startTime": cursor,
                "endTime": end_ms,
                "limit": self.page_limit,
            }
            reply = self._http.get_json(
                "/api/v3/klines", params, symbol=symbol, window=window, trace=trace, weight=KLINES_WEIGHT
            )
            self._sync_used_weight(reply)
            rows = self._rows(reply.body, symbol, window)
            if not rows:
                break  # nothing at or after the cursor inside the window
            frames.append(_frame(rows))
            if len(rows) < self.page_limit:
                break
            next_cursor = int(rows[-1][0]) + step
            if next_cursor <= cursor:
                raise self._page_error(symbol, window, "klines did not advance past the requested startTime")
            cursor = next_cursor
        else:
            raise self._page_error(symbol, window, f"more than {_MAX_PAGES} pages")
        return frames

    def _rows(self, body: object, symbol: str, window: str) -> list[list[Any]]:
        if not isinstance(body, list):
            detail = str(body.get("msg", "")) if isinstance(body, dict) else type(body).__name__
            raise self._page_error(symbol, window, f"expected a JSON list of klines ({detail})")
        if any(not isinstance(r, list) or len(r) < 9 for r in body):
            raise self._page_error(symbol, window, "a kline has fewer than 9 fields")
        return body

    def _sync_used_weight(self, reply: Reply) -> None:
        """Park the IP's bucket until the next minute if Binance's own count says the
        minute's weight is (nearly) spent, e.g. by another program on this IP."""
        used_header = reply.headers.get("X-MBX-USED-WEIGHT-1M")
        minute = next((r for r in self.limits.rates if r.window_s == 60.0 and r.weighted), None)
        if used_header is None or minute is None:
            return
        try:
            used = int(used_header)
        except ValueError:
            return
        if used + KLINES_WEIGHT > minute.limit:
            self._http.limiter.block(reply.bucket, 60.0 - self._clock() % 60.0 + 0.5)


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def _frame(rows: list[list[object]]) -> pd.DataFrame:
    raw = pd.DataFrame([r[:9] for r in rows], columns=["t", "o", "h", "l", "c", "v", "close_t", "qv", "n"])
    volume = raw["v"].astype("float64")
    quote_volume = raw["qv"].astype("float64")
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(raw["t"].astype("int64"), unit="ms", utc=True),
            "open": raw["o"].astype("float64"),
            "high": raw["h"].astype("float64"),
            "low": raw["l"].astype("float64"),
            "close": raw["c"].astype("float64"),
            "volume": volume,
            # Binance gives quote volume; quote / base volume is the interval's VWAP.
            "vwap": (quote_volume / volume).where(volume > 0),
            "trades": pd.array(raw["n"].astype("int64"), dtype="Int64"),
        }
    )
