"""Is a process of this machine still running? (no Dagster here)

A process id means something only inside the pid namespace of the host that assigned it:
in another container the same number is another process or none. `node_id` names the
namespace, so a pid is only ever judged by a process that shares it.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

# A pid is reused once its process is gone: a process with that pid that started after the
# moment the pid was reported (plus this slack for clock granularity) is another process.
_START_SLACK_S = 5.0


@functools.cache
def node_id() -> str:
    """hostname/boot id/pid namespace: equal for two processes exactly when their pids are
    comparable (Linux); the hostname alone elsewhere."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return "/".join(parts)


def process_alive(pid: int, reported_at: float | None = None) -> bool:
    """Whether process `pid` of this node still runs: not gone, not a zombie, and (when
    `reported_at`, the epoch second at which the pid was seen, is given and /proc is there)
    not a newer process that reuses the number."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): os.kill is all there is
    state, started = stat
    if state in ("Z", "X"):
        return False  # exited, not yet reaped by its parent
    return reported_at is None or started is None or started <= reported_at + _START_SLACK_S


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    """(state letter, start time as epoch seconds) from /proc/<pid>/stat, None without /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("X", None) if Path("/proc/self/stat").exists() else None
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and ')'
    state = fields[0]
    boot = _boot_time()
    if boot is None:
        return state, None
    return state, boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None

