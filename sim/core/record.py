"""What a replicate returns (:class:`RunRecord`) and the one reduction of records to counts.

Every count the project reports — the tidy trajectories and the target tables built on them
(``sim.ensemble``, ``sim.analysis.tables.sum_tiers``, ``sim.targets``), the sweep outcomes
(``sim.run.sweep.outcomes``) and the calibration summaries (``sim.analysis.calibration.summaries``) — is
computed here, so they agree bit for bit by construction:

* :func:`cumulative` — recognitions from a window start through each month: a running
  (sequential) sum along time of the monthly flow, months before the window counting 0;
* :func:`tier_sum` — a sum over tiers in ``TIERS`` order with Kahan compensation, skipping
  NaN (the summation pandas' groupby-sum does, so the tables did not change by a bit when
  they moved onto it);
* :func:`count` — a metric summed over tiers, for one record or many, at one month, some
  months or all.

Counts are firms in real units (simulated counts divided by ``scenario.scale``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sim.core.schema import TIERS

FLOWS = ("recognised", "rereviewed", "revoked", "exited")
METRICS = ("stock", "recognised", "cumulative_new")


@dataclass
class RunRecord:
    """What a replicate returns: counts in real (scaled-back) units."""

    dates: list[str]
    stock: np.ndarray        # (T, K) titles held at month end
    flows: np.ndarray        # (T, K, 4): recognised, rereviewed, revoked, exited
    alive: np.ndarray        # (T,) firms alive
    batches: list[dict] = field(default_factory=list)
    cost: dict[str, float] = field(default_factory=dict)  # M CNY over the run, per lever


class Stacked(NamedTuple):
    """Records of one configuration stacked over replicates."""

    dates: list[str]
    stock: np.ndarray        # (R, T, K)
    flows: np.ndarray        # (R, T, K, 4)


def stack(records: RunRecord | Sequence[RunRecord] | Stacked) -> Stacked:
    """Records (or one record: R = 1) as arrays over replicates."""
    if isinstance(records, Stacked):
        return records
    if isinstance(records, RunRecord):
        records = [records]
    return Stacked(records[0].dates, np.stack([r.stock for r in records]), np.stack([r.flows for r in records]))


def cumulative(new: np.ndarray, window_start: int) -> np.ndarray:
    """Running sum along the time axis (axis -2 of ``(..., T, K)``) of the monthly flow ``new``
    from month index ``window_start`` on (earlier months count 0; a negative start counts all)."""
    in_window = (np.arange(new.shape[-2]) >= window_start)[:, None]
    return np.cumsum(np.where(in_window, new, 0.0), axis=-2)


def tier_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis (tiers, in ``TIERS`` order) with Kahan compensation; NaN
    entries (a tier missing) are skipped, an empty axis sums to 0."""
    values = np.asarray(values, dtype=np.float64)
    total = np.zeros(values.shape[:-1])
    comp = np.zeros(values.shape[:-1])
    for k in range(values.shape[-1]):
        x = values[..., k]
        ok = ~np.isnan(x)
        y = x - comp
        t = total + y
        c = (t - total) - y
        comp = np.where(ok, np.where(np.isnan(c), 0.0, c), comp)
        total = np.where(ok, t, total)
    return total


def tier_index(tiers: Iterable[str] | str) -> list[int]:
    """Positions in ``TIERS`` of ``tiers``, in ``TIERS`` order (unknown names: ValueError)."""
    tiers = [tiers] if isinstance(tiers, str) else list(tiers)
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown:
        raise ValueError(f"unknown tiers: {', '.join(unknown)} (allowed: {', '.join(TIERS)})")
    return [k for k, t in enumerate(TIERS) if t in tiers]


def series(records: RunRecord | Sequence[RunRecord] | Stacked, metric: str, window_start: int = 0,
           tiers: Iterable[str] | str | None = None) -> np.ndarray:
    """Per-tier values ``(R, T, K)`` of ``metric``: 'stock' (titles held at month end),
    'recognised' (recognised in the month) or 'cumulative_new' (recognised from month index
    ``window_start`` through the month); ``tiers`` selects tiers (default all, K = 6)."""
    s = stack(records)
    ks = slice(None) if tiers is None else tier_index(tiers)
    if metric == "stock":
        return s.stock[..., ks]
    if metric == "recognised":
        return s.flows[..., 0][..., ks]
    if metric == "cumulative_new":
        return cumulative(s.flows[..., 0][..., ks], window_start)
    raise ValueError(f"metric {metric!r} is not allowed (allowed: {', '.join(METRICS)})")


def count(records: RunRecord | Sequence[RunRecord] | Stacked, tiers: Iterable[str] | str, metric: str = "stock",
          window_start: int = 0, date: int | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """``metric`` (see :func:`series`) summed over ``tiers`` (:func:`tier_sum`), at month index
    ``date`` (an index, an array of them, or None for every month).  Shape ``(R,)`` /
    ``(R, D)`` / ``(R, T)`` for several records, without the R axis for one :class:`RunRecord`.
    Month indices count from the record's first date."""
    x = series(records, metric, window_start, tiers)
    if date is not None:
        x = x[:, date, :]
    out = tier_sum(x)
    return out[0] if isinstance(records, RunRecord) else out
