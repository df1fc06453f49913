"""A small client for the Dagster webserver's GraphQL API: launch and follow asset backfills.

No Dagster CLI command launches an asset backfill through the daemon; the mutation
`launchPartitionBackfill` with `partitionsByAssets` does, and the backfill then shows (and
can be resumed or cancelled) in the UI like one launched there. `url` is the webserver's
base URL (http://host:3000) or its /graphql endpoint.

Behind the deployment's authenticating proxy (docker/nginx/dagster.conf), pass `auth=(user,
password)` or put them in the URL (`http://alice:secret@host:8080`): credentials in a URL
are moved into the Authorization header and removed from the URL, so they never appear in
an error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

# BulkActionStatus values after which a backfill launches nothing more.
TERMINAL_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
# Asset backfills end COMPLETED_SUCCESS or COMPLETED_FAILED; plain COMPLETED (job backfills:
# every run launched) says nothing about the runs' outcome.
SUCCESS_STATUSES = frozenset({"COMPLETED_SUCCESS"})

_LAUNCH = """
mutation LaunchPartitionBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""

_STATUS = """
query PartitionBackfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      error { message }
      runs { runId status }
    }
    ... on Error { message }
  }
}
"""


class GraphQLError(RuntimeError):
    """The webserver answered with errors (or an error union member) instead of data."""


@dataclass(frozen=True)
class KeyRange:
    """An inclusive range of partition keys; on a date x symbol asset it is the product of
    the date range and the symbol range ("2024-03-01|AAPL" .. "2024-03-28|MSFT")."""

    start: str
    end: str


@dataclass(frozen=True)
class BackfillStatus:
    backfill_id: str
    status: str  # a BulkActionStatus: REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, ...
    num_partitions: int | None
    run_statuses: dict[str, str] = field(default_factory=dict)  # run id -> DagsterRunStatus
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        # Judged by the backfill, not its runs: a run that failed and was retried
        # successfully (run_retries) still appears as FAILURE.
        return self.status in SUCCESS_STATUSES


Auth = tuple[str, str]


def graphql_endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/graphql") else f"{url}/graphql"


def split_credentials(url: str, auth: Auth | None = None) -> tuple[str, Auth | None]:
    """The URL without user:password, and the credentials to send (explicit `auth` wins)."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        url = str(parsed.copy_with(username=None, password=None))
        if auth is None:
            auth = (parsed.username, parsed.password)
    return url, auth


def execute(
    url: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    timeout_s: float = 60.0,
    auth: Auth | None = None,
) -> dict[str, Any]:
    """POST one GraphQL operation; returns `data`, raises GraphQLError on `errors`.

    The webserver answers HTTP 500 whenever it captured a Python error, even when the error
    is a member of the result union (PythonError) in `data`, so the body is read first.
    A proxy's refusal (401/403) raises httpx.HTTPStatusError.
    """
    url, auth = split_credentials(url, auth)
    response = httpx.post(
        graphql_endpoint(url), json={"query": query, "variables": dict(variables or {})}, timeout=timeout_s,
        auth=auth,
    )
    if response.status_code in (401, 403):
        response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("errors"):
        raise GraphQLError("; ".join(str(e.get("message", e)) for e in body["errors"]))
    if isinstance(body, dict) and body.get("data") is not None:
        return body["data"]
    response.raise_for_status()
    raise GraphQLError(f"no data in the answer of {response.url}: {response.text[:500]}")


def _selector(asset_key: str, keys: Sequence[str | KeyRange]) -> dict[str, Any]:
    if not keys:
        raise ValueError(f"no partitions given for {asset_key}")
    ranges = [k if isinstance(k, KeyRange) else KeyRange(k, k) for k in keys]
    return {
        "assetKey": {"path": asset_key.split("/")},
        "partitions": {"ranges": [{"start": r.start, "end": r.end} for r in ranges]},
    }


def launch_partition_backfill(
    url: str,
    asset_partitions: Mapping[str, Sequence[str | KeyRange]],
    *,
    title: str | None = None,
    tags: Mapping[str, str] | None = None,
    auth: Auth | None = None,
) -> str:
    """Launch one backfill over `{asset key "ohlcv/us_equities/1m": [partition keys or ranges]}`.

    The daemon turns it into runs (ranged where the asset's BackfillPolicy allows).
    Returns the backfill id.
    """
    if not asset_partitions:
        raise ValueError("no assets given")
    params: dict[str, Any] = {"partitionsByAssets": [_selector(k, v) for k, v in asset_partitions.items()]}
    if title:
        params["title"] = title
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    result = execute(url, _LAUNCH, {"params": params}, auth=auth)["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise GraphQLError(f"{result['__typename']}: {result.get('message', '')}".strip())
    return str(result["backfillId"])


def backfill_status(url: str, backfill_id: str, auth: Auth | None = None) -> BackfillStatus:
    result = execute(url, _STATUS, {"id": backfill_id}, auth=auth)["partitionBackfillOrError"]
    if result["__typename"] != "PartitionBackfill":
        raise GraphQLError(f"{result['__typename']}: {result.get('message', '')}".strip())
    return BackfillStatus(
        backfill_id=result["id"],
        status=result["status"],
        num_partitions=result["numPartitions"],
        run_statuses={run["runId"]: run["status"] for run in result["runs"] or []},
        error=(result["error"] or {}).get("message"),
    )


def wait_for_backfill(
    url: str,
    backfill_id: str,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 5.0,
    on_poll: Callable[[BackfillStatus], None] | None = None,
    auth: Auth | None = None,
) -> BackfillStatus:
    """Poll until the backfill is done (whatever its outcome); TimeoutError after `timeout_s`.

    The daemon's backfill loop ticks about every 30 s, so even a one-run backfill takes
    that long.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        status = backfill_status(url, backfill_id, auth=auth)
        if on_poll is not None:
            on_poll(status)
        if status.done:
            return status
        if time.monotonic() >= deadline:
            raise TimeoutError(f"backfill {backfill_id} still {status.status} after {timeout_s:.0f} s: {status}")
        time.sleep(poll_s)
