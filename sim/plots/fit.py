"""Fit and back-test figures: each calibrated series, observed points against the simulated
50% / 90% bands.  Reads a table (``fit.csv`` / ``backtest.csv`` rows); never runs the model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_BLUE, _ORANGE, _GREY = "#0072B2", "#D55E00", "#999999"


def fit_figure(table: pd.DataFrame, title: str, out_base: str | Path, split_year: int | None = None,
               naive: bool = False) -> list[Path]:
    """One panel per series: bands p05-p95 and p25-p75 and median per year (firms), the
    observation (a bar for an interval, a triangle for a lower bound); with ``split_year``
    a line after the last calibration year; with ``naive`` the two naive forecasts.
    Saves ``<out_base>.png`` and ``.svg``; returns their paths."""
    series = list(dict.fromkeys(table["series"]))
    n = max(1, len(series))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, name in enumerate(series):
        ax = fig.add_subplot(rows, cols, i + 1)
        d = table[table["series"] == name].sort_values("year")
        x = d["year"].to_numpy()
        if len(d) > 1:
            ax.fill_between(x, d["p05"], d["p95"], color=_BLUE, alpha=0.18, lw=0, label="90% band")
            ax.fill_between(x, d["p25"], d["p75"], color=_BLUE, alpha=0.35, lw=0, label="50% band")
        else:
            ax.vlines(x, d["p05"], d["p95"], color=_BLUE, alpha=0.3, lw=10, label="90% band")
            ax.vlines(x, d["p25"], d["p75"], color=_BLUE, alpha=0.6, lw=10, label="50% band")
        ax.plot(x, d["p50"], "o-" if len(d) > 1 else "o", color=_BLUE, ms=3, lw=1, label="median")
        lo, hi = d["lo"].to_numpy(dtype=float), d["hi"].to_numpy(dtype=float)
        finite = np.isfinite(hi)
        ax.plot(x[finite], d["value"].to_numpy()[finite], "s", color=_ORANGE, ms=5, label="published")
        wide = finite & (hi > lo)
        if wide.any():
            ax.vlines(x[wide], lo[wide], hi[wide], color=_ORANGE, lw=2)
        if (~finite).any():
            ax.plot(x[~finite], lo[~finite], "^", color=_ORANGE, ms=7, label="published (lower bound)")
        if naive and "persistence" in d:
            ax.plot(x, d["persistence"], "x", color=_GREY, label="persistence")
            ax.plot(x, d["trend"], "+", color="k", label="linear trend")
        if split_year is not None:
            ax.axvline(split_year + 0.5, color=_GREY, ls="--", lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("firms", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks(sorted(set(int(v) for v in x)))
        if i == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(title, fontsize=10)
    base = Path(out_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in (".png", ".svg"):
        p = base.with_suffix(ext)
        tmp = p.with_name(f".{p.name}.tmp{ext}")
        fig.savefig(tmp, dpi=150)
        tmp.replace(p)  # atomic: a reader never sees a half-written figure
        paths.append(p)
    return paths
