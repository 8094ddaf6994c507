"""Paired policy effects on common random numbers: differences of counts and of P(reached)
with paired intervals (t; Newcombe for proportions), variance ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

ARM = "arm"
COLUMNS = ["scenario", "policy", "baseline", "target", "diff_count", "ci_low", "ci_high", "diff_p", "p_ci_low",
           "p_ci_high", "diff_fiscal_m_cny", "variance_ratio", "n",
           # context: the two arms' means, the spread of the paired difference, the discordant pairs
           "count_baseline", "count_policy", "p_baseline", "p_policy", "sd_diff", "variance_ratio_p",
           "n_gained", "n_lost", "fiscal_baseline_m_cny", "fiscal_policy_m_cny"]


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
