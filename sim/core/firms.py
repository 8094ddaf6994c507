"""FirmArrays: the firm population as struct-of-arrays, one NumPy array per attribute.

Row ``i`` is firm id ``i`` for the whole run (ids never change; exited firms keep their
row with ``alive`` False; entrants get new rows).  Units: revenue in M CNY per year,
R&D intensity as R&D / revenue, times as model steps (months since the scenario start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.schema import TIERS, FirmParams

NONE = np.int32(-(10**6))  # "never": a title not held, a firm not yet born
TIER_INDEX = {name: i for i, name in enumerate(TIERS)}

# attribute name -> (dtype, initial fill) — the one list of firm state
SCHEMA: dict[str, tuple[type, object]] = {
    "alive": (np.bool_, False),
    "birth": (np.int32, NONE),          # month the firm was born (negative: before start)
    "niche_start": (np.int32, NONE),    # month it entered its product niche
    "revenue": (np.float32, 0.0),       # M CNY/yr, current annualised
    "rev_y1": (np.float32, 0.0),        # revenue at the end of last calendar year
    "rev_y2": (np.float32, 0.0),        # revenue two year-ends ago
    "rev_y3": (np.float32, 0.0),        # revenue three year-ends ago (base of 2-yr growth)
    "ytd": (np.float32, 0.0),           # log revenue growth since January (capacity limit)
    "employees": (np.float32, 0.0),
    "has_rd": (np.bool_, False),
    "rd_int": (np.float32, 0.0),        # R&D / revenue this year, as reported (what the criteria read)
    "rd_real": (np.float32, 0.0),       # R&D / revenue really spent this year (<= rd_int; the rest is relabelled)
    "rd_prev": (np.float32, 0.0),       # R&D / revenue last year
    "rd_target": (np.float32, 0.0),     # firm's own long-run intensity
    "ip": (np.float32, 0.0),            # class-I IP rights held (count)
    "rd_inst": (np.bool_, False),       # has an R&D institution
    "brand": (np.bool_, False),
    "emerging": (np.bool_, False),      # strategic-emerging field
    "key_link": (np.bool_, False),      # its product is a key link of its chain (if in one)
    "rd_staff_ratio": (np.float32, 0.0),  # R&D-staff share per unit R&D intensity (drawn at synthesis)
    "equity_new": (np.float32, 0.0),    # M CNY equity raised in the last 2 years (drawn at synthesis)
    "main_share": (np.float32, 0.0),    # main business / revenue
    "debt": (np.float32, 0.0),          # debt / assets
    "fin_base": (np.float32, 0.0),      # financing constraint before levers (0..1)
    "quality": (np.float32, 0.0),       # latent management / distinctiveness score (0..1)
    "vol": (np.float32, 0.0),           # this year's monthly log-growth sd (scale mixture)
    "chain": (np.int32, -1),            # key chain index, -1 none
    "niche": (np.int32, 0),
    "owner": (np.bool_, False),         # chain owner
    "library": (np.bool_, False),       # in the cultivation library
    "region": (np.int8, 0),             # region code (sim/core/regions.py: index in the view's regions)
    "weight": (np.float32, 1.0),        # firms this row stands for at the view's scale (1, or 1 / its region's scale if thinned)
    # rates: the firm's own parts set each January (and at entry), the environment's parts
    # at each refresh (January, after batches, lever changes; entrants)
    "base_drift": (np.float32, 0.0),    # annual drift from size and age (January)
    "ip_rate": (np.float32, 0.0),       # class-I IP per year before multipliers (January)
    "constraint": (np.float32, 0.0),    # effective financing constraint (0..1)
    "drift_m": (np.float32, 0.0),       # monthly log-revenue drift
    "cap": (np.float32, 0.0),           # annual capacity-expansion limit (log growth)
    "p_ip": (np.float32, 0.0),          # monthly chance of a new class-I IP right
    "p_inst": (np.float32, 0.0),        # monthly chance of founding an R&D institution
    "hazard": (np.float32, 0.0),        # annual exit hazard from age and size, before any title (January)
    "p_exit": (np.float32, 0.0),        # monthly exit probability
    # bit k set: the firm has held tier k (at the start or by a recognition in the run); never
    # cleared, so a re-recognition after a lapse, failure or exit is not a first title (record.py)
    "ever": (np.uint8, 0),
}
assert len(TIERS) <= 8, "FirmArrays.ever holds one bit per tier in a uint8"


@dataclass
class FirmArrays:
    """All firm state.  ``titles[k, i]`` is the month firm i was (re)recognised in tier k
    (its validity clock), or NONE if it does not hold the title; bit k of ``ever[i]`` says
    whether it has ever held tier k."""

    alive: np.ndarray
    birth: np.ndarray
    niche_start: np.ndarray
    revenue: np.ndarray
    rev_y1: np.ndarray
    rev_y2: np.ndarray
    rev_y3: np.ndarray
    ytd: np.ndarray
    employees: np.ndarray
    has_rd: np.ndarray
    rd_int: np.ndarray
    rd_real: np.ndarray
    rd_prev: np.ndarray
    rd_target: np.ndarray
    ip: np.ndarray
    rd_inst: np.ndarray
    brand: np.ndarray
    emerging: np.ndarray
    key_link: np.ndarray
    rd_staff_ratio: np.ndarray
    equity_new: np.ndarray
    main_share: np.ndarray
    debt: np.ndarray
    fin_base: np.ndarray
    quality: np.ndarray
    vol: np.ndarray
    chain: np.ndarray
    niche: np.ndarray
    owner: np.ndarray
    library: np.ndarray
    region: np.ndarray
    weight: np.ndarray
    base_drift: np.ndarray
    ip_rate: np.ndarray
    constraint: np.ndarray
    drift_m: np.ndarray
    cap: np.ndarray
    p_ip: np.ndarray
    p_inst: np.ndarray
    hazard: np.ndarray
    p_exit: np.ndarray
    ever: np.ndarray
    titles: np.ndarray
    n: int = 0  # rows in use (firms ever created)

    @classmethod
    def empty(cls, capacity: int) -> FirmArrays:
        cols = {name: _filled(capacity, dt, fill) for name, (dt, fill) in SCHEMA.items()}
        titles = np.full((len(TIERS), capacity), NONE, dtype=np.int32)
        return cls(**cols, titles=titles, n=0)

    @property
    def capacity(self) -> int:
        return self.alive.shape[0]

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows (amortised doubling)."""
        need = self.n + extra
        if need <= self.capacity:
            return
        new_cap = max(need, int(self.capacity * 1.5) + 16)
        for name, (dt, fill) in SCHEMA.items():
            old = getattr(self, name)
            new = _filled(new_cap, dt, fill)
            new[: old.shape[0]] = old
            setattr(self, name, new)
        titles = np.full((len(TIERS), new_cap), NONE, dtype=np.int32)
        titles[:, : self.titles.shape[1]] = self.titles
        self.titles = titles

    def take(self, rows: np.ndarray, **columns: np.ndarray) -> FirmSubset:
        """The firms ``rows`` only, as a read-only stand-in for FirmArrays whose columns are
        copied on first use (criteria read a few columns of a few firms).  ``columns``:
        values that replace columns for these rows (aligned with ``rows``), e.g. the
        intensity a firm would report if it bunched, to ask what the criteria would say."""
        return FirmSubset(self, rows, columns)

    def holds(self, tier: str) -> np.ndarray:
        """Boolean mask over rows in use: firm currently holds ``tier``."""
        return self.titles[TIER_INDEX[tier], : self.n] != NONE

    def is_sme(self, fp: FirmParams) -> np.ndarray:
        """SME mask over rows in use (see :func:`sme_mask`)."""
        return sme_mask(self.employees[: self.n], self.revenue[: self.n], fp)


