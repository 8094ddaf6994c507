"""Figures of policy comparisons, sensitivity analyses and sweeps.

They read tables (``compare.csv``, ``sobol.csv``, a sweep's aggregated table) and draw; they
never run the model.  Each figure is saved as PNG (200 dpi) and SVG, atomically, and the
paths are returned.

- :func:`effects_chart`: paired policy effects with their intervals (from ``compare.csv``);
- :func:`tornado`: first-order and total Sobol indices with bootstrap intervals, one panel
  per output (from ``sobol.csv``);
- :func:`heatmap`: P(reached) (or the mean count) over two swept parameters (from a sweep's
  aggregated table).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.plots.fan import _atomic_savefig

DPI = 200
_BLUE, _ORANGE, _GREY = "#0072B2", "#E69F00", "#555555"
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")


def _save(fig: Figure, out_base: str | Path) -> list[Path]:
    base = Path(out_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    paths = []
    for fmt in ("png", "svg"):
        path = base.with_name(f"{base.name}.{fmt}")
        meta = {"Date": None} if fmt == "svg" else {"Software": None}  # no timestamps: same table, same bytes
        _atomic_savefig(fig, path, fmt, dpi=DPI, metadata=meta)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- paired effects
def effects_chart(table: pd.DataFrame, out_base: str | Path, title: str = "") -> list[Path]:
    """One row of panels per target: the paired difference in the count at the deadline (firms;
    each row its own scale) and in P(reached); one marker per policy with its interval."""
    targets = list(dict.fromkeys(table["target"]))
    policies = list(dict.fromkeys(table["policy"]))
    fig = Figure(figsize=(9.0, 0.9 + (0.35 + 0.3 * len(policies)) * len(targets)), layout="constrained")
    axes = fig.subplots(len(targets), 2, squeeze=False)
    y = np.arange(len(policies))[::-1].astype(float)
    for i, t in enumerate(targets):
        sub = table[table["target"] == t].set_index("policy").reindex(policies)
        for k, (mid, lo, hi) in enumerate((("diff_count", "ci_low", "ci_high"), ("diff_p", "p_ci_low", "p_ci_high"))):
            ax = axes[i, k]
            m, low, high = (sub[c].to_numpy(float) for c in (mid, lo, hi))
            for j in range(len(policies)):
                ax.errorbar(m[j], y[j], xerr=[[m[j] - low[j]], [high[j] - m[j]]], fmt="o", ms=4, capsize=3,
                            color=_PALETTE[j % len(_PALETTE)])
            ax.axvline(0, color=_GREY, lw=0.8, ls="--")
            ax.set_ylim(-0.6, len(policies) - 0.4)
            ax.grid(axis="x", alpha=0.3)
            ax.tick_params(labelsize=8)
            ax.set_yticks(y, [f"{p} − {sub['baseline'].iloc[0]}" for p in policies] if k == 0 else [], fontsize=8)
            if k == 1:
                ax.set_xlim(-1.05, 1.05)
            ax.set_title(t if k == 0 else f"{t}: P(reached)", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("difference in count at deadline (firms)", fontsize=9)
    axes[-1, 1].set_xlabel("difference in P(reached)", fontsize=9)
    n = int(table["n"].iloc[0]) if len(table) else 0
    fig.suptitle(title or f"Paired policy effects, 95% intervals (n = {n} paired replicates)", fontsize=10)
    return _save(fig, out_base)


# --------------------------------------------------------------------------- Sobol tornado
def tornado(sobol: pd.DataFrame, out_base: str | Path, outputs: list[str] | None = None, title: str = "") -> list[Path]:
    """Horizontal bars per factor, sorted by the total index: total (light) and first-order
    (dark) Sobol indices, whiskers their bootstrap intervals; one panel per output."""
    outs = outputs or list(dict.fromkeys(sobol["output"]))
    constant = [o for o in outs if sobol.loc[sobol["output"] == o, "estimate"].isna().all()]
    outs = [o for o in outs if o not in constant] or outs[:1]
    fig = Figure(figsize=(4.2 * len(outs), 1.4 + 0.42 * sobol["factor"].nunique()), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(outs), squeeze=False)[0])
    for ax, out in zip(axes, outs):
        sub = sobol[sobol["output"] == out]
        st = sub[sub["index"] == "total"].set_index("factor")
        s1 = sub[sub["index"] == "first"].set_index("factor").reindex(st.index)
        order = st["estimate"].fillna(-1).sort_values().index
        st, s1 = st.reindex(order), s1.reindex(order)
        y = np.arange(len(order))
        for frame, shift, colour, label in ((st, 0.18, _ORANGE, "total"), (s1, -0.18, _BLUE, "first order")):
            m = frame["estimate"].to_numpy(float)
            lo, hi = frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float)
            ax.barh(y + shift, m, height=0.36, color=colour, alpha=0.85, label=label)
            ax.errorbar(m, y + shift, xerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)], fmt="none",
                        ecolor="black", elinewidth=0.8, capsize=2)
        ax.axvline(0, color=_GREY, lw=0.8)
        ax.set_yticks(y, [f.split(".")[-2] if f.endswith(".intensity") else f.removeprefix("params.") for f in order],
                      fontsize=8)
        ax.set_xlabel("Sobol index (share of output variance)", fontsize=9)
        ax.set_title(out, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    n = int(sobol["n_base"].iloc[0]) if "n_base" in sobol and len(sobol) else 0
    note = f"\nconstant, not shown: {', '.join(constant)}" if constant else ""
    text = title or f"Sobol indices with 95% bootstrap intervals (N = {n} base samples){note}"
    fig.suptitle("\n".join(textwrap.fill(line, 45 * len(outs)) for line in text.split("\n")), fontsize=10)
    return _save(fig, out_base)


# --------------------------------------------------------------------------- sweep heatmap
MAX_LEVELS = 12  # more distinct values than this (an LHS or Sobol design): binned
BINS = 8


def heatmap_table(table: pd.DataFrame, x: str, y: str, target: str, value: str = "p") -> pd.DataFrame:
    """Mean over replicates of ``reached__<target>`` (value='p') or ``count__<target>``
    (value='count') per (y, x) cell: a y-by-x frame.  A parameter with more than
    ``MAX_LEVELS`` distinct values is cut into ``BINS`` equal-width bins labelled by their
    midpoints (the mean is then over the design points and replicates in the cell)."""
    target = target.split("__", 1)[1] if "__" in target else target
    col = f"{'reached' if value == 'p' else 'count'}__{target}"
    for c in (x, y, col):
        if c not in table.columns:
            avail = [k for k in table.columns if k.startswith(("reached__", "count__")) or "." in k]
            raise ValueError(f"column {c!r} not in the sweep table (available: {', '.join(avail)})")
    t = table[[x, y, col]].copy()
    for c in (x, y):  # a space-filling design has a value per point: bin it (bin midpoints label the cells)
        if t[c].nunique() > MAX_LEVELS:
            edges = np.linspace(t[c].min(), t[c].max(), BINS + 1)
            mids = np.round((edges[:-1] + edges[1:]) / 2, 3)
            t[c] = mids[np.clip(np.searchsorted(edges, t[c].to_numpy(), side="right") - 1, 0, BINS - 1)]
    return t.groupby([y, x])[col].mean().unstack(x).sort_index(ascending=False)


def heatmap(table: pd.DataFrame, x: str, y: str, target: str, out_base: str | Path, value: str = "p",
            title: str = "") -> list[Path]:
    """P(reached) (or the mean count) of ``target`` over the grid of two swept parameters,
    with the value written in each cell."""
    grid = heatmap_table(table, x, y, target, value)
    fig = Figure(figsize=(1.6 + 0.8 * grid.shape[1], 1.4 + 0.55 * grid.shape[0]), layout="constrained")
    ax = fig.subplots()
    kw = {"vmin": 0.0, "vmax": 1.0} if value == "p" else {}
    im = ax.imshow(grid.to_numpy(float), cmap="viridis", aspect="auto", **kw)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}" if value == "p" else f"{v:,.0f}", ha="center", va="center", fontsize=8,
                        color="white" if (v < 0.6 if value == "p" else v < np.nanmean(grid.to_numpy())) else "black")
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.columns], fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index], fontsize=8)
    ax.set_xlabel(x, fontsize=9)
    ax.set_ylabel(y, fontsize=9)
    t = target.split("__", 1)[-1]
    fig.colorbar(im, ax=ax, label="P(reached)" if value == "p" else "mean count at deadline")
    n = int(table.groupby([y, x]).size().min())
    what = f"P(reached): {t}" if value == "p" else f"mean count at deadline: {t}"
    ax.set_title(title or f"{what} (>= {n} replicates a cell)", fontsize=10)
    return _save(fig, out_base)


# --------------------------------------------------------------------------- batch curve
def batch_curve_chart(table: pd.DataFrame, out_base: str | Path, labels: dict[str, str] | None = None,
                      marks: dict[str, dict[str, float]] | None = None, title: str = "", footer: str = "") -> list[Path]:
    """P(target reached) against the batch recognised per year after the origin (from
    ``reachability_by_batch.csv``): one panel per target, the 95% interval as a band, with the
    pace needed from the origin and the last recorded batch marked (``marks[target]`` with keys
    ``need`` and ``last``, firms/yr)."""
    targets = list(dict.fromkeys(table["target"]))
    labels, marks = labels or {}, marks or {}
    cols = min(2, max(len(targets), 1))
    rows = -(-len(targets) // cols) if targets else 1
    fig = Figure(figsize=(4.6 * cols, 0.8 + 2.9 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, t in zip(axes, targets):
        sub = table[table["target"] == t].sort_values("batch_per_year")
        x = sub["batch_per_year"].to_numpy(float)
        ax.fill_between(x, sub["p_low"].to_numpy(float), sub["p_high"].to_numpy(float), color=_BLUE, alpha=0.2, lw=0,
                        label="95% interval")
        ax.plot(x, sub["p_reached"].to_numpy(float), "o-", color=_BLUE, ms=3.5, lw=1.4, label="P(reached)")
        m = marks.get(t, {})
        for key, style, text in (("need", "--", "need/yr from origin"), ("last", ":", "last recorded batch")):
            v = m.get(key)
            if v is not None and np.isfinite(v) and v > 0:
                ax.axvline(v, color=_ORANGE if key == "need" else _GREY, ls=style, lw=1.0, label=text)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.set_title(textwrap.fill(labels.get(t, t), 48), fontsize=9, loc="left")
        ax.set_xlabel("firms recognised per year after the origin", fontsize=8)
        ax.set_ylabel("P(target reached)", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(targets):]:
        ax.set_visible(False)
    fig.suptitle(title or "P(target | batch size per year)", fontsize=10)
    if footer:
        fig.supxlabel(footer, fontsize=7, color=_GREY)  # constrained layout keeps room for it
    return _save(fig, out_base)
