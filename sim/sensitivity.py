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
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from .config import ConfigError, RunConfig, build, p

from . import keys, sweep

COLUMNS = ["analysis", "output", "factor", "index", "estimate", "ci_low", "ci_high", "low", "high", "n_base",
           "replicates_per_point", "runs", "output_mean", "output_var", "note"]


@dataclass
class Factor:
    """One uncertain input: a numeric config key and the range it is sampled over (uniform)."""

    path: str = p("", "dotted config key of a number (policy.financing.intensity, params.growth.drift, "
                      "params.recognition.apply_prob.little_giant)", "configs/sensitivity/*.yaml")
    low: float = p(0.0, "lower bound, in the key's unit", "configs/sensitivity/*.yaml", range=(-1e9, 1e9))
    high: float = p(1.0, "upper bound, in the key's unit", "configs/sensitivity/*.yaml", range=(-1e9, 1e9))
    source: str = p("", "why this range", "configs/sensitivity/*.yaml")


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
    """A copy of ``cfg`` with the dotted float keys set, validated (``sim.keys.with_values``):
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


# --------------------------------------------------------------------------- design
def design(factors: list[Factor], n_base: int, seed: int) -> pd.DataFrame:
    """The (d + 2)·N Saltelli points: columns ``sample`` (0..), ``block`` ('A', 'B', or the
    factor whose column AB_i takes from B), ``row`` (0..N-1) and one column per factor path."""
    d = len(factors)
    u = qmc.Sobol(d=2 * d, scramble=True, rng=np.random.default_rng(seed), bits=64).random(n_base)
    lo = np.array([f.low for f in factors])
    hi = np.array([f.high for f in factors])
    A, B = lo + (hi - lo) * u[:, :d], lo + (hi - lo) * u[:, d:]
    blocks, mats = ["A", "B"], [A, B]
    for i, f in enumerate(factors):
        ab = A.copy()
        ab[:, i] = B[:, i]
        blocks.append(f.path)
        mats.append(ab)
    x = np.concatenate(mats)
    out = pd.DataFrame(x, columns=[f.path for f in factors])
    out.insert(0, "row", np.tile(np.arange(n_base), d + 2))
    out.insert(0, "block", np.repeat(blocks, n_base))
    out.insert(0, "sample", np.arange(len(out)))
    return out


def assemble(points: pd.DataFrame, values: np.ndarray, factors: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f_A (N,), f_B (N,), f_AB (d, N) of one output from its value per design point (in the
    order of ``points``)."""
    v = pd.Series(np.asarray(values, float), index=[points["block"].to_numpy(), points["row"].to_numpy()])
    f_a, f_b = v.loc["A"].sort_index().to_numpy(), v.loc["B"].sort_index().to_numpy()
    f_ab = np.stack([v.loc[f].sort_index().to_numpy() for f in factors])
    return f_a, f_b, f_ab


# --------------------------------------------------------------------------- indices
def saltelli_jansen(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order (Saltelli 2010) and total (Jansen 1999) indices, as scipy computes them:
    outputs centred on the mean of A and B, variance over A and B together."""
    mean = np.mean([f_a, f_b])
    a, b, ab = f_a - mean, f_b - mean, f_ab - mean
    var = np.var([a, b])
    s1 = np.mean(b * (ab - a), axis=-1) / var
    st = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
    return s1, st


def indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, factors: list[str], n_bootstrap: int = 999,
            confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Sobol indices of one output with BCa bootstrap intervals over the N base rows: rows
    (factor, index in {first, total}, estimate, ci_low, ci_high, note).  A constant output
    has no variance to apportion: NaN with note 'constant output'."""
    n = len(f_a)
    rows = []
    if np.var(np.concatenate([f_a, f_b])) == 0:
        for f in factors:
            rows += [{"factor": f, "index": k, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                      "note": "constant output"} for k in ("first", "total")]
        return pd.DataFrame(rows)
    res = stats.sobol_indices(func={"f_A": f_a[None, :], "f_B": f_b[None, :], "f_AB": f_ab[:, None, :]}, n=n)
    s1, st = np.atleast_1d(res.first_order), np.atleast_1d(res.total_order)

    def statistic(idx: np.ndarray) -> np.ndarray:
        a, b = saltelli_jansen(f_a[idx], f_b[idx], f_ab[:, idx])
        return np.concatenate([a, b])

    with warnings.catch_warnings():  # BCa is undefined for a factor without effect (handled below)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        boot = stats.bootstrap((np.arange(n),), statistic, method="BCa", n_resamples=n_bootstrap,
                               confidence_level=confidence, vectorized=False, rng=np.random.default_rng(seed))
    lo, hi = boot.confidence_interval.low.copy(), boot.confidence_interval.high.copy()
    d = len(factors)
    # a factor that changes the output at no point has both indices exactly 0 in every resample
    inert = np.all(f_ab == f_a[None, :], axis=1)
    for i, f in enumerate(factors):
        note = "no effect at any design point" if inert[i] else ""
        if inert[i]:
            lo[i] = hi[i] = lo[d + i] = hi[d + i] = 0.0
        rows.append({"factor": f, "index": "first", "estimate": float(s1[i]), "ci_low": float(lo[i]),
                     "ci_high": float(hi[i]), "note": note})
        rows.append({"factor": f, "index": "total", "estimate": float(st[i]), "ci_low": float(lo[d + i]),
                     "ci_high": float(hi[d + i]), "note": note})
    return pd.DataFrame(rows)


