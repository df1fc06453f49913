"""The benchmarks' CPU sampler: a process's CPU during a phase lands in its group (the CPU
each child reports of itself is the reference, not the wall clock), an idle one gains
nothing, and processes the grouping leaves out are not counted."""

import subprocess
import sys
import time

import pytest

from backfill_pipeline.bench.cpu import CpuSampler

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# Burn this process's own CPU to 0.3 s, say how much it used, then idle until stdin closes.
BURN = ("import sys, time\nwhile time.process_time() < 0.3:\n    pass\n"
        "print(time.process_time(), flush=True)\nsys.stdin.read()")
IDLE = "import sys, time\nprint(time.process_time(), flush=True)\nsys.stdin.read()"


def _child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_a_phase_counts_each_group_s_own_cpu():
    outsider = _child(BURN)  # burns during the phase too, but in no group
    groups: dict[int, str] = {}
    with CpuSampler(lambda pid, name: groups.get(pid), interval=0.05) as cpu:
        burner, idle = _child(BURN), _child(IDLE)
        groups.update({burner.pid: "burner", idle.pid: "idle"})
        burned = float(burner.stdout.readline())  # it has burned its 0.3 s and is idle now
        idle_start = float(idle.stdout.readline())
    for child in (outsider, burner, idle):
        child.stdin.close()
        child.wait(timeout=60)
    # started during the phase: all of its CPU is the phase's (clock ticks are 10 ms)
    assert burned >= 0.3
    assert cpu.seconds["burner"] == pytest.approx(burned, abs=0.05)
    assert cpu.seconds.get("idle", 0.0) == pytest.approx(idle_start, abs=0.05)
    assert set(cpu.seconds) <= {"burner", "idle"}
    assert "burner" in cpu.describe(2.0) and "cores" in cpu.describe(2.0)


def test_a_process_alive_before_the_phase_counts_only_what_it_gains_in_it():
    before = _child(BURN)
    burned_before = float(before.stdout.readline())  # 0.3 s burned before the phase begins
    with CpuSampler(lambda pid, name: "before" if pid == before.pid else None, interval=0.05) as cpu:
        time.sleep(0.2)  # it is idle now: gains nothing
    before.stdin.close()
    before.wait(timeout=60)
    assert burned_before >= 0.3
    assert cpu.seconds.get("before", 0.0) < 0.05
