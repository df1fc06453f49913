"""The warehouse resource: configuration only; the engine is built per execution."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from backfill_pipeline.settings import warehouse_url
from backfill_pipeline.warehouse.store import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy warehouse of bars and fetch logs.

    `url` empty means BACKFILL_WAREHOUSE_URL, else a SQLite file in $DAGSTER_HOME (or
    ./data). The URL is resolved at execution so a password in it never reaches run config.
    """

    url: str | None = None
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        return self.url or warehouse_url()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._warehouse = Warehouse(self.resolved_url())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()
            self._warehouse = None

    def get(self) -> Warehouse:
        if self._warehouse is None:  # used outside a run (sensors, CLI)
            self._warehouse = Warehouse(self.resolved_url())
        return self._warehouse
