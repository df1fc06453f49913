"""Retry policy: jittered exponential backoff and Retry-After parsing."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    # A "Retry-After: 0" (or a date in the past) would make a hot loop: wait at least this.
    retry_after_floor_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def backoff(self, attempt: int) -> float:
        """Delay before attempt `attempt + 1`: half fixed, half random ("equal jitter"), so
        processes that failed together do not retry together, and no delay is ~0."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def throttle_delay(self, retry_after: float | None, attempt: int) -> float:
        if retry_after is None:
            return self.backoff(attempt)
        return max(retry_after, self.retry_after_floor_s)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max((when - now).total_seconds(), 0.0)