def point_outputs(table: pd.DataFrame, targets: list[str], replicates_per_point: int) -> pd.DataFrame:
    """Per design point (``sample``): the mean count of each target over the point's
    replicates and, with more than one replicate, the share reaching it (``p__<target>``)."""
    cols = {f"count__{t}": "mean" for t in targets}
    if replicates_per_point > 1:
        cols.update({f"reached__{t}": "mean" for t in targets})
    out = table.groupby("sample").agg(cols).sort_index()
    return out.rename(columns={f"reached__{t}": f"p__{t}" for t in targets})


def analyse(points: pd.DataFrame, outputs: pd.DataFrame, factors: list[Factor], n_bootstrap: int = 999,
            confidence: float = 0.95, seed: int = 0, analysis: str = "") -> pd.DataFrame:
    """The sobol table (:data:`COLUMNS`) of every output column of ``outputs`` (indexed by
    ``sample``) over the design ``points``."""
    names = [f.path for f in factors]
    bounds = {f.path: (f.low, f.high) for f in factors}
    n = int(points["row"].max()) + 1
    parts = []
    for j, col in enumerate(outputs.columns):
        vals = outputs[col].reindex(points["sample"]).to_numpy(float)
        if np.isnan(vals).any():
            raise ValueError(f"output {col}: {int(np.isnan(vals).sum())} design points have no result")
        f_a, f_b, f_ab = assemble(points, vals, names)
        t = indices(f_a, f_b, f_ab, names, n_bootstrap, confidence, seed + j)
        allv = np.concatenate([f_a, f_b])
        t.insert(0, "output", col)
        t.insert(0, "analysis", analysis)
        t["low"] = [bounds[f][0] for f in t["factor"]]
        t["high"] = [bounds[f][1] for f in t["factor"]]
        t["n_base"] = n
        t["output_mean"], t["output_var"] = float(allv.mean()), float(allv.var())
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)
    return out


def check(sobol: pd.DataFrame) -> dict[str, float | int | bool]:
    """Sanity of the estimates: the lowest interval bound and estimate, and how many indices
    are meaningfully negative (the whole interval below 0)."""
    s = sobol.dropna(subset=["estimate"])
    return {"min_ci_low": float(s["ci_low"].min()) if len(s) else float("nan"),
            "min_estimate": float(s["estimate"].min()) if len(s) else float("nan"),
            "n_meaningfully_negative": int((s["ci_high"] < 0).sum()),
            "n_indices": int(len(s)),
            "n_constant_outputs": int(sobol.loc[sobol["note"] == "constant output", "output"].nunique())}


# --------------------------------------------------------------------------- pipeline
def run_sobol(base: RunConfig, spec: dict, opts: SobolOptions, out_dir, plots: bool = True,
              executor: str | None = None, address: str | None = None) -> pd.DataFrame:
    """Design -> sweep -> indices.  Writes into ``out_dir``: ``design.parquet`` (the points),
    ``points.parquet`` (outputs per point), ``sobol.csv`` (:data:`COLUMNS`), ``tornado.png/.svg``
    and ``summary.json``; the sweep's files go to ``out_dir/runs``.  Returns the sobol table."""
    import time
    from pathlib import Path

    from . import results
    from .forecast import _git_commit, _versions

    factors = check_factors(base, spec)
    targets = opts.outputs or [t.name for t in base.scenario.targets]
    pts = design(factors, opts.n_base, opts.design_seed)
    R = opts.replicates_per_point
    base_r = dataclasses.replace(base, n_replicates=R)
    from .calibration import keep_factors

    base_r = keep_factors(base_r, [f.path for f in factors])  # a factor the posterior draws turns the posterior off
    jobs = [({"sample": int(s), **{f.path: float(x[f.path]) for f in factors}},
             apply(base_r, {f.path: float(x[f.path]) for f in factors}))
            for s, x in zip(pts["sample"], pts.to_dict(orient="records"))]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results.write_parquet(pts, out / "design.parquet")
    t0 = time.perf_counter()
    table = sweep.run_sweep(jobs, out / "runs", executor=executor or base.executor.name,
                            address=address or base.executor.address or None, n_jobs=base.n_jobs)
    t_run = time.perf_counter() - t0
    outputs = point_outputs(table, targets, R)
    results.write_parquet(pts.merge(outputs, left_on="sample", right_index=True), out / "points.parquet")
    name = build(SensitivitySpec, spec, "sensitivity").name
    sob = analyse(pts, outputs, factors, opts.n_bootstrap, opts.confidence, opts.design_seed, analysis=name)
    sob["replicates_per_point"] = R
    sob["runs"] = len(pts) * R
    sob = sob[COLUMNS]
    results.write_csv(sob, out / "sobol.csv")
    figures: list[str] = []
    if plots:
        from .analysis_plots import tornado

        figures = [str(x) for x in tornado(pd.read_csv(out / "sobol.csv", keep_default_na=True).fillna({"note": ""}),
                                           out / "tornado")]
    results.write_json({
        "scenario": base.scenario.name, "policy": base.policy.name, "analysis": name, "seed": base.seed,
        "scale": base.scenario.scale, "factors": [dataclasses.asdict(f) for f in factors], "n_base": opts.n_base,
        "replicates_per_point": R, "runs": len(pts) * R, "design_seed": opts.design_seed,
        "timings_s": {"runs": round(t_run, 3), "per_run": round(t_run / max(1, len(pts) * R), 4),
                      "total": round(time.perf_counter() - t0, 3)},
        "check": check(sob), "figures": figures, "versions": _versions(), "git_commit": _git_commit(),
    }, out / "summary.json")
    return sob
