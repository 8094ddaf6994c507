"""Sweeps from the command line: a Hydra --multirun grid killed part-way and started again
with the same command and sweep directory resumes (no job lost, none redone, the same table
as a clean run); the submitit launcher (submitit_local) runs a multirun and the end-of-sweep
callback aggregates it; experiments.collect rebuilds the table by hand."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.collect import main as collect_main
from sim.config.compose import compose, compose_dict
from sim.run import design, sweep

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FIN, TAL = (0, 1), (0, 1)
COMMON = ["scenario=liaocheng", "scenario.scale=0.1", "n_replicates=2", "n_jobs=1"]
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
            jobs.append(({"scenario.scale": 0.1, "n_replicates": 2, **point}, design.apply(base, point)))
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


# ---- one design per sweep folder ------------------------------------------------------------

DESIGN = ["scenario=liaocheng", "scenario.scale=0.1", "n_replicates=1", "n_jobs=1", "design=financing_talent"]


def _files(d: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``d`` (``.hydra/`` included): relative path -> (size, mtime_ns)."""
    return {str(f.relative_to(d)): (f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(d.rglob("*")) if f.is_file()}


def test_design_cli_refuses_another_design_in_its_sweep_dir_and_resumes_its_own(tmp_path, capsys):
    from experiments import sweep as sweep_cli

    d = tmp_path / "s"
    sweep_cli.main([*DESIGN, "design.n=2", f"sweep.dir={d}"])
    out = capsys.readouterr().out
    assert "sweep: 4 jobs (0 already done" in out and (d / "design.json").is_file() and (d / ".hydra" / "config.yaml").is_file()
    fp = json.loads((d / "design.json").read_text())["fingerprint"]
    before = _files(d)
    with pytest.raises(SystemExit) as e:
        sweep_cli.main([*DESIGN, "design.n=3", f"sweep.dir={d}"])  # 9 points: another design
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: sweep.dir: {str(d)!r} holds another design (fingerprint {fp}, this one ")
    assert err[0].endswith("); use a new sweep.dir")
    assert _files(d) == before  # no job ran, nothing (not even .hydra/) rewritten
    sweep_cli.main([*DESIGN, "design.n=2", "n_jobs=2", f"sweep.dir={d}"])  # the same design (more workers): resumes
    assert "sweep: 4 jobs (4 already done, 0 to run" in capsys.readouterr().out


def test_a_multirun_claims_its_sweep_dir_for_its_overrides(tmp_path, capsys):
    from omegaconf import OmegaConf

    from experiments.callbacks import CollectSweep

    d = tmp_path / "m"

    def start(*task: str) -> None:
        CollectSweep().on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(d)}, "overrides": {"task": list(task)}}}))

    start(*COMMON, *GRID)
    rec = json.loads((d / "design.json").read_text())
    assert rec["kind"] == "multirun" and rec["overrides"] == sorted([*COMMON[:3], *GRID])  # n_jobs: run-only
    start(*reversed(GRID), *COMMON[:3], "n_jobs=2")  # the same multirun resumes
    with pytest.raises(SystemExit) as e:
        start(*COMMON, "policy.financing.intensity=0,2", GRID[1])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: hydra.sweep.dir: {str(d)!r} holds another design (fingerprint "
                                               f"{rec['fingerprint']}, this one "
                                               f"{sweep.multirun_record([*COMMON, 'policy.financing.intensity=0,2', GRID[1]])['fingerprint']}); "
                                               "use a new hydra.sweep.dir")


def test_a_second_different_multirun_into_the_same_dir_fails_before_any_job(tmp_path):
    d = tmp_path / "grid"
    sweep.claim(d, sweep.multirun_record([*COMMON, *GRID]), "hydra.sweep.dir")  # as the first multirun's start left it
    before = _files(d)
    res = subprocess.run(multirun(d, "policy.land.intensity=0,1"), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "holds another design" in res.stderr
    assert res.stderr.startswith(f"error: hydra.sweep.dir: {str(d)!r}")
    assert _files(d) == before  # no multirun.yaml, no job folder, no job file


def test_design_sweep_and_multirun_do_not_share_a_folder(tmp_path):
    d = tmp_path / "x"
    sweep.run_sweep([({}, compose("liaocheng", "baseline", ["scenario.scale=0.1", "n_replicates=1"]))], d, executor="serial",
                    verbose=False)
    with pytest.raises(sweep.ConfigError, match="holds another design"):
        sweep.claim(d, sweep.multirun_record(COMMON), "hydra.sweep.dir")


# ---- analysis commands never rewrite the tables they read -----------------------------------

def _tables(d: Path) -> dict[str, tuple[int, int, bytes]]:
    return {str(f.relative_to(d)): (f.stat().st_size, f.stat().st_mtime_ns, f.read_bytes())
            for f in [d / "sweep.parquet", d / "sweep.csv", *sorted((d / "jobs").glob("*")), d / "design.json"]}


@pytest.fixture(scope="module")
def lever_sweep(tmp_path_factory) -> Path:
    """A finished 2 x 2 sweep over financing and talent (Liaocheng at 10%, 1 replicate a job)."""
    d = tmp_path_factory.mktemp("levers")
    jobs = [({"policy.financing.intensity": f, "policy.talent.intensity": t},
             compose("liaocheng", "baseline", ["scenario.scale=0.1", "n_replicates=1", f"policy.financing.intensity={f}",
                                               f"policy.talent.intensity={t}"])) for f in (0.0, 1.0) for t in (0.0, 1.0)]
    sweep.run_sweep(jobs, d, executor="serial", verbose=False)
    return d


@pytest.mark.parametrize("args", [
    ["x=policy.financing.intensity", "y=policy.talent.intensity", "target=quality_smes_2025"],
    ["x=policy.financing.intensity", "y=policy.talent.intensity", "target=quality_smes_2025", "value=count"],
    ["x=policy.financing.intensity", "y=policy.talent.intensity", "target=nope"],       # not a column
    ["x=policy.financing.intensity", "target=quality_smes_2025"],                       # y missing
    ["x=policy.financing.intensity", "y=policy.talent.intensity", "target=quality_smes_2025", "value=mean"],
    ["x=a", "y=b", "target=c", "colour=red"],                                           # unknown key
])
def test_heatmap_leaves_the_sweep_tables_untouched(lever_sweep, tmp_path, capsys, args):
    from experiments.heatmap import main as heatmap_main

    d = tmp_path / "s"
    shutil.copytree(lever_sweep, d)
    (d / "sweep.csv").write_text((d / "sweep.csv").read_text())  # a table older than the job files (mtime moved)
    os.utime(d / "sweep.parquet", ns=(1_000_000_000, 1_000_000_000))
    before = _tables(d)
    time.sleep(0.01)
    code = heatmap_main([str(d), *args])
    captured = capsys.readouterr()
    assert _tables(d) == before  # every byte and mtime of the tables (and job files) as they were
    good = "target=nope" not in args and len(args) >= 3 and "value=mean" not in args and "colour=red" not in args
    assert code == (0 if good else 2), captured.err
    if good:
        assert [p.name for p in d.glob("heatmap_*.png")] and captured.out.startswith("figure: ")
    else:
        assert captured.err.startswith("error: ") and not list(d.glob("heatmap_*"))
