"""graphql_client against a local HTTP server answering as the Dagster webserver does.
(The smoke test runs it against the real webserver.)"""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline import graphql_client as gc


def _answer(payloads: list[dict], seen: list[dict], status: int = 200):
    def handler(request: Request) -> Response:
        seen.append(json.loads(request.data))
        body = payloads.pop(0) if len(payloads) > 1 else payloads[0]
        return Response(json.dumps(body), status=status, content_type="application/json")

    return handler


def _backfill(status: str, runs: dict[str, str] | None = None) -> dict:
    return {"data": {"partitionBackfillOrError": {
        "__typename": "PartitionBackfill", "id": "abc", "status": status, "numPartitions": 2, "error": None,
        "runs": [{"runId": k, "status": v} for k, v in (runs or {}).items()],
    }}}


def test_launch_sends_one_range_per_key_and_returns_the_id(httpserver: HTTPServer) -> None:
    seen: list[dict] = []
    ok = {"data": {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "abc"}}}
    httpserver.expect_request("/graphql", method="POST").respond_with_handler(_answer([ok], seen))
    backfill_id = gc.launch_partition_backfill(
        httpserver.url_for("/"),
        {"ohlcv/us_equities/1m": ["2024-03-06|AAPL", gc.KeyRange("2024-03-07|AAPL", "2024-03-08|MSFT")]},
        title="t",
        tags={"team": "data"},
    )
    assert backfill_id == "abc"
    params = seen[0]["variables"]["params"]
    assert params["partitionsByAssets"] == [{
        "assetKey": {"path": ["ohlcv", "us_equities", "1m"]},
        "partitions": {"ranges": [{"start": "2024-03-06|AAPL", "end": "2024-03-06|AAPL"},
                                  {"start": "2024-03-07|AAPL", "end": "2024-03-08|MSFT"}]},
    }]
    assert params["title"] == "t" and params["tags"] == [{"key": "team", "value": "data"}]


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, {"data": {"launchPartitionBackfill": {"__typename": "PythonError", "message": "KeyError: x"}}},
         "PythonError: KeyError: x"),
        (500, {"data": None, "errors": [{"message": "boom"}]}, "boom"),
        (500, {"data": {"launchPartitionBackfill": {"__typename": "PythonError", "message": "KeyError: y"}}},
         "PythonError: KeyError: y"),
        (200, {"data": None}, "no data"),
    ],
)
def test_launch_errors_raise(httpserver: HTTPServer, status: int, body: dict, match: str) -> None:
    httpserver.expect_request("/graphql").respond_with_handler(_answer([body], [], status))
    with pytest.raises(gc.GraphQLError, match=match):
        gc.launch_partition_backfill(httpserver.url_for("/graphql"), {"a/b": ["k"]})


def test_empty_selections_are_refused_before_any_request() -> None:
    with pytest.raises(ValueError):
        gc.launch_partition_backfill("http://127.0.0.1:9", {})
    with pytest.raises(ValueError):
        gc.launch_partition_backfill("http://127.0.0.1:9", {"a/b": []})


def test_wait_polls_until_terminal(httpserver: HTTPServer) -> None:
    answers = [_backfill("REQUESTED"), _backfill("REQUESTED", {"r1": "STARTED"}),
               _backfill("COMPLETED_SUCCESS", {"r1": "SUCCESS"})]
    httpserver.expect_request("/graphql").respond_with_handler(_answer(answers, []))
    polled: list[str] = []
    status = gc.wait_for_backfill(
        httpserver.url_for("/"), "abc", poll_s=0.01, on_poll=lambda s: polled.append(s.status)
    )
    assert polled == ["REQUESTED", "REQUESTED", "COMPLETED_SUCCESS"]
    assert status.done and status.succeeded and status.run_statuses == {"r1": "SUCCESS"}


def test_wait_times_out_and_failed_backfills_are_not_successes(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graphql").respond_with_handler(_answer([_backfill("REQUESTED")], []))
    with pytest.raises(TimeoutError, match="still REQUESTED"):
        gc.wait_for_backfill(httpserver.url_for("/"), "abc", timeout_s=0.05, poll_s=0.01)
    httpserver.clear()
    httpserver.expect_request("/graphql").respond_with_handler(_answer([_backfill("COMPLETED_FAILED")], []))
    status = gc.backfill_status(httpserver.url_for("/"), "abc")
    assert status.done and not status.succeeded


def test_credentials_in_the_url_go_into_the_header_and_never_into_errors(httpserver: HTTPServer) -> None:
    import base64

    import httpx

    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:s3cr3t@pw").decode():
            return Response("401 Authorization Required", status=401)
        return Response(json.dumps({"data": None}), status=200, content_type="application/json")

    httpserver.expect_request("/graphql").respond_with_handler(handler)
    base = httpserver.url_for("/").replace("http://", "http://alice:s3cr3t%40pw@")
    with pytest.raises(gc.GraphQLError) as answered:  # authenticated: the webserver's answer is read
        gc.backfill_status(base, "abc")
    assert "s3cr3t" not in str(answered.value)
    with pytest.raises(httpx.HTTPStatusError) as refused:  # the proxy's 401 is an error, not "no data"
        gc.backfill_status(httpserver.url_for("/"), "abc", auth=("alice", "wrong-s3cr3t"))
    assert refused.value.response.status_code == 401 and "s3cr3t" not in str(refused.value)
    assert seen[0].startswith("Basic ") and len(seen) == 2
