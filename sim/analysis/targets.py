"""Target reachability: P(target met by its deadline) across replicates, plus diagnostics.

A target's count is :func:`sim.core.record.target_count` (its metric over its tiers in its
``count`` unit), given as the tidy ``counts`` table of :func:`sim.run.ensemble.target_counts`.
Without it the count is summed from the per-tier trajectories, which hold titles and
recognitions only: allowed for stock targets and ``count: recognitions`` (a target counting
distinct new firms needs ``counts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.tables import sum_tiers
from sim.core.record import target_unit

PUBLISHED_RECORD_END = "2021-12"
KEYS = ["scenario", "policy"]
REP = [*KEYS, "replicate"]
COLUMNS = [
    "scenario", "policy", "target", "label", "tiers", "metric", "threshold", "deadline", "illustrative",
    "n_replicates", "p_reached", "p_low", "p_high", "count_p50", "count_p05", "count_p95",
    "first_reached_p50", "share_ever_reached", "origin", "count_at_origin_p50", "losses_p50", "needed_per_year",
    "batches_bound", "rule",
]


def _month_index(dates: pd.Series | str) -> pd.Series | int:
    """'YYYY-MM' -> months since year 0 (vectorised for Series)."""
    if isinstance(dates, str):
        return int(dates[:4]) * 12 + int(dates[5:7]) - 1
    return dates.str[:4].astype(int) * 12 + dates.str[5:7].astype(int) - 1


def _month_str(idx: float) -> str:
    return f"{int(idx) // 12:04d}-{int(idx) % 12 + 1:02d}"


def _resolve_origin(dates: np.ndarray, origin: str | None) -> str:
    """Last simulated date <= end of the published record (else the first date), or validate ``origin``."""
    if origin is None:
        past = dates[dates <= PUBLISHED_RECORD_END]
        return str(past[-1] if len(past) else dates[0])
    if origin not in set(dates):
        raise ValueError(f"origin {origin} is not a simulated date (range {dates[0]}..{dates[-1]})")
    return origin


def _batches_bound(batches: pd.DataFrame | None, tiers: list[str], origin: str, deadline: str) -> pd.Series:
    """Per (scenario, policy): '; '-joined '{tier}@{date}:{bound} {share:.0%}' majority bound of each
    batch in (origin, deadline] for ``tiers`` (ties go to 'capacity')."""
    empty = pd.Series(dtype=object, name="batches_bound")
    if batches is None:
        return empty
    b = batches[batches["tier"].isin(tiers) & (batches["date"] > origin) & (batches["date"] <= deadline)]
    if b.empty:
        return empty
    cell = [*KEYS, "date", "tier"]
    s = b.groupby(cell)["bound"].value_counts(normalize=True).rename("share").reset_index()
    s = s.sort_values(["share", "bound"], ascending=[False, True], kind="stable").drop_duplicates(cell)
    s["_tier_rank"] = s["tier"].map({t: i for i, t in enumerate(tiers)})
    s = s.sort_values([*KEYS, "date", "_tier_rank"], kind="stable")
    s["entry"] = s["tier"] + "@" + s["date"] + ":" + s["bound"] + " " + s["share"].map("{:.0%}".format)
    return s.groupby(KEYS)["entry"].agg("; ".join).rename("batches_bound")


def target_series(traj: pd.DataFrame, t: dict[str, Any], counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (scenario, policy, replicate, date): the target's count, in a column named after its
    metric — from ``counts`` (:func:`sim.run.ensemble.target_counts`) when given, else summed
    over its tiers from ``traj`` (stock, or ``count: recognitions``; otherwise ValueError)."""
    col = t["metric"]
    if counts is not None:
        if t["name"] not in set(counts["target"]):
            raise ValueError(f"target {t['name']!r}: not in the counts table (has: {', '.join(map(str, counts['target'].unique()))})")
        s = counts.loc[counts["target"] == t["name"], [*REP, "date", "count"]].rename(columns={"count": col})
        return s.sort_values([*REP, "date"], kind="stable").reset_index(drop=True)
    if col == "cumulative_new" and target_unit(t) == "firms":
        raise ValueError(f"target {t['name']!r}: counts distinct new firms (count: firms), which the per-tier trajectories do not hold; "
                         "pass counts= (sim.run.ensemble.target_counts) or set count: recognitions")
    return sum_tiers(traj, t["tiers"])


