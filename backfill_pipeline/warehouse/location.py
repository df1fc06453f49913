"""Where the warehouse is: BACKFILL_WAREHOUSE_URL, checked, else the SQLite file in the
Dagster home. Settings, the warehouse resource (in the run's own process) and the commands
all read it through here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from backfill_pipeline.env import EnvReader, SettingsError
from backfill_pipeline.warehouse.urls import BadUrl, missing_driver, parse_url, redact_url

WAREHOUSE_BACKENDS = ("sqlite", "postgresql")


def warehouse_url(env: Mapping[str, str] | None = None) -> str:
    """The warehouse URL from `env` (default: the process environment), as Settings reads it.
    For the resource, which resolves it in the run's own process (so a password never reaches
    run config), and for commands that need nothing else."""
    return read_warehouse_url(EnvReader(env))


def read_warehouse_url(read: EnvReader) -> str:
    """BACKFILL_WAREHOUSE_URL (checked: check_warehouse_url), else a SQLite file in
    $DAGSTER_HOME, or in ./.dagster_home (the home `backfill-pipeline` creates there, so every
    command finds the demo's bars without DAGSTER_HOME exported); the warehouse creates its
    directory."""
    url = read.text("BACKFILL_WAREHOUSE_URL")
    if url:
        return check_warehouse_url(url, "BACKFILL_WAREHOUSE_URL")
    home = read.text("DAGSTER_HOME")
    return default_warehouse_url(Path(home) if home else None)


def default_warehouse_url(home: Path | None) -> str:
    base = home if home is not None else Path.cwd() / ".dagster_home"
    return f"sqlite:///{(base / 'warehouse.db').resolve()}"


def check_warehouse_url(url: str, source: str) -> str:
    """`url` if it names a warehouse this project can open; else SettingsError naming
    `source` (the variable or config field) and the problem, with no password shown.

    A SQLite file must go into an existing directory: a typo in the path would otherwise
    create an empty warehouse, whose gaps then trigger a full re-fetch.
    """
    try:
        parsed = parse_url(url)
    except BadUrl:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        shown = f" (scheme {scheme!r})" if scheme else ""
        raise SettingsError(f"{source} is not a database URL{shown}: expected sqlite:///path/to/warehouse.db "
                            "or postgresql+psycopg://user@host:5432/db") from None
    backend = parsed.backend
    if backend not in WAREHOUSE_BACKENDS:
        raise SettingsError(f"{source}={redact_url(url)!r}: the warehouse runs on SQLite or PostgreSQL, "
                            f"not {backend!r}")
    problem = missing_driver(url)
    if problem is not None:
        raise SettingsError(f"{source}={redact_url(url)!r}: unknown or missing database driver "
                            f"{parsed.drivername!r} ({problem})")
    if backend == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or path.startswith("file:"):
            raise SettingsError(f"{source}={url!r}: the warehouse must be a SQLite file (sqlite:///path/to/warehouse.db)")
        folder = Path(path).expanduser().absolute().parent
        if not folder.is_dir():
            raise SettingsError(f"{source}={url!r}: the directory {folder} does not exist, so the SQLite "
                                "warehouse cannot be there; create the directory or correct the path "
                                "(nothing was created)")
    return url
