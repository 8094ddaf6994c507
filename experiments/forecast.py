"""Forecast: an ensemble of one scenario under one policy -> tables, fan charts, summary.

    python -m experiments.forecast scenario=shandong policy=baseline n_replicates=100 seed=1

Writes into the Hydra run directory (results/<scenario>/<policy>/<timestamp>/; a what-if is
named by what it changed, results/<scenario>/baseline+financing.intensity=2/<timestamp>/) and
prints the reachability table.  The same run from Python: ``sim.pipelines.api.forecast(...)``.

With ``--multirun`` every job is a sweep job (``sweep_job``): its outcomes go to
``<hydra.sweep.dir>/jobs/<job key>.parquet``, finished jobs are skipped on a re-run with
the same ``hydra.sweep.dir``, and the ``CollectSweep`` callback writes
``<hydra.sweep.dir>/sweep.parquet`` at the end::

    python -m experiments.forecast -m policy.financing.intensity=0,0.5,1,2 policy.talent.intensity=0,1 hydra.sweep.dir=results/sweeps/grid
"""

from __future__ import annotations

import sys
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments._schema import compose_single, hand_over_to_hydra, hydra_handles, one_line_errors, run_in_folder
from sim.analysis.targets import format_reachability
from sim.config import labels
from sim.config.overrides import check_overrides, config_dir
from sim.config.posterior import describe_use, keep_factors
from sim.config.validate import check_run, validate
from sim.core.schema import RunConfig
from sim.pipelines.folders import in_place
from sim.pipelines.forecast import forecast
from sim.run.ensemble import run_ensemble
from sim.run.sweep import is_done, job_key, job_path, params_from_overrides, run_sweep, write_job

# what an interrupted ``--multirun`` keeps: every finished job's file (each written atomically)
MULTIRUN_KEPT = "the job files of finished jobs (the same command resumes)"


def report(tables: dict, out_dir: str, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Print the reachability table, its header naming the run by its policy and what the
    overrides changed (``== shandong / baseline + financing.intensity=2``), then the files."""
    reach = tables["reachability"]
    if len(reach):
        reach = reach.assign(policy=labels.label(str(reach["policy"].iloc[0]), overrides))
    print(format_reachability(reach))
    figs = [p for p in tables["figures"]["path"] if p.endswith(".png")]
    print(f"results: {out_dir}")
    for p in figs:
        print(f"figure: {p}")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    with one_line_errors():
        run = validate(OmegaConf.to_container(cfg, resolve=True))
        check_run(run)
    hc = HydraConfig.get()
    out = hc.runtime.output_dir
    with one_line_errors():  # e.g. executor=dask with a scheduler that does not answer
        if hc.mode == RunMode.MULTIRUN:
            sweep_job(run, list(hc.overrides.task), hc.sweep.dir, out)
        else:  # a run Hydra's flags sent here: Hydra made its folder, written in place
            task = list(hc.overrides.task)
            report(forecast(run, in_place(out), overrides=task), out, task)


def sweep_job(run: RunConfig, overrides: list[str], sweep_dir: str, out: str) -> None:
    """One job of a ``--multirun``: its outcomes to ``<sweep dir>/jobs/<job key>.parquet``
    (skipped when that file exists, so a re-run resumes); with ``sweep.mode=full`` also the
    whole forecast (tables, fan charts, summary) in its job directory.  The sweep table is
    built at the end by the ``CollectSweep`` callback.

    The job directory is Hydra's (the launcher makes it, with ``.hydra/`` and the job's log,
    before the job runs), so the forecast is written into it in place, not by the run-folder
    protocol; the job file, written after the forecast, marks the job complete — a job
    without one is run again (its folder rewritten) when the sweep resumes."""
    params = params_from_overrides(run, overrides)
    run = keep_factors(run, params)  # a swept key the posterior draws turns the posterior off
    key = job_key(run)
    label = " ".join(f"{k}={v}" for k, v in params.items())
    if is_done(sweep_dir, run):
        print(f"job {key} ({label}): done before, skipped", flush=True)
        return
    t0 = time.perf_counter()
    if run.sweep.mode == "full":
        records = run_ensemble(run)
        tables = forecast(run, in_place(out), records=records, overrides=overrides)
        write_job(params, run, records, sweep_dir, run.sweep.trajectories)  # last: the job is complete
        report(tables, out, overrides)
    else:  # the multirun claimed the sweep folder for its design when it started (CollectSweep)
        run_sweep([(params, run)], sweep_dir, executor=run.executor.name, address=run.executor.address,
                  n_jobs=run.n_jobs, trajectories=run.sweep.trajectories, aggregate=False, verbose=False,
                  timeout=run.executor.timeout, design_check=False)
    print(f"job {key} ({label}): {run.n_replicates} replicates in {time.perf_counter() - t0:.1f} s -> "
          f"{job_path(sweep_dir, key)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """A single run is composed and validated once, and its folder made only after that (bad
    input: one line, no folder); ``-m`` (sweeps, launchers) and Hydra's other flags go
    through ``@hydra.main``."""
    args = sys.argv[1:] if argv is None else list(argv)
    with one_line_errors():
        args = [a if a.startswith("-") else check_overrides([a])[0] for a in args]
        if not hydra_handles(args):
            job, hydra_node = compose_single("config", RunConfig, args)
            run = validate(job)
            check_run(run)  # the data file, lever windows
            describe_use(run)  # a missing or malformed posterior fails here, before any output
            run_in_folder(hydra_node, job, args, lambda folder: forecast(run, folder, overrides=args),
                          lambda tables, out: report(tables, out, args))
            return
    hand_over_to_hydra(args, _main, kept=MULTIRUN_KEPT)


if __name__ == "__main__":
    main()
