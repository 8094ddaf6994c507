"""The forecast entry points: sim.forecast (Python API) and the Hydra CLI
(python -m experiments.forecast) write the documented files, consistent with each other
and reproducible."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core.schema import LEVERS

ROOT = Path(sim.__file__).resolve().parent.parent
TRAJ_COLUMNS = ["scenario", "policy", "region", "replicate", "date", "tier", "stock", "recognised", "rereviewed", "revoked",
                "exited", "cumulative_new", "new_firms"]  # new_firms: issue 12
N_REP, SEED = 4, 3


@pytest.fixture(scope="module")
def config():
    return sim.compose("liaocheng", "baseline", [f"n_replicates={N_REP}", f"seed={SEED}"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast")
    tables = sim.forecast(scenario="liaocheng", policy="baseline", n_replicates=N_REP, seed=SEED, out_dir=out)
    return tables, out


def enabled_tiers(config) -> list[str]:
    return [t for t, s in config.scenario.tiers.items() if s.enabled]


def test_trajectories_parquet(run, config):
    tables, out = run
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert list(traj.columns) == TRAJ_COLUMNS
    tiers = enabled_tiers(config)
    n_dates = len(pd.period_range(config.scenario.start, config.scenario.horizon, freq="M"))
    assert len(traj) == N_REP * n_dates * len(tiers)
    assert not traj.duplicated(["replicate", "date", "tier"]).any()
    assert set(traj["tier"]) == set(tiers)
    assert sorted(traj["replicate"].unique()) == list(range(N_REP))
    assert (traj["scenario"] == "liaocheng").all() and (traj["policy"] == "baseline").all() and (traj["region"] == "liaocheng").all()
    assert traj["date"].min() == config.scenario.start and traj["date"].max() == config.scenario.horizon
    assert (traj[["stock", "recognised", "rereviewed", "revoked", "exited", "cumulative_new"]] >= 0).all().all()
    pd.testing.assert_frame_equal(traj.reset_index(drop=True), tables["trajectories"].reset_index(drop=True), check_dtype=False)


def test_forecast_csv_quantiles(run):
    tables, out = run
    fc = pd.read_csv(out / "forecast.csv")
    assert set(fc["metric"]) == {"stock", "new", "cumulative_new"}
    q = fc[["p05", "p25", "p50", "p75", "p95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all(), "quantiles out of order"
    assert (fc["n_replicates"] == N_REP).all()
    # spot check against the trajectories: the final month's SRDI stock
    traj = tables["trajectories"]
    last = traj["date"].max()
    vals = traj[(traj["date"] == last) & (traj["tier"] == "srdi")]["stock"].to_numpy()
    row = fc[(fc["date"] == last) & (fc["tier"] == "srdi") & (fc["metric"] == "stock")].iloc[0]
    assert row["p50"] == pytest.approx(np.quantile(vals, 0.5))
    assert row["mean"] == pytest.approx(vals.mean())


def test_reachability_csv(run, config):
    tables, out = run
    reach = pd.read_csv(out / "reachability.csv")
    per_rule = reach[reach["rule"] != "all"]
    assert set(per_rule["rule"]) <= {"target_chasing", "trend", "fixed", "criteria_only"}
    assert per_rule.groupby("target")["n_replicates"].sum().tolist() == [N_REP] * len(config.scenario.targets)
    reach = reach[reach["rule"] == "all"].reset_index(drop=True)  # every replicate
    targets = config.scenario.targets
    assert len(reach) == len(targets) >= 1
    assert list(reach["target"]) == [t.name for t in targets]
    assert (reach["p_low"] <= reach["p_reached"]).all() and (reach["p_reached"] <= reach["p_high"]).all()
    assert reach["illustrative"].astype(bool).all(), "liaocheng's target is illustrative (no published figure)"
    # P(reached) is the share of replicates whose summed stock at the deadline meets the threshold
    traj = tables["trajectories"]
    for t, r in zip(targets, reach.itertuples()):
        at = traj[(traj["date"] == t.deadline) & traj["tier"].isin(t.tiers)].groupby("replicate")[t.metric].sum()
        assert r.p_reached == pytest.approx(float((at >= t.threshold).mean()))
        assert r.n_replicates == N_REP


def test_fan_charts_per_target(run, config):
    tables, out = run
    for t in config.scenario.targets:
        png, svg = out / f"fan_{t.name}.png", out / f"fan_{t.name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text(encoding="utf-8")
        assert str(png) in set(tables["figures"]["path"]) and str(svg) in set(tables["figures"]["path"])


def test_summary_json(run, config):
    _, out = run
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["seed"] == SEED and s["n_replicates"] == N_REP
    assert s["scenario"] == "liaocheng" and s["policy"] == "baseline"
    assert s["versions"]["mesa"].startswith("3.3") and s["versions"]["numpy"] not in ("", "not installed")
    assert re.fullmatch(r"[0-9a-f]{40}", s["git_commit"]), s["git_commit"]
    fc = s["fiscal_cost"]
    for name, lever in config.policy.levers().items():
        if lever.intensity > 0 and lever.cost > 0:
            assert fc[name]["total_m_cny"] > 0 and fc[name]["per_year_m_cny"] > 0, name
        elif name in fc:
            assert fc[name]["total_m_cny"] == 0, name
    assert any(lv.intensity > 0 and lv.cost > 0 for lv in config.policy.levers().values())
    assert [t["target"] for t in s["targets"]] == [t.name for t in config.scenario.targets]


def test_no_policy_fiscal_cost_is_zero_per_lever(tmp_path):
    sim.forecast(scenario="liaocheng", policy="no_policy", n_replicates=2, seed=SEED,
                 overrides=["n_jobs=1", "plots=false"], out_dir=tmp_path)
    fc = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["fiscal_cost"]
    for name in LEVERS:
        assert fc[name]["total_m_cny"] == 0 and fc[name]["per_year_m_cny"] == 0, name


def test_same_call_twice_is_identical(run, tmp_path):
    tables, out = run
    again = sim.forecast(scenario="liaocheng", policy="baseline", n_replicates=N_REP, seed=SEED, out_dir=tmp_path)
    for name in ("trajectories", "forecast", "reachability", "batches"):
        pd.testing.assert_frame_equal(tables[name], again[name], obj=name)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trajectories.parquet"), pd.read_parquet(tmp_path / "trajectories.parquet"))
    assert (out / "forecast.csv").read_bytes() == (tmp_path / "forecast.csv").read_bytes()
    # a different seed gives a different ensemble (so the equality above can fail)
    other = sim.forecast(scenario="liaocheng", policy="baseline", n_replicates=1, seed=SEED + 1,
                         overrides=["n_jobs=1", "plots=false"])
    first = tables["trajectories"][tables["trajectories"]["replicate"] == 0].reset_index(drop=True)
    assert not first["stock"].equals(other["trajectories"]["stock"])


def test_hydra_cli_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "experiments.forecast", "scenario=liaocheng", "n_replicates=2",
                           f"hydra.run.dir={run_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "P(reached)" in proc.stdout
    figs = [ln.split("figure:", 1)[1].strip() for ln in proc.stdout.splitlines() if ln.startswith("figure:")]
    assert figs and all(Path(p).is_file() and Path(p).parent == run_dir for p in figs)
    for name in ("trajectories.parquet", "forecast.csv", "reachability.csv", "summary.json", "batches.csv"):
        assert (run_dir / name).is_file(), name
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert s["scenario"] == "liaocheng" and s["n_replicates"] == 2
    traj = pd.read_parquet(run_dir / "trajectories.parquet")
    assert sorted(traj["replicate"].unique()) == [0, 1]
    assert list(run_dir.glob("fan_*.svg")) and list(run_dir.glob("fan_*.png"))


def test_cli_shows_the_composed_config_without_running(tmp_path):
    """`--cfg job` (README) prints the composed config and runs nothing."""
    out = subprocess.run([sys.executable, "-m", "experiments.forecast", "--cfg", "job", "scenario=national",
                          f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "name: national" in out.stdout and "financing:" in out.stdout
    assert not (tmp_path / "run").exists()


def test_a_single_forecast_composes_and_validates_once(tmp_path, monkeypatch, capsys):
    """One composition (Hydra's config loader) and one validation per single forecast; the
    run folder honours hydra.run.dir and holds Hydra's .hydra/ record."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    import experiments.forecast as entry

    calls = {"load": 0, "validate": 0}
    load, validate = ConfigLoaderImpl.load_configuration, entry.validate

    def counting_load(self, *a, **k):
        calls["load"] += 1
        return load(self, *a, **k)

    def counting_validate(*a, **k):
        calls["validate"] += 1
        return validate(*a, **k)

    monkeypatch.setattr(ConfigLoaderImpl, "load_configuration", counting_load)
    monkeypatch.setattr(entry, "validate", counting_validate)
    run_dir = tmp_path / "run"
    entry.main(["scenario=liaocheng", "n_replicates=1", "n_jobs=1", "plots=false", "progress=off", f"hydra.run.dir={run_dir}"])
    assert calls == {"load": 1, "validate": 1}
    assert (run_dir / "reachability.csv").exists() and (run_dir / "summary.json").exists()
    assert "n_replicates=1" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "liaocheng" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert "results:" in capsys.readouterr().out


def test_bad_single_forecast_makes_no_folder(tmp_path, capsys):
    import experiments.forecast as entry

    with pytest.raises(SystemExit) as e:
        entry.main(["scenario=liaocheng", "scenario.scale=7", f"hydra.run.dir={tmp_path / 'run'}"])
    assert e.value.code == 2 and not (tmp_path / "run").exists()
    assert capsys.readouterr().err.strip().startswith("error: scenario.scale: 7")
