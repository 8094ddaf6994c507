"""Replicates of one configuration, serially or in parallel, and their tidy tables.

Replicate ``i`` uses ``SeedSequence(seed, spawn_key=(i,))`` — the i-th child of
``SeedSequence(seed).spawn`` — so results are bit-identical whatever the executor
(``sim.executors``: serial, joblib, dask) and the number of workers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd

from sim.config.posterior import config_for_replicate
from sim.core import record, tiers
from sim.core.calendar import month_index
from sim.core.model import simulate
from sim.core.record import RunRecord
from sim.core.regions import NATIONAL, Regions
from sim.core.schema import TIERS, RunConfig
from sim.run.executors import make_executor

FLOW_COLUMNS = record.FLOWS


def run_replicate(config: RunConfig, replicate: int) -> RunRecord:
    """Build the model for one replicate and run it to the horizon; with a posterior
    (``config.calibration``) the replicate first draws its parameter set from it."""
    return simulate(config_for_replicate(config, replicate), replicate)


def iter_replicates(config: RunConfig, replicates: list[int], n_jobs: int = 1) -> Iterator[tuple[int, RunRecord]]:
    """Yield (replicate, record) in replicate order, on ``config.executor`` (serial; joblib
    with ``n_jobs`` local workers, serial when that is 1; or a Dask cluster)."""
    with make_executor(config.executor, n_jobs, len(replicates)) as ex:
        yield from zip(replicates, ex.imap(run_replicate, [(config, r) for r in replicates]))


def run_ensemble(config: RunConfig, n_replicates: int | None = None, n_jobs: int | None = None,
                 progress: str | None = None) -> list[RunRecord]:
    """All replicates of ``config`` (counts in real units), with an optional progress bar."""
    n = config.n_replicates if n_replicates is None else n_replicates
    jobs = config.n_jobs if n_jobs is None else n_jobs
    mode = config.progress if progress is None else progress
    show = mode == "on" or (mode == "auto" and sys.stderr.isatty())
    it = iter_replicates(config, list(range(n)), jobs)
    if show:
        from tqdm import tqdm

        it = tqdm(it, total=n, desc=f"{config.scenario.name}/{config.policy.name}", unit="rep", file=sys.stderr)
    return [rec for _, rec in it]


def view_area(config: RunConfig) -> str:
    """The area a view's own counts cover: its one province's (or the scenario's) name, or
    ``national`` for a view of several provinces (sim/core/regions.py)."""
    provinces = Regions.of(config.scenario).province_names
    return provinces[0] if len(provinces) == 1 else NATIONAL


def trajectories(config: RunConfig, records: list[RunRecord], areas: bool = False) -> pd.DataFrame:
    """Tidy table: one row per (scenario, policy, region, replicate, date, tier); ``region`` is
    the view's area (:func:`view_area`).  ``areas``: then, in a view of several regions, the
    same rows for each of its areas (regions and provinces, ``RunRecord.area``); the view's
    rows are their sums."""
    out = _trajectories(config, records, view_area(config))
    if areas and len(records[0].regions) > 1:
        parts = [_trajectories(config, [r.area(a) for r in records], a) for a in records[0].areas]
        out = pd.concat([out, *parts], ignore_index=True)
    return out


def _trajectories(config: RunConfig, records: list[RunRecord], region: str) -> pd.DataFrame:
    dates = records[0].dates
    T, K, R = len(dates), len(TIERS), len(records)
    s = record.stack(records)
    stock, flows = s.stock, s.flows                         # (R, T, K), (R, T, K, 4)
    w0 = month_index(config.scenario.window_start) - month_index(dates[0])
    cum = record.series(s, "cumulative_new", w0)  # recognitions, re-recognitions included (as batch lists count)
    firms = np.concatenate([record.new_firms(s, tier, w0) for tier in TIERS], axis=-1)  # (R, T, K) distinct new firms
    df = pd.DataFrame({
        "scenario": config.scenario.name,
        "policy": config.policy.name,
        "region": region,
        "replicate": np.repeat(np.arange(R), T * K).astype(np.int32),
        "date": np.tile(np.repeat(np.asarray(dates), K), R),
        "tier": np.tile(np.asarray(TIERS), R * T),
        "stock": stock.reshape(-1),
        **{c: flows[..., i].reshape(-1) for i, c in enumerate(FLOW_COLUMNS)},
        "cumulative_new": cum.reshape(-1),
        "new_firms": firms.reshape(-1),
    })
    return df[df["tier"].isin(tiers.enabled_tiers(config))].reset_index(drop=True)


def target_counts(config: RunConfig, records: list[RunRecord]) -> pd.DataFrame:
    """Tidy table of the targets' counts (``sim.core.record.target_count``: a target's metric
    over its tiers in its ``count`` unit), one row per (scenario, policy, replicate, date,
    target) — what target tables and fan charts compare with the thresholds."""
    dates = records[0].dates
    T, R = len(dates), len(records)
    w0 = month_index(config.scenario.window_start) - month_index(dates[0])
    s = record.stack(records)
    parts = [pd.DataFrame({
        "scenario": config.scenario.name,
        "policy": config.policy.name,
        "replicate": np.repeat(np.arange(R), T).astype(np.int32),
        "date": np.tile(np.asarray(dates), R),
        "target": t.name,
        "count": record.target_count(records if t.region else s, t, w0).reshape(-1),
    }) for t in config.scenario.targets]
    cols = ["scenario", "policy", "replicate", "date", "target", "count"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


BATCH_COLUMNS = ["scenario", "policy", "replicate", "date", "tier", "region", "applicants", "pool", "eligible", "capacity", "recognised",
                 "rereviewed", "revoked", "failed", "lapsed", "bound"]


def batches(config: RunConfig, records: list[RunRecord]) -> pd.DataFrame:
    """One row per (replicate, batch date, tier, region): the region is the area the batch
    covers (the view's, ``national`` in a view of several provinces, or a province's part of
    MIIT's batch there; national totals are the sums over a date's rows); applicants, the pool on criteria alone,
    eligible applicants, capacity, recognised; re-reviewed (passed), revoked = failed +
    lapsed (firms, real units); and which bound the batch hit."""
    rows = [{"scenario": config.scenario.name, "policy": config.policy.name, "replicate": i, **b}
            for i, rec in enumerate(records) for b in rec.batches]
    return pd.DataFrame(rows, columns=BATCH_COLUMNS)


def rules(config: RunConfig, records: list[RunRecord]) -> pd.DataFrame:
    """Each replicate's batch-size rule (``RunRecord.government``; sim/core/government.py):
    one row per (scenario, policy, replicate)."""
    return pd.DataFrame({"scenario": config.scenario.name, "policy": config.policy.name,
                         "replicate": np.arange(len(records), dtype=np.int32),
                         "rule": [r.government.get("rule", config.government.rule) for r in records]})


def fiscal_cost(config: RunConfig, records: list[RunRecord]) -> dict[str, dict[str, float]]:
    """Mean fiscal cost per lever over replicates: total M CNY over the run, the years the
    lever is active within the run, and M CNY per active year (0 for an inactive lever)."""
    run0, run1 = month_index(config.scenario.start), month_index(config.scenario.horizon)
    out = {}
    for name, lever in config.policy.levers().items():
        tot = float(np.mean([r.cost[name] for r in records]))
        months = max(0, min(run1, month_index(lever.end)) - max(run0, month_index(lever.start)) + 1) if lever.intensity > 0 else 0
        out[name] = {"total_m_cny": tot, "active_years": months / 12.0, "per_year_m_cny": tot / (months / 12.0) if months else 0.0}
    return out
