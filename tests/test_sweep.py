"""The sweep engine (sim/run/sweep.py), executors (sim/run/executors.py) and designs (sim/run/design.py):
job keys, the outcomes table against sim.targets, one file per job, resume, the aggregated
table, identical results serial and parallel, and one-line errors for bad designs."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import targets
from sim.config.compose import compose, compose_dict
from sim.config.validate import validate
from sim.core.schema import LEVERS, ConfigError
from sim.run import design, ensemble, sweep
from sim.run.executors import available_cores, make_executor

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["scenario.scale=0.02", "n_replicates=3"]  # Shandong at 2%: ~760 firms, 120 months


def small(policy_overrides=(), scenario="shandong", extra=()):
    return compose(scenario, "baseline", [*SMALL, *extra, *policy_overrides])


@functools.lru_cache(maxsize=1)
def base() -> dict:
    return compose_dict("shandong", "baseline", SMALL)


def grid_jobs(levels=(0.0, 1.0)):
    """Jobs over the financing lever, each config the composed base with the value set
    (the design path: no Hydra composition per job)."""
    return [({"policy.financing.intensity": f}, design.apply(base(), {"policy.financing.intensity": f})) for f in levels]


# ---- job keys ----------------------------------------------------------------------------

def test_job_key_is_stable_and_ignores_run_only_keys():
    a = small()
    key = sweep.job_key(a)
    assert len(key) == 16 and int(key, 16) >= 0
    assert sweep.job_key(small()) == key  # composed again: same key
    run_only = ["n_jobs=1", "progress=off", "plots=false", "executor=serial", "sweep.mode=full", "design.n=8"]
    assert sweep.job_key(small(extra=run_only)) == key
    for changed in (["seed=2"], ["n_replicates=4"], ["policy.financing.intensity=0.5"], ["params.growth.drift=0.05"]):
        assert sweep.job_key(small(extra=changed)) != key, changed


def test_job_key_of_a_design_point_equals_the_command_lines():
    via_design = design.apply(base(), {"policy.financing.intensity": 0.5})
    via_override = small(["policy.financing.intensity=0.5"])
    assert sweep.job_key(via_design) == sweep.job_key(via_override)


# ---- outcomes ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shandong_run():
    cfg = small()
    return cfg, ensemble.run_ensemble(cfg, n_jobs=1)


def test_outcomes_counts_equal_sim_targets(shandong_run):
    cfg, records = shandong_run
    out = sweep.outcomes(cfg, records)
    traj = ensemble.trajectories(cfg, records)
    names = [t.name for t in cfg.scenario.targets]
    assert list(out.columns) == (["replicate", "seed", "scenario", "policy"]
                                 + [c for n in names for c in (f"count__{n}", f"reached__{n}")]
                                 + ["fiscal_cost_m_cny"] + [f"fiscal_cost__{lv}" for lv in LEVERS])
    assert out["replicate"].tolist() == list(range(len(records)))
    assert (out["seed"] == cfg.seed).all() and (out["scenario"] == "shandong").all()
    counts = ensemble.target_counts(cfg, records)
    for t in cfg.scenario.targets:  # the target's own count (firms by default, issue 12), as sim.targets takes it
        s = targets.target_series(traj, dataclasses.asdict(t), counts)
        at = s[s["date"] == t.deadline].sort_values("replicate")[t.metric].to_numpy()
        np.testing.assert_array_equal(out[f"count__{t.name}"].to_numpy(), at)  # bit for bit
        np.testing.assert_array_equal(out[f"reached__{t.name}"].to_numpy(), at >= t.threshold)
    # the fiscal cost per lever averages to sim.run.ensemble.fiscal_cost's
    fc = ensemble.fiscal_cost(cfg, records)
    for lv in LEVERS:
        assert out[f"fiscal_cost__{lv}"].mean() == pytest.approx(fc[lv]["total_m_cny"])
    assert out["fiscal_cost_m_cny"].to_numpy() == pytest.approx(out[[f"fiscal_cost__{lv}" for lv in LEVERS]].sum(axis=1).to_numpy())
    assert out["fiscal_cost_m_cny"].gt(0).all()


# ---- the engine: files, resume, aggregation, executors -------------------------------------

@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    table = sweep.run_sweep(grid_jobs((0.0, 1.0, 2.0)), out, executor="serial", verbose=False)
    return out, table


def test_one_file_per_job_and_the_table_shape(serial_sweep):
    out, table = serial_sweep
    files = sorted((out / "jobs").glob("*.parquet"))
    assert len(files) == 3
    assert {f.stem for f in files} == {sweep.job_key(cfg) for _, cfg in grid_jobs((0.0, 1.0, 2.0))}
    assert list(table.columns[:3]) == ["policy.financing.intensity", "job", "replicate"]
    assert len(table) == 3 * 3 and not table.duplicated(["job", "replicate"]).any()
    assert table["policy.financing.intensity"].tolist() == [0.0] * 3 + [1.0] * 3 + [2.0] * 3  # job order
    agg = pd.read_parquet(out / "sweep.parquet")
    pd.testing.assert_frame_equal(agg, sweep.collect(out, write=False))
    pd.testing.assert_frame_equal(agg, table)  # sorted by the parameter: the same order here
    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == len(agg) and list(csv.columns) == list(agg.columns)
    # the lever matters: financing off costs nothing on that lever, and more financing costs more
    cost = table.groupby("policy.financing.intensity")["fiscal_cost__financing"].mean()
    assert cost[0.0] == 0.0 and cost[1.0] > 0 and cost[2.0] > cost[1.0]


def test_resume_skips_finished_jobs_and_matches_a_clean_run(serial_sweep, tmp_path, monkeypatch):
    _, clean = serial_sweep
    first = sweep.run_sweep(grid_jobs((0.0, 1.0, 2.0)), tmp_path, executor="serial", verbose=False)
    assert len(first) == 9
    # as if killed before the middle job was written (the same design resumes; another design
    # in this folder would fail: test_a_sweep_folder_holds_one_design)
    (tmp_path / "jobs" / f"{sweep.job_key(grid_jobs((1.0,))[0][1])}.parquet").unlink()
    (tmp_path / "sweep.parquet").unlink()
    stamps = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "jobs").glob("*.parquet")}
    calls = []
    real = ensemble.run_replicate
    monkeypatch.setattr(ensemble, "run_replicate", lambda cfg, r: calls.append((cfg.policy.financing.intensity, r)) or real(cfg, r))
    table = sweep.run_sweep(grid_jobs((0.0, 1.0, 2.0)), tmp_path, executor="serial", verbose=False)
    assert calls == [(1.0, 0), (1.0, 1), (1.0, 2)]  # only the missing job ran
    assert {f.name: f.stat().st_mtime_ns for f in (tmp_path / "jobs").glob("*.parquet") if f.name in stamps} == stamps
    pd.testing.assert_frame_equal(table, clean)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sweep.parquet"), pd.read_parquet(serial_sweep[0] / "sweep.parquet"))


def _files(d: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``d``: relative path -> (size, mtime_ns, bytes)."""
    return {str(f.relative_to(d)): (f.stat().st_size, f.stat().st_mtime_ns, f.read_bytes()) for f in sorted(d.rglob("*")) if f.is_file()}


