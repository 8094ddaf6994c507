"""Policy levers: small dated objects, each with one ``apply`` step.

A policy is a set of levers keyed by name.  Each month the model resets an
:class:`Effects` record (no effect) and every active lever adds its effect for the firms
its target segment reaches.  The size of every effect per unit of intensity lives in
``config.LeverEffects`` (unit and source there); *what* each lever does lives here, in its
``apply``.  Intensity 0 is exactly no effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calendar import Calendar
from .config import LEVERS, LeverEffects, PolicyConfig

F32 = np.float32


# segments a lever can target are unions of these firm properties; a firm's code packs them
SEGMENT_BITS = ("alive", "sme", "library", "titled", "chain")
SEGMENT_CODES = np.arange(2 ** len(SEGMENT_BITS), dtype=np.uint8)

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
    def none(cls, n: int) -> "Effects":
        z, o = np.zeros(n, dtype=F32), np.ones(n, dtype=F32)
        return cls(fin_relief=z.copy(), ip_mult=o.copy(), cap_add=z.copy(), drift_add=z.copy(),
                   rd_mult=o.copy(), rd_start_mult=o.copy(), apply_mult=o.copy(), review_boost=z.copy())

    @property
    def size(self) -> int:
        return self.fin_relief.shape[0]

    def take(self, index: np.ndarray) -> "Effects":
        """Per-firm effects picked by ``index`` (e.g. segment codes into a lookup table)."""
        kw = {name: getattr(self, name)[index] for name in PER_FIRM}
        return Effects(**kw, chain_opening=self.chain_opening, library_share=self.library_share)


@dataclass
class Lever:
    """One lever: active from ``start`` to ``end`` (steps, inclusive) at ``intensity`` on
    the firms of segment ``target``; ``cost`` is M CNY per firm reached per year per
    unit of intensity."""

    name: str
    start: int
    end: int
    intensity: float
    target: str
    cost: float

    def active(self, t: int) -> bool:
        return self.intensity > 0 and self.start <= t <= self.end

    def apply(self, e: Effects, reach: np.ndarray, size: LeverEffects) -> None:
        """Add this lever's effect for the reached firms (boolean mask) into ``e``."""
        x = F32(self.intensity)
        if self.name == "financing":     # credit, subsidies, rewards: eases the financing constraint
            e.fin_relief[reach] = 1 - (1 - e.fin_relief[reach]) * (1 - min(1.0, size.financing * x))
        elif self.name == "talent":      # R&D productivity
            e.ip_mult[reach] *= 1 + size.talent * x
        elif self.name == "land":        # capacity-expansion limit; "factors follow projects"
            e.cap_add[reach] += size.land_cap * x
            e.drift_add[reach] += size.land_drift * x
        elif self.name == "innovation":  # R&D super-deduction, vouchers
            e.rd_mult[reach] *= 1 + size.innovation * x
            e.rd_start_mult[reach] *= 1 + size.innovation_start * x
        elif self.name == "chain_length":  # chain owners open technology, market, finance
            e.chain_opening += size.chain_length * x
        elif self.name == "library":     # selects the candidate pool other levers reach first
            e.library_share = max(e.library_share, min(1.0, size.library * x))
        elif self.name == "services":    # 一企一策, enterprise through-train
            e.apply_mult[reach] *= 1 + size.services_apply * x
            e.review_boost[reach] = 1 - (1 - e.review_boost[reach]) * (1 - min(1.0, size.services_success * x))
        else:  # pragma: no cover - names are validated in config
            raise ValueError(f"policy.{self.name}: unknown lever (allowed: {', '.join(LEVERS)})")


def from_policy(policy: PolicyConfig, cal: Calendar) -> list[Lever]:
    """The policy's levers with dates converted to steps (levers at intensity 0 dropped)."""
    out = []
    for name, lc in policy.levers().items():
        if lc.intensity > 0:
            out.append(Lever(name, cal.step_of(lc.start), cal.step_of(lc.end), lc.intensity, lc.target, lc.cost))
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


def lever_dates(policy: PolicyConfig) -> list[tuple[str, str]]:
    """(lever name, start date) of the policy's active levers, for plots."""
    return [(name, lc.start) for name, lc in policy.levers().items() if lc.intensity > 0]
