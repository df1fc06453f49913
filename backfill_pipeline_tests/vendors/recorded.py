"""Recorded vendor responses (fixtures/<vendor>/, named like the URL; errors/ hold
{status, headers, body} envelopes) and helpers to serve them from pytest-httpserver.

Where each shape comes from: fixtures/<vendor>/PROVENANCE.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"


def data(vendor: str, name: str) -> Any:
    """A fixture's decoded JSON (a success body, or an error envelope)."""
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def response(vendor: str, name: str) -> Response:
    """The recorded response: an errors/ envelope as its status, headers and body (a string
    body is sent as text, as EODHD does), anything else as a 200 JSON body."""
    raw = data(vendor, name)
    if name.startswith("errors/"):
        body = raw["body"]
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=raw["status"], headers=raw.get("headers", {}))
    return Response(json.dumps(raw), status=200, content_type="application/json")


Handler = Callable[[Request], Response]


def serve(server: HTTPServer, path: str, answer: str | Handler, vendor: str = "") -> list[Request]:
    """Answer every request on `path` (a regex) with a recorded response (or a handler);
    returns the requests seen, in order, so tests can count and inspect them."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return answer(request) if callable(answer) else response(vendor, answer)

    server.expect_request(re.compile(path)).respond_with_handler(handler)
    return seen