def test_a_sweep_folder_holds_one_design(tmp_path, monkeypatch):
    d = tmp_path / "s"
    sweep.run_sweep(grid_jobs((0.0, 1.0)), d, executor="serial", verbose=False)
    rec = json.loads((d / "design.json").read_text())
    keys = [sweep.job_key(cfg) for _, cfg in grid_jobs((0.0, 1.0))]
    assert rec == {"kind": "jobs", "fingerprint": sweep.design_record(keys)["fingerprint"], "n_jobs": 2}
    before = _files(d)
    calls = []
    real = ensemble.run_replicate
    monkeypatch.setattr(ensemble, "run_replicate", lambda cfg, r: calls.append(r) or real(cfg, r))
    for other in ((0.0, 2.0), (0.0,), (0.0, 1.0, 2.0)):  # another point, fewer points, more points: other designs
        with pytest.raises(ConfigError) as e:
            sweep.run_sweep(grid_jobs(other), d, executor="serial", verbose=False)
        other_fp = sweep.design_record([sweep.job_key(c) for _, c in grid_jobs(other)])["fingerprint"]
        assert str(e.value) == (f"sweep.dir: {str(d)!r} holds another design (fingerprint {rec['fingerprint']}, this one "
                                f"{other_fp}); use a new sweep.dir")
    assert calls == [] and _files(d) == before  # failed before any job ran, nothing written
    # the same design resumes, in any job order (and a job listed twice is the same design)
    rows = sweep.run_sweep(grid_jobs((1.0, 0.0, 1.0)), d, executor="serial", verbose=False, aggregate=False)
    assert calls == [] and len(rows) == 9
    assert {k: v for k, v in _files(d).items()} == before


