"""A local server speaking Polygon's aggregates wire format, for tests and the benchmark.

It serves deterministic minute bars (equities in XNYS extended hours as markets.py defines
them, 04:00-20:00 New York or 04:00-17:00 on early-close days; every minute for X: crypto
tickers; minus a configurable share of "no trade" minutes), aggregated to the requested
multiplier/timespan, caps a response at `limit` base minutes and continues with a next_url cursor like Polygon. It can enforce a per-key
request limit over a sliding window, answering 429 past it, and records what it served
(arrival times, 429s, bar timestamps) so callers can check for over-use and duplicates.
Only 127.0.0.1 is bound.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import pandas as pd

from ..markets import get_market, schedule_bounds, with_hours

_MINUTE_MS = 60_000
_PAGE_CACHE_SIZE = 64


@dataclass
class ServerStats:
    requests: int = 0
    throttled: int = 0
    unauthorized: int = 0
    arrivals: list[float] = field(default_factory=list)  # epoch seconds of accepted requests
    served_ts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # ticker -> bar t (ms)


class FakePolygon:
    def __init__(
        self,
        *,
        keys: set[str] | None = None,
        rate_limit: tuple[int, float] | None = None,
        max_limit: int = 50_000,
        missing_every: int = 0,
        status: str = "OK",
    ):
        self.keys = keys  # None: any key is accepted
        self.rate_limit = rate_limit  # (requests, window seconds) per key
        self.max_limit = max_limit
        self.missing_every = missing_every  # every n-th minute has no trades (0: none)
        self.status = status
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._pages: dict[tuple[object, ...], tuple[object, list[int]]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- data -----------------------------------------------------------------------

    def base_minutes(self, ticker: str, lo_ms: int, hi_ms: int) -> np.ndarray:
        """Start times (ms) of the minute bars that exist in [lo_ms, hi_ms]."""
        if hi_ms < lo_ms:
            return np.empty(0, dtype=np.int64)
        first = -(-lo_ms // _MINUTE_MS) * _MINUTE_MS
        minutes = np.arange(first, hi_ms + 1, _MINUTE_MS, dtype=np.int64)
        if not ticker.startswith("X:"):
            minutes = minutes[_in_extended_hours(minutes)]
        if self.missing_every:
            minutes = minutes[(minutes // _MINUTE_MS * 2654435761) % self.missing_every != 0]
        return minutes

    def bars_in_range(self, ticker: str, lo_ms: int, hi_ms: int) -> int:
        return len(self.base_minutes(ticker, lo_ms, hi_ms))

    # -- request handling -------------------------------------------------------------

    def _admit(self, key: str | None) -> int:
        """200, 401 or 429 for a request arriving now."""
        now = time.time()
        with self._lock:
            self.stats.requests += 1
            if not key or (self.keys is not None and key not in self.keys):
                self.stats.unauthorized += 1
                return 401
            if self.rate_limit is not None:
                limit, window = self.rate_limit
                arrivals = self._windows[key]
                while arrivals and arrivals[0] <= now - window:
                    arrivals.popleft()
                if len(arrivals) >= limit:
                    self.stats.throttled += 1
                    return 429
                arrivals.append(now)
            self.stats.arrivals.append(now)
            return 200

    def aggregates(self, path: str, query: dict[str, str]) -> dict[str, object]:
        parts = path.strip("/").split("/")  # v2 aggs ticker T range M SPAN FROM TO
        ticker, multiplier, timespan, frm, to = parts[3], int(parts[5]), parts[6], parts[7], parts[8]
        cursor = _decode_cursor(query["cursor"]) if "cursor" in query else {}
        limit = min(int(cursor.get("limit", query.get("limit", 5000))), self.max_limit)
        lo = int(cursor.get("from", _bound(frm, start=True)))
        hi = _bound(to, start=False)
        minutes = self.base_minutes(ticker, lo, hi)
        if timespan == "day":
            keys = _ny_day_start(minutes)
            unit_ends = np.flatnonzero(np.diff(keys)) + 1  # a page may only end between days
            cap = limit  # base aggregates of a daily request are days
            taken = int(unit_ends[cap - 1]) if len(unit_ends) >= cap else len(minutes)
        else:
            span_ms = multiplier * _MINUTE_MS * (60 if timespan == "hour" else 1)
            keys = minutes // span_ms * span_ms
            taken = min(limit, len(minutes))
            while 0 < taken < len(minutes) and keys[taken] == keys[taken - 1]:
                taken -= 1  # never split a bar across pages
        page, page_keys = minutes[:taken], keys[:taken]
        results, stamps = self._encoded_results(page, page_keys, (multiplier, timespan))
        body: dict[str, object] = {
            "ticker": ticker,
            "queryCount": len(stamps),
            "resultsCount": len(stamps),
            "adjusted": query.get("adjusted", "true") == "true",
            "status": self.status,
            "request_id": uuid.uuid4().hex,
        }
        if stamps:
            body["results"] = results
            body["count"] = len(stamps)
        if taken < len(minutes):
            nxt = _encode_cursor({"from": int(minutes[taken]), "limit": limit})
            # Like Polygon: an absolute link on the vendor's public host, cursor only.
            body["next_url"] = f"https://api.polygon.io/{'/'.join(parts)}?cursor={nxt}"
        with self._lock:
            self.stats.served_ts[ticker].extend(stamps)
        return body

    def _encoded_results(self, page: np.ndarray, page_keys: np.ndarray, span: tuple[int, str]) -> tuple[object, list[int]]:
        """The page's results as pre-encoded JSON and their bar starts. Bars depend on the
        minutes only, not the ticker, so pages are cached: the benchmark measures the
        client pipeline, not this server building 50,000 dicts per page."""
        if len(page) == 0:
            return None, []
        key = (int(page[0]), int(page[-1]), len(page), span)
        hit = self._pages.get(key)
        if hit is None:
            rows = _aggregate(page, page_keys)
            hit = (orjson.Fragment(orjson.dumps(rows)), [int(r["t"]) for r in rows])
            with self._lock:
                if len(self._pages) >= _PAGE_CACHE_SIZE:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[key] = hit
        return hit


class _Handler(BaseHTTPRequestHandler):
    fake: FakePolygon
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a response).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # the stdlib's signature
        return

    def do_GET(self) -> None:  # the stdlib's name
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        # Polygon takes the key as "Authorization: Bearer <key>" or as ?apiKey=
        bearer = self.headers.get("Authorization", "")
        status = self.fake._admit(bearer.removeprefix("Bearer ").strip() or query.get("apiKey"))
        if status == 401:
            self._send(401, {"status": "ERROR", "request_id": uuid.uuid4().hex, "error": "Unknown API Key"})
        elif status == 429:
            error = "You've exceeded the maximum requests per minute"
            self._send(429, {"status": "ERROR", "request_id": uuid.uuid4().hex, "error": error})
        elif split.path.startswith("/v2/aggs/ticker/"):
            self._send(200, self.fake.aggregates(split.path, query))
        else:
            self._send(404, {"status": "NOT_FOUND", "request_id": uuid.uuid4().hex})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = orjson.dumps(body)  # the client's decode is measured, not this server's encode
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _bound(value: str, *, start: bool) -> int:
    """A from/to path segment (ms timestamp or YYYY-MM-DD in New York) as inclusive ms."""
    if value.isdigit():
        return int(value)
    day = pd.Timestamp(value).tz_localize("America/New_York")
    if start:
        return int(day.tz_convert("UTC").value // 1_000_000)
    return int((day + pd.Timedelta(days=1)).tz_convert("UTC").value // 1_000_000) - 1


@functools.cache
def _extended_bounds_ms() -> tuple[np.ndarray, np.ndarray]:
    """Open and close of every XNYS session in extended hours, epoch ms."""
    opens, closes = schedule_bounds(with_hours(get_market("us_equities"), "extended"))
    return _epoch_ms(opens), _epoch_ms(closes)


def _epoch_ms(instants: pd.Series) -> np.ndarray:
    return instants.to_numpy(dtype="datetime64[ns]").astype("int64") // 1_000_000


def _in_extended_hours(minutes: np.ndarray) -> np.ndarray:
    """Inside an XNYS session's extended hours."""
    ext_open, ext_close = _extended_bounds_ms()
    idx = np.searchsorted(ext_open, minutes, side="right") - 1
    inside = idx >= 0
    inside[inside] = minutes[inside] < ext_close[idx[inside]]
    return inside


