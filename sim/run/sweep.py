"""The sweep engine: many jobs (one configuration each, all its replicates), on any executor,
resumable, reduced to one table in the BehaviorSpace "table" shape.

A *job* is ``(parameters, config)``: its parameters as ``{dotted_key: value}`` and its
validated :class:`RunConfig`.  Each job is keyed by :func:`job_key` (a hash of everything in
its configuration that can change its results, seed and replicate count included) and,
once all its replicates are in, written atomically to ``<out_dir>/jobs/<job key>.parquet``:
one row per replicate, the job's parameter columns, ``job``, then :func:`outcomes`.  A job
whose file exists is not run again, so a sweep killed part-way and started again with the
same directory loses and duplicates nothing.  :func:`collect` rebuilds the aggregated table
``<out_dir>/sweep.parquet`` (+ ``sweep.csv``) from the job files.

A sweep folder holds one design: ``<out_dir>/design.json`` records its fingerprint
(:func:`design_record`: a hash of the sorted job keys; a ``--multirun``'s is a hash of its
overrides, :func:`multirun_record`), written when the sweep starts (:func:`claim`).  The
same design resumes; another design in the same folder fails in one line before any job
runs, so two designs never merge into one table.

The unit of work sent to the executor is one (job, replicate): on 2 local cores a job of 10
replicates keeps both busy, and on a cluster the replicates of a few jobs spread over many
workers.  Results come back to this process, which writes each job as soon as it is complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import keys
from sim.config.overrides import GROUPS
from sim.core import record
from sim.core.calendar import month_index
from sim.core.record import RunRecord
from sim.core.schema import LEVERS, ConfigError, RunConfig
from sim.run import atomic, ensemble
from sim.run.executors import make_executor

# Keys that change how a run is executed or written, never its results: left out of the job key.
RUN_ONLY_KEYS = ("n_jobs", "progress", "plots", "executor", "design", "sweep")
OUTCOME_KEYS = ["replicate", "seed", "scenario", "policy"]
JOBS_DIR, TRAJ_DIR = "jobs", "trajectories"
TABLE = "sweep.parquet"
DESIGN = "design.json"


# --------------------------------------------------------------------------- job identity
def canonical(cfg: RunConfig) -> dict[str, Any]:
    """The configuration that determines a job's results (run-only keys dropped)."""
    d = dataclasses.asdict(cfg)
    for k in RUN_ONLY_KEYS:
        d.pop(k, None)
    return d


