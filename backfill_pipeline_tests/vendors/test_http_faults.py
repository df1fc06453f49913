"""Fault injection through a real HTTP server: every fault ends as a retried success or a
named failure (vendor, symbol, window, last status), never as "no data"."""

from __future__ import annotations

import email.utils
import json
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.vendors.base import AuthError, RateLimitedError, VendorError
from backfill_pipeline.vendors.limits import Rate
from backfill_pipeline.vendors.polygon.client import PolygonClient
from backfill_pipeline.vendors.ratelimit import RateLimiter
from backfill_pipeline.vendors.ratelimit_store import memory_store
from backfill_pipeline.vendors.retry import RetryPolicy, parse_retry_after
from backfill_pipeline_tests.clocks import FakeClock

from .conftest import FAST_RETRY, options

AGGS = re.compile(r"^/v2/aggs/ticker/AAPL/range/1/minute/.*")
START, END = pd.Timestamp("2024-01-03 14:30", tz="UTC"), pd.Timestamp("2024-01-03 21:00", tz="UTC")
Reply = Response | Callable[[Request], Response]


def page(n: int = 3, *, status: str = "OK") -> dict[str, object]:
    t0 = int(START.value // 1_000_000)
    bar = {"o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 10.0, "vw": 1.2, "n": 4}
    results = [{**bar, "t": t0 + i * 60_000} for i in range(n)]
    body: dict[str, object] = {"status": status, "resultsCount": n, "request_id": f"req-{n}", "adjusted": False}
    if n:
        body["results"] = results
    return body


def ok(n: int = 3) -> Response:
    return Response(json.dumps(page(n)), status=200, content_type="application/json")


def status(code: int, headers: dict[str, str] | None = None, body: str = '{"status":"ERROR"}') -> Response:
    return Response(body, status=code, headers=headers, content_type="application/json")


def script(server: HTTPServer, *replies: Reply) -> list[Request]:
    """Answer successive requests with `replies` (the last one repeats)."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        reply = replies[min(len(seen), len(replies)) - 1]
        return reply(request) if callable(reply) and not isinstance(reply, Response) else reply

    server.expect_request(AGGS).respond_with_handler(handler)
    return seen


def client(server: HTTPServer, keys: tuple[str, ...] = ("k1",), **kwargs: object) -> PolygonClient:
    return PolygonClient(list(keys), base_url=server.url_for(""), options=options(**kwargs))  # type: ignore[arg-type]


def statuses(result_or_records: object) -> list[int | None]:
    records = getattr(result_or_records, "records", result_or_records)
    return [r.status for r in records]  # type: ignore[union-attr]


def test_5xx_are_retried_until_success(server: HTTPServer) -> None:
    script(server, status(500), status(502), status(503), ok(3))
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert len(result.bars) == 3
    assert statuses(result) == [500, 502, 503, 200]
    assert result.requests == 4 and len(result.request_ids) == 4
    assert result.request_ids[-1] == "req-3"  # the vendor's id when it sends one


def test_persistent_5xx_fails_naming_vendor_symbol_window_and_status(server: HTTPServer) -> None:
    script(server, status(503))
    with pytest.raises(VendorError) as info:
        client(server).fetch_bars("AAPL", "1m", START, END)
    message = str(info.value)
    assert message.startswith("polygon: AAPL 1m [2024-01-03T14:30Z, 2024-01-03T21:00Z)")
    assert "gave up after 4 attempts; last: HTTP 503" in message
    assert not isinstance(info.value, RateLimitedError)


def test_429_retry_after_seconds_is_honoured(server: HTTPServer) -> None:
    script(server, status(429, {"Retry-After": "1"}), ok())
    started = time.monotonic()
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert time.monotonic() - started >= 1.0
    assert statuses(result) == [429, 200]


def test_429_retry_after_http_date_is_honoured(server: HTTPServer) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    script(server, status(429, {"Retry-After": when}), ok())
    started = time.monotonic()
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert time.monotonic() - started >= 0.9  # HTTP dates have 1 s resolution
    assert statuses(result) == [429, 200]


def test_retry_after_zero_waits_the_floor_not_a_hot_loop(server: HTTPServer) -> None:
    script(server, status(429, {"Retry-After": "0"}), status(429, {"Retry-After": "0"}), ok())
    policy = RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_cap_s=0.05, retry_after_floor_s=0.3)
    started = time.monotonic()
    result = client(server, retry=policy).fetch_bars("AAPL", "1m", START, END)
    assert time.monotonic() - started >= 0.6
    assert statuses(result) == [429, 429, 200]


def test_429_moves_to_another_key_instead_of_waiting(server: HTTPServer) -> None:
    def by_key(request: Request) -> Response:
        if request.headers.get("Authorization") == "Bearer key-one":
            return status(429, {"Retry-After": "30"})
        return ok()

    script(server, by_key)
    clock = FakeClock()  # the limiter's clock: it records every wait the limiter chooses
    limiter = RateLimiter(memory_store(clock=clock.time), sleep=clock.sleep, monotonic=clock.monotonic)
    result = client(server, keys=("key-one", "key-two"), limiter=limiter).fetch_bars("AAPL", "1m", START, END)
    assert [(r.status, r.key) for r in result.records] == [(429, "key #1 of 2"), (200, "key #2 of 2")]
    assert clock.sleeps == []  # key #2 was taken at once, nobody waited out key #1's 30 s


def test_persistent_429_is_a_rate_limited_error(server: HTTPServer) -> None:
    script(server, status(429))
    with pytest.raises(RateLimitedError, match=r"polygon: AAPL 1m .*HTTP 429"):
        client(server).fetch_bars("AAPL", "1m", START, END)


def test_spent_budget_raises_rate_limited_after_max_wait(server: HTTPServer) -> None:
    script(server, ok())
    clock = FakeClock()
    limiter = RateLimiter(memory_store(clock=clock.time), sleep=clock.sleep, monotonic=clock.monotonic)
    c = client(server, rates=(Rate(1, 60.0),), max_wait=0.2, limiter=limiter)
    c.fetch_bars("AAPL", "1m", START, END)
    with pytest.raises(RateLimitedError) as info:
        c.fetch_bars("AAPL", "1m", START, END)
    assert clock.sleeps == []  # the next slot is 60 s away: fail at once, no 0.2 s sleep first
    assert str(info.value).startswith("polygon: AAPL 1m [2024-01-03T14:30Z")
    assert "max_wait_seconds=0.2" in str(info.value)


def test_timeouts_are_retried(server: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(0.6)
        return ok()

    script(server, slow, ok())
    result = client(server, timeout_s=0.2).fetch_bars("AAPL", "1m", START, END)
    assert statuses(result) == [None, 200]
    assert "timeout" in (result.records[0].error or "")


def test_truncated_json_is_retried_then_named(server: HTTPServer) -> None:
    truncated = Response(json.dumps(page(3))[:40], status=200, content_type="application/json")
    script(server, truncated, ok())
    assert statuses(client(server).fetch_bars("AAPL", "1m", START, END)) == [200, 200]
    server.clear()
    script(server, truncated)
    with pytest.raises(VendorError, match="undecodable JSON body"):
        client(server).fetch_bars("AAPL", "1m", START, END)


def test_body_cut_short_by_the_connection_is_retried(server: HTTPServer) -> None:
    full = json.dumps(page(3)).encode()
    cut = Response(full[:30], status=200, headers={"Content-Length": str(len(full))}, content_type="application/json")
    script(server, cut, ok())
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert len(result.bars) == 3 and statuses(result)[-1] == 200 and result.requests == 2


def test_empty_body_is_an_error_not_no_data(server: HTTPServer) -> None:
    script(server, Response("", status=200))
    with pytest.raises(VendorError, match="empty body"):
        client(server).fetch_bars("AAPL", "1m", START, END)


def test_silently_empty_page_is_an_error(server: HTTPServer) -> None:
    script(server, Response(json.dumps(page(0, status="DELAYED")), status=200))
    with pytest.raises(VendorError, match="empty page"):
        client(server).fetch_bars("AAPL", "1m", START, END)
    server.clear()
    missing = {"status": "OK", "resultsCount": 5, "request_id": "x"}
    script(server, Response(json.dumps(missing), status=200))
    with pytest.raises(VendorError, match="empty page"):
        client(server).fetch_bars("AAPL", "1m", START, END)


def test_ok_with_zero_results_is_a_real_empty_answer(server: HTTPServer) -> None:
    script(server, Response(json.dumps(page(0)), status=200))
    result = client(server).fetch_bars("AAPL", "1m", START, END)
    assert result.bars.empty and result.requests == 1
    assert list(result.bars.columns) == ["ts", "open", "high", "low", "close", "volume", "vwap", "trades"]


def test_refused_key_is_an_auth_error_by_position_and_not_retried(server: HTTPServer) -> None:
    seen = script(server, status(401, body='{"status":"ERROR","error":"Unknown API Key"}'))
    with pytest.raises(AuthError) as info:
        client(server, keys=("expired-key-aaa",)).fetch_bars("AAPL", "1m", START, END)
    assert "every key was refused (key #1 of 1: HTTP 401: Unknown API Key)" in str(info.value)
    assert "expired-key-aaa" not in str(info.value)
    assert len(seen) == 1


def test_connection_refused_is_retried_then_named() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = PolygonClient(["k"], base_url=f"http://127.0.0.1:{port}", options=options(retry=FAST_RETRY))
    with pytest.raises(VendorError, match=r"gave up after 4 attempts; last: connection error \(ConnectError"):
        c.fetch_bars("AAPL", "1m", START, END)


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_results_of_the_wrong_shape_name_the_field(server: HTTPServer) -> None:
    """Vendor garbage inside a well-formed page: a price as text, a bar without a close.
    The error names the field's path; nothing becomes a silent NaN."""
    text_price = page(3)
    text_price["results"][1]["o"] = "n/a"  # type: ignore[index]
    script(server, Response(json.dumps(text_price), status=200, content_type="application/json"))
    with pytest.raises(VendorError, match=r"Expected `float`, got `str` - at `\$\.results\[1\]\.o`"):
        client(server).fetch_bars("AAPL", "1m", START, END)
    server.clear()
    no_close = page(3)
    del no_close["results"][2]["c"]  # type: ignore[index]
    script(server, Response(json.dumps(no_close), status=200, content_type="application/json"))
    with pytest.raises(VendorError, match=r"missing required field `c` - at `\$\.results\[2\]`"):
        client(server).fetch_bars("AAPL", "1m", START, END)
