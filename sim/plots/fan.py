"""Figures for tiersim forecasts.

Plots never run the model: they read result tables and draw.

Public API
----------
``bands_for_target(traj, target) -> DataFrame``
    Sum the target's tiers per (replicate, date) and take per-date quantiles
    (0.05, 0.25, 0.5, 0.75, 0.95) -> columns ``date, p05, p25, p50, p75, p95``.
``fan_chart(bands, target, *, history=None, lever_starts=(), p_reached=None,
title='', out_base) -> list[Path]``
    Draw a fan chart against a target and save it as ``<out_base>.png``
    (200 dpi) and ``<out_base>.svg``; returns ``[png_path, svg_path]``.

Date convention
---------------
Model dates are monthly strings ``'YYYY-MM'``.  For plotting every month is
placed on **the 15th of that month** (mid-month), so points, the deadline line
and lever-start lines all sit in the middle of their month.  Datetime inputs are
normalised to the 15th of their month as well, so mixed inputs line up.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas
directly (no pyplot, no global figure state).  Text is written to the SVG as
real ``<text>`` elements (``svg.fonttype = 'none'``), so labels stay
searchable/editable.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnchoredText
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from sim.core.record import target_unit

__all__ = ["bands_for_target", "fan_chart", "to_plot_dates", "QUANTILES", "BAND_COLUMNS"]

#: Quantile levels and their column names in a bands table.
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
BAND_COLUMNS: tuple[str, ...] = ("p05", "p25", "p50", "p75", "p95")

_METRIC_YLABEL = {
    "stock": "firms (stock)",
    "cumulative_new": "firms newly recognised since window start",
}

# Okabe-Ito palette (colour-blind safe).
_BLUE = "#0072B2"
_VERMILLION = "#D55E00"  # the "red" of the palette: target threshold
_GREY = "#555555"

FIGSIZE_IN = (7.0, 4.5)
DPI = 200

_FS_TITLE = 11
_FS_LABEL = 10
_FS_SMALL = 9  # minimum font size used anywhere
_A90, _A50 = 0.18, 0.40  # band alphas (the 50% band is drawn over the 90% band)


# --------------------------------------------------------------------------- dates
def to_plot_dates(values: Iterable | str | pd.Timestamp) -> pd.DatetimeIndex:
    """Convert monthly dates to timestamps on the 15th of the month.

    Accepts ``'YYYY-MM'`` strings, ``'YYYY-MM-DD'`` strings, datetimes or
    Timestamps (a scalar or an iterable); always returns a DatetimeIndex.
    """
    if isinstance(values, (str, pd.Timestamp, np.datetime64)) or not np.iterable(values):
        values = [values]
    months = pd.PeriodIndex([pd.Period(v, freq="M") for v in values], freq="M")
    return months.to_timestamp(how="start") + pd.Timedelta(days=14)


def _month_str(value) -> str:
    return str(pd.Period(value, freq="M"))


# --------------------------------------------------------------------------- bands
def bands_for_target(traj: pd.DataFrame, target: dict, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-date quantile bands of a target's quantity across replicates.

    ``traj`` is a trajectories table with at least the columns
    ``replicate, date, tier`` and the target's metric column (``stock`` or
    ``cumulative_new``).  For each (replicate, date) the metric is summed over
    ``target['tiers']``; then, per date, the 0.05/0.25/0.5/0.75/0.95 quantiles
    across replicates are taken (linear interpolation, i.e. numpy's default).

    The table must hold a single (scenario, policy) combination if those
    columns are present -- mixing them would silently pool different runs.

    ``counts`` (:func:`sim.run.ensemble.target_counts`): the target's count per
    (replicate, date) is taken from it instead — required for a ``cumulative_new``
    target counting distinct new firms (``count: firms``, the default), which the
    per-tier trajectories do not hold (ValueError without it).

    Returns columns ``date, p05, p25, p50, p75, p95`` sorted by date (``date``
    keeps the input's representation, normally ``'YYYY-MM'``).
    """
    metric = target["metric"]
    if metric not in _METRIC_YLABEL:
        raise ValueError(f"unsupported target metric {metric!r}; expected one of {sorted(_METRIC_YLABEL)}")
    tiers = list(target["tiers"])
    if not tiers:
        raise ValueError(f"target {target.get('name')!r} lists no tiers")
    missing_cols = {"replicate", "date", "tier", metric} - set(traj.columns)
    if missing_cols:
        raise ValueError(f"trajectories table lacks columns {sorted(missing_cols)}")
    for col in ("scenario", "policy", "region"):
        if col in traj.columns and traj[col].nunique(dropna=False) > 1:
            raise ValueError(
                f"trajectories table mixes several {col} values {sorted(map(str, traj[col].unique()))}; "
                "filter to one scenario/policy first"
            )
    absent = sorted(set(tiers) - set(traj["tier"].unique()))
    if absent:
        raise ValueError(f"target tiers {absent} not present in trajectories table")

    if counts is not None:  # the target's own count (sim.core.record.target_count)
        sub = counts.loc[counts["target"] == target["name"], ["replicate", "date", "count"]]
        if sub.empty:
            raise ValueError(f"target {target.get('name')!r} not in the counts table")
        per_rep = sub.set_index(["replicate", "date"])["count"]
    elif metric == "cumulative_new" and target_unit(target) == "firms":
        raise ValueError(f"target {target.get('name')!r} counts distinct new firms (count: firms): pass counts= "
                         "(sim.run.ensemble.target_counts) or set count: recognitions")
    else:
        sub = traj.loc[traj["tier"].isin(tiers), ["replicate", "date", metric]]
        per_rep = sub.groupby(["replicate", "date"], sort=False)[metric].sum()
    q = per_rep.groupby(level="date").quantile(list(QUANTILES)).unstack()
    q = q.reindex(columns=list(QUANTILES))
    q.columns = list(BAND_COLUMNS)
    out = q.sort_index().reset_index().rename(columns={"index": "date"})
    return out[["date", *BAND_COLUMNS]]


