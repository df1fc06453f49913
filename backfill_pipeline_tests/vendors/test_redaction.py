"""API keys never appear in log records, exception text (str, repr, chained causes,
tracebacks), request ids or recorded URLs — whatever way a fetch fails."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import traceback
from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.vendors.base import VendorError
from backfill_pipeline.vendors.eodhd.client import EodhdClient
from backfill_pipeline.vendors.fred.client import FredClient
from backfill_pipeline.vendors.polygon.client import PolygonClient
from backfill_pipeline.vendors.redact import Redactor, install_log_redaction, redact_url
from backfill_pipeline.vendors.trace import RequestRecord

from .conftest import options

SECRET = "SEKRIT-7f3a9c21-do-not-leak"
OTHER = "otherkey-5b8e"
START, END = pd.Timestamp("2024-01-03", tz="UTC"), pd.Timestamp("2024-01-04", tz="UTC")


@pytest.fixture
def quiet_stand_in(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # The local server stands in for the vendor, which of course sees the key; its own
    # access log (werkzeug) is the vendor's log, not ours.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    yield caplog
    logging.getLogger("werkzeug").setLevel(logging.NOTSET)


def exception_texts(exc: BaseException) -> list[str]:
    texts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), *(str(a) for a in current.args)]
        current = current.__cause__ or current.__context__
    texts.append("".join(traceback.format_exception(exc)))
    return texts


def assert_no_secret(caplog: pytest.LogCaptureFixture, exc: BaseException | None, records: list[RequestRecord]) -> None:
    for secret in (SECRET, OTHER):
        assert secret not in caplog.text
        assert all(secret not in r.getMessage() for r in caplog.records)
        if exc is not None:
            assert all(secret not in text for text in exception_texts(exc))
        for rec in records:
            assert secret not in rec.url and secret not in rec.request_id and secret not in (rec.error or "")


Failure = Callable[[Request], Response]


def respond(code: int, body: object) -> Failure:
    return lambda _: Response(json.dumps(body), status=code, content_type="application/json")


def slow(_: Request) -> Response:
    import time

    time.sleep(0.5)
    return Response("{}", status=200)


FAILURES: dict[str, Failure] = {
    "5xx": respond(503, {"status": "ERROR"}),
    "401": respond(401, {"status": "ERROR", "error": "Unknown API Key"}),
    # A vendor that echoes the key back in its error message and in a URL.
    "echo": lambda req: respond(404, {"error": f"key {SECRET} unknown", "url": req.url})(req),
    # ...in a refusal (kept in the shared limiter's refusal table and the AuthError) or a plan error
    "echo_refused": respond(401, {"status": "ERROR", "error": f"API key {SECRET} / {OTHER} is not valid"}),
    "echo_plan": respond(403, {"status": "NOT_AUTHORIZED", "message": f"{SECRET} is not entitled; upgrade your plan"}),
    "truncated": lambda _: Response('{"status": "OK", "results": [', status=200),
    "timeout": slow,
}

CLIENTS: dict[str, tuple[str, Callable[[str, list[RequestRecord]], Callable[[], object]]]] = {
    "polygon": (
        r"^/v2/aggs/.*",
        lambda url, recs: lambda: PolygonClient(
            [OTHER, SECRET], base_url=url, options=options(on_request=recs.append, timeout_s=0.2)
        ).fetch_bars("AAPL", "1m", START, END),
    ),
    "eodhd": (
        r"^/api/intraday/.*",
        lambda url, recs: lambda: EodhdClient(
            [SECRET, OTHER], base_url=url, options=options(on_request=recs.append, timeout_s=0.2)
        ).fetch_bars("AAPL", "1m", START, END),
    ),
    "fred": (
        r"^/fred/.*",
        lambda url, recs: lambda: FredClient(
            [SECRET, OTHER], base_url=url, options=options(on_request=recs.append, timeout_s=0.2)
        ).fetch_series("DGS10", dt.date(2024, 1, 1), dt.date(2024, 2, 1)),
    ),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("vendor", sorted(CLIENTS))
def test_failed_fetches_leak_no_key(
    vendor: str, failure: str, server: HTTPServer, quiet_stand_in: pytest.LogCaptureFixture
) -> None:
    path, make = CLIENTS[vendor]
    server.expect_request(re.compile(path)).respond_with_handler(FAILURES[failure])
    records: list[RequestRecord] = []
    with pytest.raises(VendorError) as info:
        make(server.url_for(""), records)()
    assert records, "every request is recorded"
    assert_no_secret(quiet_stand_in, info.value, records)
    assert "HTTP Request" in quiet_stand_in.text or failure == "timeout"  # httpx's own log line was seen, redacted


def test_connection_failure_leaks_no_key(quiet_stand_in: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    records: list[RequestRecord] = []
    client = PolygonClient([SECRET], base_url=f"http://127.0.0.1:{port}", options=options(on_request=records.append))
    with pytest.raises(VendorError) as info:
        client.fetch_bars("AAPL", "1m", START, END)
    assert_no_secret(quiet_stand_in, info.value, records)


def test_a_key_echoed_into_next_url_is_dropped_and_ours_re_added(
    server: HTTPServer, quiet_stand_in: pytest.LogCaptureFixture
) -> None:
    seen_keys: list[str | None] = []

    def pages(request: Request) -> Response:
        assert "apiKey" not in request.args  # the echoed key was dropped; ours goes in the header
        seen_keys.append(request.headers.get("Authorization", "").removeprefix("Bearer "))
        t0 = int(pd.Timestamp("2024-01-03 15:00", tz="UTC").value // 10**6)
        bar = {"o": 1, "h": 1, "l": 1, "c": 1, "v": 1}
        if "cursor" not in request.args:
            body = {"status": "OK", "resultsCount": 1, "request_id": "p1", "results": [{**bar, "t": t0}]}
            body["next_url"] = f"https://api.polygon.io{request.path}?cursor=c2&apiKey={OTHER}"
        else:
            body = {"status": "OK", "resultsCount": 1, "request_id": "p2", "results": [{**bar, "t": t0 + 60_000}]}
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request(re.compile(r"^/v2/aggs/.*")).respond_with_handler(pages)
    client = PolygonClient([SECRET], base_url=server.url_for(""), options=options())
    result = client.fetch_bars("AAPL", "1m", START, END)
    assert len(result.bars) == 2 and seen_keys == [SECRET, SECRET]
    assert_no_secret(quiet_stand_in, None, result.records)


def test_redact_url_and_text() -> None:
    url = f"https://x/v2/aggs?apiKey={SECRET}&limit=5&api_token={SECRET}&api_key={SECRET}&token={SECRET}"
    assert SECRET not in redact_url(url) and "limit=5" in redact_url(url)
    assert SECRET not in redact_url(f"Authorization: Bearer {SECRET}")
    assert SECRET not in redact_url(f"{{'authorization': 'Bearer {SECRET}'}}")
    assert Redactor([SECRET]).scrub(f"the key {SECRET} is bad") == "the key *** is bad"


def test_httpx_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.INFO)
    url = f"https://h/p?apiKey={SECRET}"
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "GET", url, "HTTP/1.1 200 OK")
    assert SECRET not in caplog.text and "apiKey=***" in caplog.text
