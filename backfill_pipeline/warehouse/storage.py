"""What the warehouse holds and what it costs: revision, row counts, bytes per bar and per feature row.

PostgreSQL: pg_table_size (heap, TOAST, free-space and visibility maps) and pg_indexes_size
of `bars` (or `features`), after VACUUM ANALYZE when asked. SQLite: the pages of the table and its
indexes from the dbstat virtual table (a WITHOUT ROWID table is its primary-key b-tree: counted as table).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backfill_pipeline.warehouse.migrate import revision, upgrade
from backfill_pipeline.warehouse.store import Warehouse

COUNTED_TABLES = ("series", "bars", "bar_sessions", "fetch_log", "vendor_requests", "features",
                  "splits", "dividends", "macro_vintages", "macro_daily_pit")


@dataclass(frozen=True)
class TableStorage:
    rows: int
    table_bytes: int
    index_bytes: int
    unit: str = "bar"  # what a row is, for line()

    @property
    def total_bytes(self) -> int:
        return self.table_bytes + self.index_bytes

    def per_row(self, part: int) -> float:
        return part / self.rows if self.rows else 0.0

    def line(self) -> str:
        return (f"{self.rows:,} {self.unit}s: {self.per_row(self.total_bytes):.1f} B/{self.unit} "
                f"(table {self.per_row(self.table_bytes):.1f}, indexes {self.per_row(self.index_bytes):.1f})")


def vacuum_analyze(warehouse: Warehouse, table: str = "bars") -> None:
    if warehouse.is_sqlite:
        with warehouse.engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {table}")
        return
    with warehouse.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


UNITS = {"bars": "bar", "features": "feature row"}


def table_storage(warehouse: Warehouse, table: str = "bars", vacuum: bool = False) -> TableStorage:
    """Bytes of `table` (default bars) and of its indexes; `vacuum`: VACUUM ANALYZE it first."""
    if vacuum:
        vacuum_analyze(warehouse, table)
    with warehouse.engine.connect() as conn:
        count = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        if warehouse.is_sqlite:
            pages: dict[str, int] = dict(conn.exec_driver_sql(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_schema WHERE tbl_name = ?) GROUP BY name", (table,)).all())
            table_bytes = int(pages.pop(table, 0))
            index_bytes = int(sum(pages.values()))
        else:
            table_bytes = conn.execute(sa.text("SELECT pg_table_size(CAST(:t AS regclass))"), {"t": table}).scalar_one()
            index_bytes = conn.execute(sa.text("SELECT pg_indexes_size(CAST(:t AS regclass))"), {"t": table}).scalar_one()
    return TableStorage(int(count), int(table_bytes), int(index_bytes), UNITS.get(table, "row"))


def row_counts(warehouse: Warehouse) -> dict[str, int]:
    with warehouse.engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in COUNTED_TABLES if t in present}


def upgrade_warehouse(warehouse: Warehouse) -> tuple[str | None, str]:
    """migrate.upgrade on the warehouse's engine: (revision before, after)."""
    return upgrade(warehouse.engine)


def status_lines(warehouse: Warehouse) -> list[str]:
    with warehouse.engine.connect() as conn:
        rev = revision(conn)
    lines = [f"schema revision: {rev or 'none (empty)'}"]
    counts = row_counts(warehouse)
    lines += [f"{name}: {n:,} rows" for name, n in counts.items()]
    if rev is not None:
        lines.append("bars storage: " + table_storage(warehouse).line())
    if "features" in counts:  # before revision 0003: the text-keyed layout's bytes
        lines.append("features storage: " + table_storage(warehouse, "features").line())
    return lines
