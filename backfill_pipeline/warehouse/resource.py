"""The warehouse resource: configuration only; the engine is built per execution."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import PrivateAttr

from backfill_pipeline.local_process import node_id
from backfill_pipeline.names import RUN_NODE_TAG
from backfill_pipeline.run_liveness import worker_pid
from backfill_pipeline.warehouse.location import check_warehouse_url, warehouse_url
from backfill_pipeline.warehouse.store import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy warehouse of bars and fetch logs.

    `url` empty means BACKFILL_WAREHOUSE_URL, else a SQLite file in $DAGSTER_HOME (or
    ./.dagster_home). The URL is resolved at execution so a password in it never reaches run config.
    """

    url: str | None = None
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        """The configured URL, checked (location.check_warehouse_url): a bad one fails here,
        before anything is opened or created."""
        return check_warehouse_url(self.url, "the warehouse resource's url") if self.url else warehouse_url()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._warehouse = Warehouse(self.resolved_url())
        _tag_run_node(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()
            self._warehouse = None

    def get(self) -> Warehouse:
        if self._warehouse is None:  # used outside a run (sensors, CLI)
            self._warehouse = Warehouse(self.resolved_url())
        return self._warehouse


def _tag_run_node(context: dg.InitResourceContext) -> None:
    """Record the node the run's worker runs on (RUN_NODE_TAG), once per run, when this
    process is the run worker or its child: then the worker's pid means something here,
    and the gap sensor may check it from a process of the same node (run_liveness.py)."""
    run, instance = context.dagster_run, context.instance
    if run is None or instance is None or RUN_NODE_TAG in run.tags:
        return
    worker = worker_pid(instance, run.run_id)
    if worker is not None and worker[0] in (os.getpid(), os.getppid()):
        instance.add_run_tags(run.run_id, {RUN_NODE_TAG: node_id()})
