"""Design sweep: a space-filling design (grid, Latin hypercube, scrambled Sobol') over declared
ranges of config keys, every point a job of ``n_replicates`` replicates, one table.

    python -m experiments.sweep scenario=shandong design=levers design.n=64 n_replicates=10 sweep.dir=results/sweeps/levers64
    python -m experiments.sweep experiment=shandong_500 sweep.dir=results/sweeps/shandong_500
    python -m experiments.sweep ... executor=dask executor.address=tcp://HOST:8786

Writes ``<sweep dir>/jobs/<job key>.parquet`` per finished job and ``<sweep dir>/sweep.parquet``
(+ ``sweep.csv``) at the end; the same command with the same ``sweep.dir`` resumes, skipping
finished jobs.  ``sweep.dir`` defaults to results/sweeps/<timestamp>/.  The design is in
``configs/design/`` (``sim/run/design.py``); the engine in ``sim/run/sweep.py``.
"""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments._schema import config_overrides, one_line_errors
from sim.config.compose import compose, register
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import check_run, validate
from sim.run import design
from sim.run.sweep import TABLE, run_sweep


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    base = OmegaConf.to_container(cfg, resolve=True)
    with one_line_errors():
        run = validate(base)  # type: ignore[arg-type]
        check_run(run)
        jobs = design.jobs(base, run.design)  # type: ignore[arg-type]
    out = run.sweep.dir or HydraConfig.get().runtime.output_dir
    d = run.design
    print(f"design: {d.kind}, {len(jobs)} points over {', '.join(p.key for p in design.factors(d))} (design seed {d.seed}); "
          f"{run.scenario.name}, {run.n_replicates} replicates a job, seed {run.seed}", flush=True)
    with one_line_errors():  # e.g. executor=dask with a scheduler that does not answer
        table = run_sweep(jobs, out, executor=run.executor.name, address=run.executor.address, n_jobs=run.n_jobs,
                          trajectories=run.sweep.trajectories, timeout=run.executor.timeout)
    print(f"results: {out}/{TABLE} ({len(table)} rows of this design)")


def main() -> None:
    """Check the overrides, the composed config and the design (one-line errors) before
    Hydra creates any directory; a given ``sweep.dir`` is also Hydra's run dir (its
    .hydra/ record sits with the results)."""
    args = sys.argv[1:]
    with one_line_errors():
        args = [a if a.startswith("-") else check_overrides([a])[0] for a in args]
        kv = config_overrides(args)
        if not {"-m", "--multirun"} & set(args):
            run = compose(overrides=kv)
            design.points(run.design)
            if not any(a.startswith("hydra.run.dir=") for a in args):
                args.insert(0, f"hydra.run.dir={run.sweep.dir}" if run.sweep.dir else "hydra.run.dir=results/sweeps/${now:%Y-%m-%d_%H-%M-%S}")
    sys.argv[1:] = args
    register()
    _main()


if __name__ == "__main__":
    main()