def _ny_day_start(minutes: np.ndarray) -> np.ndarray:
    if len(minutes) == 0:
        return minutes
    local = pd.to_datetime(minutes, unit="ms", utc=True).tz_convert("America/New_York").normalize()
    return local.tz_convert("UTC").as_unit("ms").asi8.astype(np.int64)


def _aggregate(minutes: np.ndarray, keys: np.ndarray) -> list[dict[str, float | int]]:
    if len(minutes) == 0:
        return []
    price = 100.0 + 10.0 * np.sin(minutes / 3.6e6) + (minutes // _MINUTE_MS % 7) * 0.01
    volume = (minutes // _MINUTE_MS % 97 + 1).astype(np.float64) * 10.0
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(minutes)]
    v = np.add.reduceat(volume, starts)
    columns = {
        "v": v,
        "vw": np.round(np.add.reduceat(price * volume, starts) / v, 4),
        "o": np.round(price[starts], 4),
        "c": np.round(price[ends - 1], 4),
        "h": np.round(np.maximum.reduceat(price, starts) + 0.05, 4),
        "l": np.round(np.minimum.reduceat(price, starts) - 0.05, 4),
        "t": keys[starts],
        "n": (ends - starts) * 3,
    }
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*(c.tolist() for c in columns.values()), strict=True)]


def _encode_cursor(data: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_cursor(value: str) -> dict[str, int]:
    padded = value + "=" * (-len(value) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))
