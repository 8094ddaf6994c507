"""Calibration of the uncertain parameters to the published counts, and forecasts that draw
parameter sets from the resulting posterior.

* :func:`declare_priors` — which parameters are uncertain: a dotted config path, a prior
  (range and shape), a unit, and whether the record up to 2021 can inform it.
* :func:`observations` — the published points a scenario is fitted to (``sim.history``),
  each with the interval of model values consistent with it: an alternative figure
  (little-giant batch 2: 1,584 or 1,744) widens it to both, a lower bound ('> 40,000')
  is one-sided, and champion totals whose unit is uncertain are compared after a
  multiplier ``obs.champion_unit`` (a calibrated parameter).
* :func:`summaries` / :func:`distance` — model values at the observed points (real units)
  and their distance to the observations.
* :func:`calibrate` — ABC-SMC (``sim.abc``) with simulations in parallel, writes
  ``posterior.parquet``, ``calibration.json``, ``fit.csv`` and the fit figure.
* :func:`config_for_replicate` — replicate r of a forecast draws one parameter set from the
  posterior named by ``config.calibration`` with its own seed stream.

Units: counts are firms (titles held or recognised) in real units (simulated counts divided
by ``scenario.scale``); parameters carry the units of their config fields.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import abc
from sim.config import history
from sim.config.posterior import UNIT_PARAM, apply_values, effective_sample_size
from sim.config.validate import validate
from sim.core import government, record
from sim.core.calendar import month_index
from sim.core.model import simulate
from sim.core.regions import Regions
from sim.core.schema import ConfigError, RunConfig
from sim.run.executors import make_executor

ABC_STREAM = 2**32 - 1           # the ABC sampler's own stream: SeedSequence(seed, spawn_key=(ABC_STREAM,))
MIN_ESS = 20.0  # fewer effective particles: no verdict on a parameter's spread

# --------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------

# (path, shape, lo, hi, unit, informed by the record to 2021, note[, beta a, b])
COMMON_PRIORS: tuple[tuple, ...] = (
    ("params.growth.drift", "uniform", 0.0, 0.12, "1/yr", True, "sets how many firms grow into the criteria (pool sizes)"),
    ("params.growth.laplace_scale", "uniform", 0.08, 0.35, "annual Laplace scale", True, "growth dispersion: pool sizes, exits"),
    ("params.recognition.apply_prob.srdi", "uniform", 0.2, 1.0, "share of eligible firms applying per batch", True, "SRDI counts (national lower bound, SD valid/new)"),
    ("params.recognition.apply_prob.little_giant", "uniform", 0.3, 1.0, "share per batch", True, "binding only if the pool falls short of the quota"),
    ("params.recognition.apply_prob.single_champion", "uniform", 0.2, 1.0, "share per batch", True, "binding only if the pool falls short of the quota"),
    ("params.recognition.rereview_pass.srdi", "beta", 0.05, 1.0, "share of holders meeting the criteria", True, "SD: 3,424 valid of 5,566 recognised (2021): many titles lapse", 2.0, 2.0),
    ("params.recognition.rereview_pass.single_champion", "beta", 0.3, 1.0, "share", True, "champion reviews from 2019 (batch 1): totals 514/596/848", 3.0, 2.0),
    ("params.recognition.rereview_pass.little_giant", "beta", 0.3, 1.0, "share", False, "the first little-giant review is in 2022: no data up to 2021", 3.0, 2.0),
    ("params.firms.firms_per_niche", "loguniform", 2.0, 12.0, "firms per niche", True, "niche structure: who can lead a niche (hand-tuned to 6 before; unknown, DOMAIN §7: the prior spans the schema range from 2)"),
    ("params.firms.niche_zipf", "uniform", 0.1, 1.1, "Zipf exponent", True, "niche structure (hand-tuned to 0.7 before; the 2016-21 record pins it)"),
    ("params.firms.capability_corr", "uniform", 0.7, 0.97, "correlation", True, "joint excellence on criteria (hand-tuned to 0.9 before)"),
    ("params.levers.financing", "uniform", 0.1, 0.6, "fraction of the constraint removed", False, "lever starts 2021-02: too late to show in 2021 counts"),
    ("params.levers.services_apply", "uniform", 0.0, 1.0, "relative gain in applications", False, "services lever starts 2021-11"),
    ("params.levers.innovation", "uniform", 0.0, 0.3, "relative gain in R&D intensity", False, "lever starts 2021-01: too late to show in 2021 counts"),
)
UNIT_PRIOR = (0.8, 1.1)         # obs.champion_unit prior: published champion total / model title count


def declare_priors(config: RunConfig, until: int | None = None) -> list[abc.Prior]:
    """The uncertain parameters of ``config``'s scenario: the common behaviour parameters,
    the government's batch-size parameters (sim/core/government.py ``PRIORS``: they size the
    batches after the record — after the origin, or in a back-test after ``until`` — so the
    record cannot inform them) and ``obs.champion_unit``.  Under ``government.rule=mixture``
    each replicate draws its rule and these parameters itself (paired across policies), so a
    posterior's government columns are not applied to it (``sim.config.posterior._applicable``)."""
    priors = [abc.Prior(*row[:7], *row[7:]) for row in COMMON_PRIORS]
    when = f"after {until}" if until is not None else "after the record"
    for path, shape, lo, hi, unit, note in government.PRIORS:
        priors.append(abc.Prior(f"government.{path}", shape, lo, hi, unit, False, f"sizes batches {when}: {note}"))
    priors.append(abc.Prior(UNIT_PARAM, "uniform", *UNIT_PRIOR, "published count / model titles", True,
                            "champion totals count demo firms + product champions (cultivation firms excluded): unit uncertain"))
    return priors