def test_a_folder_without_design_json_is_claimed_only_by_its_own_jobs(tmp_path):
    d = tmp_path / "old"
    sweep.run_sweep(grid_jobs((0.0, 1.0)), d, executor="serial", verbose=False)
    (d / "design.json").unlink()  # a sweep folder written before fingerprints
    with pytest.raises(ConfigError, match=r"^sweep\.dir: .* holds 1 job\(s\) of another design \(e\.g\. [0-9a-f]{16}\); use a new sweep\.dir$"):
        sweep.run_sweep(grid_jobs((0.0, 2.0)), d, executor="serial", verbose=False)
    assert not (d / "design.json").exists()
    sweep.run_sweep(grid_jobs((0.0, 1.0)), d, executor="serial", verbose=False)  # its own design: adopted
    assert json.loads((d / "design.json").read_text())["n_jobs"] == 2
    (d / "design.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"^sweep\.dir: .* has an unreadable design\.json"):
        sweep.run_sweep(grid_jobs((0.0, 1.0)), d, executor="serial", verbose=False)


def test_multirun_designs_are_their_overrides():
    a = sweep.multirun_record(["scenario=liaocheng", "policy.financing.intensity=0,1", "n_jobs=1", "policy.talent.intensity=0,1"])
    assert a["overrides"] == ["policy.financing.intensity=0,1", "policy.talent.intensity=0,1", "scenario=liaocheng"]
    same = sweep.multirun_record(["policy.talent.intensity=0,1", "n_jobs=2", "executor=serial", "sweep.mode=full",
                                  "policy.financing.intensity=0,1", "scenario=liaocheng"])
    assert same["fingerprint"] == a["fingerprint"]  # run-only keys and the order of the axes do not change the jobs
    for other in (["policy.financing.intensity=0,2"], ["policy.financing.intensity=0,1", "n_replicates=4"], []):
        assert sweep.multirun_record(["scenario=liaocheng", "policy.talent.intensity=0,1", *other])["fingerprint"] != a["fingerprint"]


def test_joblib_gives_the_serial_results(serial_sweep, tmp_path):
    _, serial = serial_sweep
    table = sweep.run_sweep(grid_jobs((0.0, 1.0, 2.0)), tmp_path, executor="joblib", n_jobs=2, verbose=False)
    pd.testing.assert_frame_equal(table, serial)


def test_trajectories_are_written_only_when_asked(tmp_path):
    jobs = grid_jobs((0.0,))
    sweep.run_sweep(jobs, tmp_path / "a", executor="serial", verbose=False)
    assert not (tmp_path / "a" / "trajectories").exists()
    sweep.run_sweep(jobs, tmp_path / "b", executor="serial", trajectories=True, verbose=False)
    traj = pd.read_parquet(tmp_path / "b" / "trajectories" / f"{sweep.job_key(jobs[0][1])}.parquet")
    assert traj["job"].unique().tolist() == [sweep.job_key(jobs[0][1])] and traj["replicate"].nunique() == 3


def test_params_from_multirun_overrides():
    cfg = small(["policy.financing.intensity=1", "policy=financing_plus"])
    params = sweep.params_from_overrides(cfg, ["policy=financing_plus", "policy.financing.intensity=1", "n_jobs=1",
                                               "hydra.sweep.dir=x", "scenario.targets.0.threshold=10", "+executor=serial"])
    assert params == {"policy": "financing_plus", "policy.financing.intensity": 1.0, "scenario.targets.0.threshold": 1500.0}
    assert isinstance(params["policy.financing.intensity"], float)
    # a group parameter named like an outcome column is carried by that column
    recs = ensemble.run_ensemble(small(["n_replicates=1"]), n_jobs=1)
    t = sweep.job_table({"policy": "baseline", "x": 1}, small(["n_replicates=1"]), recs)
    assert list(t.columns[:3]) == ["x", "job", "replicate"] and t["policy"].tolist() == ["baseline"]
    t = sweep.job_table({"policy": "my_file"}, small(["n_replicates=1"]), recs)  # a yaml whose name differs
    assert t["policy_choice"].tolist() == ["my_file"] and t["policy"].tolist() == ["baseline"]


def test_executors_map_in_order_and_count_allowed_cores():
    assert 1 <= available_cores() <= (os.cpu_count() or 1)
    for name in ("serial", "joblib"):
        with make_executor(name, n_jobs=2) as ex:
            assert list(ex.imap(pow, [(i, 2) for i in range(7)])) == [i * i for i in range(7)]
    with pytest.raises(ConfigError, match=r"^executor\.address: '' is not allowed"):
        make_executor("dask")
    with pytest.raises(ConfigError, match=r"^executor: 'spark' is not allowed \(allowed: serial, joblib, dask\)"):
        make_executor("spark")
    with pytest.raises(ConfigError, match=r"^executor\.address: '' is not allowed \(allowed: tcp://HOST:PORT"):
        compose("liaocheng", "baseline", ["executor=dask"])  # caught when the config is composed, before any run
    with pytest.raises(ConfigError, match=r"^executor: 'spark' is not allowed \(allowed: .*dask"):
        compose("liaocheng", "baseline", ["executor=spark"])


# ---- designs -----------------------------------------------------------------------------

def _design(**kw):
    d = validate({"design": {"kind": "lhs", "n": 8, "seed": 3, "factors": {"policy.financing.intensity": [0, 2]}, **kw}})
    return d.design


def test_lhs_is_stratified_reproducible_and_seeded():
    pts = design.points(_design(n=10, factors={"policy.financing.intensity": [0, 2], "params.growth.drift": [0.0, 0.1]}))
    x = np.array([p["policy.financing.intensity"] for p in pts])
    assert sorted(np.floor(x / 0.2).astype(int).tolist()) == list(range(10))  # one point per tenth
    assert design.points(_design(n=10, factors={"policy.financing.intensity": [0, 2], "params.growth.drift": [0.0, 0.1]})) == pts
    assert design.points(_design(n=10, seed=4)) != design.points(_design(n=10, seed=3))


def test_sobol_grid_log_and_integer_factors():
    sob = design.points(_design(kind="sobol", n=16, factors={"policy.financing.intensity": [0, 2], "policy.talent.intensity": [0, 2]}))
    assert len(sob) == 16 and all(0 <= p["policy.talent.intensity"] <= 2 for p in sob)
    with pytest.raises(ConfigError, match=r"^design\.n: 12 is not allowed \(allowed: a power of 2"):
        design.points(_design(kind="sobol", n=12))
    grid = design.points(_design(kind="grid", n=3, factors={"policy.financing.intensity": [0, 2], "policy.talent.intensity": {"values": [0, 1]}}))
    assert [(p["policy.financing.intensity"], p["policy.talent.intensity"]) for p in grid] == [
        (0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)]
    logs = design.points(_design(n=64, factors={"params.growth.laplace_scale": {"low": 0.01, "high": 1.0, "scale": "log"}}))
    v = np.array([p["params.growth.laplace_scale"] for p in logs])
    assert v.min() >= 0.01 and v.max() <= 1.0 and np.mean(v < 0.1) == pytest.approx(0.5, abs=0.1)  # half below the log midpoint
    ints = design.points(_design(n=40, factors={"params.chains.owners_per_chain": [1, 4]}))
    vals = [p["params.chains.owners_per_chain"] for p in ints]
    assert all(isinstance(v, int) for v in vals) and sorted(set(vals)) == [1, 2, 3, 4] and vals.count(1) == 10


@pytest.mark.parametrize("factors, field, mentions", [
    ({"policy.financing.intensty": [0, 1]}, "design.factors.policy.financing.intensty", ["unknown key", "intensity"]),
    ({"policy.financing.intensity": [0, 11]}, "design.factors.policy.financing.intensity", ["11", "0.0 to 10.0"]),
    ({"policy.financing.intensity": [2, 1]}, "design.factors.policy.financing.intensity", ["low < high"]),
    ({"policy.financing.start": [0, 1]}, "design.factors.policy.financing.start", ["numeric"]),
    ({"params.growth.drift": {"low": 0, "high": 0.1, "scale": "log"}}, "design.factors.params.growth.drift.low", ["> 0"]),
    ({"params.growth.drift": {"low": 0, "hi": 0.1}}, "design.factors.params.growth.drift", ["[low, high]"]),
    ({}, "design.factors", ["dotted config keys"]),
])
def test_bad_designs_fail_with_one_line(factors, field, mentions):
    with pytest.raises(ConfigError) as e:
        design.points(_design(factors=factors))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(field + ":") and "allowed" in msg, msg
    for m in mentions:
        assert m in msg, msg


def test_design_cli_rejects_an_unknown_factor_before_running(tmp_path, monkeypatch, capsys):
    from experiments import sweep as sweep_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sweep", "design=custom", "design.factors.policy.financing.intensty=[0,1]",
                                      f"sweep.dir={tmp_path / 's'}"])
    with pytest.raises(SystemExit) as e:
        sweep_cli.main()
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: design.factors.policy.financing.intensty: unknown key (allowed: start, end, intensity, target, cost, regions)"]
    assert list(tmp_path.iterdir()) == []  # nothing written, no Hydra directory


