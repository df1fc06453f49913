"""Database URLs (SQLAlchemy's syntax): parse, check the driver, redact, rewrite.

The only place outside the engine itself that reads a URL's parts, so settings, the CLI and
the benchmarks never import SQLAlchemy. The same syntax names the warehouse, Dagster's
instance storage and the benchmarks' throwaway databases.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


class BadUrl(ValueError):
    """The text is not a database URL."""


@dataclass(frozen=True)
class DatabaseUrl:
    backend: str  # "sqlite", "postgresql", ...
    drivername: str  # "postgresql+psycopg", ...
    database: str | None
    username: str | None
    password: str | None
    host: str | None
    port: int | None


def _parse(url: str) -> sa.engine.URL:
    try:
        return sa.engine.make_url(url.strip())
    except sa.exc.ArgumentError:
        raise BadUrl(url) from None


def parse_url(url: str) -> DatabaseUrl:
    parsed = _parse(url)
    return DatabaseUrl(parsed.get_backend_name(), parsed.drivername, parsed.database, parsed.username,
                       parsed.password, parsed.host, parsed.port)


def missing_driver(url: str) -> str | None:
    """Why the URL's dialect or driver cannot be loaded, or None when it can."""
    try:
        _parse(url).get_dialect()
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        return str(exc)
    return None


def redact_url(url: str) -> str:
    """The URL with its password hidden, for printing."""
    return _parse(url).render_as_string(hide_password=True)


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (password kept: for connecting)."""
    return _parse(url).set(database=database).render_as_string(hide_password=False)


def with_driver(url: str, drivername: str) -> str:
    """The same database through another driver, e.g. postgresql+psycopg2 for dagster-postgres."""
    return _parse(url).set(drivername=drivername).render_as_string(hide_password=False)