def truncate_quotas(config: RunConfig, until: int) -> RunConfig:
    """Back-test: drop the batch sizes of years after ``until`` (they come from the data the
    back-test scores) and end the record there (``scenario.origin``): the government's rule sizes
    those batches (``TierModel.batch_capacity``) toward the targets announced by then only."""
    cfg = copy.deepcopy(config)
    # the record ends with `until`: later batches are the rule's, later targets unknown
    cfg.scenario.origin = min(cfg.scenario.origin, f"{int(until):04d}-12")
    for sched in cfg.scenario.tiers.values():
        cap = sched.capacity
        if cap.rule == "quota":
            cap.quota_by_year = {int(y): q for y, q in cap.quota_by_year.items() if int(y) <= until}
    for prog in cfg.government.programmes.values():  # a province's own programmes: their record too
        for sched in prog["tiers"].values():
            sched["capacity"]["quota_by_year"] = {int(y): q for y, q in sched["capacity"]["quota_by_year"].items() if int(y) <= until}
        prog["records"] = {t: {y: q for y, q in r.items() if int(y) <= until} for t, r in prog["records"].items()}
    return cfg


# --------------------------------------------------------------------------------------
# Observations, summaries and distance
# --------------------------------------------------------------------------------------

def history_path(config: RunConfig) -> Path:
    """The history file: ``data.path`` or the scenario's shipped file."""
    return Path(config.data.path) if config.data.path else history.default_history_path(config.scenario.name)


def observations(config: RunConfig, until: int | None = None) -> pd.DataFrame:
    """Published points (``sim.config.history.observed_points``) with ``year <= until`` (default: the
    year of ``scenario.origin``), each with the interval [lo, hi] of consistent model values
    (firms): [min, max] of the figure and its alternative, [value, inf) for a lower bound,
    and a ``unit_param`` naming the multiplier applied to the model value ('' = none)."""
    until = int(config.scenario.origin[:4]) if until is None else int(until)
    try:  # the view's own series, then each area's, from its own file
        obs = history.points_by_area(history_path(config), [dataclasses.asdict(m) for m in config.scenario.history], until)
    except history.HistoryError as e:
        raise ConfigError(str(e)) from None
    obs["rel"] = [area_fraction(config, a) for a in obs["region"]]
    if obs.empty:
        return obs.assign(lo=[], hi=[], kind=[], unit_param=[])
    lower = obs["unit"].str.contains("lower bound") | obs["unit_note"].str.contains("lower bound")
    has_alt = obs["value_alt"].notna()
    obs["lo"] = np.where(has_alt, np.fmin(obs["value"], obs["value_alt"]), obs["value"])
    obs["hi"] = np.where(lower, np.inf, np.where(has_alt, np.fmax(obs["value"], obs["value_alt"]), obs["value"]))
    obs["kind"] = np.where(lower, "lower_bound", np.where(has_alt, "interval", "point"))
    champ_total = (obs["tier"] == "single_champion") & (obs["metric"] == "stock")
    obs["unit_param"] = np.where(champ_total, UNIT_PARAM, "")
    return obs.reset_index(drop=True)


