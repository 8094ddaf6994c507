"""Run folders (sim/pipelines/folders.py): a folder appears complete or not at all, two runs
never mix, an interrupted run leaves nothing and says so in one line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.core.schema import ConfigError
from sim.pipelines import folders
from sim.run import atomic

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
LIAOCHENG = ["n_jobs=1", "progress=off", "plots=false"]


def _entries(parent: Path) -> list[str]:
    """Everything in ``parent``, hidden entries included."""
    return sorted(os.listdir(parent)) if parent.exists() else []


def _no_leftovers(parent: Path) -> None:
    """No temporary folder, claim or .tmp file anywhere under ``parent``."""
    left = [str(p) for p in parent.rglob("*") if re.search(r"\.tmp-|\.tmp$|\.lock$|\.old-", p.name)]
    assert not left, left


# --------------------------------------------------------------------------- the protocol
def test_a_folder_is_written_hidden_and_renamed_into_place(tmp_path):
    final = tmp_path / "run"
    with folders.reserve(final) as folder:
        assert re.fullmatch(rf"\.run\.tmp-{os.getpid()}-[0-9a-f]{{8}}", folder.path.name), folder.path.name
        assert folder.path.parent == tmp_path and folder.final == final
        atomic.write_csv(pd.DataFrame({"a": [1]}), folder.path / "t.csv")
        assert not final.exists()  # nothing visible while the run writes
        assert folder.public(folder.path / "t.csv") == final / "t.csv"
    assert _entries(tmp_path) == ["run"] and _entries(final) == ["t.csv"]


def test_a_failure_leaves_no_folder_and_no_temporary(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(RuntimeError), folders.reserve(final) as folder:
        atomic.write_csv(pd.DataFrame({"a": [1]}), folder.path / "t.csv")
        raise RuntimeError("boom")
    assert _entries(tmp_path) == []


def test_two_runs_of_one_name_get_their_own_folders(tmp_path):
    """The exclusive claim decides: the second reservation (the first still running, or done)
    gets a suffix, in either commit order."""
    final = tmp_path / "run"
    a = folders.reserve(final, unique=True)
    b = folders.reserve(final, unique=True)
    assert (a.final, b.final) == (final, tmp_path / "run_2")
    for f, text in ((b, "b"), (a, "a")):
        with f:
            (f.path / "who").write_text(text)
    c = folders.reserve(final, unique=True)  # both names now hold a run
    assert c.final == tmp_path / "run_3"
    c.discard()
    assert (final / "who").read_text() == "a" and (tmp_path / "run_2" / "who").read_text() == "b"
    assert _entries(tmp_path) == ["run", "run_2"]


def test_an_out_dir_another_run_is_writing_is_refused(tmp_path):
    with folders.reserve(tmp_path / "run"):
        with pytest.raises(ConfigError, match=r"^out_dir: '.*run' is being written by another run \(\d+ "):
            folders.reserve(tmp_path / "run")


def test_a_claim_of_a_process_that_is_gone_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".run.lock").write_text(f"{dead.pid} {socket.gethostname()}\n")
    with folders.reserve(tmp_path / "run") as folder:
        assert folder.final == tmp_path / "run"
    assert _entries(tmp_path) == ["run"]
    (tmp_path / ".other.lock").write_text(f"{dead.pid} some-other-host\n")  # cannot tell: held
    with pytest.raises(ConfigError, match="being written by another run"):
        folders.reserve(tmp_path / "other")


def test_an_out_dir_holding_files_is_refused_unless_asked(tmp_path):
    old = tmp_path / "run"
    old.mkdir()
    (old / "fan_old.png").write_bytes(b"x")
    with pytest.raises(ConfigError) as e:
        folders.reserve(old)
    assert str(e.value) == (f"out_dir: '{old}' already holds another run's files (allowed: a new or empty folder, "
                            "the same run's previous folder, or overwrite=True to replace it)")
    assert _entries(tmp_path) == ["run"]  # the refusal claims nothing, makes nothing
    with folders.reserve(old, overwrite=True) as folder:
        (folder.path / "new.csv").write_text("1")
    assert _entries(old) == ["new.csv"]  # replaced as a whole: no old file beside the new
    with folders.reserve(old, same=lambda p: (p / "new.csv").read_text() == "1") as folder:
        (folder.path / "new.csv").write_text("2")
    assert (old / "new.csv").read_text() == "2"
    _no_leftovers(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        folders.reserve(tmp_path / "file", overwrite=True)


def test_an_empty_folder_is_free(tmp_path):
    (tmp_path / "run").mkdir()
    with folders.reserve(tmp_path / "run", unique=True) as folder:
        (folder.path / "x").write_text("1")
    assert folder.final == tmp_path / "run" and _entries(tmp_path / "run") == ["x"]


def test_a_subfolder_commits_with_its_folder(tmp_path):
    with folders.reserve(tmp_path / "run") as folder:
        sub = folder.sub("calibration")
        with folders.run_folder(sub) as inner:  # an opened folder is used as it is
            (inner.path / "p").write_text("1")
        assert not (tmp_path / "run").exists()
        assert inner.public(inner.path / "p") == tmp_path / "run" / "calibration" / "p"
    assert (tmp_path / "run" / "calibration" / "p").read_text() == "1"


def test_a_signal_during_a_commit_waits_for_the_commit(tmp_path):
    with folders.signals_as_interrupts():
        folder = folders.reserve(tmp_path / "run")
        (folder.path / "x").write_text("1")
        real_rename = os.rename

        def rename_then_signal(src, dst):
            real_rename(src, dst)
            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-commit (the claim still to release)
            time.sleep(0.05)

        with pytest.raises(folders.Interrupted) as e:
            os.rename = rename_then_signal
            try:
                folder.commit()
            finally:
                os.rename = real_rename
    assert e.value.exit_code == 143
    assert _entries(tmp_path) == ["run"]  # committed whole, claim released, then interrupted


# --------------------------------------------------------------------------- sim.forecast(out_dir=...)
def test_sim_forecast_out_dir_refuses_another_runs_folder(tmp_path):
    out = tmp_path / "out"
    sim.forecast(scenario="shandong", policy="baseline", n_replicates=1, seed=1, out_dir=out,
                 overrides=["n_jobs=1", "progress=off", "scenario.scale=0.05"])
    figs = json.loads((out / "summary.json").read_text())["figures"]  # recorded where they are once in place
    assert len(figs) == 8 and all(Path(p).parent == out and Path(p).is_file() for p in figs)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(ConfigError, match=r"^out_dir: .* already holds another run's files"):
        sim.forecast(scenario="liaocheng", policy="baseline", n_replicates=1, seed=1, out_dir=out, overrides=LIAOCHENG)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # untouched
    sim.forecast(scenario="liaocheng", policy="baseline", n_replicates=1, seed=1, out_dir=out, overrides=LIAOCHENG,
                 overwrite=True)
    assert not list(out.glob("fan_*"))  # no Shandong figure left beside Liaocheng's tables
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "liaocheng" and set(pd.read_csv(out / "reachability.csv")["scenario"]) == {"liaocheng"}
    _no_leftovers(tmp_path)


def test_the_same_call_may_rerun_into_its_own_folder(tmp_path):
    """Decision: the very same call (same composed config, seed included) may write again into
    its previous folder, which it replaces (the tables are the same); any other may not."""
    first = sim.forecast(scenario="liaocheng", n_replicates=1, seed=1, out_dir=tmp_path, overrides=LIAOCHENG)
    csv = (tmp_path / "forecast.csv").read_bytes()
    again = sim.forecast(scenario="liaocheng", n_replicates=1, seed=1, out_dir=tmp_path, overrides=LIAOCHENG)
    assert (tmp_path / "forecast.csv").read_bytes() == csv
    pd.testing.assert_frame_equal(first["reachability"], again["reachability"])
    with pytest.raises(ConfigError, match="already holds another run's files"):
        sim.forecast(scenario="liaocheng", n_replicates=1, seed=2, out_dir=tmp_path, overrides=LIAOCHENG)
    assert json.loads((tmp_path / "summary.json").read_text())["seed"] == 1


def test_an_interrupt_while_writing_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C after the parquet and two CSVs are written: no folder, no .tmp file."""
    real = atomic.write_csv

    def interrupted(df, path, **kw):
        if Path(path).name == "reachability.csv":
            raise KeyboardInterrupt
        return real(df, path, **kw)

    monkeypatch.setattr(atomic, "write_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.forecast(scenario="liaocheng", n_replicates=1, seed=1, out_dir=tmp_path / "out", overrides=LIAOCHENG)
    assert _entries(tmp_path) == []


# --------------------------------------------------------------------------- entry points
def test_a_failing_cli_run_leaves_no_folder(tmp_path, monkeypatch):
    """A failure after the folder is reserved (here: the fan chart) removes the temporary
    folder with Hydra's .hydra/ record in it."""
    import experiments.forecast as entry
    from sim.plots import fan

    def broken(*a, **k):
        raise RuntimeError("no figure")

    monkeypatch.setattr(fan, "fan_chart", broken)
    with pytest.raises(RuntimeError, match="no figure"):
        entry.main(["scenario=liaocheng", "n_replicates=1", "n_jobs=1", "progress=off", f"hydra.run.dir={tmp_path / 'run'}"])
    assert _entries(tmp_path) == []


def test_an_interrupted_cli_run_prints_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import experiments.forecast as entry

    before = {s: signal.getsignal(s) for s in folders.SIGNALS}
    monkeypatch.setattr(entry, "forecast", lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM) or time.sleep(5))
    with pytest.raises(SystemExit) as e:
        entry.main(["scenario=liaocheng", "n_replicates=1", f"hydra.run.dir={tmp_path / 'run'}"])
    assert e.value.code == 143
    assert capsys.readouterr().err == "interrupted; nothing written\n"
    assert _entries(tmp_path) == []
    assert {s: signal.getsignal(s) for s in folders.SIGNALS} == before  # handlers put back


