"""Global sensitivity: first-order and total Sobol indices of the deadline outcomes.

Design (Saltelli et al. 2010): a scrambled Sobol sequence in 2d dimensions, seeded
(``design_seed``), gives two N x d matrices A and B of factor values (uniform over each
factor's declared range); AB_i is A with column i taken from B.  The model is run at the
(d + 2)·N points A, B, AB_1..AB_d — jobs of the sweep engine (``sweep.run_sweep``), each
``replicates_per_point`` replicates.

Common random numbers across points: every point runs replicates 0..R-1 of the same seed
(``seed``), so two points differ only through the factors, not through the noise.  With one
replicate a point the indices describe the model for that noise realisation (the
conditional sensitivity); more replicates average the noise out of the outputs.

Outputs per point: for every target the mean over the point's replicates of the count at the
deadline (``count__<target>``, firms) and, when ``replicates_per_point`` > 1, the share of
replicates reaching it (``p__<target>``: P(reached) at that point).  Cost: (d + 2)·N·R model
runs.

Indices: ``scipy.stats.sobol_indices`` on the precomputed outputs (Saltelli 2010 first
order, Jansen total order); intervals by a seeded BCa bootstrap over the N base rows — the
same statistic and method as ``SobolResult.bootstrap``, which itself takes no seed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.analysis.sobol import COLUMNS, Factor, analyse, check, design, point_outputs
from sim.config import keys
from sim.config.posterior import keep_factors
from sim.config.validate import build
from sim.core.declare import p
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines import folders
from sim.pipelines.provenance import _git_commit, _versions
from sim.run import atomic, sweep


@dataclass
class SensitivitySpec:
    """A set of factors (a config group ``configs/sensitivity/``)."""
    name: str = p("levers", "id", "configs/sensitivity/")
    label: str = p("", "text", "configs/sensitivity/")
    factors: list = p([], "Factor list: {path, low, high, source}", "configs/sensitivity/*.yaml")


@dataclass
class SobolOptions:
    """The keys ``experiments/sensitivity.py`` adds to a run configuration."""
    sensitivity: SensitivitySpec = field(default_factory=SensitivitySpec)
    n_base: int = p(512, "base samples N (a power of 2); model runs = (d + 2)·N·replicates_per_point",
                    "issue 5: at least 512 so that no index is meaningfully negative", range=(8, 2**20))
    replicates_per_point: int = p(1, "replicates per design point (replicates 0..R-1 of seed at every point)",
                                  "issue 5: one a point; > 1 adds P(reached) outputs at R times the cost", range=(1, 10_000))
    n_bootstrap: int = p(999, "bootstrap resamples for the intervals", "scipy default", range=(99, 100_000))
    confidence: float = p(0.95, "confidence level of the bootstrap intervals", "convention", range=(0.5, 0.999))
    design_seed: int = p(20251231, "seed of the scrambled Sobol design and of the bootstrap", "run knob", range=(0, 2**63 - 1))
    outputs: list = p([], "target names analysed ([] = every target of the scenario)", "run knob")


@dataclass
class SobolRun(RunConfig, SobolOptions):
    """RunConfig plus the sensitivity keys: the Hydra schema of ``configs/sobol.yaml``."""


OPTION_KEYS = tuple(f.name for f in dataclasses.fields(SobolOptions))


# --------------------------------------------------------------------------- config
def _factor_key(cfg: RunConfig, path: str) -> None:
    """``path`` is a float key of ``cfg`` (an entry of a free-form mapping: a number in
    ``cfg``); ConfigError (one line) otherwise."""
    typ = keys.leaf(path).type
    if typ is None:
        value = keys.get(cfg, path)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{path}: {value!r} is not allowed as a factor (allowed: a number)")
    elif typ is not float:
        name = typ.__name__ if isinstance(typ, type) else str(typ)
        raise ConfigError(f"{path}: {name} key is not allowed as a factor (allowed: a float key)")


def apply(cfg: RunConfig, values: dict[str, float]) -> RunConfig:
    """A copy of ``cfg`` with the dotted float keys set, validated (``sim.config.keys.with_values``):
    a value outside a key's declared range fails with one line."""
    for path in values:
        _factor_key(cfg, path)
    return keys.with_values(cfg, {path: float(v) for path, v in values.items()})


def check_factors(base: RunConfig, spec: dict) -> list[Factor]:
    """Factors of a sensitivity spec, each a float key of ``base`` with low < high and both
    bounds inside the key's declared range (the config validator is run at both corners)."""
    s = build(SensitivitySpec, spec, "sensitivity")
    if not isinstance(s.factors, list) or not s.factors:
        raise ConfigError(f"sensitivity.factors: {s.factors!r} is not allowed (allowed: a non-empty list of {{path, low, high}})")
    factors = [build(Factor, f, f"sensitivity.factors[{i}]") for i, f in enumerate(s.factors)]
    seen = set()
    for i, f in enumerate(factors):
        _factor_key(base, f.path)
        if f.path in seen:
            raise ConfigError(f"sensitivity.factors[{i}].path: {f.path!r} is not allowed (allowed: each key once)")
        seen.add(f.path)
        if not f.low < f.high:
            raise ConfigError(f"sensitivity.factors[{i}].high: {f.high!r} is not allowed (allowed: above low {f.low!r})")
    for corner in ("low", "high"):
        apply(base, {f.path: getattr(f, corner) for f in factors})
    return factors