def area_fraction(config: RunConfig, area: str) -> float:
    """The fraction of an area's firms a run simulates, relative to ``scenario.scale`` (1 unless
    some of its regions are thinned: their shares times their scales over their shares)."""
    regs = Regions.of(config.scenario)
    codes = regs.areas()[area] if area else range(regs.n)
    share = sum(regs.shares[i] for i in codes)
    return sum(regs.shares[i] * regs.rel[i] for i in codes) / share if share > 0 else 1.0


def calibration_horizon(obs: pd.DataFrame) -> str:
    """December of the last observed year: the calibration runs stop there."""
    return f"{int(obs['year'].max()):04d}-12"


def summaries(config: RunConfig, rec, obs: pd.DataFrame) -> np.ndarray:
    """Model values (real units, firms) at each observation: titles held at the month
    (stock), recognised in the calendar year (batch_new), recognised from window_start
    (cumulative_new) or since the start (cumulative_all)."""
    start = month_index(config.scenario.start)
    T = rec.stock.shape[0]
    w_new = month_index(config.scenario.window_start) - start
    out = np.full(len(obs), np.nan)
    areas = {a: record.for_area(rec, a) for a in (obs["region"].unique() if "region" in obs else [""])}
    for i, o in enumerate(obs.itertuples()):
        t = month_index(o.date) - start
        if not 0 <= t < T:
            continue
        r = areas[getattr(o, "region", "")]  # the area the series counts (RunRecord.area)
        if o.metric == "stock":
            out[i] = record.count(r, o.tier, "stock", date=t)
        elif o.metric == "batch_new":  # recognised from January through December of the year
            y0 = month_index(f"{o.year:04d}-01") - start
            out[i] = record.count(r, o.tier, "cumulative_new", y0, min(T, y0 + 12) - 1) if y0 < T and y0 + 12 > 0 else 0.0
        else:  # cumulative_new from window_start, cumulative_all from the start
            out[i] = record.count(r, o.tier, "cumulative_new", w_new if o.metric == "cumulative_new" else 0, t)
    return out


def noise_sd(obs: pd.DataFrame, scale: float, rel_tol: float) -> np.ndarray:
    """Per observation, the sd (log units) a model value may miss it by: the published
    figure's own error ``rel_tol`` and the small-number noise 1/sqrt(n) of the count n the
    simulation draws at this ``scale`` (a champion batch of 104 at scale 0.05 is ~5 firms) times
    the fraction of its area simulated (``rel``, :func:`area_fraction`; 1 where not thinned)."""
    rel = obs["rel"].to_numpy(dtype=float) if "rel" in obs else 1.0
    n_sim = np.maximum(obs["lo"].to_numpy(dtype=float) * scale * rel, 1.0)
    return np.sqrt(rel_tol ** 2 + 1.0 / n_sim)


def deviations(sim: np.ndarray, obs: pd.DataFrame, unit_mult: float = 1.0) -> np.ndarray:
    """Signed log distance of each model value from its observation's interval (0 inside;
    > 0 above, < 0 below); ``unit_mult`` multiplies model values of observations with a
    ``unit_param``.  NaN model values count as a miss by log(2)."""
    s = np.asarray(sim, dtype=float) * np.where(obs["unit_param"].to_numpy() != "", unit_mult, 1.0)
    lo, hi = obs["lo"].to_numpy(dtype=float), obs["hi"].to_numpy(dtype=float)
    below = np.log((lo + 1.0) / (s + 1.0))
    above = np.where(np.isinf(hi), 0.0, np.log((s + 1.0) / np.where(np.isinf(hi), 1.0, hi + 1.0)))
    dev = np.where(below > 0, -below, np.where(above > 0, above, 0.0))
    return np.where(np.isnan(s), math.log(2.0), dev)


