"""The Dagster instance the CLI works on, and the symbol partition sets inside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from backfill_pipeline.markets import Market, validate_symbol

# Written into a new DAGSTER_HOME when the repository's dagster.yaml cannot be found
# (the package installed without its repository).
_MINIMAL_INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def repo_instance_yaml() -> Path | None:
    candidate = Path(__file__).resolve().parent.parent / "dagster.yaml"
    return candidate if candidate.is_file() else None


def repo_instance_config() -> dict[str, Any]:
    """The repository's dagster.yaml as a mapping (empty without the repository)."""
    path = repo_instance_yaml()
    return dict(yaml.safe_load(path.read_text()) or {}) if path else {}


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


def registered_names(existing: list[str], symbols: list[str]) -> tuple[list[str], list[str]]:
    """(registered partition keys the given names mean, names that match none). A name means
    the key spelled exactly so (what the UI added, `nflx`), else its upper-case form."""
    keys = set(existing)
    found: list[str] = []
    unknown: list[str] = []
    for name in symbols:
        key = name if name in keys else name.strip().upper() if name.strip().upper() in keys else None
        if key is None:
            unknown.append(name)
        else:
            found.append(key)
    return list(dict.fromkeys(found)), unknown


def remove_symbols(instance: dg.DagsterInstance, market: Market, symbols: list[str]) -> list[str]:
    """Unregister symbols (exact registered names, or their upper-case form); every one must be
    registered, else nothing is removed. Returns the partition keys removed."""
    found, unknown = registered_names(list_symbols(instance, market), symbols)
    if unknown:
        raise KeyError(f"not registered in {market.name}: {', '.join(unknown)}")
    for symbol in found:
        instance.delete_dynamic_partition(market.symbols_partitions_name, symbol)
    return found
