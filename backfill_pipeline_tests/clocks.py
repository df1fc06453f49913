"""Clocks for tests of code that waits: a fake one that moves only when slept on, and the
real one with a record of the sleeps, for stores that read a server's clock (PostgreSQL).

Either way a test asserts what the code decided (how long it chose to wait, whether it
waited at all), never how fast the machine ran it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EPOCH_2024 = 1_704_067_200.0  # 2024-01-01T00:00Z: where fake epoch time starts


@dataclass
class FakeClock:
    """time(), monotonic() and sleep() on one fake timeline; sleep() advances it, nothing else does."""

    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    fake: bool = True

    def time(self) -> float:
        return EPOCH_2024 + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Time passes without the code under test sleeping (another process, the network)."""
        self.elapsed += seconds


@dataclass
class RecordingClock:
    """The real clock, recording every sleep the code under test asks for."""

    sleeps: list[float] = field(default_factory=list)
    fake: bool = False

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)

    def advance(self, seconds: float) -> None:
        time.sleep(seconds)
