"""The regions of one population (issue 14, docs/NESTED.md): which region each firm row is in,
and the areas counts are reported for.

A view's regions partition its firms (``scenario.regions``; absent: one region, the scenario
itself).  Every firm row carries its region's code (``FirmArrays.region``, int8, the index in
``Regions.names``); counts are kept per region, in simulated rows, and turned into real firms
by each region's own scale (``scenario.scale`` x the region's ``scale``).  An *area* is a
region or a province (the regions naming it as their ``province``); the nation is the sum over
all regions, in region order, so the identity national = sum of regions holds exactly.

A firm's region is drawn with the region shares (a categorical draw from its own stream,
``region``, so that the other attributes' draws are those of a run without regions): every
kind and size is spread over the regions alike.

**Per-region scale** (stratified sampling).  A region at reduced scale (``scale`` < 1) keeps
its firms with at least ``scenario.strata_revenue`` at synthesis (by default every large firm:
the firms whose national ranks and shares decide the top titles) and thins the rest — SMEs
below the bar, small tech SMEs, entrants — to ``scale``: each such kept row stands for a whole
number of firms of mean 1 / scale (``FirmArrays.weight``; the others are its ghosts, :class:`Ghosts`).  Every count is then a weighted sum of rows, and markets,
ranks and batch selection weigh rows by it (a batch takes its best-ranked rows until their
weight reaches the quota).  A view whose regions all have scale 1 has weight 1 everywhere
and runs the unweighted code (byte-identical to a view without regions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

NATIONAL = "national"


@dataclass(frozen=True)
class Regions:
    """The regions of a view, in code order.  ``shares`` sum to 1 (fractions of the view's
    firms); ``rel``: each region's scale relative to the view's ``scale`` (1: not thinned)."""

    names: tuple[str, ...]
    labels: tuple[str, ...]
    provinces: tuple[str, ...]   # '' = the region is a province (or an aggregate of provinces)
    shares: tuple[float, ...]
    rel: tuple[float, ...]
    scale: float = 1.0           # scenario.scale: simulated rows per real firm where not thinned
    strata_revenue: float = 400.0  # M CNY/yr: at or above it, a firm of a thinned region is kept

    @classmethod
    def of(cls, scenario) -> Regions:
        """The regions of a validated ScenarioConfig (one region, the scenario, if none listed)."""
        regs, s, bar = scenario.regions, float(scenario.scale), float(scenario.strata_revenue)
        if not regs:
            return cls((scenario.name,), (scenario.label or scenario.name,), ("",), (1.0,), (1.0,), s, bar)
        return cls(tuple(r.name for r in regs), tuple(r.label or r.name for r in regs), tuple(r.province for r in regs),
                   tuple(float(r.share) for r in regs), tuple(float(r.scale) for r in regs), s, bar)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def uniform(self) -> bool:
        """No region is thinned: every row has weight 1."""
        return all(r == 1.0 for r in self.rel)

    def areas(self) -> dict[str, tuple[int, ...]]:
        """Every area counts are reported for -> the region codes it sums: each region, then
        each province of several regions or of a region not named for it (in first-seen order)."""
        out = {name: (i,) for i, name in enumerate(self.names)}
        for p in dict.fromkeys(x for x in self.provinces if x):
            out.setdefault(p, tuple(i for i, x in enumerate(self.provinces) if x == p))
        return out

    @property
    def province_names(self) -> tuple[str, ...]:
        """The provinces of the view in first-seen order (a region without a province is one)."""
        return tuple(dict.fromkeys(p or name for p, name in zip(self.provinces, self.names)))

    def province_codes(self) -> np.ndarray:
        """Per region code, the index of its province in :attr:`province_names` (int8)."""
        names = self.province_names
        return np.array([names.index(p or name) for p, name in zip(self.provinces, self.names)], dtype=np.int8)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Region codes of ``n`` new firm rows (int8) from ``rng`` (the ``region`` stream);
        one region: all zero, nothing drawn."""
        if self.n == 1:
            return np.zeros(n, dtype=np.int8)
        cum = np.cumsum(np.asarray(self.shares, dtype=np.float64))
        u = rng.random(n) * cum[-1]
        return np.minimum(np.searchsorted(cum, u, side="right"), self.n - 1).astype(np.int8)

    def thin(self, codes: np.ndarray, revenue: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Which of new rows (region ``codes``, ``revenue`` M CNY/yr) are simulated, and the
        weight of each kept row: a row of a region at scale 1 or one at or above ``strata_revenue``
        (by default the large-firm and champion bar: every large firm) is kept with weight 1;
        another is kept with chance ``rel`` of its
        region and a whole weight of mean 1 / rel (1 / rel - 1, rounded at random, plus 1: the row
        and its ghosts, :class:`Ghosts`), so that every kept row stands for whole firms (two
        uniforms per row from ``rng``)."""
        rel = np.asarray(self.rel, dtype=np.float64).take(codes)
        sure = (rel >= 1.0) | (revenue >= self.strata_revenue)
        u = rng.random((2, codes.shape[0]))
        keep = sure | (u[0] < rel)
        extra = 1.0 / rel - 1.0
        whole = np.floor(extra) + (u[1] < extra - np.floor(extra))
        return keep, np.where(sure, 1.0, 1.0 + whole)[keep].astype(np.float32)

    def real(self, counts: np.ndarray) -> np.ndarray:
        """Counts of rows (weighted: firms at the view's scale) in real firms (float64)."""
        return counts / self.scale


class Ghosts:
    """The other firms a thinned row stands for, as presences in the national markets: a row of
    weight w has w - 1 ghosts, each a firm like it (its revenue, alive or not) in a niche of its
    own drawn as firms are placed (``population.niche_draw``).  Markets and ranks count the
    ghosts (``tiers.niche_markets``, ``tiers.region_ranks``): a niche then holds, as in the
    whole population, a random number of such firms, so its market and ranks vary as they would,
    not just in expectation (a thinned row's weight put into its own niche would swamp a small
    niche; spread as an expectation it would remove the variance the share tests see)."""

    RESEAL = 0.25  # the ghosts added since the market matrix was built, as a share of those in it, that trigger a rebuild

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._niches: list[np.ndarray] = []
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._sealed: tuple[int, int, object] | None = None  # (chunks in it, ghosts in it, sparse niche x row matrix)

    def add(self, rows: np.ndarray, weights: np.ndarray, niches: np.ndarray) -> None:
        """Ghosts of ``rows`` (weights ``weights``): w - 1 each, in the niches ``niches``
        (one per ghost, in row order; ``count(weights)`` of them)."""
        self._rows.append(np.repeat(np.asarray(rows, dtype=np.int64), (weights - 1).astype(np.int64)))
        self._niches.append(np.asarray(niches, dtype=np.int32))
        self._cache = None

    @staticmethod
    def count(weights: np.ndarray) -> int:
        """How many ghosts rows of weights ``weights`` have."""
        return int((weights - 1).astype(np.int64).sum())

    @property
    def n(self) -> int:
        return sum(r.shape[0] for r in self._rows)

    def market(self, revenue: np.ndarray, k: int) -> np.ndarray:
        """The ghosts' revenue per niche (k,), float64: each ghost's row's ``revenue`` (one value
        per row in use) summed over the ghosts of each niche.  Most ghosts are the initial rows',
        fixed once drawn: they are summed by one sparse niche x row matrix, built once (and again
        when the ghosts added since exceed :attr:`RESEAL` of those in it); the newer by a bincount
        (measured at 450,000 ghosts: 0.6 ms against 5.9 ms for one bincount of them all)."""
        chunks = len(self._rows)
        if self._sealed is None or self.n - self._sealed[1] > self.RESEAL * self._sealed[1]:
            rows, niches = self.arrays()
            ncols = int(rows.max()) + 1 if rows.size else 0
            mat = sp.csr_matrix((np.ones(rows.size), (niches, rows)), shape=(k, ncols))  # duplicates summed
            self._sealed = (chunks, int(rows.size), mat)
        done, _, mat = self._sealed
        out = mat @ revenue[: mat.shape[1]].astype(np.float64)
        if done < chunks:
            rows, niches = np.concatenate(self._rows[done:]), np.concatenate(self._niches[done:])
            out += np.bincount(niches, weights=revenue.take(rows), minlength=k)
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, niche) of every ghost."""
        if self._cache is None:
            self._cache = (np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int64),
                           np.concatenate(self._niches) if self._niches else np.zeros(0, dtype=np.int32))
        return self._cache


def take_top(score: np.ndarray, weight: np.ndarray, amount: float, u: float) -> np.ndarray:
    """Positions of the best-scored entries whose weights add up to ``amount``: by score
    descending, every entry whose cumulative weight stays within ``amount``, and the next one
    with chance (amount - the weight before it) / its weight (``u``: a uniform), so the
    expected weight taken is ``amount`` (a weighted quota with random rounding)."""
    order = np.argsort(-score, kind="stable")
    cum = np.cumsum(weight.take(order), dtype=np.float64)
    n_in = int(np.searchsorted(cum, amount, side="right"))
    if n_in < order.size:
        before = cum[n_in - 1] if n_in else 0.0
        n_in += int(u * float(weight[order[n_in]]) < amount - before)
    return order[:n_in]


def by_region(codes: np.ndarray, n_regions: int, weights: np.ndarray | None = None) -> np.ndarray:
    """How many of the rows whose region codes are ``codes`` are in each region (R,): a count
    (int64), or with ``weights`` (the rows' weights) a weighted count (float64)."""
    if weights is not None:
        return np.bincount(codes, weights=weights, minlength=n_regions)
    if n_regions == 1:
        return np.array([codes.shape[0]], dtype=np.int64)
    return np.bincount(codes, minlength=n_regions).astype(np.int64, copy=False)


def sum_by_region(values: np.ndarray, codes: np.ndarray | None, n_regions: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Column sums of ``values`` (rows x C, counts) per region of the rows: (R, C), int64, or
    float64 with ``weights`` (each row's values times its weight)."""
    if weights is not None:
        x = values * weights[:, None].astype(np.float64)
        if n_regions == 1:
            return x.sum(axis=0)[None, :]
        return np.stack([x[codes == r].sum(axis=0) for r in range(n_regions)])
    if n_regions == 1:
        return values.sum(axis=0, dtype=np.int64)[None, :]
    return np.stack([values[codes == r].sum(axis=0, dtype=np.int64) for r in range(n_regions)])
