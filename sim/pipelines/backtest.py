"""Back-test: calibrate on data to ``until`` (the firm parameters by ABC, the government's
batch-size rules by sim/analysis/rule_fit.py on the batches to ``until``), forecast, score every
later published point; write backtest.csv, the summary, the rules' fit and the figure."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from sim.analysis import calibration, rule_fit
from sim.analysis.scoring import check_until, naive_forecasts, score, summarise
from sim.config import posterior
from sim.core.schema import RunConfig
from sim.pipelines import calibrate, folders
from sim.run import atomic


def backtest(config: RunConfig, until: int, out_dir: str | Path | folders.RunFolder | None = None, log=print) -> dict:
    """Calibrate on observations with year <= ``until``, forecast the later ones, score.
    Writes calibration/ (the posterior), backtest.csv, backtest.json and backtest.png/svg (a
    path ``out_dir`` must be new or empty; it appears, complete, when the run ends)."""
    obs_all = check_until(config, until)  # before any folder is reserved
    with folders.run_folder(out_dir) as folder:
        return _backtest(config, until, obs_all, folder, log)


def _backtest(config: RunConfig, until: int, obs_all, folder: folders.RunFolder | None, log) -> dict:
    t0 = time.perf_counter()
    cfg_bt = calibration.truncate_quotas(config, until)
    gov_fit = None
    if config.government.fit:  # the rules refitted on the batches to `until` (the shipped fit saw 2021's)
        gov_fit = rule_fit.fit(cfg_bt)
        cfg_bt.government.posterior = rule_fit.posterior_of(gov_fit)
    priors = calibration.declare_priors(config, until)
    cal = calibrate.calibrate(cfg_bt, folder.sub("calibration") if folder else None, until=until, priors=priors, log=log)
    post = cal.posterior
    paths = [p.path for p in priors]
    later = naive_forecasts(obs_all, until)
    sim_cfg = calibration.simulation_config(cfg_bt, obs_all)
    n = config.abc.n_predictive
    rows = posterior.draw_rows(post["weight"].to_numpy(), n, config.seed, calibration.ABC_STREAM - 2)
    ids = np.arange(10_000_000, 10_000_000 + n)  # seeds apart from the calibration's simulations
    values = post[paths].to_numpy()[rows]
    pred_all = calibration.simulate_many(sim_cfg, paths, values, ids, obs_all, config.n_jobs)
    if posterior.UNIT_PARAM in paths:
        mult = values[:, paths.index(posterior.UNIT_PARAM)][:, None]
        pred_all = pred_all * np.where(obs_all["unit_param"].to_numpy() != "", mult, 1.0)
    later_mask = (obs_all["year"] > until).to_numpy()
    table = score(later, pred_all[:, later_mask])
    summary = {"scenario": config.scenario.name, "until": until, "seed": config.seed,
               "data": str(calibration.history_path(config)), **summarise(table),
               "calibration": {k: cal.info[k] for k in ("n_particles", "n_simulations", "ess", "tolerance_schedule", "acceptance_rates", "scale", "stop_reason")},
               "parameters": cal.info["parameters"], "timings_s": {"total": round(time.perf_counter() - t0, 1)},
               "settings": dataclasses.asdict(config.abc)}
    if gov_fit is not None:
        summary["government_fit"] = rule_fit.rules_table(gov_fit).to_dict(orient="records")
    if folder is not None:
        out = folder.path
        atomic.write_csv(table.replace({np.inf: np.nan}), out / "backtest.csv")
        if gov_fit is not None:
            atomic.write_json(gov_fit, out / "government_fit.json")
        if config.plots:
            from sim.plots.fit import fit_figure

            full = calibration.fit_table(obs_all, pred_all)
            full = full.merge(later[["series", "year", "persistence", "trend"]], on=["series", "year"], how="left")
            figs = fit_figure(full, f"{config.scenario.name}: back-test, calibrated on data to {until}", out / "backtest",
                              split_year=until, naive=True)
            summary["figures"] = [str(folder.public(p)) for p in figs]
        atomic.write_json(summary, out / "backtest.json")
    summary["table"] = table
    return summary