def _default_signals() -> None:
    """In the child: SIGINT as in a terminal (a test run from a shell's background job
    inherits it ignored, and an ignored signal stays ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(run_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "experiments.forecast", "scenario=liaocheng", "plots=false",
                             f"hydra.run.dir={run_dir}", *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(x) for x in fh.read().split()]


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "State:\tZ" not in fh.read()  # a zombie has stopped (it waits to be reaped)
    except OSError:
        return False


@pytest.mark.parametrize(("sig", "code", "n_jobs"), [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 1), (signal.SIGTERM, 143, 2)])
def test_a_signal_during_a_run_exits_with_one_line_and_nothing_left(tmp_path, sig, code, n_jobs):
    proc = _start(tmp_path / "run", "n_replicates=200", f"n_jobs={n_jobs}")
    deadline = time.time() + 60
    while not any(n.startswith(".run.tmp-") for n in _entries(tmp_path)):  # the run has started
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.5)  # well into the ensemble (~0.1 s a replicate: 200 take far longer)
    workers = _children(proc.pid)
    assert n_jobs == 1 or workers, "no worker processes to stop"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err == "interrupted; nothing written\n"
    assert "results:" not in out
    assert _entries(tmp_path) == []  # no final folder, no temporary, no claim
    t = time.time() + 10
    while any(_running(w) for w in workers) and time.time() < t:
        time.sleep(0.1)
    assert not any(_running(w) for w in workers)


def test_concurrent_runs_into_one_run_dir_do_not_mix(tmp_path):
    run_dir = tmp_path / "run"
    runs = {"1": 2, "2": 3}  # seed -> replicates: each folder must hold exactly its own
    procs = {seed: _start(run_dir, f"seed={seed}", f"n_replicates={n}", "n_jobs=1") for seed, n in runs.items()}
    outs = {seed: p.communicate(timeout=300) for seed, p in procs.items()}
    for seed, p in procs.items():
        assert p.returncode == 0, outs[seed][1]
    dirs = {seed: Path(next(ln.split("results:", 1)[1].strip() for ln in outs[seed][0].splitlines() if ln.startswith("results:")))
            for seed in runs}
    assert sorted(dirs.values()) == [run_dir, tmp_path / "run_2"]
    assert _entries(tmp_path) == ["run", "run_2"]
    for seed, d in dirs.items():
        s = json.loads((d / "summary.json").read_text())
        assert s["seed"] == int(seed) and s["config"]["seed"] == int(seed) and s["n_replicates"] == runs[seed]
        traj = pd.read_parquet(d / "trajectories.parquet")
        assert sorted(traj["replicate"].unique()) == list(range(runs[seed]))
        assert set(pd.read_csv(d / "batches.csv")["replicate"]) == set(range(runs[seed]))
        reach = pd.read_csv(d / "reachability.csv")
        assert (reach.loc[reach["rule"] == "all", "n_replicates"] == runs[seed]).all()
        assert reach.groupby("target")["n_replicates"].apply(lambda n: n.iloc[0] == n.iloc[1:].sum()).all()  # rules partition
        assert f"seed={seed}" in (d / ".hydra" / "overrides.yaml").read_text()
        assert f"seed: {seed}" in (d / ".hydra" / "config.yaml").read_text()


def test_a_signal_the_process_ignores_stays_ignored():
    """``cmd &`` in a script starts the command with SIGINT ignored: the run keeps it so."""
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with folders.signals_as_interrupts():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)  # SIGTERM is caught
    finally:
        signal.signal(signal.SIGINT, saved)
