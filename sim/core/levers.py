"""Policy levers: small dated objects, each with one ``apply`` step.

A policy is a set of levers keyed by name.  Each month the model resets an
:class:`Effects` record (no effect) and every active lever adds its effect for the firms
its target segment reaches.  A lever is one small subclass of :class:`Lever`, registered
by its ``name`` in :data:`LEVER_TYPES` (definition order is the policy's lever order):
*what* it does is its ``apply``, and the size of each effect per unit of intensity is
declared in its ``sizes`` (with unit, source and range); ``config`` builds
``PolicyConfig`` (``policy.<name>.*``) and ``LeverEffects`` (``params.levers.*``) from
the registry.  Intensity 0 is exactly no effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.core.calendar import Calendar
from sim.core.declare import p

F32 = np.float32


# segments a lever can target are unions of these firm properties; a firm's code packs them, and
# above them (from bit REGION_SHIFT) its region in a view of several regions (a lever's ``regions``)
SEGMENT_BITS = ("alive", "sme", "library", "titled", "chain")
SEGMENT_CODES = np.arange(2 ** len(SEGMENT_BITS), dtype=np.uint8)
REGION_SHIFT = len(SEGMENT_BITS)
MAX_REGIONS = 2 ** (8 - REGION_SHIFT)  # region codes that fit in a uint8 segment code


def segment_codes(n_regions: int) -> np.ndarray:
    """Every segment code of a view of ``n_regions`` regions: the segment bits, and the region
    code above them (one region: the 32 codes of the segments alone)."""
    bits = int(np.ceil(np.log2(n_regions))) if n_regions > 1 else 0
    return np.arange(len(SEGMENT_CODES) << bits, dtype=np.uint8)

PER_FIRM = ("fin_relief", "ip_mult", "cap_add", "drift_add", "rd_mult", "rd_start_mult", "apply_mult", "review_boost")


@dataclass
class Effects:
    """Per-firm multipliers and additions for one month (arrays over rows in use), plus
    the chain-length system's owner opening (one scalar for all key chains)."""

    fin_relief: np.ndarray      # fraction of the financing constraint removed (0..1)
    ip_mult: np.ndarray         # multiplier on IP per M CNY of R&D
    cap_add: np.ndarray         # added annual growth cap (log units)
    drift_add: np.ndarray       # added annual growth drift (1/yr)
    rd_mult: np.ndarray         # multiplier on target R&D intensity
    rd_start_mult: np.ndarray   # multiplier on the chance to start R&D
    apply_mult: np.ndarray      # multiplier on application propensity
    review_boost: np.ndarray    # share of the re-review failure gap closed (0..1)
    chain_opening: float = 0.0  # owner opening added by the chain-length system
    library_share: float = 0.0  # share of SMEs the cultivation library should hold

    @classmethod
    def none(cls, n: int) -> Effects:
        z, o = np.zeros(n, dtype=F32), np.ones(n, dtype=F32)
        return cls(fin_relief=z.copy(), ip_mult=o.copy(), cap_add=z.copy(), drift_add=z.copy(),
                   rd_mult=o.copy(), rd_start_mult=o.copy(), apply_mult=o.copy(), review_boost=z.copy())

    @property
    def size(self) -> int:
        return self.fin_relief.shape[0]

    def take(self, index: np.ndarray) -> Effects:
        """Per-firm effects picked by ``index`` (e.g. segment codes into a lookup table)."""
        kw = {name: getattr(self, name)[index] for name in PER_FIRM}
        return Effects(**kw, chain_opening=self.chain_opening, library_share=self.library_share)


LEVER_TYPES: dict[str, type[Lever]] = {}  # lever name -> class, in definition order


@dataclass
class Lever:
    """One lever: active from ``start`` to ``end`` (steps, inclusive) at ``intensity`` on
    the firms of segment ``target``; ``cost`` is M CNY per firm reached per year per
    unit of intensity.

    A subclass sets ``name`` (``policy.<name>``), declares ``sizes``: its effect sizes per
    unit of intensity, ``params.levers.<field>`` -> ``p(...)``, and implements ``apply``.
    Defining it registers it in :data:`LEVER_TYPES` (``class X(Lever, register=False)``
    does not).  ``defines_reach``: the lever defines a segment other levers reach (the
    cultivation library), so the model applies it, and selects that segment, before the
    other levers compute their reach."""

    name: ClassVar[str] = ""
    sizes: ClassVar[dict[str, Any]] = {}
    defines_reach: ClassVar[bool] = False

    start: int
    end: int
    intensity: float
    target: str
    cost: float
    regions: tuple[str, ...] = ()  # areas of the view it reaches (() = the whole view)

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if register:
            if not cls.name or cls.name in LEVER_TYPES:
                raise TypeError(f"lever class {cls.__name__}: name {cls.name!r} is empty or already registered")
            LEVER_TYPES[cls.name] = cls

    def active(self, t: int) -> bool:
        return self.intensity > 0 and self.start <= t <= self.end

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        """Add this lever's effect for the reached firms (boolean mask) into ``e``;
        ``size`` holds the effect sizes (``params.levers``)."""
        raise NotImplementedError


