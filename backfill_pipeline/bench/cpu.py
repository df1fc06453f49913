"""CPU seconds per process group while a benchmark phase runs, read from /proc (Linux only).

On a machine whose cores are all busy, a phase's wall time follows the CPU it needs, so
these figures say where a ratio of two phases comes from (e.g. end to end / raw ceiling:
the run processes, the database server, the vendor server). A process's user + system time
is sampled every `interval` seconds while the phase runs and the gain since the phase began
is summed by group; a process that exits between two samples loses at most its last
interval, one that is alive from start to end is exact.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, start time) -> (command name, CPU seconds so far), for every process readable now."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone, or not ours to read
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[11], fields[12]: utime, stime; fields[19]: start time (a pid may be reused)
        found[(int(entry.name), int(fields[19]))] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


class CpuSampler:
    """`with CpuSampler(group) as cpu: ...` then `cpu.seconds` = {group: CPU seconds}. `group(pid,
    name)` names a process's group, or None to leave it out; it is asked at each sample, so
    processes started during the phase are counted."""

    def __init__(self, group: Callable[[int, str], str | None], interval: float = 0.1):
        self._group = group
        self._interval = interval
        self._start: dict[tuple[int, int], float] = {}
        self._last: dict[tuple[int, int], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.seconds: dict[str, float] = {}

    def _sample(self) -> None:
        for key, (name, cpu) in _processes().items():
            if self._group(key[0], name) is not None:
                self._last[key] = (name, cpu)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> Self:
        self._start = {key: cpu for key, (_name, cpu) in _processes().items()}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        totals: dict[str, float] = {}
        for key, (name, cpu) in self._last.items():
            group = self._group(key[0], name)
            if group is not None:
                totals[group] = totals.get(group, 0.0) + cpu - self._start.get(key, 0.0)
        self.seconds = totals

    def describe(self, wall: float) -> str:
        """'run processes 25.6 s, database server 10.0 s (total 35.6 s CPU in 20.1 s wall = 1.77 cores)'."""
        total = sum(self.seconds.values())
        parts = ", ".join(f"{g} {s:.1f} s" for g, s in sorted(self.seconds.items(), key=lambda kv: -kv[1]))
        return f"{parts} (total {total:.1f} s CPU in {wall:.1f} s wall = {total / wall:.2f} cores)"
