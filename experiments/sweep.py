"""Design sweep: a space-filling design (grid, Latin hypercube, scrambled Sobol') over declared
ranges of config keys, every point a job of ``n_replicates`` replicates, one table.

    python -m experiments.sweep scenario=shandong design=levers design.n=64 n_replicates=10 sweep.dir=results/sweeps/levers64
    python -m experiments.sweep experiment=shandong_500 sweep.dir=results/sweeps/shandong_500
    python -m experiments.sweep ... executor=dask executor.address=tcp://HOST:8786

Writes ``<sweep dir>/design.json`` (the design's fingerprint) when it starts,
``<sweep dir>/jobs/<job key>.parquet`` per finished job and ``<sweep dir>/sweep.parquet``
(+ ``sweep.csv``) at the end; the same command with the same ``sweep.dir`` resumes, skipping
finished jobs, and another design in that ``sweep.dir`` fails in one line before anything
runs.  ``sweep.dir`` defaults to results/sweeps/<timestamp>/.  The design is in
``configs/design/`` (``sim/run/design.py``); the engine in ``sim/run/sweep.py``.
"""

from __future__ import annotations

import sys
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, read_write

from experiments._schema import compose_single, hydra_handles, make_sweep_dir, one_line_errors
from sim.config.compose import register
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import check_run, validate
from sim.core.schema import RunConfig
from sim.run import design
from sim.run.sweep import TABLE, check_design, design_record, job_key, run_sweep

RUN_DIR = "hydra.run.dir=results/sweeps/${now:%Y-%m-%d_%H-%M-%S}"


def run_design(base: dict, run: RunConfig, out: str, before_writing: Any = None) -> None:
    """Make the design's jobs, check ``out`` holds no other design, then (``before_writing()``
    first: it makes the run folder) run the sweep and print what it wrote."""
    jobs = design.jobs(base, run.design)
    keys = [job_key(cfg) for _, cfg in jobs]
    check_design(out, design_record(keys), "sweep.dir", keys)  # before anything is written into ``out``
    if before_writing is not None:
        before_writing()
    d = run.design
    print(f"design: {d.kind}, {len(jobs)} points over {', '.join(p.key for p in design.factors(d))} (design seed {d.seed}); "
          f"{run.scenario.name}, {run.n_replicates} replicates a job, seed {run.seed}", flush=True)
    table = run_sweep(jobs, out, executor=run.executor.name, address=run.executor.address, n_jobs=run.n_jobs,
                      trajectories=run.sweep.trajectories, timeout=run.executor.timeout)
    print(f"results: {out}/{TABLE} ({len(table)} rows of this design)")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    """Under Hydra's own machinery (``-m``: one design sweep per multirun job, in its job folder)."""
    base = OmegaConf.to_container(cfg, resolve=True)
    with one_line_errors():  # also e.g. executor=dask with a scheduler that does not answer
        run = validate(base)  # type: ignore[arg-type]
        check_run(run)
        run_design(base, run, run.sweep.dir or HydraConfig.get().runtime.output_dir)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    """Compose once, check the overrides, the config, the design and the sweep folder
    (one-line errors) before any directory is made; a given ``sweep.dir`` is also the run
    folder (its .hydra/ record sits with the results).  ``-m`` and Hydra's other flags go
    through ``@hydra.main``."""
    args = sys.argv[1:] if argv is None else list(argv)
    with one_line_errors():
        args = [a if a.startswith("-") else check_overrides([a])[0] for a in args]
        if not hydra_handles(args):
            explicit = any(a.startswith("hydra.run.dir=") for a in args)
            job, hydra_node = compose_single("config", RunConfig, args if explicit else [RUN_DIR, *args])
            run = validate(job)
            check_run(run)  # the data file, lever windows: before the folder
            if run.sweep.dir and not explicit:
                with read_write(hydra_node):
                    hydra_node.run.dir = run.sweep.dir
            out = str(hydra_node.run.dir)
            run_design(job, run, out, lambda: make_sweep_dir(hydra_node, job, args))
            return
    sys.argv[1:] = args
    register()
    _main()


if __name__ == "__main__":
    main()
