"""The regions of one population (issue 14, docs/NESTED.md): which region each firm row is in,
and the areas counts are reported for.

A view's regions partition its firms (``scenario.regions``; absent: one region, the scenario
itself).  Every firm row carries its region's code (``FirmArrays.region``, int8, the index in
``Regions.names``); counts are kept per region, in simulated rows, and turned into real firms
by each region's own scale (``scenario.scale`` x the region's ``scale``).  An *area* is a
region or a province (the regions naming it as their ``province``); the nation is the sum over
all regions, in region order, so the identity national = sum of regions holds exactly.

A firm's region is drawn with the region shares (a categorical draw from its own child stream
of the synthesis or entry stream, so that the other attributes' draws are those of a run
without regions): every kind and size is spread over the regions alike (the assumption of
increment 1; stratified synthesis follows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NATIONAL = "national"


@dataclass(frozen=True)
class Regions:
    """The regions of a view, in code order.  ``shares`` sum to 1 (fractions of the view's
    firms); ``scales``: simulated rows per real firm (scenario.scale x the region's scale)."""

    names: tuple[str, ...]
    labels: tuple[str, ...]
    provinces: tuple[str, ...]   # '' = the region is a province (or an aggregate of provinces)
    shares: tuple[float, ...]
    scales: tuple[float, ...]

    @classmethod
    def of(cls, scenario) -> Regions:
        """The regions of a validated ScenarioConfig (one region, the scenario, if none listed)."""
        regs = scenario.regions
        if not regs:
            return cls((scenario.name,), (scenario.label or scenario.name,), ("",), (1.0,), (float(scenario.scale),))
        return cls(tuple(r.name for r in regs), tuple(r.label or r.name for r in regs), tuple(r.province for r in regs),
                   tuple(float(r.share) for r in regs), tuple(float(scenario.scale) * float(r.scale) for r in regs))

    @property
    def n(self) -> int:
        return len(self.names)

    def areas(self) -> dict[str, tuple[int, ...]]:
        """Every area counts are reported for -> the region codes it sums: each region, then
        each province of several regions or of a region not named for it (in first-seen order)."""
        out = {name: (i,) for i, name in enumerate(self.names)}
        for p in dict.fromkeys(x for x in self.provinces if x):
            out.setdefault(p, tuple(i for i, x in enumerate(self.provinces) if x == p))
        return out

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Region codes of ``n`` new firm rows (int8), from a child stream of ``rng`` (its own
        draws are left as they are); one region: all zero, nothing drawn."""
        if self.n == 1:
            return np.zeros(n, dtype=np.int8)
        cum = np.cumsum(np.asarray(self.shares, dtype=np.float64))
        u = rng.spawn(1)[0].random(n) * cum[-1]
        return np.minimum(np.searchsorted(cum, u, side="right"), self.n - 1).astype(np.int8)

    def real(self, counts: np.ndarray, axis: int) -> np.ndarray:
        """Simulated row counts with a region axis (``axis``) in real firms: each region's
        count over its own scale (float64)."""
        shape = [1] * counts.ndim
        shape[axis] = self.n
        return counts / np.asarray(self.scales, dtype=np.float64).reshape(shape)


def by_region(codes: np.ndarray, n_regions: int) -> np.ndarray:
    """How many of the rows whose region codes are ``codes`` are in each region (int64, R)."""
    if n_regions == 1:
        return np.array([codes.shape[0]], dtype=np.int64)
    return np.bincount(codes, minlength=n_regions).astype(np.int64, copy=False)


def sum_by_region(values: np.ndarray, codes: np.ndarray, n_regions: int) -> np.ndarray:
    """Column sums of ``values`` (rows x C, counts) per region of the rows: (R, C) int64."""
    if n_regions == 1:
        return values.sum(axis=0, dtype=np.int64)[None, :]
    return np.stack([values[codes == r].sum(axis=0, dtype=np.int64) for r in range(n_regions)])
