"""One door to the warehouse (issue 12): every SQL statement lives in backfill_pipeline/warehouse/.

Walks the package's source with `ast` (nothing is imported to find the rule breakers, so a
module that fails to import is still checked). Outside warehouse/, a module may not
- import SQLAlchemy;
- reach a warehouse's engine or transaction (`x.engine`, `x.transaction()`);
- import from warehouse/ a table (or metadata) or a function that takes a connection: those
  are the warehouse's own plumbing; callers use its store functions and constants.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
import sqlalchemy as sa

import backfill_pipeline

PACKAGE = Path(backfill_pipeline.__file__).parent

# Databases that are not the warehouse, for good.
ALLOWED = {
    "vendors/ratelimit.py": "the rate limiter's own store (its database may be another than the warehouse)",
    "vendors/ratelimit_store.py": "the rate limiter's own store",
    # Dagster's instance storage (the event log storages), not the warehouse
    **{f"dagster_private/{name}.py": "Dagster's instance storage (event log storages), not the warehouse"
       for name in ("event_batches", "planned_ranges", "sqlite_event_log", "postgres_event_log")},
    "bench/pg.py": "the benchmarks' throwaway databases (create, drop, read a throwaway instance's runs)",
}
_WAREHOUSE_HANDLES = {"engine", "transaction"}


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith("warehouse/"):
            out.append((rel, ast.parse(path.read_text(), filename=str(path))))
    return out


def _is_plumbing(module: str, name: str) -> bool:
    """A table/metadata, or a function with a parameter annotated as a connection."""
    obj = getattr(importlib.import_module(module), name, None)
    if isinstance(obj, sa.Table | sa.MetaData):
        return True
    if inspect.isfunction(obj):
        return any("Connection" in str(p.annotation) for p in inspect.signature(obj).parameters.values())
    return False


def breaches(tree: ast.Module) -> list[str]:
    """What in `tree` goes around the door, as 'line N: what'."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "sqlalchemy":
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module.startswith("backfill_pipeline.warehouse."):
                found += [f"line {node.lineno}: from {node.module} import {a.name} (warehouse plumbing)"
                          for a in node.names if _is_plumbing(node.module, a.name)]
        elif isinstance(node, ast.Attribute) and node.attr in _WAREHOUSE_HANDLES:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_no_module_outside_the_warehouse_goes_around_it():
    offenders = {rel: hits for rel, tree in _modules() if rel not in ALLOWED and (hits := breaches(tree))}
    assert offenders == {}, (
        "SQL and connections belong in backfill_pipeline/warehouse/ (a store function there); found:\n"
        + "\n".join(f"  {rel}: {'; '.join(hits)}" for rel, hits in offenders.items())
    )


def test_every_allowed_module_exists():
    missing = [rel for rel in ALLOWED if not (PACKAGE / rel).is_file()]
    assert missing == [], f"allow-list entries for modules that no longer exist: {missing}"


@pytest.mark.parametrize(("source", "expected"), [
    ("import sqlalchemy as sa", ["line 1: import sqlalchemy"]),
    ("from sqlalchemy.engine import make_url", ["line 1: from sqlalchemy.engine import ..."]),
    ("def f(wh):\n    with wh.engine.connect() as c:\n        pass", ["line 2: .engine"]),
    ("def f(wh):\n    with wh.transaction() as c:\n        pass", ["line 2: .transaction"]),
    ("from backfill_pipeline.warehouse.schema import bars",
     ["line 1: from backfill_pipeline.warehouse.schema import bars (warehouse plumbing)"]),
    ("from backfill_pipeline.warehouse.bulk import insert_bars",
     ["line 1: from backfill_pipeline.warehouse.bulk import insert_bars (warehouse plumbing)"]),
    # store functions and constants are the door itself
    (("from backfill_pipeline.warehouse.features import read_features\n"
     "from backfill_pipeline.warehouse.schema_derived import FEATURE_COLUMNS\n"
     "from backfill_pipeline.warehouse.store import Warehouse"), []),
])
def test_the_check_sees_each_way_around_the_door(source, expected):
    assert breaches(ast.parse(source)) == expected
