"""Vendor retry warnings and rate-limit waits reach a run's event log (the UI's run log):
both shipped instance configs let Dagster manage the project's loggers, and a run whose
vendor answers 503 once records the client's retry warning, with the API key redacted."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from backfill_pipeline.automation_settings import AutomationConfig
from backfill_pipeline.definitions import build_definitions
from backfill_pipeline.names import ohlcv_key
from backfill_pipeline.settings import Settings
from backfill_pipeline.vendors.polygon.resource import PolygonResource
from backfill_pipeline.warehouse.resource import WarehouseResource
from backfill_pipeline_tests.instances import shipped_instance

REPO = Path(__file__).resolve().parents[1]
INSTANCE_CONFIGS = (REPO / "dagster.yaml", REPO / "docker" / "dagster.yaml")
SECRET = "sk_test_run_log_7c1e"
SESSION_OPEN = pd.Timestamp("2024-01-03 14:30", tz="UTC")


def _python_logs(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["python_logs"]


@pytest.mark.parametrize("path", INSTANCE_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_shipped_instance_configs_manage_the_projects_loggers(path: Path) -> None:
    logs = _python_logs(path)
    assert logs["managed_python_loggers"] == ["backfill_pipeline"]
    assert logs["python_log_level"] == "INFO"  # the limiter's waits are INFO, retries WARNING


def test_the_package_logs_under_the_managed_root() -> None:
    """Dagster captures a managed logger and its children: every logger we name is one."""
    named = [name for source in (REPO / "backfill_pipeline").rglob("*.py")
             for name in re.findall(r"logging\.getLogger\(\"([^\"]*)\"\)", source.read_text())]
    assert named and all(n == "backfill_pipeline" or n.startswith("backfill_pipeline.") for n in named), named


def _polygon_page() -> dict[str, object]:
    t0 = int(SESSION_OPEN.value // 1_000_000)
    bar = {"o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 10.0, "vw": 1.2, "n": 4}
    results = [{**bar, "t": t0 + i * 60_000} for i in range(3)]
    return {"status": "OK", "resultsCount": 3, "request_id": "req-ok", "adjusted": False, "results": results}


@pytest.fixture
def polygon_503_once() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        if len(seen) == 1:
            return Response('{"status":"ERROR"}', status=503, content_type="application/json")
        return Response(json.dumps(_polygon_page()), status=200, content_type="application/json")

    server.expect_request(re.compile(r"^/v2/aggs/ticker/AAPL/range/1/minute/.*")).respond_with_handler(handler)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_a_vendor_retry_warning_is_in_the_runs_event_log(
    polygon_503_once: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYGON_API_KEYS", SECRET)
    monkeypatch.setenv("POLYGON_BASE_URL", polygon_503_once.url_for(""))
    defs = build_definitions(Settings(vendors={"us_equities": "polygon"}, automation=AutomationConfig(fetch_retries=0)))
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'wh.db'}")
    resources = {**defs.resources, "warehouse": warehouse,
                 "polygon": PolygonResource(warehouse=warehouse, api_keys=dg.EnvVar("POLYGON_API_KEYS"),
                                            backoff_base_seconds=0.01)}
    overrides = {"python_logs": _python_logs(REPO / "dagster.yaml")}
    with shipped_instance(overrides=overrides) as instance:
        instance.add_dynamic_partitions("us_equities_symbols", ["AAPL"])
        result = dg.materialize(
            list(defs.assets), selection=[ohlcv_key("us_equities", "1m")], instance=instance,  # type: ignore[arg-type]
            resources=resources, partition_key="2024-01-03|AAPL", raise_on_error=False,
        )
        records = [e for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    retries = [e.user_message for e in records if "HTTP 503" in e.user_message and "retrying in" in e.user_message]
    assert retries, [e.user_message for e in records]
    assert retries[0].startswith("polygon AAPL")
    assert all(SECRET not in e.user_message for e in records)
