"""TEMPORARY stand-in for ``sim/sweep.py`` (the sweep engine, built on another branch).

It implements only the part of the sweep contract that ``sim.compare`` and
``sim.sensitivity`` use — ``job_key``, ``outcomes``, ``run_sweep`` (serial or joblib, no
resume, no per-job files) and ``collect`` — with the same signatures and columns, so that
those modules run and are tested before the merge.  Delete this file when ``sim/sweep.py``
lands: the modules import ``sim.sweep`` first and fall back to this one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import results
from .config import LEVERS, RunConfig
from .ensemble import _workers, run_replicate, trajectories
from .model import RunRecord

TABLE = "table.parquet"


def job_key(cfg: RunConfig) -> str:
    """Hash of the composed config (seed included): 16 hex digits."""
    blob = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def outcomes(cfg: RunConfig, records: list[RunRecord]) -> pd.DataFrame:
    """One row per replicate (``records[i]`` is replicate i): per target the metric at its
    deadline (real units) as ``count__<name>`` and ``reached__<name>`` (count >= threshold, as
    ``sim.targets`` defines it), and the fiscal cost (M CNY over the run) in total and per lever."""
    traj = trajectories(cfg, records)
    out = pd.DataFrame({"replicate": np.arange(len(records)), "seed": cfg.seed,
                        "scenario": cfg.scenario.name, "policy": cfg.policy.name})
    for t in cfg.scenario.targets:
        s = results.sum_tiers(traj, t.tiers)
        at = s.loc[s["date"] == t.deadline].set_index("replicate")[t.metric].reindex(out["replicate"])
        out[f"count__{t.name}"] = at.to_numpy(dtype=float)
        out[f"reached__{t.name}"] = at.to_numpy() >= float(t.threshold)
    out["fiscal_cost_m_cny"] = [float(sum(r.cost.values())) for r in records]
    for lever in LEVERS:
        out[f"fiscal_cost__{lever}"] = [float(r.cost.get(lever, 0.0)) for r in records]
    return out


def _one(cfg: RunConfig, replicate: int) -> pd.DataFrame:
    return outcomes(cfg, [run_replicate(cfg, replicate)]).assign(replicate=replicate)


def run_sweep(jobs: list[tuple[dict, RunConfig]], out_dir, executor: str = "joblib", address: str | None = None,
              n_jobs: int = -1, trajectories: bool = False) -> pd.DataFrame:
    """Run every job's ``cfg.n_replicates`` replicates; the aggregated table (job parameters
    next to the outcomes, plus ``job``) is written to ``out_dir/table.parquet``."""
    if executor not in ("joblib", "serial"):
        raise ValueError(f"executor: {executor!r} is not supported by the stand-in (allowed: joblib, serial)")
    tasks = [(j, r) for j, (_, cfg) in enumerate(jobs) for r in range(cfg.n_replicates)]
    workers = 1 if executor == "serial" else _workers(n_jobs, len(tasks))
    if workers == 1:
        parts = [_one(jobs[j][1], r) for j, r in tasks]
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=workers, batch_size="auto")(delayed(_one)(jobs[j][1], r) for j, r in tasks)
    keys = [job_key(cfg) for _, cfg in jobs]
    for (j, _), part in zip(tasks, parts):
        params = jobs[j][0]
        for k, v in reversed(list(params.items())):
            if k not in part.columns:  # an outcome column of the same name wins
                part.insert(0, k, v)
        part.insert(0, "job", keys[j])
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results.write_parquet(table, out / TABLE)
    return table


def collect(out_dir) -> pd.DataFrame:
    """The aggregated table of a finished sweep directory."""
    return pd.read_parquet(Path(out_dir) / TABLE)
