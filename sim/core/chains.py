"""Key chains and the chain-length system (链长制): what chain owners' opening does to
their SME suppliers.  Owners are Mesa agents (``agents.ChainOwner``) that set their
opening each month; this module turns per-chain opening into per-firm effects."""

from __future__ import annotations

import numpy as np

from sim.core.schema import ChainParams

F32 = np.float32


def owner_opening(base: float, lever_opening: float, alive: bool) -> float:
    """An owner's opening (technology, market, finance) this month, in units of the
    ChainParams effect sizes: its own base plus the chain-length system's push."""
    return (base + lever_opening) if alive else 0.0


def chain_opening(owner_chain: np.ndarray, owner_open: np.ndarray, n_chains: int, owners_per_chain: int) -> np.ndarray:
    """Per-chain opening: the owners' openings summed, over the nominal owner count."""
    if n_chains == 0:
        return np.zeros(1, dtype=F32)
    tot = np.bincount(owner_chain, weights=owner_open, minlength=n_chains) / max(1, owners_per_chain)
    return np.append(tot, 0.0).astype(F32, copy=False)  # index -1 (no chain) -> 0


def supplier_effects(chain: np.ndarray, opening_by_chain: np.ndarray, is_owner: np.ndarray,
                     c: ChainParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effects on chain suppliers (owners excluded): (growth drift added 1/yr,
    IP-rate multiplier, financing-constraint relief fraction)."""
    v = opening_by_chain[0] if opening_by_chain.size > 1 else F32(0.0)
    if v >= 0 and (opening_by_chain[:-1] == v).all():  # one opening for every chain (all owners alike): a
        o = (chain >= 0).view(np.uint8) * v             # mask times it (exact: v or +0.0), ~5x the lookup
    else:  # chain -1 picks the trailing 0 (take: 2x a fancy index on a small table)
        o = opening_by_chain.take(chain)
    o[is_owner] = F32(0.0)
    ip_mult = o * F32(c.ip_per_opening)
    ip_mult += F32(1.0)
    relief = o * F32(c.fin_per_opening)
    np.minimum(relief, F32(1.0), out=relief)
    o *= F32(c.growth_per_opening)
    return o, ip_mult, relief
