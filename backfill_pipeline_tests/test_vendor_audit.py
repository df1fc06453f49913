"""The audit is complete: every request a fetch made is a vendor_requests row, failed
fetches included, with its status and why a page was not taken (local server, real warehouse)."""

from __future__ import annotations

import json
import re

import pandas as pd
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.ingest import fetch_and_store
from backfill_pipeline.markets import get_market
from backfill_pipeline.vendors.polygon.client import PolygonClient
from backfill_pipeline.warehouse.schema import fetch_log, vendor_requests
from backfill_pipeline.warehouse.store import Warehouse
from backfill_pipeline_tests.vendors.conftest import options

SESSIONS = pd.DatetimeIndex(["2024-01-03"])


def _serve(server: HTTPServer, answer: Response) -> list[Request]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return answer

    server.expect_request(re.compile(r"^/v2/aggs/.*")).respond_with_handler(handler)
    return seen


def _audit(warehouse_url: str, server: HTTPServer) -> tuple[list[dict], list[dict], str]:
    wh = Warehouse(warehouse_url)
    client = PolygonClient(["audit-key-1"], base_url=server.url_for(""), options=options())
    outcome = fetch_and_store(wh, client, get_market("us_equities"), "1m", "AAPL", SESSIONS)
    with wh.engine.connect() as conn:
        requests = [dict(r) for r in conn.execute(sa.select(vendor_requests)).mappings()]
        fetches = [dict(r) for r in conn.execute(sa.select(fetch_log)).mappings()]
    wh.dispose()
    return requests, fetches, "; ".join(outcome.errors)


def test_a_503_storm_is_audited_request_by_request(httpserver: HTTPServer, warehouse_url: str) -> None:
    seen = _serve(httpserver, Response('{"status":"ERROR","error":"upstream unavailable"}', status=503))
    requests, fetches, error = _audit(warehouse_url, httpserver)
    assert "gave up after 4 attempts" in error
    assert len(requests) == len(seen) == 4
    assert [r["http_status"] for r in requests] == [503] * 4 and [r["attempt"] for r in requests] == [1, 2, 3, 4]
    assert all(r["error"] == "HTTP 503: upstream unavailable" for r in requests)
    assert {f["status"] for f in fetches} == {"error"}
    assert len({r["fetch_id"] for r in requests} | {f["fetch_id"] for f in fetches}) == 1  # one fetch, linked


def test_a_silently_empty_page_is_audited(httpserver: HTTPServer, warehouse_url: str) -> None:
    body = {"ticker": "AAPL", "status": "OK", "adjusted": False, "request_id": "r-empty"}  # no resultsCount
    seen = _serve(httpserver, Response(json.dumps(body), content_type="application/json"))
    requests, fetches, error = _audit(warehouse_url, httpserver)
    assert "empty page" in error and {f["status"] for f in fetches} == {"error"}
    assert len(requests) == len(seen) == 1 and requests[0]["http_status"] == 200
    assert requests[0]["request_id"] == "r-empty"


def test_bodies_that_did_not_decode_say_why(httpserver: HTTPServer, warehouse_url: str) -> None:
    seen = _serve(httpserver, Response('{"status":"OK","results":[{"t":1', content_type="application/json"))
    requests, _, error = _audit(warehouse_url, httpserver)
    assert len(requests) == len(seen) == 4
    assert all(r["http_status"] == 200 and r["error"].startswith("undecodable JSON body") for r in requests)
    assert "undecodable JSON body" in error


def test_a_refused_only_key_is_audited(httpserver: HTTPServer, warehouse_url: str) -> None:
    seen = _serve(httpserver, Response('{"status":"ERROR","error":"Unknown API Key"}', status=401))
    requests, _, error = _audit(warehouse_url, httpserver)
    assert "every key was refused" in error and "audit-key-1" not in error
    assert len(requests) == len(seen) == 1
    assert (requests[0]["http_status"], requests[0]["error"]) == (401, "HTTP 401: Unknown API Key")
