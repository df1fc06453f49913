"""Test instances on the event log storage the project ships (dagster.yaml's
BatchedSqliteEventLogStorage, with Dagster's event batching on).

Dagster's own SqliteEventLogStorage opens a new engine and commits twice per event; a ranged
test run of a few dozen partitions spent most of its time there (the features test: 46 s of
its 50 s). The shipped storage writes a batch of asset events in one transaction over kept
connections, and test_event_log_storages.py checks that it stores what Dagster's own does, so
tests on it see the same partition statuses, materialisations and records, several times
faster. Tests of Dagster's own storage keep `dg.instance_for_test`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from backfill_pipeline.dagster_private import EVENT_BATCHING_ENV

SHIPPED_EVENT_LOG = {"module": "backfill_pipeline.dagster_private", "class": "BatchedSqliteEventLogStorage"}


def shipped_instance_yaml() -> str:
    """A test DAGSTER_HOME's dagster.yaml: no telemetry, the shipped event log storage."""
    return ("telemetry:\n  enabled: false\n"
            f"event_log_storage:\n  module: {SHIPPED_EVENT_LOG['module']}\n  class: {SHIPPED_EVENT_LOG['class']}\n")


@contextmanager
def shipped_instance(overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[dg.DagsterInstance]:
    """`dg.instance_for_test` with the shipped event log storage; the batching variable the
    storage sets is restored afterwards, so it leaks into no other test."""
    saved = {name: os.environ.get(name) for name in EVENT_BATCHING_ENV}
    try:
        with dg.instance_for_test(overrides={"event_log_storage": SHIPPED_EVENT_LOG, **(overrides or {})},
                                  **kwargs) as instance:
            yield instance
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