def distance(sim: np.ndarray, obs: pd.DataFrame, sd: np.ndarray, unit_mult: float = 1.0) -> float:
    """Root mean square of the standardised deviations (log distance / noise sd)."""
    if len(obs) == 0:
        return 0.0
    z = deviations(sim, obs, unit_mult) / sd
    return float(np.sqrt(np.mean(z ** 2)))


# --------------------------------------------------------------------------------------
# Simulation at calibration settings
# --------------------------------------------------------------------------------------

def calibration_scale(config: RunConfig) -> float:
    """Scale giving ``abc.firms`` simulated above-scale SMEs (at most 1)."""
    n = max(1, config.scenario.population.n_sme)
    return min(1.0, max(1e-4, config.abc.firms / n))


def simulation_config(config: RunConfig, obs: pd.DataFrame, scale: float | None = None) -> RunConfig:
    """The config calibration runs use: stop at the last observed year, no targets (and no plan
    announced after that year), no posterior draws, calibration scale, no plots or agents."""
    d = dataclasses.asdict(config)
    sc = d["scenario"]
    sc["horizon"] = max(calibration_horizon(obs), sc["start"][:4] + "-12") if len(obs) else sc["horizon"]
    sc["origin"] = min(sc["origin"], sc["horizon"])
    sc["window_start"] = min(sc["window_start"], sc["horizon"])
    sc["targets"] = []
    # a plan announced after the run ends is never chased in it (governments chase what is announced by the origin)
    sc["plan_targets"] = [t for t in sc["plan_targets"] if t["announced"] <= sc["horizon"]]
    sc["scale"] = calibration_scale(config) if scale is None else scale
    d.update(calibration="", plots=False, progress="off", agents="on_demand")
    return validate(d)


def _simulate_one(config: RunConfig, paths: list[str], row: np.ndarray, sim_id: int, obs: pd.DataFrame) -> np.ndarray:

    cfg = apply_values(config, dict(zip(paths, row)))
    return summaries(cfg, simulate(cfg, int(sim_id)), obs)


def simulate_many(config: RunConfig, paths: list[str], values: np.ndarray, sim_ids: np.ndarray, obs: pd.DataFrame,
                  n_jobs: int = 1) -> np.ndarray:
    """Model values at ``obs`` for each parameter row; simulation ``sim_ids[i]`` runs as
    replicate ``sim_ids[i]`` of ``config.seed`` (so results do not depend on ``n_jobs``)."""
    with make_executor(config.executor, n_jobs, len(values)) as ex:  # joblib, serial or a Dask cluster
        rows = list(ex.imap(_simulate_one, [(config, paths, v, i, obs) for v, i in zip(values, sim_ids)]))
    return np.vstack(rows) if rows else np.empty((0, len(obs)))


# --------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Calibration:
    """A posterior and what produced it."""
    posterior: pd.DataFrame          # parameter columns, weight, distance, scenario
    info: dict                        # calibration.json content
    obs: pd.DataFrame                 # observations used
    predictive: np.ndarray            # (n_predictive, n_obs) model values from posterior draws


def run_abc(config: RunConfig, obs: pd.DataFrame, priors: list[abc.Prior], seed: int | None = None,
            simulate: Callable[[list[str], np.ndarray, np.ndarray], np.ndarray] | None = None,
            log: Callable[[str], None] | None = print) -> abc.Result:
    """ABC-SMC of ``priors`` against ``obs``.  ``simulate(paths, values, sim_ids) -> (B, n_obs)``
    model values (default: :func:`simulate_many` at calibration settings, ``config.n_jobs``
    workers).  Only ``obs`` reaches the distance."""
    seed = config.seed if seed is None else seed
    paths = [p.path for p in priors]
    sim_cfg = simulation_config(config, obs)
    sd = noise_sd(obs, sim_cfg.scenario.scale, config.abc.rel_tol)
    unit_k = paths.index(UNIT_PARAM) if UNIT_PARAM in paths else None
    if simulate is None:
        def simulate(ps, values, ids):
            return simulate_many(sim_cfg, ps, values, ids, obs, config.n_jobs)

    def dist_fn(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
        sims = simulate(paths, values, ids)
        return np.array([distance(s, obs, sd, values[i, unit_k] if unit_k is not None else 1.0) for i, s in enumerate(sims)])

    a = config.abc
    settings = abc.Settings(n_particles=a.n_particles, generations=a.generations, quantile=a.quantile,
                            max_simulations=a.max_simulations, round_size=a.round_size, min_acceptance=a.min_acceptance)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ABC_STREAM,)))
    return abc.run(dist_fn, priors, settings, rng, log)