def test_design_jobs_set_the_values_and_keep_the_rest():
    lc = compose_dict("liaocheng", "baseline", ["design=financing_talent", "design.n=2"])
    jobs = design.jobs(lc)
    assert [p for p, _ in jobs] == [
        {"policy.financing.intensity": a, "policy.talent.intensity": b} for a in (0.0, 2.0) for b in (0.0, 2.0)]
    for p, cfg in jobs:
        assert (cfg.policy.financing.intensity, cfg.policy.talent.intensity) == tuple(p.values())
        ref = validate(lc)
        assert dataclasses.replace(cfg.policy, financing=ref.policy.financing, talent=ref.policy.talent) == ref.policy


def test_full_mode_multirun_job_writes_its_forecast_too(tmp_path, capsys):
    from experiments.forecast import sweep_job

    run = compose("liaocheng", "baseline", ["scenario.scale=0.1", "n_replicates=2", "n_jobs=1", "plots=false", "sweep.mode=full"])
    sweep_job(run, ["scenario.scale=0.1", "sweep.mode=full"], str(tmp_path), str(tmp_path / "0"))
    key = sweep.job_key(run)
    job = pd.read_parquet(tmp_path / "jobs" / f"{key}.parquet")
    assert job["scenario.scale"].tolist() == [0.1, 0.1] and "sweep.mode" not in job.columns
    reach = pd.read_csv(tmp_path / "0" / "reachability.csv")
    reach = reach[reach["rule"] == "all"]
    assert (tmp_path / "0" / "trajectories.parquet").exists()
    # the job file and the forecast come from the same replicates
    assert reach["count_p50"].iloc[0] == job["count__quality_smes_2025"].median()
    sweep_job(run, ["scenario.scale=0.1"], str(tmp_path), str(tmp_path / "0"))
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("done before, skipped")
