"""Mesa agents: SMEs and chain owners, as views onto rows of the model's FirmArrays.

An agent holds only its row id; its attributes read and write the shared arrays, so the
vectorised step and agent-level inspection see the same firm.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.core.chains import owner_opening
from sim.core.firms import NONE
from sim.core.schema import TIERS

if TYPE_CHECKING:  # pragma: no cover
    from sim.core.model import TierModel


def add_many(model: TierModel, cls: type[FirmAgent], rows) -> dict[int, FirmAgent]:
    """Create agents of ``cls`` for firm ``rows`` through Mesa's public path (``Agent.__init__``,
    which registers each agent with ``Model.register_agent``), with the cyclic garbage
    collector paused.  Returns {row: agent}.  (Measured on Shandong's 37,871 SMEs: 0.10 s,
    against 0.04 s for the earlier bulk writes into Mesa's private registries.)"""
    with _gc_paused():
        return {int(row): cls(model, row) for row in rows}


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while agents are created or removed in bulk: the
    collector would otherwise run every 700 new objects and rescan the live agents (~30%
    of a provincial replicate's time); it runs as usual afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def remove_many(agents: list[FirmAgent]) -> None:
    """Deregister ``agents`` (Mesa's ``Agent.remove``) with the cyclic collector paused."""
    with _gc_paused():
        for a in agents:
            a.remove()


class FirmAgent(mesa.Agent):
    """A firm: attribute access goes to row ``row`` of ``model.firms``."""

    def __init__(self, model: TierModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

    def __getattr__(self, name: str):  # only called for names not found normally
        firms = self.__dict__.get("model") and self.model.firms
        if firms is not None and hasattr(firms, name) and isinstance(getattr(firms, name), np.ndarray) and name != "titles":
            return getattr(firms, name)[self.row].item()
        raise AttributeError(name)

    def month(self) -> None:
        """The per-agent reference driver: this firm's monthly rules (``TierModel.firm_month``,
        the same rule functions the vectorised driver runs over all rows) with its own
        variates, then its exit draw."""
        m = self.model
        if not m.firms.alive[self.row]:
            return
        idx = np.array([self.row])
        d = m.draw(1, m.t_now)
        m.firm_month(idx, m.t_now, d)
        if m.exits(idx, m.t_now, d["exit"]).size:
            m._sme_agents.pop(self.row, None)
            self.remove()

    @property
    def titles(self) -> dict[str, str]:
        """Titles held now -> date of the current recognition ('YYYY-MM')."""
        col = self.model.firms.titles[:, self.row]
        return {tier: self.model.calendar.date(int(m)) for tier, m in zip(TIERS, col) if m != NONE}

    @property
    def age_years(self) -> float:
        return (self.model.t_now - int(self.model.firms.birth[self.row])) / 12.0

    @property
    def niche_years(self) -> float:
        return (self.model.t_now - int(self.model.firms.niche_start[self.row])) / 12.0


class SME(FirmAgent):
    """A small or medium-sized firm (or a large non-owner firm): its monthly behaviour is
    the rules in ``sim.rules``, run for all firms at once by the model's vectorised step."""


class ChainOwner(FirmAgent):
    """A chain owner (链主): each month it decides how far to open technology, market
    (purchases) and finance to the SME suppliers of its chain, pushed by the
    chain-length-system lever."""

    def __init__(self, model: TierModel, row: int, chain: int, slot: int) -> None:
        super().__init__(model, row)
        self.chain = int(chain)
        self.slot = int(slot)  # index into model.owner_open
        self.opening = 0.0

    def step(self) -> None:
        m = self.model
        self.opening = owner_opening(m.params.chains.base_opening, m._table.chain_opening, bool(m.firms.alive[self.row]))
        m.owner_open[self.slot] = self.opening

    @property
    def purchases(self) -> float:
        """M CNY/yr bought from the chain's SMEs: purchase_share of revenue x opening."""
        return float(self.model.params.chains.purchase_share * self.model.firms.revenue[self.row] * self.opening)