# --------------------------------------------------------------------------- helpers
def _fmt_count(x: float) -> str:
    """Thousands separators; decimals only when the value is not integral."""
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def _threshold_label(target: dict) -> str:
    return f"target {_fmt_count(float(target['threshold']))}"


def _merge_lever_starts(lever_starts: Sequence[tuple[str, str]]) -> list[tuple[pd.Timestamp, str]]:
    """Group lever names by start month -> [(plot date, 'a, b'), ...] sorted by date."""
    by_month: dict[str, list[str]] = {}
    for name, date in lever_starts:
        names = by_month.setdefault(_month_str(date), [])
        if name not in names:
            names.append(name)
    return [(to_plot_dates(m)[0], ", ".join(names)) for m, names in sorted(by_month.items())]


def _obstacles(ax, x, bands: pd.DataFrame, hist: pd.DataFrame | None, threshold: float,
               vlines: Sequence[pd.Timestamp] = ()):
    """Return a function ``hits(bbox) -> float`` measuring how much data a display bbox covers.

    Obstacles are the 5-95% band (vertical segments at each date, which include
    the median), the published points and the threshold line.  The score is the
    covered band length in pixels, plus 50 per published point and 5 for
    crossing the threshold line, plus 10 per vertical line (deadline, lever
    starts) crossed, inside the (slightly padded) bbox; 0 = free.
    """
    tr = ax.transData
    xn = mdates.date2num(pd.DatetimeIndex(x).to_pydatetime())
    lo = tr.transform(np.column_stack([xn, bands["p05"].to_numpy(dtype=float)]))
    hi = tr.transform(np.column_stack([xn, bands["p95"].to_numpy(dtype=float)]))
    pts = np.empty((0, 2))
    if hist is not None and len(hist):
        hx = mdates.date2num(pd.DatetimeIndex(hist["_x"]).to_pydatetime())
        pts = tr.transform(np.column_stack([hx, hist["value"].to_numpy(dtype=float)]))
    ythr = tr.transform((0.0, threshold))[1]
    xv = tr.transform(np.column_stack([mdates.date2num(pd.DatetimeIndex(list(vlines)).to_pydatetime()),
                                       np.zeros(len(vlines))]))[:, 0] if len(vlines) else np.empty(0)

    def hits(bbox, pad: float = 4.0) -> float:
        x0, x1, y0, y1 = bbox.x0 - pad, bbox.x1 + pad, bbox.y0 - pad, bbox.y1 + pad
        inx = (lo[:, 0] >= x0) & (lo[:, 0] <= x1)
        # pixels of each covered band column that fall inside the box (+1 so that
        # touching counts), summed over columns
        top = np.fmin(np.fmax(lo[:, 1], hi[:, 1]), y1)
        bot = np.fmax(np.fmin(lo[:, 1], hi[:, 1]), y0)
        cover = np.where(inx & (top >= bot), top - bot + 1.0, 0.0)
        score = float(np.nansum(cover))
        if len(pts):
            score += 50.0 * float(((pts[:, 0] >= x0) & (pts[:, 0] <= x1)
                                   & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)).sum())
        if y0 <= ythr <= y1:
            score += 5.0
        score += 10.0 * float(((xv >= x0) & (xv <= x1)).sum())
        return score

    return hits


