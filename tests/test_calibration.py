"""Calibration (issue 4): ABC-SMC recovers a known parameter; the distance treats uncertain
figures as intervals and lower bounds as one-sided; a back-test's calibration sees no later
observation; forecasts draw parameter sets from a posterior reproducibly (serial == parallel);
bad posteriors and bad history files fail in one line."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import abc, calibration, scoring
from sim.config import posterior
from sim.core.schema import ConfigError
from sim.pipelines import backtest
from sim.pipelines.forecast import forecast
from sim.run import ensemble

TINY = ["calibration=", "abc.firms=300", "abc.n_particles=6", "abc.generations=2", "abc.max_simulations=30",
        "abc.round_size=6", "abc.n_predictive=3", "n_jobs=1", "plots=false", "progress=off"]


# ---- ABC-SMC on a toy simulator ----------------------------------------------------------

def test_abc_smc_recovers_a_known_parameter_and_leaves_an_uninformed_one_at_its_prior():
    truth, n_data = 1.0, 25
    rng_data = np.random.default_rng(7)
    y_obs = rng_data.normal(truth, 1.0, n_data).mean()
    sim_rng = np.random.default_rng(8)

    def simulate(values: np.ndarray, ids: np.ndarray) -> np.ndarray:  # mean of n_data N(theta, 1) draws
        ybar = values[:, 0] + sim_rng.standard_normal(len(values)) / np.sqrt(n_data)
        return np.abs(ybar - y_obs)

    priors = [abc.Prior("theta", "uniform", -5.0, 5.0, "-", True), abc.Prior("nuisance", "uniform", 0.0, 1.0, "-", False)]
    res = abc.run(simulate, priors, abc.Settings(n_particles=300, generations=6, max_simulations=20_000, round_size=300),
                  np.random.default_rng(3))
    theta, w = res.values[:, 0], res.weights
    mean = np.average(theta, weights=w)
    sd = np.sqrt(np.average((theta - mean) ** 2, weights=w))
    se = 1.0 / np.sqrt(n_data)  # the posterior sd the data allow
    assert abs(mean - truth) < 3 * se
    assert sd < 0.1 * (10 / np.sqrt(12))  # far narrower than the uniform(-5, 5) prior (sd 2.9)
    assert sd > 0.5 * se  # but not collapsed below what the data can tell
    eps = [g["epsilon"] for g in res.generations[1:]]
    assert all(a >= b for a, b in zip(eps, eps[1:])) and len(eps) >= 3, "tolerances decrease"
    assert 0 < res.ess <= 300
    table = calibration.spread_table(priors, res.values, res.weights)
    assert table[0]["verdict"] == "pinned by data"
    assert table[1]["verdict"] == "stays at prior"


def test_abc_is_reproducible_from_its_seed():
    def simulate(values, ids):
        return np.abs(values[:, 0] - 0.3) + (ids % 7) * 1e-3  # deterministic in the simulation id

    priors = [abc.Prior("x", "loguniform", 0.01, 1.0, "-", True), abc.Prior("y", "beta", 0.0, 1.0, "-", True, a=2, b=2)]
    s = abc.Settings(n_particles=20, generations=3, max_simulations=500, round_size=10)
    a, b = (abc.run(simulate, priors, s, np.random.default_rng(5)) for _ in range(2))
    assert np.array_equal(a.values, b.values) and np.array_equal(a.weights, b.weights)
    assert (a.values[:, 0] >= 0.01).all() and (a.values[:, 0] <= 1.0).all()


# ---- observations and distance -------------------------------------------------------------

@pytest.fixture(scope="module")
def national():
    return sim.compose("national", "baseline", TINY)


def test_distance_treats_batch_two_as_either_figure_and_srdi_as_a_lower_bound(national):
    obs = calibration.observations(national)
    lg2 = obs[(obs["series"] == "little_giant_new") & (obs["year"] == 2020)]
    assert lg2["kind"].item() == "interval" and (lg2["lo"].item(), lg2["hi"].item()) == (1584.0, 1744.0)
    srdi = obs[obs["series"] == "srdi_provincial_cumulative"]
    assert srdi["kind"].item() == "lower_bound" and np.isinf(srdi["hi"].item())
    sub = pd.concat([lg2, srdi])
    dev = lambda lg, sr: calibration.deviations(np.array([lg, sr]), sub)
    assert np.allclose(dev(1584, 40_000), 0) and np.allclose(dev(1744, 90_000), 0) and np.allclose(dev(1650, 1e6), 0)
    d = dev(1400, 30_000)
    assert d[0] < 0 and d[1] < 0 and np.isclose(d[0], -np.log(1585 / 1401))
    d = dev(2000, 30_000)
    assert d[0] > 0 and np.isclose(d[0], np.log(2001 / 1745))
    sd = np.ones(2)
    assert calibration.distance(np.array([1700, 50_000]), sub, sd) == 0.0
    assert calibration.distance(np.array([1700, 20_000]), sub, sd) > 0.0


def test_champion_totals_take_the_unit_multiplier(national):
    obs = calibration.observations(national)
    tot = obs[obs["series"] == "champion_cumulative"]
    assert (tot["unit_param"] == posterior.UNIT_PARAM).all()
    assert (obs[obs["series"] == "champion_new"]["unit_param"] == "").all()
    model = tot["value"].to_numpy() / 0.9
    assert np.allclose(calibration.deviations(model, tot, unit_mult=0.9), 0)
    assert not np.allclose(calibration.deviations(model, tot, unit_mult=1.0), 0)


def test_small_number_noise_widens_small_scale_series(national):
    obs = calibration.observations(national)
    sd_small, sd_big = calibration.noise_sd(obs, 0.01, 0.05), calibration.noise_sd(obs, 1.0, 0.05)
    champ = (obs["series"] == "champion_new").to_numpy()
    assert (sd_small[champ] > 3 * sd_big[champ]).all()


def test_priors_declare_uninformed_parameters(national):
    priors = {p.path: p for p in calibration.declare_priors(national)}
    assert not priors["params.recognition.rereview_pass.little_giant"].informed
    assert not priors["government.target_chasing.over_fulfilment"].informed  # sizes batches after the record
    assert not [p for p in priors if "quota_default" in p or "quota_growth" in p]
    assert priors["params.recognition.rereview_pass.srdi"].informed
    bt = {p.path: p for p in calibration.declare_priors(national, until=2019)}
    assert "government.review_capacity" in bt and not bt["government.review_capacity"].informed
    cfg = calibration.truncate_quotas(national, 2019)
    assert max(cfg.scenario.tiers["little_giant"].capacity.quota_by_year) == 2019


# ---- back-test: nothing after `until` reaches the calibration --------------------------------

@pytest.mark.parametrize("until", [2019, 2020])
def test_backtest_calibration_sees_no_later_observation(national, monkeypatch, tmp_path, until):
    seen_years, seen_quota_years = [], []
    real_distance, real_one = calibration.distance, calibration._simulate_one

    def spy_distance(sim_values, obs, sd, unit_mult=1.0):
        seen_years.append(int(obs["year"].max()))
        return real_distance(sim_values, obs, sd, unit_mult)

    def spy_one(config, paths, row, sim_id, obs):
        seen_quota_years.extend(int(y) for t in config.scenario.tiers.values() for y in t.capacity.quota_by_year)
        return real_one(config, paths, row, sim_id, obs)

    monkeypatch.setattr(calibration, "distance", spy_distance)
    monkeypatch.setattr(calibration, "_simulate_one", spy_one)
    out = backtest.backtest(national, until, tmp_path, log=None)
    assert seen_years and max(seen_years) <= until
    assert seen_quota_years and max(seen_quota_years) <= until
    table = pd.read_csv(tmp_path / "backtest.csv")
    assert list(table.columns[:12]) == list(scoring.CSV_COLUMNS)
    assert (table["year"] > until).all() and len(table) == out["n_observations"] > 0


# ---- back-test scoring on synthetic data ----------------------------------------------------

def _synthetic_obs() -> pd.DataFrame:
    rows = [("b", "t", "batch_new", y, v) for y, v in [(2016, 100), (2017, 120), (2018, 140), (2019, 160), (2020, 180)]]
    rows += [("s", "t", "stock", y, v) for y, v in [(2018, 360), (2020, 700)]]
    df = pd.DataFrame(rows, columns=["series", "tier", "metric", "year", "value"])
    return df.assign(month=12, date=df["year"].astype(str) + "-12", value_alt=np.nan, lo=df["value"], hi=df["value"],
                     kind="point", unit_param="")


def test_naive_forecasts_persist_and_trend_the_batches():
    later = scoring.naive_forecasts(_synthetic_obs(), until=2018)
    b = later[later["series"] == "b"].set_index("year")
    assert b.loc[2019, "persistence"] == 140 and b.loc[2020, "persistence"] == 140
    assert np.isclose(b.loc[2019, "trend"], 160) and np.isclose(b.loc[2020, "trend"], 180)
    s = later[later["series"] == "s"].set_index("year")
    assert s.loc[2020, "persistence"] == 360 + 2 * 140
    assert np.isclose(s.loc[2020, "trend"], 360 + 160 + 180)


def test_ape_and_coverage():
    assert np.allclose(scoring.ape(np.array([90, 110, 1600, 50_000, 30_000]), np.array([100, 100, 1584, 40_000, 40_000]),
                                    np.array([100, 100, 1744, np.inf, np.inf]), np.array([100, 100, 1584, 40_000, 40_000])),
                       [0.1, 0.1, 0.0, 0.0, 0.25])
    obs = scoring.naive_forecasts(_synthetic_obs(), until=2018)
    truth = obs["value"].to_numpy(dtype=float)
    rng = np.random.default_rng(0)
    pred = truth[None, :] * rng.uniform(0.9, 1.1, size=(200, len(truth)))  # bands around the truth
    table = scoring.score(obs, pred)
    s = scoring.summarise(table)
    assert s["coverage_90"] == 1.0 and s["median_ape"] < 0.02
    assert s["skill_vs_persistence"] > 0.5  # persistence misses the growing batches
    far = scoring.score(obs, pred * 3)
    assert scoring.summarise(far)["coverage_90"] == 0.0 and (far["ape"] > 1.5).all()


# ---- forecasting from a posterior -----------------------------------------------------------

def _posterior(tmp_path, scenario="liaocheng", **extra) -> str:
    df = pd.DataFrame({"params.growth.drift": [0.0, 0.05, 0.1], "scenario.tiers.srdi.capacity.quota_default": [5.0, 50.0, 500.0],
                       "obs.champion_unit": [1.0, 1.0, 1.0], "weight": [0.2, 0.3, 0.5], "distance": [0.1, 0.2, 0.3],
                       "scenario": scenario, **extra})
    path = tmp_path / "posterior.parquet"
    df.to_parquet(path)
    return str(path)


SMALL = ["scenario.scale=0.2", "scenario.horizon=2018-12", "scenario.origin=2018-12", "scenario.window_start=2018-01", "scenario.targets=[]", "plots=false", "progress=off", "n_replicates=2"]


def test_posterior_draw_per_replicate_is_reproducible_and_serial_equals_parallel(tmp_path):
    cfg = sim.compose("liaocheng", "baseline", [*SMALL, f"calibration={_posterior(tmp_path)}"])
    drifts = [posterior.config_for_replicate(cfg, r).params.growth.drift for r in range(40)]
    assert drifts == [posterior.config_for_replicate(cfg, r).params.growth.drift for r in range(40)]
    assert set(drifts) == {0.0, 0.05, 0.1}
    assert drifts.count(0.1) > drifts.count(0.0)  # weights 0.5 vs 0.2
    serial = [rec for _, rec in ensemble.iter_replicates(cfg, [0, 1], n_jobs=1)]
    parallel = [rec for _, rec in ensemble.iter_replicates(cfg, [0, 1], n_jobs=2)]
    for a, b in zip(serial, parallel):
        assert np.array_equal(a.stock, b.stock) and np.array_equal(a.flows, b.flows)


def test_scenario_parameters_apply_only_to_the_scenario_fitted(tmp_path):
    cfg = sim.compose("liaocheng", "baseline", [*SMALL, f"calibration={_posterior(tmp_path, scenario='national')}"])
    used = posterior.describe_use(cfg)
    assert used["applied"] == ["params.growth.drift"]
    assert set(used["skipped"]) == {"scenario.tiers.srdi.capacity.quota_default", "obs.champion_unit"}
    assert posterior.config_for_replicate(cfg, 0).scenario.tiers["srdi"].capacity.quota_default == cfg.scenario.tiers["srdi"].capacity.quota_default


def test_forecast_with_a_tiny_posterior_runs_and_records_it(tmp_path):
    post = _posterior(tmp_path)
    cfg = sim.compose("liaocheng", "baseline", ["scenario.scale=0.2", "scenario.horizon=2022-12", "scenario.targets=[]",
                                                "plots=false", "progress=off", "n_replicates=2", "n_jobs=1", f"calibration={post}"])
    tables = forecast(cfg, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["calibration"]["path"] == post and summary["calibration"]["n_particles"] == 3
    assert tables["trajectories"]["replicate"].nunique() == 2


@pytest.mark.parametrize("scenario, shipped", [("shandong", "shandong"), ("national", "national"), ("liaocheng", "shandong")])
def test_shipped_default_posterior_is_the_scenarios_own(scenario, shipped):
    path, df = posterior.load_posterior("default", scenario)
    assert path.name == f"{shipped}.parquet" and len(df) >= 20 and np.isclose(df["weight"].sum(), 1.0)
    assert {"params.growth.drift", "weight", "distance", "scenario"} <= set(df.columns)
    assert set(df["scenario"]) == {shipped}
    with pytest.raises(ConfigError, match="no shipped posterior for scenario 'atlantis'"):
        posterior.resolve("default", "atlantis")


@pytest.mark.parametrize("make, fragment", [
    (lambda p: pd.DataFrame({"params.growth.drift": [0.1]}).to_parquet(p), "column 'weight' is missing"),
    (lambda p: pd.DataFrame({"params.growth.drift": [0.1, np.nan], "weight": [1.0, 1.0]}).to_parquet(p), "row 1, column 'params.growth.drift'"),
    (lambda p: pd.DataFrame({"params.growth.drift": [0.1], "weight": [-1.0]}).to_parquet(p), "column 'weight'"),
    (lambda p: p.write_text("not parquet"), "cannot be read as Parquet"),
    (lambda p: pd.DataFrame({"params.growth.nope": [0.1], "weight": [1.0]}).to_parquet(p), "'params.growth.nope' is not a config key"),
    (lambda p: pd.DataFrame({"params.growth.drift": [9.0], "weight": [1.0]}).to_parquet(p), "params.growth.drift: 9.0 is not allowed"),
], ids=["no-weight", "nan", "negative-weight", "not-parquet", "unknown-key", "out-of-range"])
def test_malformed_posterior_fails_in_one_line(tmp_path, make, fragment):
    path = tmp_path / "bad.parquet"
    make(path)
    cfg = sim.compose("liaocheng", "baseline", [*SMALL, f"calibration={path}"])
    with pytest.raises(ConfigError) as exc:
        posterior.config_for_replicate(cfg, 0)
    assert "\n" not in str(exc.value) and fragment in str(exc.value)


def test_missing_posterior_names_what_is_allowed(tmp_path):
    cfg = sim.compose("liaocheng", "baseline", [*SMALL, f"calibration={tmp_path}/nothing"])
    with pytest.raises(ConfigError, match="calibration: .* is not allowed .*shipped name"):
        posterior.describe_use(cfg)


def test_calibration_reads_the_user_history_file_and_fails_on_a_bad_one(tmp_path, national):
    # a file must hold every series the scenario's history mapping names (issue 11): map the one it has
    only = "scenario.history=[{series: little_giant_new, tier: little_giant, metric: batch_new, month: 6}]"
    good = tmp_path / "mine.csv"
    good.write_text("year,series,value,unit,date_announced,source_url,note\n2019,little_giant_new,300,firms,,,\n"
                    "2022,little_giant_new,4000,firms,,,\n", encoding="utf-8")
    cfg = sim.compose("national", "baseline", [*TINY, only, f"data.path={good}"])
    obs = calibration.observations(cfg, until=2022)
    assert list(obs["value"]) == [300.0, 4000.0]
    assert calibration.simulation_config(cfg, obs).scenario.horizon == "2022-12"
    bad = tmp_path / "bad.csv"
    bad.write_text("year,series,value,unit,date_announced,source_url,note\n2019,little_giant_new,-3,firms,,,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        calibration.observations(sim.compose("national", "baseline", [*TINY, only, f"data.path={bad}"]))
    assert "\n" not in str(exc.value) and "bad.csv line 2, column 'value'" in str(exc.value)


def test_calibration_is_the_same_serial_or_parallel(national):
    obs = calibration.observations(national)
    priors = calibration.declare_priors(national)
    small = dataclasses.replace(national.abc, n_particles=4, round_size=4, max_simulations=12)
    one, two = (calibration.run_abc(dataclasses.replace(national, n_jobs=j, abc=small), obs, priors, log=None) for j in (1, 2))
    assert one.n_simulations == two.n_simulations >= 8
    assert np.array_equal(one.values, two.values) and np.array_equal(one.distances, two.distances)
    assert np.array_equal(one.weights, two.weights)


@pytest.mark.parametrize("until", [0, 2015, 2021])
def test_backtest_until_must_leave_observations_on_both_sides(national, until):
    with pytest.raises(ConfigError, match=r"until: .* is not allowed \(allowed: a year from 2016 to 2020"):
        scoring.check_until(national, until)


def test_factors_the_posterior_draws_turn_the_posterior_off():
    """A design or sensitivity factor that the posterior would overwrite in every replicate
    (params.growth.drift) switches the posterior off for that run; lever factors keep it."""
    from sim.pipelines import sensitivity
    from sim.run import design

    cfg = sim.compose("shandong", "baseline", ["calibration=default"])
    assert posterior.keep_factors(cfg, ["policy.financing.intensity"]).calibration == "default"
    assert posterior.keep_factors(cfg, ["params.growth.drift"]).calibration == ""
    from sim.config.compose import compose_dict

    base = compose_dict("shandong", "baseline", ["calibration=default"])
    assert design.apply(base, {"params.growth.drift": 0.05}).calibration == ""
    assert design.apply(base, {"policy.talent.intensity": 1.5}).calibration == "default"
    run = sensitivity.apply(cfg, {"params.growth.drift": 0.05})
    assert posterior.config_for_replicate(posterior.keep_factors(run, ["params.growth.drift"]), 3).params.growth.drift == 0.05


def test_a_shandong_backtest_from_2020_drops_the_plans_announced_later():
    # Shandong's 14th-FYP stock targets were announced 2021-12: a calibration run that ends 2020-12
    # cannot hold them (and its governments could not have chased them), while a 2016 plan stays
    cfg = calibration.truncate_quotas(sim.compose("shandong", "baseline", ["calibration="]), 2020)
    obs = calibration.observations(cfg, until=2020)
    run = calibration.simulation_config(cfg, obs)
    assert run.scenario.horizon == "2020-12" and run.scenario.plan_targets == []
    national = calibration.truncate_quotas(sim.compose("national", "baseline", ["calibration="]), 2019)
    nat = calibration.simulation_config(national, calibration.observations(national, until=2019))
    assert [t.name for t in nat.scenario.plan_targets] == ["little_giant_plan_2018", "single_champion_plan_2016"]