def _one_target(traj: pd.DataFrame, t: dict[str, Any], origin: str, batches: pd.DataFrame | None,
                counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reachability rows (one per scenario x policy) for a single target."""
    col, thr, deadline = t["metric"], float(t["threshold"]), t["deadline"]
    s = target_series(traj, t, counts)
    at_dl = s.loc[s["date"] == deadline].set_index(REP)[col]
    at_or = s.loc[s["date"] == origin].set_index(REP)[col]
    first = _month_index(s.loc[s[col] >= thr, [*REP, "date"]].groupby(REP)["date"].min())

    g = at_dl.groupby(level=KEYS)
    n, k = g.size(), (at_dl >= thr).groupby(level=KEYS).sum()
    out = pd.DataFrame({"n_replicates": n, "p_reached": k / n})
    from scipy.stats import binomtest  # on use (start-up of replicate workers)

    ci = [binomtest(int(ki), int(ni)).proportion_ci(confidence_level=0.95, method="exact") for ki, ni in zip(k, n)]
    out["p_low"] = [c.low for c in ci]
    out["p_high"] = [c.high for c in ci]
    out["count_p50"], out["count_p05"], out["count_p95"] = (g.quantile(q) for q in (0.5, 0.05, 0.95))
    # 'lower' median: earliest month by which >= half of the reaching replicates had reached it
    fr = first.groupby(level=KEYS).quantile(0.5, interpolation="lower")
    out["first_reached_p50"] = fr.map(_month_str).reindex(out.index).astype(object).fillna("").astype(str)
    out["share_ever_reached"] = first.groupby(level=KEYS).size().reindex(out.index, fill_value=0) / n
    out["origin"] = origin
    out["count_at_origin_p50"] = at_or.groupby(level=KEYS).median().reindex(out.index)
    # a stock loses titles (re-review failures, lapses, exits) while it is built: the pace needed
    # replaces them; a count of new recognitions or firms never falls
    losses = pd.Series(0.0, index=out.index)
    if col == "stock" and {"revoked", "exited"} <= set(traj.columns):
        win = traj[traj["tier"].isin(list(t["tiers"])) & (traj["date"] > origin) & (traj["date"] <= deadline)]
        per_rep = win.groupby(REP)[["revoked", "exited"]].sum().sum(axis=1)
        losses = per_rep.groupby(level=KEYS).median().reindex(out.index).fillna(0.0)
    out["losses_p50"] = losses
    months = _month_index(deadline) - _month_index(origin)
    out["needed_per_year"] = (
        (thr - out["count_at_origin_p50"] + out["losses_p50"]).clip(lower=0) / (months / 12) if months > 0 else np.nan
    )
    out["batches_bound"] = _batches_bound(batches, list(t["tiers"]), origin, deadline).reindex(out.index).fillna("")
    meta = {
        "target": t["name"], "label": t["label"], "tiers": ";".join(t["tiers"]), "metric": col,
        "threshold": thr, "deadline": deadline, "illustrative": bool(t["illustrative"]),
    }
    return out.assign(**meta).reset_index()


def reachability_table(
    traj: pd.DataFrame,
    targets: Sequence[dict[str, Any]],
    batches: pd.DataFrame | None = None,
    origin: str | None = None,
    counts: pd.DataFrame | None = None,
    rules: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (scenario, policy, target): P(target's count at deadline >= threshold) with 95%
    Clopper-Pearson interval, count quantiles, first-reached median, pace needed from ``origin``,
    and which bound (capacity/pool) the batches in (origin, deadline] hit.  ``counts``: the
    targets' counts (:func:`sim.run.ensemble.target_counts`; see :func:`target_series`).
    ``rule`` is ``all`` (every replicate); with ``rules`` (scenario, policy, replicate, rule:
    each replicate's batch-size rule, :func:`sim.run.ensemble.rules`) the same rows follow for
    each rule drawn, over its replicates only."""
    out = _reachability(traj, targets, batches, origin, counts).assign(rule="all")
    if rules is None or rules.empty:
        return out
    parts = [out]
    for rule in sorted(rules["rule"].unique()):
        keep = rules.loc[rules["rule"] == rule, REP]

        def sub(df: pd.DataFrame | None, keep: pd.DataFrame = keep) -> pd.DataFrame | None:
            return None if df is None else df.merge(keep, on=REP, how="inner")
        parts.append(_reachability(sub(traj), targets, sub(batches), origin, sub(counts)).assign(rule=rule))
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _reachability(traj: pd.DataFrame, targets: Sequence[dict[str, Any]], batches: pd.DataFrame | None,
                  origin: str | None, counts: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of :func:`reachability_table` over the replicates in ``traj`` (rule column unset)."""
    dates = np.sort(traj["date"].unique())
    origin = _resolve_origin(dates, origin)
    simulated = set(dates)
    for t in targets:
        if t["metric"] not in ("stock", "cumulative_new"):
            raise ValueError(f"target {t['name']!r}: metric must be 'stock' or 'cumulative_new', got {t['metric']!r}")
        if target_unit(t) not in ("firms", "recognitions"):
            raise ValueError(f"target {t['name']!r}: count must be 'firms' or 'recognitions', got {target_unit(t)!r}")
        if t["deadline"] not in simulated:
            raise ValueError(
                f"target {t['name']!r}: deadline {t['deadline']} outside simulated range {dates[0]}..{dates[-1]}"
            )
    if not targets:
        return pd.DataFrame(columns=COLUMNS[:-1])
    parts = [_one_target(traj, t, origin, batches, counts).assign(_order=i) for i, t in enumerate(targets)]
    out = pd.concat(parts, ignore_index=True).sort_values([*KEYS, "_order"], kind="stable")
    return out[COLUMNS[:-1]].reset_index(drop=True)


def _fmt_num(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:,.0f}"


def format_reachability(df: pd.DataFrame, label_width: int = 44) -> str:
    """Fixed-width terminal table, one block per (scenario, policy), one line per target (the
    ``rule == 'all'`` rows: every replicate)."""
    if "rule" in df.columns:
        df = df[df["rule"] == "all"]
    if df.empty:
        return "(no targets)"
    head = ["target", "threshold", "deadline", "P(reached) [95% CI]", "count p50 [p05, p95]", "first (share)", "need/yr"]
    lines: list[str] = []
    for (scen, pol), block in df.groupby(KEYS, sort=False):
        rows = []
        for r in block.itertuples(index=False):
            marker = " (illustrative)" if r.illustrative else ""
            label = str(r.label)
            if len(label) + len(marker) > label_width:
                label = label[: label_width - len(marker) - 1] + "~"
            first = f"{r.first_reached_p50} ({r.share_ever_reached:.2f})" if r.first_reached_p50 else f"never ({r.share_ever_reached:.2f})"
            rows.append([
                label + marker, _fmt_num(r.threshold), r.deadline,
                f"{r.p_reached:.2f} [{r.p_low:.2f}, {r.p_high:.2f}]",
                f"{_fmt_num(r.count_p50)} [{_fmt_num(r.count_p05)}, {_fmt_num(r.count_p95)}]",
                first, _fmt_num(r.needed_per_year),
            ])
        widths = [max(len(c) for c in col) for col in zip(head, *rows)]
        fmt = lambda cells, widths=widths: "  ".join(  # noqa: E731
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()
        n = int(block["n_replicates"].iloc[0])
        lines += [f"== {scen} / {pol}  (origin {block['origin'].iloc[0]}, n={n})", fmt(head)]
        lines += [fmt(r) for r in rows]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


VARIANCE_COLUMNS = ["scenario", "policy", "target", "rule", "n_replicates", "weight", "count_mean", "count_sd", "share_of_variance"]


def variance_by_rule(traj: pd.DataFrame, targets: Sequence[dict[str, Any]], rules: pd.DataFrame,
                     counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """How much of each target's spread at its deadline comes from the batch-size rule (issue 13).

    By the law of total variance over the replicates (population variances, so it is exact):
    Var(Y) = sum_r w_r [(mean_r - mean)^2 + var_r].  One row per rule drawn with its weight
    w_r (share of replicates), mean, sd and ``share_of_variance`` = its term / Var(Y) (the
    rules' shares sum to 1), then a row ``rule = 'between'`` with Var(E[Y | rule]) / Var(Y):
    the share of the spread that is structural uncertainty about the rule.  NaN shares when
    the count does not vary."""
    rows = []
    for t in targets:
        s = target_series(traj, t, counts)
        at = s.loc[s["date"] == t["deadline"], [*REP, t["metric"]]].merge(rules, on=REP, how="inner")
        for (scen, pol), g in at.groupby(KEYS, sort=False):
            y = g[t["metric"]].to_numpy(float)
            mean, var = y.mean(), y.var()
            between = 0.0
            for rule, h in g.groupby("rule", sort=True):
                yr = h[t["metric"]].to_numpy(float)
                w = yr.size / y.size
                term = w * ((yr.mean() - mean) ** 2 + yr.var())
                between += w * (yr.mean() - mean) ** 2
                rows.append([scen, pol, t["name"], rule, yr.size, w, yr.mean(), yr.std(), term / var if var > 0 else np.nan])
            rows.append([scen, pol, t["name"], "between", y.size, 1.0, mean, np.sqrt(var), between / var if var > 0 else np.nan])
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS)
