"""Back-test: calibrate on the observations up to a year, forecast the later years, score.

    python -m experiments.backtest scenario=national until=2019
    python -m experiments.backtest scenario=national until=2020 abc.n_particles=100 abc.max_simulations=1500

``until`` is ``abc.until`` (the last calendar year whose observations reach the
calibration).  Writes into results/backtest/<scenario>/until<until>/<timestamp>/:
backtest.csv (series, year, observed, p05..p95, inside_90, ape, ape_persistence,
ape_trend, ...), backtest.json (coverage, median APEs, skill against the persistence and
linear-trend forecasts, posterior summary), backtest.png/svg and calibration/ (the
posterior it forecast from).
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
from sim.analysis.scoring import check_until
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import check_run, validate
from sim.core.schema import RunConfig
from sim.pipelines.backtest import backtest
from sim.pipelines.folders import in_place

RUN_DIR = "hydra.run.dir=results/backtest/${scenario.name}/until${abc.until}/${now:%Y-%m-%d_%H-%M-%S}"


def report(summary: dict, out_dir: str) -> None:
    t = summary["table"]
    cols = ["series", "year", "observed", "p05", "p50", "p95", "inside_90", "ape", "ape_persistence", "ape_trend"]
    print(t[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"coverage 50% {summary['coverage_50']:.0%}, 90% {summary['coverage_90']:.0%}; median APE model {summary['median_ape']:.3f}, "
          f"persistence {summary['median_ape_persistence']:.3f} (skill {summary['skill_vs_persistence']}), "
          f"trend {summary['median_ape_trend']:.3f} (skill {summary['skill_vs_trend']})")
    print(f"results: {out_dir}")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    with one_line_errors():
        run = validate(OmegaConf.to_container(cfg, resolve=True))
        check_run(run)
        out = HydraConfig.get().runtime.output_dir
        report(backtest(run, run.abc.until, in_place(out)), out)  # Hydra made the folder: written in place


def main(argv: list[str] | None = None) -> None:
    """``until=Y`` is ``abc.until=Y``; overrides are checked in one line each before Hydra runs."""
    with one_line_errors():
        args = [("abc." + a) if a.startswith("until=") else a for a in (sys.argv[1:] if argv is None else argv)]
        args = [a if a.startswith("-") else check_overrides([a])[0] for a in args]
        args = [RUN_DIR, *args]
        if not hydra_handles(args):  # a single run: composed and validated once, then its folder
            job, hydra_node = compose_single("config", RunConfig, args)
            run = validate(job)
            check_run(run)  # the data file, lever windows: before the folder
            check_until(run, run.abc.until)  # before the output directory is made
            run_in_folder(hydra_node, job, args, lambda folder: backtest(run, run.abc.until, folder), report)
            return
    hand_over_to_hydra(args, _main)  # Hydra's jobs write in place into the folders Hydra made


if __name__ == "__main__":
    main()
