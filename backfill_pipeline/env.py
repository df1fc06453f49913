"""Typed reads of environment variables, each error naming the variable and its value.

The one parser behind every setting (settings.py, automation_settings.py, vendors/limits.py,
executors.py, the warehouse URL): a blank variable counts as unset, and a bad value is a
SettingsError (a ValueError) such as `BACKFILL_SCHEDULE_HOUR='24' must be a whole number
between 0 and 23`. Plain Python, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping


class SettingsError(ValueError):
    pass


class EnvReader:
    """Reads `env` (default: the process environment)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env

    def raw(self, name: str) -> str | None:
        """The value as set, or None when unset or blank."""
        value = self.env.get(name)
        return value if value is not None and value.strip() else None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return value.strip() if value is not None else default

    def names(self, prefix: str) -> list[str]:
        """The variables set whose name is `prefix` or starts with it."""
        return sorted(name for name in self.env if name.startswith(prefix))

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        """One of `choices` (case-insensitive), or `default` when unset."""
        allowed = tuple(choices)
        value = (self.text(name) or default).lower()
        if value not in allowed:
            raise SettingsError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
        return value

    def whole(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise SettingsError(f"{name}={raw!r} must be a whole number {bound}")
        return value

    def seconds(self, name: str, default: float, *, allow_zero: bool = True) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise SettingsError(f"{name}={raw!r} must be a number of seconds {'>= 0' if allow_zero else '> 0'}")
        return value

    def share(self, name: str, default: float) -> float:
        """A number between 0 and 1."""
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            raise SettingsError(f"{name}={raw!r} must be a number between 0 and 1")
        return value

    def date(self, name: str, default: dt.date) -> dt.date:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from None
