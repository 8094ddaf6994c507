"""Calibrate: ABC-SMC against the published record -> posterior.parquet, calibration.json,
fit.csv and the fit figure: each file written atomically, the folder as a whole by the run-folder
protocol (:mod:`sim.pipelines.folders`)."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import abc
from sim.analysis.calibration import (
    ABC_STREAM,
    Calibration,
    declare_priors,
    fit_table,
    history_path,
    observations,
    run_abc,
    simulate_many,
    simulation_config,
    spread_table,
)
from sim.config.posterior import UNIT_PARAM, draw_rows
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines import folders
from sim.run import atomic


def calibrate(config: RunConfig, out_dir: str | Path | folders.RunFolder | None = None, until: int | None = None,
              priors: list[abc.Prior] | None = None, log: Callable[[str], None] | None = print) -> Calibration:
    """Calibrate ``config``'s scenario to its observations with ``year <= until`` (default:
    ``abc.until``, else the origin year); run posterior predictive simulations; write
    posterior.parquet, calibration.json, fit.csv and fit figure to ``out_dir`` if given (a
    path must be new or empty; it appears, complete, when the run ends)."""
    until = until if until is not None else (config.abc.until or int(config.scenario.origin[:4]))
    obs = observations(config, until)
    if obs.empty:  # before any folder is reserved
        raise ConfigError(f"data: no observations up to {until} in {history_path(config)} for scenario {config.scenario.name!r} (allowed: a history with mapped series)")
    with folders.run_folder(out_dir) as folder:
        cal = _calibrate(config, obs, until, priors, log)
        if folder is not None:
            write(cal, folder, config.plots)
    return cal


def _calibrate(config: RunConfig, obs: pd.DataFrame, until: int, priors: list[abc.Prior] | None,
               log: Callable[[str], None] | None) -> Calibration:
    t0 = time.perf_counter()
    priors = declare_priors(config, None) if priors is None else priors
    res = run_abc(config, obs, priors, log=log)
    t_abc = time.perf_counter() - t0
    paths = [p.path for p in priors]
    post = pd.DataFrame(res.values, columns=paths).assign(weight=res.weights, distance=res.distances,
                                                          scenario=config.scenario.name)
    sim_cfg = simulation_config(config, obs)
    n_pred = config.abc.n_predictive
    rows = draw_rows(res.weights, n_pred, config.seed, ABC_STREAM - 1)
    pred_ids = np.arange(res.n_simulations, res.n_simulations + n_pred)  # fresh seeds after the ABC's
    pred = simulate_many(sim_cfg, paths, res.values[rows], pred_ids, obs, config.n_jobs)
    if UNIT_PARAM in paths:
        pred = pred * np.where(obs["unit_param"].to_numpy() != "", res.values[rows, paths.index(UNIT_PARAM)][:, None], 1.0)
    fit = fit_table(obs, pred)
    info = {
        "scenario": config.scenario.name, "until": until, "seed": config.seed,
        "data": str(history_path(config)), "scale": sim_cfg.scenario.scale, "horizon": sim_cfg.scenario.horizon,
        "method": "ABC-SMC (sim.abc): adaptive tolerance = weighted quantile of last distances, truncated Gaussian kernel with 2x weighted covariance, importance weights",
        "distance": "RMS over observations of log-distance to the observation's interval / sqrt(rel_tol^2 + 1/simulated count)",
        "settings": dataclasses.asdict(config.abc),
        "n_particles": len(post), "n_simulations": res.n_simulations, "stop_reason": res.stop_reason,
        "ess": res.ess, "generations": res.generations,
        "tolerance_schedule": [g["epsilon"] if math.isfinite(g["epsilon"]) else None for g in res.generations],
        "acceptance_rates": [g["acceptance"] for g in res.generations],
        "priors": [p.describe() for p in priors],
        "parameters": spread_table(priors, res.values, res.weights),
        "observations": obs[["series", "tier", "metric", "year", "date", "value", "value_alt", "lo", "hi", "kind", "unit_param"]]
        .replace({np.inf: None}).to_dict(orient="records"),
        "fit_coverage_90": float(fit["inside_90"].mean()) if len(fit) else None,
        "timings_s": {"abc": round(t_abc, 1), "total": round(time.perf_counter() - t0, 1)},
        "n_jobs": config.n_jobs,
    }
    return Calibration(post, info, obs, pred)


def write(cal: Calibration, out_dir: str | Path | folders.RunFolder, plots: bool = True) -> list[Path]:
    """Write posterior.parquet, calibration.json, fit.csv and (``plots``) fit.png/svg, each
    atomically, the set by the run-folder protocol; returns their final paths."""
    with folders.run_folder(out_dir) as folder:
        out = folder.path
        fit = fit_table(cal.obs, cal.predictive)
        paths = [atomic.write_parquet(cal.posterior, out / "posterior.parquet"),
                 atomic.write_csv(fit.replace({np.inf: np.nan}), out / "fit.csv")]
        if plots:
            from sim.plots.fit import fit_figure

            paths += fit_figure(fit, f"{cal.info['scenario']}: posterior predictive fit (data to {cal.info['until']})", out / "fit")
        paths = [folder.public(p) for p in paths]
        cal.info["figures"] = [str(p) for p in paths if p.suffix in (".png", ".svg")]
        paths.append(folder.public(atomic.write_json(cal.info, out / "calibration.json")))
    return paths