def _filled(capacity: int, dtype: type, fill: object) -> np.ndarray:
    """A column of ``capacity`` rows at its initial ``fill``: a zero fill by np.zeros (memory the
    system hands out zeroed, not written row by row: ~2x faster for the synthesis's 40 columns)."""
    if fill == 0:
        return np.zeros(capacity, dtype=dtype)
    return np.full(capacity, fill, dtype=dtype)


class FirmSubset:
    """Rows of a FirmArrays, duck-typed for the criteria: ``n``, every column (copied on
    first access), ``titles``, ``holds`` and ``is_sme``."""

    def __init__(self, parent: FirmArrays, rows: np.ndarray, columns: dict[str, np.ndarray] | None = None) -> None:
        self._parent, self._rows, self.n = parent, rows, int(len(rows))
        for name, values in (columns or {}).items():
            if name not in SCHEMA or np.shape(values) != (self.n,):
                raise ValueError(f"{name}: not a firm column of {self.n} rows (allowed: {', '.join(SCHEMA)})")
            self.__dict__[name] = values

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in SCHEMA:
            raise AttributeError(name)
        col, rows = getattr(self._parent, name), self._rows
        # an index array by take (~1.1-1.8x a fancy index, the same values)
        arr = col.take(rows) if isinstance(rows, np.ndarray) and rows.dtype.kind in "iu" else col[rows]
        self.__dict__[name] = arr
        return arr

    def part(self, sel: slice) -> FirmSubset:
        """The rows ``sel`` of this subset.  Columns already copied (or replaced) are sliced,
        not gathered from the parent again: a batch evaluates the metrics of all its rows
        and then the criteria of the applicants and of the due holders, parts of them."""
        sub = FirmSubset(self._parent, self._rows[sel])
        sub.__dict__.update({name: arr[sel] for name, arr in self.__dict__.items() if name in SCHEMA})
        return sub

    @property
    def titles(self) -> np.ndarray:
        return self._parent.titles[:, self._rows]

    def holds(self, tier: str) -> np.ndarray:
        return self._parent.titles[TIER_INDEX[tier]].take(self._rows) != NONE

    def is_sme(self, fp: FirmParams) -> np.ndarray:
        return sme_mask(self.employees, self.revenue, fp)


def sme_mask(employees: np.ndarray, revenue: np.ndarray, fp: FirmParams) -> np.ndarray:
    """SME by the 2011 industrial standard: fewer employees than a large firm's minimum or
    less revenue (M CNY/yr) than ``large_min``."""
    return (employees < fp.large_min_employees) | (revenue < fp.large_min)