class Financing(Lever):
    """Credit, subsidies, rewards: eases the financing constraint."""

    name = "financing"
    sizes = {
        "financing": p(0.35, "fraction of the financing constraint removed", "DOMAIN §5-6: credit +18.2% y/y for SRDI; titles act via financing; assumed", range=(0.0, 1.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.fin_relief[reach] = 1 - (1 - e.fin_relief[reach]) * (1 - min(1.0, size.financing * x))


class Talent(Lever):
    """R&D productivity."""

    name = "talent"
    sizes = {
        "talent": p(0.2, "relative gain in IP per M CNY of R&D", "DOMAIN §5: SD talent rewards; assumed", range=(0.0, 5.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.ip_mult[reach] *= 1 + size.talent * x


class Land(Lever):
    """Capacity-expansion limit; "factors follow projects"."""

    name = "land"
    sizes = {
        "land_cap": p(0.3, "added max annual log growth (capacity limit)", "DOMAIN §5: ~88 mu per key project; assumed", range=(0.0, 5.0)),
        "land_drift": p(0.01, "1/yr added growth drift", "assumed ('factors follow projects')", range=(0.0, 1.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.cap_add[reach] += size.land_cap * x
        e.drift_add[reach] += size.land_drift * x


class Innovation(Lever):
    """R&D super-deduction, vouchers."""

    name = "innovation"
    sizes = {
        "innovation": p(0.15, "relative gain in target R&D intensity", "DOMAIN §6: super-deduction notch +18.8% reported R&D (Chen et al. 2021); assumed", range=(0.0, 5.0)),
        "innovation_start": p(0.5, "relative gain in the chance to start R&D", "assumed (vouchers)", range=(0.0, 10.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.rd_mult[reach] *= 1 + size.innovation * x
        e.rd_start_mult[reach] *= 1 + size.innovation_start * x


class ChainLength(Lever):
    """Chain owners open technology, market, finance (one scalar for all key chains)."""

    name = "chain_length"
    sizes = {
        "chain_length": p(1.0, "owner opening added (units of ChainParams effects)", "seed 002/003: chain-length system; assumed", range=(0.0, 10.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.chain_opening += size.chain_length * x


class Library(Lever):
    """Selects the candidate pool (cultivation library) other levers reach first."""

    name = "library"
    defines_reach = True
    sizes = {
        "library": p(0.2, "share of SMEs in the cultivation library", "DOMAIN §4: >110,000 in pools vs ~500,000 firms", range=(0.0, 1.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.library_share = max(e.library_share, min(1.0, size.library * x))


class Services(Lever):
    """一企一策, enterprise through-train."""

    name = "services"
    sizes = {
        "services_apply": p(0.5, "relative gain in application propensity (library firms)", "seed 003 一企一策 / through-train; assumed", range=(0.0, 10.0)),
        "services_success": p(0.3, "share of the re-review failure gap closed; priority under quota", "assumed", range=(0.0, 1.0)),
    }

    def apply(self, e: Effects, reach: np.ndarray, size: Any) -> None:
        x = F32(self.intensity)
        e.apply_mult[reach] *= 1 + size.services_apply * x
        e.review_boost[reach] = 1 - (1 - e.review_boost[reach]) * (1 - min(1.0, size.services_success * x))


def from_policy(policy: Any, cal: Calendar) -> list[Lever]:
    """The policy's levers (instances of the classes its schema was built from,
    ``policy.lever_types``) with dates converted to steps (levers at intensity 0 dropped)."""
    out = []
    for name, lc in policy.levers().items():
        if lc.intensity > 0:
            out.append(policy.lever_types[name](cal.step_of(lc.start), cal.step_of(lc.end), lc.intensity, lc.target, lc.cost,
                                                tuple(getattr(lc, "regions", ()) or ())))
    return out


def segment_mask(target: str, sme: np.ndarray, library: np.ndarray, titled: np.ndarray,
                 chain_member: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Which firms a lever aimed at ``target`` reaches (alive firms only)."""
    if target == "all":
        m = alive
    elif target == "sme":
        m = sme
    elif target == "library":
        m = library
    elif target == "titled":
        m = titled
    elif target == "chain":
        m = chain_member
    elif target == "library_or_titled":
        m = library | titled
    else:  # pragma: no cover - validated in config
        raise ValueError(f"lever target {target!r} unknown")
    return m & alive


def lever_dates(policy: Any) -> list[tuple[str, str]]:
    """(lever name, start date) of the policy's active levers, for plots."""
    return [(name, lc.start) for name, lc in policy.levers().items() if lc.intensity > 0]
