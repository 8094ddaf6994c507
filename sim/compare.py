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
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .config import ConfigError, RunConfig, build, p

from . import sweep

ARM = "arm"
COLUMNS = ["scenario", "policy", "baseline", "target", "diff_count", "ci_low", "ci_high", "diff_p", "p_ci_low",
           "p_ci_high", "diff_fiscal_m_cny", "variance_ratio", "n",
           # context: the two arms' means, the spread of the paired difference, the discordant pairs
           "count_baseline", "count_policy", "p_baseline", "p_policy", "sd_diff", "variance_ratio_p",
           "n_gained", "n_lost", "fiscal_baseline_m_cny", "fiscal_policy_m_cny"]


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


# --------------------------------------------------------------------------- statistics
def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    ph = k / n
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_proportion_ci(policy: np.ndarray, base: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference P(policy) - P(base) of paired binary outcomes and its Newcombe (1998,
    method 10) hybrid-score interval."""
    x, y = np.asarray(policy, bool), np.asarray(base, bool)
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2)
    e, f = int(np.sum(x & y)), int(np.sum(x & ~y))       # both reached; only the policy arm reached
    g, h = int(np.sum(~x & y)), int(np.sum(~x & ~y))     # only the reference reached; neither
    p1, p2 = (e + f) / n, (e + g) / n
    l1, u1 = wilson(e + f, n, z)
    l2, u2 = wilson(e + g, n, z)
    denom = (e + f) * (g + h) * (e + g) * (f + h)
    phi = (e * h - f * g) / np.sqrt(denom) if denom > 0 else 0.0
    d = p1 - p2
    lo = d - np.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = d + np.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return d, max(-1.0, lo), min(1.0, hi)


def paired_mean_ci(diff: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its t interval (a constant difference gives a zero-width one)."""
    d = np.asarray(diff, float)
    n, m = len(d), float(np.mean(d))
    if n < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(d, ddof=1) / np.sqrt(n)
    return m, m - half, m + half


def variance_ratio(x: np.ndarray, y: np.ndarray) -> float:
    """(var(x) + var(y)) / var(y - x): the unpaired over the paired variance of a difference."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    unpaired = np.var(x, ddof=1) + np.var(y, ddof=1)
    paired = np.var(y - x, ddof=1)
    if paired == 0:
        return float("inf") if unpaired > 0 else float("nan")
    return float(unpaired / paired)


# --------------------------------------------------------------------------- tables
def target_names(table: pd.DataFrame) -> list[str]:
    return [c.split("__", 1)[1] for c in table.columns if c.startswith("count__")]


def effects(table: pd.DataFrame, reference: str, confidence: float = 0.95, arm: str = ARM) -> pd.DataFrame:
    """Paired effects of every arm against ``reference`` from an outcomes table (one row per
    arm and replicate, the sweep's aggregated table).  Arms are paired on ``(seed, replicate)``;
    a replicate missing from either arm is dropped."""
    if reference not in set(table[arm]):
        raise ValueError(f"reference arm {reference!r} not in the table (arms: {sorted(set(table[arm]))})")
    key = ["seed", "replicate"]
    base = table[table[arm] == reference].set_index(key).sort_index()
    rows = []
    for name in dict.fromkeys(table[arm]):
        if name == reference:
            continue
        pol = table[table[arm] == name].set_index(key).sort_index()
        idx = base.index.intersection(pol.index)
        b, q = base.loc[idx], pol.loc[idx]
        fb, fq = b["fiscal_cost_m_cny"].to_numpy(float), q["fiscal_cost_m_cny"].to_numpy(float)
        for t in target_names(table):
            xc, yc = b[f"count__{t}"].to_numpy(float), q[f"count__{t}"].to_numpy(float)
            xr, yr = b[f"reached__{t}"].to_numpy(bool), q[f"reached__{t}"].to_numpy(bool)
            dc, lo, hi = paired_mean_ci(yc - xc, confidence)
            dp, plo, phi = paired_proportion_ci(yr, xr, confidence)
            rows.append({
                "scenario": q["scenario"].iloc[0], "policy": name, "baseline": reference, "target": t,
                "diff_count": dc, "ci_low": lo, "ci_high": hi, "diff_p": dp, "p_ci_low": plo, "p_ci_high": phi,
                "diff_fiscal_m_cny": float(np.mean(fq - fb)), "variance_ratio": variance_ratio(xc, yc), "n": len(idx),
                "count_baseline": float(xc.mean()), "count_policy": float(yc.mean()),
                "p_baseline": float(xr.mean()), "p_policy": float(yr.mean()),
                "sd_diff": float(np.std(yc - xc, ddof=1)) if len(idx) > 1 else float("nan"),
                "variance_ratio_p": variance_ratio(xr, yr), "n_gained": int(np.sum(yr & ~xr)),
                "n_lost": int(np.sum(~yr & xr)), "fiscal_baseline_m_cny": float(fb.mean()),
                "fiscal_policy_m_cny": float(fq.mean()),
            })
    return pd.DataFrame(rows, columns=COLUMNS)


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
    return sweep.run_sweep(jobs, out_dir, executor=executor or ex.name, address=address or ex.address or None, n_jobs=n_jobs)


def compose_arms(scenario: str | None, policies: list[str], overrides: list[str] | tuple[str, ...] = ()) -> dict[str, RunConfig]:
    """One validated config per named policy, the same overrides (seed, scale, ...) for all."""
    from .compose import compose

    return {name: compose(scenario, name, list(overrides)) for name in policies}


def compare(arms: dict[str, RunConfig], out_dir, reference: str | None = None, confidence: float = 0.95,
            plots: bool = True) -> pd.DataFrame:
    """Run the arms on common random numbers and write into ``out_dir``: ``compare.csv`` (the
    effects table, :data:`COLUMNS`), ``outcomes.parquet`` (one row per arm and replicate),
    ``effects.png/.svg`` and ``summary.json``; the sweep's own files go to ``out_dir/runs``.
    ``reference`` defaults to the first arm.  Returns the effects table."""
    import time
    from pathlib import Path

    from . import results
    from .forecast import _git_commit, _versions

    reference = reference or next(iter(arms))
    first = arms[reference]
    out = Path(out_dir)
    t0 = time.perf_counter()
    table = run_arms(arms, out / "runs", n_jobs=first.n_jobs)
    t_run = time.perf_counter() - t0
    eff = effects(table, reference, confidence)
    results.write_parquet(table, out / "outcomes.parquet")
    results.write_csv(eff, out / "compare.csv")
    figures: list[str] = []
    if plots:
        from .analysis_plots import effects_chart

        figures = [str(x) for x in effects_chart(pd.read_csv(out / "compare.csv"), out / "effects",
                                                   title=f"{first.scenario.label}: paired effects against {reference}, "
                                                         f"{confidence:.0%} intervals (n = {first.n_replicates})")]
    results.write_json({
        "scenario": first.scenario.name, "reference": reference, "arms": list(arms), "seed": first.seed,
        "n_replicates": first.n_replicates, "scale": first.scenario.scale, "confidence": confidence,
        "timings_s": {"runs": round(t_run, 3), "total": round(time.perf_counter() - t0, 3)},
        "runs": len(arms) * first.n_replicates, "figures": figures, "versions": _versions(), "git_commit": _git_commit(),
        "policy_per_arm": {k: dataclasses.asdict(c.policy) for k, c in arms.items()},
    }, out / "summary.json")
    return eff


def format_effects(eff: pd.DataFrame) -> str:
    """Terminal table: one block per policy, one line per target."""
    lines = []
    for pol, block in eff.groupby("policy", sort=False):
        lines.append(f"== {block['scenario'].iloc[0]}: {pol} - {block['baseline'].iloc[0]}  (n={int(block['n'].iloc[0])} paired "
                     f"replicates; fiscal cost {block['diff_fiscal_m_cny'].iloc[0]:+,.0f} M CNY)")
        head = ["target", "diff count [95% CI]", "diff P(reached) [95% CI]", "P base -> policy", "var ratio"]
        rows = [[r.target, f"{r.diff_count:+,.1f} [{r.ci_low:+,.1f}, {r.ci_high:+,.1f}]",
                 f"{r.diff_p:+.2f} [{r.p_ci_low:+.2f}, {r.p_ci_high:+.2f}]", f"{r.p_baseline:.2f} -> {r.p_policy:.2f}",
                 "n/a (both constant)" if np.isnan(r.variance_ratio) else f"{r.variance_ratio:.1f}"] for r in block.itertuples()]
        widths = [max(len(c) for c in col) for col in zip(head, *rows)]
        for cells in [head, *rows]:
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
        lines.append("")
    return "\n".join(lines).rstrip("\n")
