"""Local workers die with their parent: after ``kill -9`` of a forecast running on the joblib
executor (loky), its worker processes (~180 MB each) are gone within seconds, not left
waiting for work until loky's idle timeout (sim.run.executors.die_with_parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.run import executors

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
LIMIT_S = 10.0
WORKER = "joblib.externals.loky.backend.popen_loky_posix"  # loky's worker command line

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from the state on (``[state, ppid, ...]``); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'


def children(parent: int) -> dict[int, str]:
    """Live processes whose parent is ``parent``: pid -> their start time (pid reuse guard)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st is not None and int(st[1]) == parent and st[0] != "Z":
                out[int(d.name)] = st[19]
    return out


def is_worker(pid: int) -> bool:
    try:
        return WORKER in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def alive(procs: dict[int, str]) -> list[int]:
    """Those of ``procs`` still running (the same process: same start time; zombies are dead)."""
    out = []
    for pid, start in procs.items():
        st = _stat(pid)
        if st is not None and st[19] == start and st[0] != "Z":
            out.append(pid)
    return out


def test_workers_exit_within_seconds_of_a_killed_forecast(tmp_path):
    # full-scale Shandong, 40 replicates on 2 workers: ~15 s of work, so the kill lands mid-run
    cmd = [sys.executable, "-m", "experiments.forecast", "scenario=shandong", "n_replicates=40", "n_jobs=2", "plots=false",
           "progress=off", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            procs = children(proc.pid)
            if sum(is_worker(p) for p in procs) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the forecast ended before its workers were seen"
        workers = {p: s for p, s in procs.items() if is_worker(p)}
        assert len(workers) == 2, f"expected 2 loky workers, found {procs}"
        time.sleep(1.0)  # let them start their first replicates: busy workers, not idle ones
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        t0 = time.monotonic()
        while alive(procs) and time.monotonic() - t0 < LIMIT_S:
            time.sleep(0.05)
        took = time.monotonic() - t0
        left = alive(procs)
        print(f"workers and helpers gone {took:.2f} s after kill -9 of the forecast")
        assert not left, f"{len(left)} of the forecast's child processes alive {LIMIT_S:g} s after its parent was killed: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in alive(procs):  # only the processes this test started (by pid, start time checked)
            os.kill(pid, signal.SIGKILL)


def test_the_watchdog_is_started_once_per_process(monkeypatch):
    started = []
    monkeypatch.setattr(executors, "_watching", [])
    monkeypatch.setattr(executors.threading, "Thread", lambda **kw: started.append(kw) or _NoThread())
    executors.die_with_parent(os.getppid())
    executors.die_with_parent(os.getppid())
    assert len(started) == 1 and started[0]["daemon"] and started[0]["args"][0] == os.getppid()


def test_a_worker_whose_parent_is_gone_exits(monkeypatch):
    """``_watch`` ends the process as soon as the parent pid it was given is not its parent."""
    exits = []
    monkeypatch.setattr(executors.os, "_exit", lambda code: exits.append(code))
    executors._watch(os.getppid() + 10**6, 0.01)  # not our parent: "the parent is gone"
    assert exits == [1]


class _NoThread:
    def start(self) -> None:
        pass
