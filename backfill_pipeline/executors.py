"""Where a run's steps execute: in processes of the run (Dagster's default) or on Celery workers.

`BACKFILL_EXECUTOR=celery` makes every job of the code location (asset backfills and
materialisations included) use `dagster_celery.celery_executor`: the run process, started by
the run launcher next to the code server, submits each step as a Celery task to the broker,
and whichever worker machine is free runs it (`dagster-celery worker start`, service
`worker` in docker/docker-compose.yml). Steps share nothing but the Dagster instance
(PostgreSQL), the warehouse and the vendor rate limiter's tables in it: assets write to the
warehouse and return no outputs, so no step reads another's files.

The broker and result-backend URLs hold the Redis password, so the executor config names
the environment variables (`BACKFILL_CELERY_BROKER_URL`, `BACKFILL_CELERY_BACKEND_URL`), never
their values: run config, the UI and the event log show the names only. The workers read the
same config from docker/celery.yaml (a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from backfill_pipeline.env import EnvReader
from backfill_pipeline.settings import BACKEND_ENV, BROKER_ENV, EXECUTORS, ExecutorSettingError, read_executor

__all__ = ["BACKEND_ENV", "BROKER_ENV", "CELERY_CONFIG", "EXECUTORS", "ExecutorSettingError", "executor_for",
           "executor_from_env"]

# Shared by the executor (run side) and docker/celery.yaml (worker side).
CELERY_CONFIG: dict[str, Any] = {
    "broker": {"env": BROKER_ENV},
    # A real result backend (not rpc://): the run process, on another machine than the
    # worker, reads each step's result from it.
    "backend": {"env": BACKEND_ENV},
    "config_source": {
        # Redis redelivers a task that no worker acknowledged within this long; longer than
        # the longest step (a year of 1m bars for one symbol is minutes), or a slow step
        # would run twice. Idempotent writes make a second run harmless, not free.
        "broker_transport_options": {"visibility_timeout": 6 * 3600},
        "broker_connection_retry_on_startup": True,
        # Each worker asks for one task at a time: a long step never holds others back.
        "worker_prefetch_multiplier": 1,
    },
}


def executor_from_env(env: Mapping[str, str]) -> dg.ExecutorDefinition | None:
    """The executor named by BACKFILL_EXECUTOR in `env` (settings.read_executor checks it)."""
    return executor_for(read_executor(EnvReader(env)))


def executor_for(name: str) -> dg.ExecutorDefinition | None:
    """`default` or `celery` (Settings.executor); None keeps Dagster's default (multiprocess:
    every step a subprocess of the run)."""
    if name == "default":
        return None
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ExecutorSettingError(
            "BACKFILL_EXECUTOR=celery needs dagster-celery: pip install 'backfill_pipeline[celery]'"
        ) from None
    return celery_executor.configured(CELERY_CONFIG, name="celery")