def check_options(data: dict, available_targets: list[str]) -> SobolOptions:
    """The sensitivity keys other than the spec (checked by :func:`check_factors`)."""
    opts = build(SobolOptions, {k: v for k, v in data.items() if k != "sensitivity"}, "")
    n = opts.n_base
    if n & (n - 1):
        raise ConfigError(f"n_base: {n!r} is not allowed (allowed: a power of 2, e.g. 512, 1024)")
    for name in opts.outputs:
        if name not in available_targets:
            raise ConfigError(f"outputs: {name!r} is not allowed (allowed: {', '.join(available_targets)})")
    return opts


# --------------------------------------------------------------------------- pipeline
def run_sobol(base: RunConfig, spec: dict, opts: SobolOptions, out_dir: str | Path | folders.RunFolder, plots: bool = True,
              executor: str | None = None, address: str | None = None) -> pd.DataFrame:
    """Design -> sweep -> indices.  Writes into ``out_dir``: ``design.parquet`` (the points),
    ``points.parquet`` (outputs per point), ``sobol.csv`` (:data:`COLUMNS`), ``tornado.png/.svg``
    and ``summary.json``; the sweep's job files go to ``out_dir/runs``.  Returns the sobol table
    (``.attrs["summary"]``: the summary written).  A path ``out_dir`` must be new or empty; it
    appears, complete, when the run ends (:mod:`sim.pipelines.folders`)."""
    factors = check_factors(base, spec)  # bad factors fail before any folder is reserved
    with folders.run_folder(out_dir) as folder:
        return _run_sobol(base, spec, opts, folder, factors, plots, executor, address)


def _run_sobol(base: RunConfig, spec: dict, opts: SobolOptions, folder: folders.RunFolder, factors: list[Factor],
               plots: bool, executor: str | None, address: str | None) -> pd.DataFrame:
    targets = opts.outputs or [t.name for t in base.scenario.targets]
    pts = design(factors, opts.n_base, opts.design_seed)
    R = opts.replicates_per_point
    base_r = dataclasses.replace(base, n_replicates=R)

    base_r = keep_factors(base_r, [f.path for f in factors])  # a factor the posterior draws turns the posterior off
    jobs = [({"sample": int(s), **{f.path: float(x[f.path]) for f in factors}},
             apply(base_r, {f.path: float(x[f.path]) for f in factors}))
            for s, x in zip(pts["sample"], pts.to_dict(orient="records"))]
    out = folder.path
    atomic.write_parquet(pts, out / "design.parquet")
    t0 = time.perf_counter()
    table = sweep.run_sweep(jobs, out / "runs", executor=executor or base.executor.name,
                            address=address or base.executor.address or None, n_jobs=base.n_jobs, aggregate=False)
    t_run = time.perf_counter() - t0
    outputs = point_outputs(table, targets, R)
    atomic.write_parquet(pts.merge(outputs, left_on="sample", right_index=True), out / "points.parquet")
    name = build(SensitivitySpec, spec, "sensitivity").name
    sob = analyse(pts, outputs, factors, opts.n_bootstrap, opts.confidence, opts.design_seed, analysis=name)
    sob["replicates_per_point"] = R
    sob["runs"] = len(pts) * R
    sob = sob[COLUMNS]
    atomic.write_csv(sob, out / "sobol.csv")
    figures: list[str] = []
    if plots:
        from sim.plots.charts import tornado

        figures = [str(folder.public(x)) for x in tornado(sob.fillna({"note": ""}), out / "tornado")]
    summary = {
        "scenario": base.scenario.name, "policy": base.policy.name, "analysis": name, "seed": base.seed,
        "scale": base.scenario.scale, "factors": [dataclasses.asdict(f) for f in factors], "n_base": opts.n_base,
        "replicates_per_point": R, "runs": len(pts) * R, "design_seed": opts.design_seed,
        "timings_s": {"runs": round(t_run, 3), "per_run": round(t_run / max(1, len(pts) * R), 4),
                      "total": round(time.perf_counter() - t0, 3)},
        "check": check(sob), "figures": figures, "versions": _versions(), "git_commit": _git_commit(),
    }
    atomic.write_json(summary, out / "summary.json")
    sob.attrs["summary"] = summary  # what summary.json holds, for the caller (no read-back)
    return sob
