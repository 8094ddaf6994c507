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
  months or all; with ``unit='firms'`` a ``cumulative_new`` counts distinct firms gaining a
  first title of the group (below) instead of recognitions;
* :func:`target_count` — a target's count (its tiers, metric and ``count`` key): the one
  function target tables, fan charts, sweep outcomes and paired what-ifs call.

Firms or recognitions.  Shandong's targets (seed 003) count firms *newly cultivated*
(新培育 … 企业) from 2021 over a group of tiers ("single champions" = national +
provincial).  A recognition of a firm that holds, or has held, a title of the group is not
a new firm: the model keeps ``FirmArrays.ever`` (bit k: has held tier k) and records per
month and *count group* (:func:`count_groups`: each tier alone, then the tier sets of the
``cumulative_new`` targets) the firms gaining their first title of the group
(:func:`first_flags`, :func:`note_recognised`; ``RunRecord.firsts``).  The per-tier ``flows``/``cumulative_new``
stay recognitions (re-recognitions included), as the published batch lists count them.

Counts are firms in real units (simulated counts divided by ``scenario.scale``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sim.core.regions import NATIONAL, sum_by_region
from sim.core.schema import TIERS

FLOWS = ("recognised", "rereviewed", "revoked", "exited")
METRICS = ("stock", "recognised", "cumulative_new")
UNITS = ("firms", "recognitions")  # a target's ``count``: distinct new firms (default) or recognitions


@dataclass
class RunRecord:
    """What a replicate returns: counts in real (scaled-back) units."""

    dates: list[str]
    stock: np.ndarray        # (T, K) titles held at month end
    flows: np.ndarray        # (T, K, 4): recognised, rereviewed, revoked, exited
    alive: np.ndarray        # (T,) firms alive
    batches: list[dict] = field(default_factory=list)
    cost: dict[str, float] = field(default_factory=dict)  # M CNY over the run, per lever
    firsts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (T, G) firms gaining a first title of group g
    groups: tuple[tuple[str, ...], ...] = ()  # the count groups of ``firsts`` (tier codes in TIERS order)
    government: dict = field(default_factory=dict)  # the replicate's batch-size rule and parameters (sim/core/government.py)
    # per region (sim/core/regions.py; the nation's counts above are their sums over regions, in
    # region order): the region names in code order, the areas (regions and provinces) -> codes
    regions: tuple[str, ...] = ()
    areas: dict = field(default_factory=dict)
    region_stock: np.ndarray | None = None   # (T, R, K)
    region_flows: np.ndarray | None = None   # (T, R, K, 4)
    region_alive: np.ndarray | None = None   # (T, R)
    region_firsts: np.ndarray | None = None  # (T, R, G)

    def area(self, name: str) -> RunRecord:
        """The record of one area (a region, a province of regions, or ``national``: this
        record): its counts summed over its regions, and the batches run for the area itself
        (a province's part of MIIT's batches; none for a city).  Lever costs are the view's."""
        if name == NATIONAL:
            return self
        if name not in self.areas:
            raise KeyError(f"area {name!r} is not in the record (allowed: {', '.join((NATIONAL, *self.areas))})")
        codes = list(self.areas[name])
        return RunRecord(self.dates, self.region_stock[:, codes].sum(axis=1), self.region_flows[:, codes].sum(axis=1),
                         self.region_alive[:, codes].sum(axis=1), [b for b in self.batches if b.get("region") == name], self.cost,
                         self.region_firsts[:, codes].sum(axis=1), self.groups, self.government,
                         tuple(self.regions[c] for c in codes), {self.regions[c]: (j,) for j, c in enumerate(codes)},
                         self.region_stock[:, codes], self.region_flows[:, codes], self.region_alive[:, codes],
                         self.region_firsts[:, codes])


class Stacked(NamedTuple):
    """Records of one configuration stacked over replicates."""

    dates: list[str]
    stock: np.ndarray        # (R, T, K)
    flows: np.ndarray        # (R, T, K, 4)
    firsts: np.ndarray | None = None  # (R, T, G), None when the records' groups differ
    groups: tuple[tuple[str, ...], ...] = ()


def stack(records: RunRecord | Sequence[RunRecord] | Stacked) -> Stacked:
    """Records (or one record: R = 1) as arrays over replicates."""
    if isinstance(records, Stacked):
        return records
    if isinstance(records, RunRecord):
        records = [records]
    groups = records[0].groups
    same = all(r.groups == groups and r.firsts.shape == records[0].firsts.shape for r in records)
    firsts = np.stack([r.firsts for r in records]) if same else None
    return Stacked(records[0].dates, np.stack([r.stock for r in records]), np.stack([r.flows for r in records]),
                   firsts, groups if same else ())


def group_of(tiers: Iterable[str] | str) -> tuple[str, ...]:
    """A count group: ``tiers`` as a tuple in ``TIERS`` order (unknown names: ValueError)."""
    return tuple(TIERS[k] for k in tier_index(tiers))


def group_mask(tiers: Iterable[str] | str) -> int:
    """The ``FirmArrays.ever`` bits of a group of tiers (bit k: tier ``TIERS[k]``)."""
    return sum(1 << k for k in tier_index(tiers))


def count_groups(targets: Iterable) -> tuple[tuple[str, ...], ...]:
    """The groups a model records first titles for: each tier alone (``TIERS`` order), then
    the distinct tier sets of several tiers of the ``cumulative_new`` targets (in target order).
    ``targets``: TargetConfig objects or mappings with ``tiers`` and ``metric``."""
    out = [(t,) for t in TIERS]
    for t in targets:
        tiers, metric = (t["tiers"], t["metric"]) if isinstance(t, dict) else (t.tiers, t.metric)
        g = group_of(tiers)
        if metric == "cumulative_new" and g and g not in out:
            out.append(g)
    return tuple(out)


def first_flags(ever: np.ndarray, k: int, masks: np.ndarray) -> np.ndarray:
    """``(n, G)``: does each of the firms recognised in tier ``k`` — ``ever`` their bits before
    this recognition — gain its first title of group g (``masks``: the groups' ``ever`` bits)?
    The group holds tier k and the firm held none of its tiers before."""
    fresh = (ever[:, None] & masks[None, :]) == 0          # (n, G): held no title of the group
    return fresh & (((masks >> k) & 1) == 1)[None, :]


def note_recognised(ever: np.ndarray, rows: np.ndarray, k: int, masks: np.ndarray,
                    codes: np.ndarray | None = None, n_regions: int = 1, weights: np.ndarray | None = None) -> np.ndarray:
    """Rows ``rows`` are recognised in tier ``k``: their first titles per region and group
    (``(R, G)``, returned; ``codes``: the rows' region codes, needed when ``n_regions`` > 1;
    ``weights``: the rows' weights in a view with thinned regions, a weighted count),
    then bit k joins their ``ever`` (in place) — so a later recognition in the group, or a
    re-recognition after a lapse, is not a first."""
    out = sum_by_region(first_flags(ever[rows], k, masks), codes, n_regions, weights)
    ever[rows] |= np.uint8(1 << k)
    return out


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


def new_firms(records: RunRecord | Sequence[RunRecord] | Stacked, tiers: Iterable[str] | str, window_start: int = 0) -> np.ndarray:
    """``(R, T, 1)``: distinct firms that gained their first title of the group ``tiers`` from
    month index ``window_start`` through each month (``RunRecord.firsts``); ValueError when
    the records do not carry the group."""
    s, g = stack(records), group_of(tiers)
    if s.firsts is None or g not in s.groups:
        have = "; ".join("+".join(x) for x in s.groups) or "none"
        raise ValueError(f"count group {'+'.join(g)!r} is not in the records (recorded: {have}); "
                         "a model records the groups of its scenario's cumulative_new targets")
    j = s.groups.index(g)
    return cumulative(s.firsts[..., j:j + 1], window_start)


def count(records: RunRecord | Sequence[RunRecord] | Stacked, tiers: Iterable[str] | str, metric: str = "stock",
          window_start: int = 0, date: int | Sequence[int] | np.ndarray | None = None, unit: str = "recognitions") -> np.ndarray:
    """``metric`` (see :func:`series`) summed over ``tiers`` (:func:`tier_sum`), at month index
    ``date`` (an index, an array of them, or None for every month).  Shape ``(R,)`` /
    ``(R, D)`` / ``(R, T)`` for several records, without the R axis for one :class:`RunRecord`.
    Month indices count from the record's first date.  ``unit='firms'`` (``UNITS``): a
    ``cumulative_new`` counts distinct new firms of the group (:func:`new_firms`); other
    metrics are titles either way."""
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r} is not allowed (allowed: {', '.join(UNITS)})")
    tiers = [tiers] if isinstance(tiers, str) else list(tiers)
    if unit == "firms" and metric == "cumulative_new" and tiers:
        x = new_firms(records, tiers, window_start)
    else:
        x = series(records, metric, window_start, tiers)
    if date is not None:
        x = x[:, date, :]
    out = tier_sum(x)
    return out[0] if isinstance(records, RunRecord) else out


