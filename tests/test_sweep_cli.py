"""Sweeps from the command line: a Hydra --multirun grid killed part-way and started again
with the same command and sweep directory resumes (no job lost, none redone, the same table
as a clean run); the submitit launcher (submitit_local) runs a multirun and the end-of-sweep
callback aggregates it; experiments.collect rebuilds the table by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from experiments.collect import main as collect_main
from sim.config.compose import compose, compose_dict
from sim.run import design, sweep

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FIN, TAL = (0, 1), (0, 1)
COMMON = ["scenario=liaocheng", "scenario.scale=0.2", "n_replicates=2", "n_jobs=1"]
GRID = [f"policy.financing.intensity={','.join(map(str, FIN))}", f"policy.talent.intensity={','.join(map(str, TAL))}"]


def multirun(sweep_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "experiments.forecast", "-m", *COMMON, *GRID, *extra, f"hydra.sweep.dir={sweep_dir}"]


def clean_table(tmp: Path) -> pd.DataFrame:
    """The same grid run in-process in one go (the engine, serial; configs by the design path),
    parameters as the multirun records them (``scenario=liaocheng`` is the scenario column)."""
    base = compose_dict(overrides=COMMON)
    jobs = []
    for f in FIN:
        for t in TAL:
            point = {"policy.financing.intensity": float(f), "policy.talent.intensity": float(t)}
            jobs.append(({"scenario.scale": 0.2, "n_replicates": 2, **point}, design.apply(base, point)))
    sweep.run_sweep(jobs, tmp, executor="serial", verbose=False)
    return pd.read_parquet(tmp / "sweep.parquet")


def test_killed_multirun_resumes_without_loss_or_repeats(tmp_path, capsys):
    d = tmp_path / "grid"
    jobs_dir = d / "jobs"
    n_jobs = len(FIN) * len(TAL)
    proc = subprocess.Popen(multirun(d), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None and not list(jobs_dir.glob("*.parquet")):
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    before = {f.name: (f.stat().st_mtime_ns, f.stat().st_ino) for f in jobs_dir.glob("*.parquet")}
    assert 1 <= len(before) < n_jobs, f"kill landed outside the sweep: {len(before)} of {n_jobs} jobs done"
    assert not (d / "sweep.parquet").exists()

    res = subprocess.run(multirun(d), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    skipped = [line for line in res.stdout.splitlines() if line.endswith("done before, skipped")]
    ran = [line for line in res.stdout.splitlines() if " replicates in " in line]
    assert len(skipped) == len(before) and len(ran) == n_jobs - len(before), res.stdout
    after = {f.name: (f.stat().st_mtime_ns, f.stat().st_ino) for f in jobs_dir.glob("*.parquet")}
    assert len(after) == n_jobs
    assert {k: after[k] for k in before} == before  # finished jobs untouched
    table = pd.read_parquet(d / "sweep.parquet")
    assert len(table) == n_jobs * 2 and not table.duplicated(["job", "replicate"]).any()
    assert sorted(set(zip(table["policy.financing.intensity"], table["policy.talent.intensity"]))) == [
        (float(f), float(t)) for f in FIN for t in TAL]
    pd.testing.assert_frame_equal(table, clean_table(tmp_path / "clean"))

    # collect by hand (python -m experiments.collect <dir>) rebuilds the same table
    (d / "sweep.parquet").unlink()
    assert collect_main([str(d)]) == 0
    assert f"({n_jobs * 2} rows, {n_jobs} jobs)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(d / "sweep.parquet"), table)
    assert collect_main([str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing'}: no job files (expected {tmp_path / 'nothing' / 'jobs' / '<job key>.parquet'})"


def test_submitit_local_launcher_runs_a_multirun_and_aggregates(tmp_path):
    d = tmp_path / "submitit"
    cmd = [sys.executable, "-m", "experiments.forecast", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=2",
           "scenario=liaocheng", "scenario.scale=0.1", "n_replicates=2", "n_jobs=1", "policy.financing.intensity=0,1",
           f"hydra.sweep.dir={d}"]
    res = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=150)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in res.stderr + res.stdout
    assert len(list((d / ".submitit").glob("*/*_result.pkl"))) == 2  # each job ran as its own submitit process
    table = pd.read_parquet(d / "sweep.parquet")
    assert len(table) == 4 and table["job"].nunique() == 2
    assert sorted(table["policy.financing.intensity"].unique()) == [0.0, 1.0]
    assert (table.groupby("policy.financing.intensity")["fiscal_cost__financing"].mean() > 0).tolist() == [False, True]
    for f in (0, 1):  # the same numbers as the engine run here
        cfg = compose("liaocheng", "baseline", ["scenario.scale=0.1", "n_replicates=2", f"policy.financing.intensity={f}"])
        one = sweep.run_sweep([({}, cfg)], tmp_path / f"ref{f}", executor="serial", verbose=False)
        got = table[table["job"] == sweep.job_key(cfg)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[one.columns.drop("job")], one.drop(columns="job"))


def test_slurm_launcher_config_composes():
    """hydra/launcher=slurm (configs/hydra/launcher/slurm.yaml) selects submitit's Slurm launcher
    with the documented resources; nothing is submitted."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir

    from sim.config.compose import register
    from sim.config.overrides import config_dir

    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = hcompose(config_name="config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=short"],
                       return_hydra_config=True)
    lc = cfg.hydra.launcher
    assert lc._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (lc.cpus_per_task, lc.mem_gb, lc.timeout_min, lc.partition) == (2, 4, 60, "short")
    assert [c._target_ for c in cfg.hydra.callbacks.values()] == ["experiments.callbacks.CollectSweep"]
