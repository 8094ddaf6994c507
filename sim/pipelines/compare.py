"""Paired policy effects on common random numbers.

Every policy ("arm") runs the same replicates of the same seed: replicate ``r`` of every arm
uses ``SeedSequence(seed, spawn_key=(r,))`` and one child stream per process (see
``sim.model``), so the arms share firms, shocks and application draws wherever the policy
does not change them.  The effect of a policy is then estimated from the per-replicate
differences ``policy - reference``, whose variance is far below that of two independent
ensembles.

Statistics (per target, per policy against the reference arm, ``n`` paired replicates):

- ``diff_count``: mean paired difference of the metric at the deadline (firms, real units),
  95% paired-t interval ``mean ± t(0.975, n-1) · sd / sqrt(n)``;
- ``diff_p``: difference in P(reached), 95% interval by Newcombe's hybrid-score method for
  paired proportions (Newcombe 1998, Stat Med 17:2635, method 10), which uses the discordant
  pairs and stays inside [-1, 1] at the boundaries;
- ``diff_fiscal_m_cny``: mean paired difference of the total fiscal cost (M CNY over the run);
- ``variance_ratio``: ``(var(X) + var(Y)) / var(Y - X)`` — the variance of the difference of
  two independent runs (the unpaired design) over the variance of the paired difference, i.e.
  how many times more replicates an unpaired comparison needs for the same interval width
  (inf when the paired difference is constant and the arms are not; NaN when both arms are
  constant).  ``variance_ratio_p`` is the same for the reached indicator.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.analysis.paired import ARM, effects
from sim.config.compose import compose
from sim.config.validate import build
from sim.core.declare import p
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines import folders
from sim.pipelines.provenance import _git_commit, _versions
from sim.run import atomic, sweep


@dataclass
class CompareOptions:
    """The keys ``experiments/compare.py`` adds to a run configuration."""
    policies: list = p(["baseline", "financing_plus"], "policy names (configs/policy/); the first is the reference",
                       "run knob: at least two, distinct")
    confidence: float = p(0.95, "confidence level of the intervals", "convention", range=(0.5, 0.999))


@dataclass
class CompareRun(RunConfig, CompareOptions):
    """RunConfig plus the compare keys: the Hydra schema of ``configs/compare.yaml``."""


OPTION_KEYS = tuple(f.name for f in dataclasses.fields(CompareOptions))


def check_options(data: dict, available: list[str]) -> CompareOptions:
    """Validate the compare keys (one-line ConfigError naming the field and what is allowed)."""
    opts = build(CompareOptions, data, "")
    pols = opts.policies
    if not isinstance(pols, list) or len(pols) < 2 or not all(isinstance(x, str) for x in pols):
        raise ConfigError(f"policies: {pols!r} is not allowed (allowed: a list of at least two of {', '.join(available)})")
    for name in pols:
        if name not in available:
            raise ConfigError(f"policies: {name!r} is not allowed (allowed: {', '.join(available)})")
    if len(set(pols)) != len(pols):
        raise ConfigError(f"policies: {pols!r} is not allowed (allowed: distinct names)")
    return opts


def run_arms(arms: dict[str, RunConfig], out_dir, n_jobs: int = -1, executor: str | None = None,
             address: str | None = None) -> pd.DataFrame:
    """Run every arm (label -> config) through the sweep engine; all arms must share the seed
    and the number of replicates (the pairing).  Returns the outcomes table with an ``arm`` column."""
    seeds = {c.seed for c in arms.values()}
    reps = {c.n_replicates for c in arms.values()}
    if len(seeds) != 1 or len(reps) != 1:
        raise ValueError(f"paired arms need one seed and one replicate count (seeds {sorted(seeds)}, replicates {sorted(reps)})")
    jobs = [({ARM: label}, cfg) for label, cfg in arms.items()]
    ex = next(iter(arms.values())).executor  # default: the configs' executor (executor=dask executor.address=...)
    # the job files (for resume) are the only copy the sweep writes: the caller writes the table once
    return sweep.run_sweep(jobs, out_dir, executor=executor or ex.name, address=address or ex.address or None, n_jobs=n_jobs,
                           aggregate=False)


def compose_arms(scenario: str | None, policies: list[str], overrides: list[str] | tuple[str, ...] = ()) -> dict[str, RunConfig]:
    """One validated config per named policy, the same overrides (seed, scale, ...) for all."""
    return {name: compose(scenario, name, list(overrides)) for name in policies}


def compare(arms: dict[str, RunConfig], out_dir: str | Path | folders.RunFolder, reference: str | None = None,
            confidence: float = 0.95, plots: bool = True) -> pd.DataFrame:
    """Run the arms on common random numbers and write into ``out_dir``: ``compare.csv`` (the
    effects table, :data:`COLUMNS`), ``outcomes.parquet`` (one row per arm and replicate),
    ``effects.png/.svg`` and ``summary.json``; the sweep's own files go to ``out_dir/runs``.
    ``reference`` defaults to the first arm.  Returns the effects table.  A path ``out_dir``
    must be new or empty; it appears, complete, when the run ends (:mod:`sim.pipelines.folders`)."""
    with folders.run_folder(out_dir) as folder:
        return _compare(arms, folder, reference or next(iter(arms)), confidence, plots)


def _compare(arms: dict[str, RunConfig], folder: folders.RunFolder, reference: str, confidence: float,
             plots: bool) -> pd.DataFrame:
    first = arms[reference]
    out = folder.path
    t0 = time.perf_counter()
    table = run_arms(arms, out / "runs", n_jobs=first.n_jobs)
    t_run = time.perf_counter() - t0
    eff = effects(table, reference, confidence)
    atomic.write_parquet(table, out / "outcomes.parquet")
    atomic.write_csv(eff, out / "compare.csv")
    figures: list[str] = []
    if plots:
        from sim.plots.charts import effects_chart

        figures = [str(folder.public(x)) for x in effects_chart(eff, out / "effects",
                                                                  title=f"{first.scenario.label}: paired effects against {reference}, "
                                                                        f"{confidence:.0%} intervals (n = {first.n_replicates})")]
    atomic.write_json({
        "scenario": first.scenario.name, "reference": reference, "arms": list(arms), "seed": first.seed,
        "n_replicates": first.n_replicates, "scale": first.scenario.scale, "confidence": confidence,
        "timings_s": {"runs": round(t_run, 3), "total": round(time.perf_counter() - t0, 3)},
        "runs": len(arms) * first.n_replicates, "figures": figures, "versions": _versions(), "git_commit": _git_commit(),
        "policy_per_arm": {k: dataclasses.asdict(c.policy) for k, c in arms.items()},
    }, out / "summary.json")
    return eff