def target_unit(target) -> str:
    """A target's ``count`` (TargetConfig or mapping; a mapping without it: 'firms', the default)."""
    return target.get("count", "firms") if isinstance(target, dict) else target.count


def target_count(records: RunRecord | Sequence[RunRecord] | Stacked, target, window_start: int = 0,
                 date: int | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """A target's count (firms, real units): its metric over its tiers in its ``count`` unit
    (:func:`count`).  ``target``: a TargetConfig or a mapping with ``tiers``, ``metric`` and
    optionally ``count``."""
    tiers, metric = (target["tiers"], target["metric"]) if isinstance(target, dict) else (target.tiers, target.metric)
    return count(for_area(records, target_area(target)), tiers, metric, window_start, date, unit=target_unit(target))


def target_area(target) -> str:
    """A target's area (TargetConfig or mapping): '' = the view's own."""
    return (target.get("region", "") if isinstance(target, dict) else target.region) or ""


def for_area(records: RunRecord | Sequence[RunRecord] | Stacked, area: str):
    """``records`` restricted to an area (``RunRecord.area``; '' = as they are).  Stacked records
    hold the view's counts only: an area needs the records themselves (ValueError)."""
    if not area:
        return records
    if isinstance(records, Stacked):
        raise ValueError(f"area {area!r}: stacked records hold the view's counts only (pass the RunRecords)")
    if isinstance(records, RunRecord):
        return records.area(area)
    return [r.area(area) for r in records]