def spread_table(priors: list[abc.Prior], values: np.ndarray, weights: np.ndarray) -> list[dict]:
    """Per parameter: prior and posterior 5/50/95% quantiles and the ratio of the posterior's
    90% width to the prior's; 'pinned by data' when that ratio is below 0.5, 'narrowed' below
    0.8, else 'stays at prior' — unless the effective sample size is below MIN_ESS, when the
    quantiles rest on too few particles to tell ('too few effective particles')."""
    out = []
    few = effective_sample_size(weights) < MIN_ESS
    for k, p in enumerate(priors):
        post = [_wq(values[:, k], weights, q) for q in (0.05, 0.5, 0.95)]
        pri = p.quantiles((0.05, 0.5, 0.95))
        ratio = (post[2] - post[0]) / (pri[2] - pri[0]) if p.shape != "loguniform" else \
            math.log(post[2] / post[0]) / math.log(pri[2] / pri[0])
        verdict = "pinned by data" if ratio < 0.5 else ("narrowed" if ratio < 0.8 else "stays at prior")
        verdict = f"too few effective particles ({verdict}?)" if few else verdict
        out.append({"parameter": p.path, "unit": p.unit, "informed_by_record": p.informed, "prior": p.shape,
                    "prior_q05_q50_q95": pri, "posterior_q05_q50_q95": post,
                    "posterior_mean": float(np.average(values[:, k], weights=weights)),
                    "width_ratio_90": float(ratio), "verdict": verdict, "note": p.note})
    return out


def _wq(x: np.ndarray, w: np.ndarray, q: float) -> float:
    return abc.weighted_quantile(np.asarray(x, dtype=float), np.asarray(w, dtype=float), q)


def fit_table(obs: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
    """Observations with the predictive 5/25/50/75/95% quantiles and whether the 50% / 90%
    bands reach the observation's interval."""
    q = np.nanquantile(pred, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0) if len(pred) else np.full((5, len(obs)), np.nan)
    fit = obs[["series", "tier", "metric", "year", "date", "value", "value_alt", "lo", "hi", "kind"]].copy()
    for name, row in zip(("p05", "p25", "p50", "p75", "p95"), q):
        fit[name] = row
    fit["inside_50"] = (fit["p75"] >= fit["lo"]) & (fit["p25"] <= fit["hi"])
    fit["inside_90"] = (fit["p95"] >= fit["lo"]) & (fit["p05"] <= fit["hi"])
    return fit


# --------------------------------------------------------------------------------------
# Scale check
# --------------------------------------------------------------------------------------

def scale_check(config: RunConfig, scales: tuple[float, ...], n_reps: int, until: int | None = None) -> pd.DataFrame:
    """Mean and sd over ``n_reps`` replicates of each observation's model value (real units)
    at each scale (default parameters): the fitted counts should not depend on the scale."""
    obs = observations(config, until)
    rows = []
    for s in scales:
        cfg = simulation_config(config, obs, scale=s)
        vals = simulate_many(cfg, [], np.empty((n_reps, 0)), np.arange(n_reps), obs, config.n_jobs)
        for j, o in enumerate(obs.itertuples()):
            rows.append({"scale": s, "series": o.series, "year": o.year, "observed": o.value,
                         "mean": float(np.mean(vals[:, j])), "sd": float(np.std(vals[:, j], ddof=1)) if n_reps > 1 else 0.0})
    return pd.DataFrame(rows)
