"""Database errors worth a one-line message instead of a traceback."""

from __future__ import annotations

import sqlalchemy as sa


def unusable_database_reason(exc: BaseException) -> str | None:
    """The driver's first line when `exc` says a database cannot be reached or used (the
    warehouse, the limiter's store, Dagster's instance storage); None for any other error."""
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return None
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
