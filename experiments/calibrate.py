"""Calibrate a scenario's uncertain parameters to the published counts (ABC-SMC).

    python -m experiments.calibrate scenario=national
    python -m experiments.calibrate scenario=shandong abc.n_particles=100 abc.max_simulations=800 abc.firms=8000

Settings are the ``abc.*`` keys of the run config (sim/core/schema.py ABCConfig: particles,
generations, tolerance quantile, simulation budget, simulated firms, ``abc.until``);
``data.path=...`` fits to a user history file.  Writes into
results/calibration/<scenario>/<timestamp>/: posterior.parquet (parameter columns,
weight, distance, scenario), calibration.json (priors, tolerance schedule, acceptance
rates, ESS, prior vs posterior spread per parameter), fit.csv and fit.png/svg.  A forecast
draws from it with ``calibration=<that directory>``.
"""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments._schema import (
    compose_single,
    hand_over_to_hydra,
    hydra_handles,
    one_line_errors,
    run_in_folder,
)
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import check_run, validate
from sim.core.schema import RunConfig
from sim.pipelines.calibrate import calibrate
from sim.pipelines.folders import in_place

RUN_DIR = "hydra.run.dir=results/calibration/${scenario.name}/${now:%Y-%m-%d_%H-%M-%S}"


def report(cal, out_dir: str) -> None:
    info = cal.info
    print(f"calibration: {info['n_simulations']} simulations, {info['n_particles']} particles, ESS {info['ess']:.0f}, "
          f"tolerances {[round(e, 3) for e in info['tolerance_schedule'] if e is not None]}, stop: {info['stop_reason']}")
    for p in info["parameters"]:
        q = p["posterior_q05_q50_q95"]
        print(f"  {p['parameter']:<58} {q[1]:>10.4g} [{q[0]:.4g}, {q[2]:.4g}]  {p['verdict']}")
    print(f"fit: 90% band reaches {info['fit_coverage_90']:.0%} of the observations")
    print(f"results: {out_dir}")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    with one_line_errors():
        run = validate(OmegaConf.to_container(cfg, resolve=True))
        check_run(run)
        out = HydraConfig.get().runtime.output_dir
        report(calibrate(run, in_place(out)), out)  # Hydra made the folder: written in place


def main(argv: list[str] | None = None) -> None:
    """A single run is composed and validated once, then its folder is made; Hydra's flags
    (``-m``, ``--cfg``, ...) go through ``@hydra.main``."""
    with one_line_errors():
        args = [RUN_DIR, *(a if a.startswith("-") else check_overrides([a])[0] for a in (sys.argv[1:] if argv is None else argv))]
        if not hydra_handles(args):
            job, hydra_node = compose_single("config", RunConfig, args)
            run = validate(job)
            check_run(run)  # the data file, lever windows: before the folder
            run_in_folder(hydra_node, job, args, lambda folder: calibrate(run, folder), report)
            return
    hand_over_to_hydra(args, _main)  # Hydra's jobs write in place into the folders Hydra made


if __name__ == "__main__":
    main()