def _overlaps(a, b, pad: float = 2.0) -> bool:
    return not (a.x1 + pad < b.x0 or b.x1 + pad < a.x0 or a.y1 + pad < b.y0 or b.y1 + pad < a.y0)


def _atomic_savefig(fig: Figure, path: Path, fmt: str, **kwargs) -> None:
    """Save to a temp file in the target directory, then ``os.replace`` it.

    The temp file is created with mode 0o666 filtered by the umask (like a
    normal file; ``tempfile.mkstemp`` would give 0o600) and removed on error.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- fan chart
def fan_chart(
    bands: pd.DataFrame,
    target: dict,
    *,
    history: pd.DataFrame | None = None,
    lever_starts: Sequence[tuple[str, str]] = (),
    p_reached: tuple[float, float, float] | None = None,
    title: str = "",
    out_base: Path,
) -> list[Path]:
    """Fan chart of a target quantity with the target threshold and deadline.

    Parameters
    ----------
    bands
        Columns ``date, p05, p25, p50, p75, p95`` (see :func:`bands_for_target`).
    target
        Dict with ``name, label, tiers, metric, threshold, deadline, illustrative``.
    history
        Optional observed points, columns ``date, value`` (``label`` optional,
        ignored for styling); drawn as black markers labelled 'published'.
    lever_starts
        ``(lever name, 'YYYY-MM')`` pairs drawn as thin dotted vertical lines;
        levers starting in the same month share one line, names joined by ', '.
    p_reached
        ``(p, low, high)`` shown as 'P(reached by DEADLINE) = p [low, high]'.
    title
        Figure title (defaults to the target label); ' (illustrative target)'
        is appended for illustrative targets.
    out_base
        Output path without suffix; writes ``.png`` (200 dpi) and ``.svg``.

    Returns ``[png_path, svg_path]``.
    """
    out_base = Path(out_base)
    missing = {"date", *BAND_COLUMNS} - set(bands.columns)
    if missing:
        raise ValueError(f"bands table lacks columns {sorted(missing)}")
    if len(bands) == 0:
        raise ValueError("bands table is empty")
    metric = target["metric"]
    if metric not in _METRIC_YLABEL:
        raise ValueError(f"unsupported target metric {metric!r}")
    if history is not None and not {"date", "value"} <= set(history.columns):
        raise ValueError("history table needs columns 'date' and 'value'")

    b = bands.assign(_x=to_plot_dates(bands["date"])).sort_values("_x")
    x = b["_x"].to_numpy()
    threshold = float(target["threshold"])
    deadline_str = _month_str(target["deadline"])
    deadline_x = to_plot_dates(deadline_str)[0]
    illustrative = bool(target.get("illustrative", False))

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    # Bands and median.
    ax.fill_between(x, b["p05"], b["p95"], color=_BLUE, alpha=_A90, linewidth=0, zorder=1)
    ax.fill_between(x, b["p25"], b["p75"], color=_BLUE, alpha=_A50, linewidth=0, zorder=2)
    ax.plot(x, b["p50"], color=_BLUE, linewidth=2.0, zorder=3, marker="o" if len(b) == 1 else None)

    # Observed history.
    hist_x = None
    h = None
    if history is not None and len(history):
        h = history.assign(_x=to_plot_dates(history["date"])).sort_values("_x")
        hist_x = h["_x"]
        ax.plot(h["_x"], h["value"], linestyle="none", marker="o", markersize=5,
                color="black", markeredgecolor="white", markeredgewidth=0.6, zorder=5)

    # Target threshold.
    ax.axhline(threshold, color=_VERMILLION, linestyle="--", linewidth=1.5, zorder=4)
    # Deadline.
    ax.axvline(deadline_x, color="black", linestyle="-", linewidth=1.0, alpha=0.8, zorder=4)

    # x range: data, history, deadline, lever starts; pad by two months.
    levers = _merge_lever_starts(lever_starts)
    xs = [pd.Timestamp(x.min()), pd.Timestamp(x.max()), deadline_x]
    if hist_x is not None:
        xs += [hist_x.min(), hist_x.max()]
    xs += [d for d, _ in levers]
    pad = pd.Timedelta(days=61)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)

    # y range: start at 0 for non-negative counts, leave head-room above.
    ys = [b[c].to_numpy(dtype=float) for c in BAND_COLUMNS] + [np.array([threshold])]
    if history is not None and len(history):
        ys.append(history["value"].to_numpy(dtype=float))
    yall = np.concatenate(ys)
    yall = yall[np.isfinite(yall)]
    ymin, ymax = (float(yall.min()), float(yall.max())) if yall.size else (0.0, 1.0)
    lo = 0.0 if ymin >= 0 else ymin * 1.08
    hi = ymax * 1.12 if ymax > 0 else 1.0
    ax.set_ylim(lo, hi)

    # Axes, ticks and labels.
    ax.set_xlabel("date", fontsize=_FS_LABEL)
    ax.set_ylabel(_METRIC_YLABEL[metric], fontsize=_FS_LABEL)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(4, 7, 10)))
    ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))  # firm counts
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.tick_params(axis="both", which="major", labelsize=_FS_SMALL)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    full_title = title or str(target.get("label") or target.get("name") or "")
    if illustrative:
        full_title = f"{full_title} (illustrative target)".strip()
    if full_title:
        # wrap long titles so they fit the 7-inch figure at 11 pt (~64 characters a line, measured)
        ax.set_title(textwrap.fill(full_title, width=64), fontsize=_FS_TITLE, loc="left")

    # Legend below the plot area (two rows) so it never hides data.
    has_hist = history is not None and len(history) > 0
    handles = [
        Line2D([], [], color=_BLUE, linewidth=2.0, label="median"),
        Patch(facecolor=_BLUE, alpha=_A50 + _A90 * (1 - _A50), linewidth=0, label="50% band"),
        Patch(facecolor=_BLUE, alpha=_A90, linewidth=0, label="90% band"),
    ]
    if has_hist:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=5, color="black",
                              label="published"))
    handles += [
        Line2D([], [], color=_VERMILLION, linestyle="--", linewidth=1.5,
               label=f"target ({_fmt_count(threshold)})"),
        Line2D([], [], color="black", linewidth=1.0, label=f"deadline ({deadline_str})"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3,
              fontsize=_FS_SMALL, frameon=False, handlelength=1.8, columnspacing=1.5)

    # Fix the layout before placing in-axes annotations by measured extents.
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    hits = _obstacles(ax, x, b, h if has_hist else None, threshold)
    hits_v = _obstacles(ax, x, b, h if has_hist else None, threshold,
                        vlines=[deadline_x, *(d for d, _ in levers)])
    placed = []  # display bboxes of annotations already placed

    # Threshold label: just above the dashed line, at the left (the fan usually
    # approaches the threshold at the right, near the deadline).
    thr_text = ax.annotate(
        _threshold_label(target),
        xy=(0.01, threshold), xycoords=blended_transform_factory(ax.transAxes, ax.transData),
        xytext=(0, 3), textcoords="offset points", ha="left", va="bottom",
        fontsize=_FS_SMALL, color=_VERMILLION, fontweight="bold", zorder=6,
        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8),
    )
    bb = thr_text.get_window_extent(renderer)
    if hits(bb, pad=0) > 0:  # data right above the line at the left: try below it
        thr_text.set_va("top")
        thr_text.xyann = (0, -3)
        bb_below = thr_text.get_window_extent(renderer)
        if bb_below.y0 >= ax.bbox.y0 and hits(bb_below, pad=0) < hits(bb, pad=0):
            bb = bb_below
        else:  # no room / no better below the line: keep it above
            thr_text.set_va("bottom")
            thr_text.xyann = (0, 3)
    placed.append(bb)

    # Lever start lines with rotated labels (one line per distinct month).  The
    # label sits just left of its line, at the bottom or the top of the axes,
    # whichever covers less data / fewer other labels.
    xtrans = blended_transform_factory(ax.transData, ax.transAxes)
    for d, names in levers:
        ax.axvline(d, color=_GREY, linestyle=":", linewidth=0.9, zorder=1.5)
        txt = ax.text(d, 0.02, names, transform=xtrans, rotation=90, ha="left", va="bottom",
                      fontsize=_FS_SMALL, color=_GREY, zorder=2.5, rotation_mode="anchor")
        best = None
        for y, ha in ((0.02, "left"), (0.98, "right")):
            txt.set_y(y)
            txt.set_ha(ha)  # rotation_mode='anchor': ha runs along the text, va across it
            bb = txt.get_window_extent(renderer)
            score = hits(bb) + 1000.0 * sum(_overlaps(bb, o) for o in placed)
            if best is None or score < best[0]:
                best = (score, y, ha, bb)
        txt.set_y(best[1])
        txt.set_ha(best[2])
        placed.append(best[3])

    # P(reached) box: first corner (in preference order) that covers the least.
    if p_reached is not None:
        p, low, high = (float(v) for v in p_reached)
        label = f"P(reached by {deadline_str}) = {p:.2f} [{low:.2f}, {high:.2f}]"
        best = None
        for loc in ("upper left", "lower right", "upper center", "lower center", "center left",
                    "lower left", "upper right"):
            box = AnchoredText(label, loc=loc, prop=dict(fontsize=_FS_SMALL), frameon=True, borderpad=0.6)
            box.patch.set_boxstyle("round,pad=0.3")
            box.patch.set_facecolor("white")
            box.patch.set_edgecolor(_GREY)
            box.patch.set_alpha(0.9)
            box.set_zorder(7)
            ax.add_artist(box)
            bb = box.get_window_extent(renderer)
            score = hits_v(bb) + 1000.0 * sum(_overlaps(bb, o) for o in placed)
            box.remove()
            if best is None or score < best[0]:
                best = (score, box)
            if score == 0:
                break
        ax.add_artist(best[1])

    # Illustrative watermark, across the middle of the axes.
    if illustrative:
        ax.text(0.5, 0.5, "ILLUSTRATIVE TARGET", transform=ax.transAxes, ha="center", va="center",
                rotation=18, fontsize=26, fontweight="bold", color=_GREY, alpha=0.22, zorder=8)

    # Save atomically.
    out_base.parent.mkdir(parents=True, exist_ok=True)
    png = out_base.with_suffix(".png")
    svg = out_base.with_suffix(".svg")
    try:
        _atomic_savefig(fig, png, "png", dpi=DPI, metadata={"Software": None})
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tiersim"}):
            _atomic_savefig(fig, svg, "svg", metadata={"Date": None})
    finally:
        fig.clear()
    return [png, svg]
