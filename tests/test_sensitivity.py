"""Sobol sensitivity: the design is Saltelli's, the analysis recovers the Ishigami function's
known indices within its bootstrap intervals, factor specs fail in one line, and the entry
point runs end to end at a tiny scale (P(reached) outputs with 2 replicates a point)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import sobol
from sim.core.schema import ConfigError
from sim.pipelines import sensitivity

ROOT = Path(sim.__file__).resolve().parent.parent
# Ishigami (a=7, b=0.1) on [-pi, pi]^3: S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437)
ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_design_is_saltelli():
    fs = [sobol.Factor(path=f"x{i}", low=i, high=i + 2.0) for i in range(3)]
    pts = sobol.design(fs, 16, seed=3)
    assert len(pts) == 5 * 16 and list(pts["sample"]) == list(range(80))
    names = [f.path for f in fs]
    A = pts[pts["block"] == "A"][names].to_numpy()
    B = pts[pts["block"] == "B"][names].to_numpy()
    for i, f in enumerate(fs):
        AB = pts[pts["block"] == f.path][names].to_numpy()
        expect = A.copy()
        expect[:, i] = B[:, i]
        assert np.array_equal(AB, expect)
        assert (pts[f.path] >= f.low).all() and (pts[f.path] <= f.high).all()
    assert pts.equals(sobol.design(fs, 16, seed=3)) and not pts.equals(sobol.design(fs, 16, seed=4))


def test_ishigami_indices_within_their_bootstrap_intervals():
    fs = [sobol.Factor(path=f"x{i}", low=-np.pi, high=np.pi) for i in range(3)]
    pts = sobol.design(fs, 1024, seed=1)
    out = pd.DataFrame({"y": ishigami(pts[[f.path for f in fs]].to_numpy())}, index=pts["sample"])
    sob = sobol.analyse(pts, out, fs, n_bootstrap=999, seed=1, analysis="ishigami")
    for i, f in enumerate(fs):
        for idx, truth in (("first", ISHIGAMI_S1[i]), ("total", ISHIGAMI_ST[i])):
            r = sob[(sob["factor"] == f.path) & (sob["index"] == idx)].iloc[0]
            assert r.ci_low <= truth <= r.ci_high, (f.path, idx, r.estimate, r.ci_low, r.ci_high)
            assert r.ci_high - r.ci_low < 0.2
    # the bootstrap's statistic is scipy's estimator
    f_a, f_b, f_ab = sobol.assemble(pts, out["y"].to_numpy(), [f.path for f in fs])
    s1, st = sobol.saltelli_jansen(f_a, f_b, f_ab)
    assert np.allclose(s1, sob[sob["index"] == "first"]["estimate"]) and np.allclose(st, sob[sob["index"] == "total"]["estimate"])
    c = sobol.check(sob)
    assert c["n_meaningfully_negative"] == 0 and c["min_ci_low"] < 0.0  # x3's first-order index is 0


def test_constant_and_inert_outputs():
    fs = [sobol.Factor(path=f"x{i}", low=0.0, high=1.0) for i in range(2)]
    pts = sobol.design(fs, 32, seed=0)
    out = pd.DataFrame({"const": 5.0, "x0_only": pts["x0"].to_numpy() ** 2}, index=pts["sample"])
    sob = sobol.analyse(pts, out, fs, n_bootstrap=199)
    assert sob[sob["output"] == "const"]["estimate"].isna().all()
    inert = sob[(sob["output"] == "x0_only") & (sob["factor"] == "x1")]
    assert (inert[["estimate", "ci_low", "ci_high"]] == 0).all().all()
    assert (inert["note"] == "no effect at any design point").all()
    assert sobol.check(sob)["n_constant_outputs"] == 1


@pytest.mark.parametrize("factor,msg", [
    ({"path": "policy.financing.intensty", "low": 0, "high": 1}, "policy.financing.intensty: unknown key (allowed: start, end, intensity"),
    ({"path": "policy.financing.intensity", "low": 1, "high": 1}, "sensitivity.factors[0].high: 1.0 is not allowed (allowed: above low 1.0)"),
    ({"path": "policy.financing.intensity", "low": 0, "high": 20}, "policy.financing.intensity: 20.0 is not allowed (allowed: 0.0 to 10.0"),
    ({"path": "params.chains.owners_per_chain", "low": 1, "high": 3}, "params.chains.owners_per_chain: int key is not allowed as a factor"),
    ({"path": "params.recognition.apply_prob.little_giant", "low": 0.5, "high": 1.5}, "params.recognition.apply_prob.little_giant: 1.5 is not allowed"),
    ({"path": "policy.financing.intensity", "low": 0, "hgh": 1}, "sensitivity.factors[0].hgh: unknown key"),
])
def test_factor_specs_fail_in_one_line(factor, msg):
    base = sim.compose("liaocheng", "baseline")
    with pytest.raises(ConfigError) as e:
        sensitivity.check_factors(base, {"name": "x", "factors": [factor]})
    assert str(e.value).startswith(msg) and "\n" not in str(e.value), str(e.value)


def test_options_and_shipped_specs():
    with pytest.raises(ConfigError, match=r"^n_base: 500 is not allowed \(allowed: a power of 2"):
        sensitivity.check_options({"n_base": 500}, ["t"])
    with pytest.raises(ConfigError, match=r"^outputs: 'x' is not allowed \(allowed: t\)"):
        sensitivity.check_options({"outputs": ["x"]}, ["t"])
    assert sensitivity.check_options({}, ["t"]).n_base == 512  # the default: issue 5's 512 base samples
    import yaml

    base = sim.compose("shandong", "baseline")
    for name, d in (("levers", 7), ("params", 10)):
        spec = yaml.safe_load((ROOT / "configs" / "sensitivity" / f"{name}.yaml").read_text(encoding="utf-8"))
        assert len(sensitivity.check_factors(base, spec)) == d
    cfg = sensitivity.apply(base, {"policy.talent.intensity": 1.5, "params.recognition.apply_prob.srdi": 0.3})
    assert cfg.policy.talent.intensity == 1.5 and cfg.params.recognition.apply_prob["srdi"] == 0.3
    assert base.policy.talent.intensity == 1.0 and base.params.recognition.apply_prob["srdi"] == 0.6


def test_point_outputs_average_replicates_into_p_reached():
    table = pd.DataFrame({"sample": [0, 0, 1, 1], "replicate": [0, 1, 0, 1], "count__t": [10.0, 20.0, 30.0, 30.0],
                          "reached__t": [True, False, True, True]})
    one = sobol.point_outputs(table, ["t"], 1)
    assert list(one.columns) == ["count__t"]
    two = sobol.point_outputs(table, ["t"], 2)
    assert two.loc[0].tolist() == [15.0, 0.5] and two.loc[1].tolist() == [30.0, 1.0] and list(two.columns) == ["count__t", "p__t"]


def test_cli_end_to_end_tiny(tmp_path):
    """2 lever factors, N=8, 1 replicate a point (Shandong at scale 0.01): 32 runs."""
    run_dir = tmp_path / "run"
    factors = ("sensitivity.factors=[{path:policy.financing.intensity,low:0,high:2},"
               "{path:policy.services.intensity,low:0,high:2}]")
    proc = subprocess.run([sys.executable, "-m", "experiments.sensitivity", "scenario=shandong", "scenario.scale=0.01",
                           factors, "n_base=8", "n_bootstrap=99", "n_jobs=1", "outputs=[little_giant_new_2025]",
                           f"hydra.run.dir={run_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "-> 32 model runs" in proc.stdout
    sob = pd.read_csv(run_dir / "sobol.csv")
    assert list(sob.columns) == sobol.COLUMNS
    assert set(sob["output"]) == {"count__little_giant_new_2025"}
    assert len(sob) == 2 * 2 and (sob["runs"] == 32).all() and (sob["n_base"] == 8).all()
    pts = pd.read_parquet(run_dir / "points.parquet")
    assert len(pts) == 32 and pd.read_parquet(run_dir / "design.parquet").equals(pts.drop(columns=["count__little_giant_new_2025"]))
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["runs"] == 32 and set(s["check"]) >= {"min_ci_low", "n_meaningfully_negative"}
    assert (run_dir / "tornado.png").is_file() and (run_dir / "tornado.svg").is_file()
    # common random numbers across points: every point is replicate 0 of the seed (a Saltelli design with two
    # factors repeats no point, so compare two points of different base rows with forecasts of the same values)
    for k in (0, 17):
        fin, srv = float(pts.loc[k, "policy.financing.intensity"]), float(pts.loc[k, "policy.services.intensity"])
        out = tmp_path / f"point{k}"
        sim.forecast(scenario="shandong", policy="baseline", n_replicates=1, seed=1, out_dir=out,
                     overrides=["scenario.scale=0.01", "plots=false", "progress=off", "n_jobs=1",
                                f"policy.financing.intensity={fin!r}", f"policy.services.intensity={srv!r}"])
        reach = pd.read_csv(out / "reachability.csv")
        count = reach.loc[(reach["target"] == "little_giant_new_2025") & (reach["rule"] == "all"), "count_p50"].item()
        assert count == pytest.approx(pts.loc[k, "count__little_giant_new_2025"], rel=1e-9), k


@pytest.mark.parametrize("arg,msg", [("sensitivity=hebei", "error: sensitivity: 'hebei' is not allowed (allowed: levers, params)\n"),
                                     ("n_base=100", "error: n_base: 100 is not allowed (allowed: a power of 2, e.g. 512, 1024)\n")])
def test_cli_bad_input_is_one_line(tmp_path, monkeypatch, capsys, arg, msg):
    from experiments import sensitivity as entry

    monkeypatch.setattr(sys, "argv", ["sensitivity", arg, f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as e:
        entry.main()
    assert e.value.code == 2 and capsys.readouterr().err == msg
    assert not (tmp_path / "run").exists()
