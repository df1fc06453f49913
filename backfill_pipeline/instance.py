"""The Dagster instance the CLI works on, and the symbol partition sets inside it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from backfill_pipeline.markets import Market, validate_symbol

# Written into a new DAGSTER_HOME when the repository's dagster.yaml cannot be found
# (the package installed without its repository).
_MINIMAL_INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def repo_instance_yaml() -> Path | None:
    candidate = Path(__file__).resolve().parent.parent / "dagster.yaml"
    return candidate if candidate.is_file() else None


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME, or ./.dagster_home (created with the project's dagster.yaml)."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        template = repo_instance_yaml()
        config.write_text(template.read_text() if template else _MINIMAL_INSTANCE_YAML)
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()


def list_symbols(instance: dg.DagsterInstance, market: Market) -> list[str]:
    return list(instance.get_dynamic_partitions(market.symbols_partitions_name))


def add_symbols(instance: dg.DagsterInstance, market: Market, symbols: list[str]) -> list[str]:
    """Register symbols (validated first, all or nothing); returns the ones that were new."""
    for symbol in symbols:
        validate_symbol(symbol)
    existing = set(list_symbols(instance, market))
    new = [s for s in dict.fromkeys(symbols) if s not in existing]
    if new:
        instance.add_dynamic_partitions(market.symbols_partitions_name, new)
    return new


def remove_symbols(instance: dg.DagsterInstance, market: Market, symbols: list[str]) -> None:
    """Unregister symbols; every one must be registered, else nothing is removed."""
    existing = set(list_symbols(instance, market))
    unknown = [s for s in symbols if s not in existing]
    if unknown:
        raise KeyError(f"not registered in {market.name}: {', '.join(unknown)}")
    for symbol in dict.fromkeys(symbols):
        instance.delete_dynamic_partition(market.symbols_partitions_name, symbol)
