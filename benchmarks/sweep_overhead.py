"""The sweep engine's overhead per job (issue 5): what a sweep costs beyond its replicates.

    .venv/bin/python benchmarks/sweep_overhead.py                       # 40 jobs x 10 replicates, Shandong at 1%
    .venv/bin/python benchmarks/sweep_overhead.py --jobs 20 --scale 0.01 --multirun 8

Prints one JSON object per line on stdout:

* ``sweep_serial``   the replicates run directly (``run_replicate``, one process) vs the same
  jobs through ``run_sweep(executor='serial')`` (job keys, outcomes, per-job Parquet, the
  aggregated table): ``overhead_per_job_cpu_s = (sweep - direct) / jobs`` in CPU time;
* ``sweep_joblib``   the same jobs through ``run_sweep(executor='joblib')`` on every core:
  wall time against the ideal ``direct CPU / workers`` (the pool's start-up included), and
  the CPU the parent process spends per job (receiving records, writing files);
* ``multirun``       (``--multirun N``) ``python -m experiments.forecast -m`` over N jobs
  (one Hydra composition and job directory per job, replicates on joblib) against the
  design path's in-process run of the same jobs: the per-job cost of the Hydra path.

Tiny jobs (a small population) make the overhead visible; at full Shandong scale a job's
replicates take ~9 s of CPU, so an overhead in milliseconds is negligible.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.config.compose import compose_dict
from sim.config.validate import validate
from sim.run import design, ensemble, sweep
from sim.run.executors import available_cores


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--multirun", type=int, default=0, help="also time a Hydra --multirun of this many jobs")
    args = ap.parse_args()

    ov = [f"scenario.scale={args.scale}", f"n_replicates={args.replicates}"]
    base = compose_dict("shandong", "baseline", ov)
    d = compose_dict("shandong", "baseline", [*ov, "design.kind=lhs", f"design.n={args.jobs}", "design.seed=7"])
    t0 = time.perf_counter()
    jobs = design.jobs(base, validate(d).design)
    t_build = time.perf_counter() - t0
    common = {"scenario": "shandong", "scale": args.scale, "jobs": args.jobs, "replicates": args.replicates}

    # CPU time of this process (time.process_time): on a shared machine wall times of two
    # runs minutes apart differ by more than the overhead; CPU time does not.
    t0, c0 = time.perf_counter(), time.process_time()
    for _, cfg in jobs:
        for r in range(cfg.n_replicates):
            ensemble.run_replicate(cfg, r)
    direct, direct_cpu = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        sweep.run_sweep(jobs, Path(tmp) / "s", executor="serial", verbose=False)
        serial, serial_cpu = time.perf_counter() - t0, time.process_time() - c0
    emit({"bench": "sweep_serial", **common, "design_build_s": round(t_build, 3), "direct_wall_s": round(direct, 3),
          "sweep_wall_s": round(serial, 3), "direct_cpu_s": round(direct_cpu, 3), "sweep_cpu_s": round(serial_cpu, 3),
          "overhead_per_job_cpu_s": round((serial_cpu - direct_cpu) / args.jobs, 4),
          "overhead_per_job_wall_s": round((serial - direct) / args.jobs, 4)})

    workers = available_cores()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        sweep.run_sweep(jobs, Path(tmp) / "j", executor="joblib", verbose=False)
        par, par_cpu = time.perf_counter() - t0, time.process_time() - c0
    emit({"bench": "sweep_joblib", **common, "workers": workers, "sweep_wall_s": round(par, 3),
          "ideal_wall_s": round(direct_cpu / workers, 3), "efficiency": round(direct_cpu / workers / par, 3),
          "parent_cpu_per_job_s": round(par_cpu / args.jobs, 4)})

    if args.multirun:
        n = args.multirun
        levels = ",".join(str(round(x, 3)) for x in [2.0 * i / max(1, n - 1) for i in range(n)])
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "experiments.forecast", "-m", "scenario=shandong", *ov, "progress=off",
                   f"policy.financing.intensity={levels}", f"hydra.sweep.dir={tmp}/m"]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
            t_multi = time.perf_counter() - t0
            mjobs = [({"policy.financing.intensity": float(x)}, design.apply(base, {"policy.financing.intensity": float(x)}))
                     for x in levels.split(",")]
            t0 = time.perf_counter()
            sweep.run_sweep(mjobs, Path(tmp) / "d", executor="joblib", verbose=False)
            t_design = time.perf_counter() - t0
        emit({"bench": "multirun", **common, "jobs": n, "multirun_s": round(t_multi, 3), "design_path_s": round(t_design, 3),
              "extra_per_job_s": round((t_multi - t_design) / n, 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
