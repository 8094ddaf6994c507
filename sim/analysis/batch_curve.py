"""P(target | batch size): the grid of fixed annual batch sizes and the table it gives.

With ``batch_curve=true`` a forecast also runs, for each target, an ensemble per value of a
grid of fixed batch sizes after the origin (the same replicates on common random numbers),
the target's tiers held at that size every year and every other tier left to the
governments' rule.  This module holds the two pure parts: the grid (:func:`grid`) and the
table (:func:`curve_rows`); sim/pipelines/forecast.py runs the ensembles, and
sim/plots/charts.py draws the figure.  Units: firms per year, real units (not scaled).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# multiples of the pace needed from the origin (need/yr): 0 (no recognitions after the
# origin) to 3x; a curve that has not reached P ~ 1 by then is extended (EXTEND) — a
# binding pool or heavy attrition can keep it below 1 at any batch size.
MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
EXTEND = (5.0, 8.0)
P_HIGH = 0.95
COLUMNS = ["target", "batch_per_year", "multiple", "p_reached", "p_low", "p_high", "count_p50", "n_replicates"]


def base_pace(needed_per_year: float, last_batch: float) -> float:
    """The pace the grid's multiples apply to (firms/yr): the need from the origin, or the
    last recorded batch when the target is already reached at the origin (need 0), at least 1."""
    if np.isfinite(needed_per_year) and needed_per_year > 0:
        return float(needed_per_year)
    return max(float(last_batch), 1.0)


def grid(pace: float, multiples: Sequence[float] = MULTIPLES) -> list[float]:
    """Batch sizes (firms/yr, rounded to whole firms, distinct, ascending) at ``multiples`` x ``pace``."""
    return sorted({float(round(m * pace)) for m in multiples})


def split(batch: float, tiers: Sequence[str], last_batches: dict[str, float]) -> dict[str, float]:
    """A target's batch per year (firms) split among its tiers in proportion to their last
    recorded batches (equally if none is recorded)."""
    w = np.array([max(float(last_batches.get(t, 0.0)), 0.0) for t in tiers])
    w = np.ones(len(tiers)) if w.sum() <= 0 else w
    return {t: float(batch * wi / w.sum()) for t, wi in zip(tiers, w)}


def needs_extension(p_at_largest: float) -> bool:
    """Does the curve still need a larger batch to show P ~ 1?"""
    return p_at_largest < P_HIGH


def curve_rows(target: str, batch: float, pace: float, reach_row: pd.Series) -> dict:
    """One row of reachability_by_batch.csv from the target's row of the grid run's reachability table."""
    return {"target": target, "batch_per_year": float(batch), "multiple": float(batch / pace) if pace > 0 else np.nan,
            "p_reached": float(reach_row["p_reached"]), "p_low": float(reach_row["p_low"]),
            "p_high": float(reach_row["p_high"]), "count_p50": float(reach_row["count_p50"]),
            "n_replicates": int(reach_row["n_replicates"])}


def crossing(table: pd.DataFrame, p: float = 0.5) -> float:
    """The batch per year at which the curve first reaches ``p`` (linear interpolation between
    grid points; NaN if it never does, 0 if it starts there)."""
    t = table.sort_values("batch_per_year")
    x, y = t["batch_per_year"].to_numpy(float), t["p_reached"].to_numpy(float)
    if len(x) == 0 or y.max() < p:
        return float("nan")
    i = int(np.argmax(y >= p))
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (p - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