def job_key(cfg: RunConfig) -> str:
    """Stable 16-hex-digit key of a job: sha256 of the canonical JSON of its validated
    configuration (seed and n_replicates included; run-only keys excluded)."""
    text = json.dumps(canonical(cfg), sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- design identity
def _digest(items: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def design_record(keys_: Sequence[str]) -> dict[str, Any]:
    """The design of a job list: its distinct job keys, sorted (the order jobs are listed in,
    or a job listed twice, does not make another design), and their fingerprint."""
    distinct = sorted(set(keys_))
    return {"kind": "jobs", "fingerprint": _digest(distinct), "n_jobs": len(distinct)}


def multirun_record(overrides: Sequence[str]) -> dict[str, Any]:
    """The design of a ``--multirun``: its task overrides as given to the sweeper (``a=0,1``),
    without run-only keys (``n_jobs``, ``executor``, ``sweep.*``, ... change how, not what)
    and sorted (the order of the axes does not change the jobs).  Each multirun job is a
    separate call, so the design is checked once for all of them, when the multirun starts
    (``experiments.callbacks.CollectSweep``)."""
    kept = sorted(ov for ov in overrides if not _run_only(ov.split("=", 1)[0].lstrip("+~")))
    return {"kind": "multirun", "fingerprint": _digest(kept), "overrides": kept}


def _run_only(key: str) -> bool:
    return key.startswith("hydra") or key.split(".")[0] in RUN_ONLY_KEYS


def check_design(out_dir: str | Path, record: dict[str, Any], field: str = "sweep.dir",
                 keys_: Sequence[str] = ()) -> bool:
    """Raise a one-line ConfigError if ``out_dir`` holds another design than ``record``;
    True if it records this one already.  A folder without ``design.json`` (new, or written
    before fingerprints) is free, unless its job files are not all jobs of ``keys_`` (when
    given): those would merge into this design's table."""
    out = Path(out_dir)
    fix = f"use a new {field}"
    path = out / DESIGN
    if path.exists():
        try:
            held = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"{field}: {str(out)!r} has an unreadable {DESIGN} (allowed: a sweep folder of this design; {fix})") from None
        if held != record["fingerprint"]:
            raise ConfigError(f"{field}: {str(out)!r} holds another design (fingerprint {held}, this one "
                              f"{record['fingerprint']}); {fix}")
        return True
    if keys_:
        foreign = sorted({f.stem for f in (out / JOBS_DIR).glob("*.parquet")} - set(keys_))
        if foreign:
            raise ConfigError(f"{field}: {str(out)!r} holds {len(foreign)} job(s) of another design (e.g. {foreign[0]}); {fix}")
    return False


def claim(out_dir: str | Path, record: dict[str, Any], field: str = "sweep.dir", keys_: Sequence[str] = ()) -> None:
    """:func:`check_design`, then record the design in ``<out_dir>/design.json`` (atomically)
    if the folder does not hold it yet."""
    if not check_design(out_dir, record, field, keys_):
        atomic.write_json(record, Path(out_dir) / DESIGN)


# --------------------------------------------------------------------------- outcomes
def outcomes(cfg: RunConfig, records: list[RunRecord]) -> pd.DataFrame:
    """One row per replicate: ``replicate``, ``seed``, ``scenario``, ``policy``; for each target
    ``count__<name>`` (its count at its deadline — its metric over its tiers in its ``count``
    unit, real units: ``sim.core.record.target_count``, as ``sim.targets`` computes it) and ``reached__<name>`` (count >= threshold); the fiscal
    cost over the run, ``fiscal_cost_m_cny`` (M CNY, all levers) and ``fiscal_cost__<lever>``."""
    s = record.stack(records)
    R, pos = len(records), {d: i for i, d in enumerate(s.dates)}
    w0 = month_index(cfg.scenario.window_start) - month_index(s.dates[0])
    out: dict[str, Any] = {
        "replicate": np.arange(R, dtype=np.int64),
        "seed": np.full(R, cfg.seed, dtype=np.int64),
        "scenario": cfg.scenario.name,
        "policy": cfg.policy.name,
    }
    for t in cfg.scenario.targets:
        count = record.target_count(records if t.region else s, t, w0, pos[t.deadline])
        out[f"count__{t.name}"] = count
        out[f"reached__{t.name}"] = count >= t.threshold
    cost = np.array([[r.cost.get(lv, 0.0) for lv in LEVERS] for r in records], dtype=np.float64).reshape(R, len(LEVERS))
    out["fiscal_cost_m_cny"] = cost.sum(axis=1)
    for j, lv in enumerate(LEVERS):
        out[f"fiscal_cost__{lv}"] = cost[:, j]
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- job files
def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def job_table(params: dict[str, Any], cfg: RunConfig, records: list[RunRecord], key: str | None = None) -> pd.DataFrame:
    """A job's rows: its parameter columns (by dotted key), ``job``, then :func:`outcomes`.
    A parameter named like an outcome column (``scenario=...``, ``policy=...`` in a
    multirun) is carried by that column when they agree (a config group's option named as
    its ``name``), else kept as ``<name>_choice``."""
    out = outcomes(cfg, records)
    key = key or job_key(cfg)
    cols: dict[str, Any] = {}
    for name, value in params.items():
        value = _plain(value)
        if name in out.columns:
            if (out[name] == value).all():
                continue
            name = f"{name}_choice"
        cols[name] = value
    head = pd.DataFrame({**cols, "job": key}, index=out.index) if cols else pd.DataFrame({"job": [key] * len(out)})
    return pd.concat([head, out], axis=1)


def job_path(out_dir: str | Path, key: str) -> Path:
    return Path(out_dir) / JOBS_DIR / f"{key}.parquet"


def is_done(out_dir: str | Path, cfg: RunConfig) -> bool:
    return job_path(out_dir, job_key(cfg)).exists()


def write_job(params: dict[str, Any], cfg: RunConfig, records: list[RunRecord], out_dir: str | Path,
              trajectories: bool = False, key: str | None = None) -> pd.DataFrame:
    """Write a finished job atomically (trajectories first: the job file marks it done);
    returns its table (:func:`job_table`)."""
    key = key or job_key(cfg)
    if trajectories:
        traj = ensemble.trajectories(cfg, records)
        traj.insert(0, "job", key)
        atomic.write_parquet(traj, Path(out_dir) / TRAJ_DIR / f"{key}.parquet", index=False)
    table = job_table(params, cfg, records, key)
    atomic.write_parquet(table, job_path(out_dir, key), index=False)
    return table


# --------------------------------------------------------------------------- aggregation
def _sort(table: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    keys = [c for c in [*params, "scenario", "policy", "job", "replicate"] if c in table.columns]
    try:
        return table.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    except TypeError:  # a parameter column mixing strings and numbers across jobs
        return table.sort_values(["job", "replicate"], kind="stable").reset_index(drop=True)


def collect(out_dir: str | Path, write: bool = True) -> pd.DataFrame:
    """The aggregated sweep table from every job file in ``<out_dir>/jobs/``: parameters next
    to outcomes, one row per (job, replicate), sorted by the parameter columns, then
    scenario, policy, job and replicate.  Written to ``sweep.parquet`` and ``sweep.csv``
    unless ``write=False``."""
    files = sorted((Path(out_dir) / JOBS_DIR).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{out_dir}: no job files (expected {Path(out_dir) / JOBS_DIR / '<job key>.parquet'})")
    parts = [pd.read_parquet(f) for f in files]
    params: list[str] = []
    for p in parts:
        for c in p.columns[: list(p.columns).index("job")]:
            if c not in params:
                params.append(c)
    table = pd.concat(parts, ignore_index=True)
    lead = params + ["job"]
    table = _sort(table[lead + [c for c in table.columns if c not in lead]], params)
    if write:
        atomic.write_parquet(table, Path(out_dir) / TABLE, index=False)
        atomic.write_csv(table, Path(out_dir) / "sweep.csv")
    return table


# --------------------------------------------------------------------------- the engine
def _unit(cfg: RunConfig, replicate: int) -> RunRecord:
    # by name at call time: whatever sim.run.ensemble.run_replicate is (calibration may wrap it)
    return ensemble.run_replicate(cfg, replicate)


def run_sweep(jobs: Sequence[tuple[dict[str, Any], RunConfig]], out_dir: str | Path, executor: str = "joblib",
              address: str | None = None, n_jobs: int = -1, trajectories: bool = False, aggregate: bool = True,
              verbose: bool = True, timeout: float | None = None, design_check: bool = True,
              field: str = "sweep.dir") -> pd.DataFrame:
    """Run every job not yet on disk (all its replicates) and write its file; then (if
    ``aggregate``) write the aggregated table (:func:`collect`: every job file in
    ``out_dir``, sorted by parameters).  Returns the rows of ``jobs``, in their order
    (replicates in order within a job; a job listed twice appears twice).

    ``executor``: ``serial``, ``joblib`` (``n_jobs`` local processes, -1 = all cores) or
    ``dask`` (``address`` = ``tcp://HOST:PORT``).  ``trajectories``: also write each job's
    tidy trajectories to ``<out_dir>/trajectories/<job key>.parquet``.

    ``design_check``: first :func:`claim` the folder for this job list (another design there: a
    one-line ConfigError naming ``field``, before anything runs); ``False`` where the caller
    owns the folder's design (a ``--multirun`` job: its multirun claimed it)."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    keyed = [(job_key(cfg), params, cfg) for params, cfg in jobs]
    if design_check:
        all_keys = [k for k, _, _ in keyed]
        claim(out, design_record(all_keys), field, all_keys)
    todo: dict[str, tuple[dict, RunConfig]] = {}
    for key, params, cfg in keyed:
        if key not in todo and not job_path(out, key).exists():
            todo[key] = (params, cfg)
    units = [(key, r) for key, (_, cfg) in todo.items() for r in range(cfg.n_replicates)]
    n_done_before = len({k for k, _, _ in keyed}) - len(todo)
    ex = make_executor(executor, n_jobs, len(units), address, timeout)
    log = (lambda msg: print(msg, file=sys.stdout, flush=True)) if verbose else (lambda msg: None)
    log(f"sweep: {len(keyed)} jobs ({n_done_before} already done, {len(todo)} to run: {len(units)} replicates) "
        f"on {ex.describe()} -> {out}")
    pending: dict[str, dict[int, RunRecord]] = {k: {} for k in todo}
    own: dict[str, pd.DataFrame] = {}
    every = max(1, len(todo) // 100)  # at most ~100 progress lines
    with ex:
        for i, rec in ex.imap_unordered(_unit, [(todo[k][1], r) for k, r in units]):
            key, r = units[i]
            pending[key][r] = rec
            params, cfg = todo[key]
            if len(pending[key]) == cfg.n_replicates:
                recs = pending.pop(key)
                own[key] = write_job(params, cfg, [recs[j] for j in range(cfg.n_replicates)], out, trajectories, key)
                n_done = len(todo) - len(pending)
                if n_done % every == 0 or n_done == len(todo):
                    log(f"  job {key} done ({n_done}/{len(todo)}, {time.perf_counter() - t0:.1f} s)")
    t_run = time.perf_counter() - t0
    for k in dict.fromkeys(k for k, _, _ in keyed):  # jobs finished before: from their files
        if k not in own:
            own[k] = pd.read_parquet(job_path(out, k))
    rows = pd.concat([own[k] for k, _, _ in keyed], ignore_index=True) if keyed else pd.DataFrame()
    msg = f"sweep: ran {len(todo)} jobs in {t_run:.1f} s"
    if aggregate:
        table = collect(out)
        msg += f"; table {out / TABLE}: {len(table)} rows, {table['job'].nunique()} jobs"
    log(msg)
    return rows


def params_from_overrides(cfg: RunConfig, overrides: Sequence[str]) -> dict[str, Any]:
    """A ``--multirun`` job's parameters from its Hydra task overrides: ``{dotted key: value}``,
    the value read back from the validated config (typed), a group's option name for a group
    (``policy=financing_plus`` -> ``{'policy': 'financing_plus'}``).  Run-only keys and
    ``hydra.*`` are left out."""
    params: dict[str, Any] = {}
    for ov in overrides:
        if "=" not in ov or ov.startswith("~"):
            continue
        key, value = ov.split("=", 1)
        key = key.lstrip("+")
        if _run_only(key) or key == "experiment":
            continue
        if key in GROUPS:
            params[key] = value
            continue
        try:
            params[key] = keys.get(cfg, key)
        except ConfigError:
            import yaml

            params[key] = yaml.safe_load(value)
    return params
