"""Sobol indices (Saltelli design, Jansen estimators, seeded BCa bootstrap intervals): tables in,
tables out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from sim.core.declare import p

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
