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

from sim.core import government, tiers
from sim.core.chains import owner_opening
from sim.core.firms import NONE
from sim.core.schema import TIERS, TargetConfig

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


class Government(mesa.Agent):
    """A government that sizes the batches of ``tiers`` after the published record by the
    replicate's rule (``model.gov_setting``; sim/core/government.py) toward the targets it
    holds (those of its tiers, in ``targets``).  Its decided batches (real units) are kept
    in ``decided`` {tier: {year: firms}}."""

    TIERS: tuple[str, ...] = ()

    def __init__(self, model: TierModel, tiers: tuple[str, ...], targets: list, area: str = "") -> None:
        super().__init__(model)
        self.tiers = tiers
        self.area = area  # '' = the view's government; else the province whose own programmes it runs
        self.targets = [t for t in targets if set(t.tiers) & set(tiers)]
        self.decided: dict[str, dict[int, float]] = {tier: {} for tier in tiers}
        # a user's imposed batches are the view's (a province's programmes inside a larger view follow their rule)
        self.imposed: dict = {} if area else model.config.government.imposed

    def batch(self, tier: str, year: int, recorded: dict[int, float], gaps: list) -> float:
        """This year's batch of ``tier`` (firms, real units) after the record: the rule on the
        recorded batches before ``year`` and the batches this government decided."""
        earlier = [recorded[y] for y in sorted(recorded) if y < year] + [self.decided[tier][y] for y in sorted(self.decided[tier])]
        largest = government.review_base(recorded)  # 0 (no cap) while fewer than two batches are recorded
        imposed = self.imposed.get(tier, {})  # {year: firms} (validated)
        if year in imposed:  # a decision the user knows (or a point of the batch curve): no rule, no review cap
            b = imposed[year]
        else:
            b = government.decide(self.model.gov_setting, year, earlier, largest, gaps, tier)
        self.decided[tier][year] = b
        return b


class Ministry(Government):
    """MIIT: sizes the national little-giant and single-champion batches and holds the
    national targets (guidance No. 70, 2021: 10,000 little giants, ~1,000 champions by 2025;
    14th five-year SME plan, Dec 2021: 100,000 SRDI, 10,000 little giants — DOMAIN §3).

    In a regional view it allocates recommendation quotas (``government.allocation``):

    * ``past_share`` (``national`` given: the national record, ``government.national``) — it
      sizes the *national* batch by the replicate's rule from the national record and the
      national targets known at the origin (firm-free, as the rules were fitted:
      ``government.record_gap``), continuing its own decided national batches, and the
      region's quota is that batch times the region's share of the national batches recorded
      to the origin (``government.allocation_share``; Shandong: little giants 362 / 4,762,
      champions 146 / 951).  The region then recognises its best-ranked eligible candidates
      within the quota (``tiers.run_batch``).  A tier the region has no recorded batch of
      (no share to take) keeps ``own_record``.
    * ``own_record`` (``national`` empty) — the rule on the region's own recorded batches and
      the region's targets (the region's breakdown of the national ones, DOMAIN §8).

    In a view of several provinces (issue 14: ``scenario.regions``) it sizes the national batch
    and splits it among the provinces (:meth:`allocate`); each province recognises its best-
    ranked eligible candidates within its quota."""

    TIERS = ("little_giant", "single_champion")

    def __init__(self, model: TierModel, tiers: tuple[str, ...], targets: list, national: dict | None = None) -> None:
        super().__init__(model, tiers, targets)
        sc, national = model.scenario, national or {}
        self.nation: dict[str, dict[int, float]] = {}   # {tier: national batches recorded to the origin (firms)}
        self.shares: dict[str, float] = {}              # {tier: the region's share of them}
        self.national_decided: dict[str, dict[int, float]] = {}
        self._month: dict[str, int] = {}
        self.allocated: dict[str, dict[str, dict[int, float]]] = {}  # {tier: {province: {year: quota, firms}}} (allocate)
        self._targets = [TargetConfig(**t) for t in national.get("targets", [])]
        for tier, (nation, share) in government.national_shares(national, sc).items():
            if tier in tiers and share is not None:
                self.nation[tier], self.shares[tier], self.national_decided[tier] = nation, share, {}
                self._month[tier] = int(national["tiers"][tier]["batch_month"])

    def batch(self, tier: str, year: int, recorded: dict[int, float], gaps: list) -> float:
        """The region's quota under ``past_share``, else :meth:`Government.batch`."""
        if tier not in self.shares:
            return super().batch(tier, year, recorded, gaps)
        m, share, nation, decided = self.model, self.shares[tier], self.nation[tier], self.national_decided[tier]
        imposed = m.config.government.imposed.get(tier, {})
        path = m.gov_setting.path.get(tier, {}) if m.gov_setting.rule == "fixed" else {}
        if year in imposed or year in path:  # the region's own batch, as the user knows it: the regional rule sizes it
            b = super().batch(tier, year, recorded, gaps)
            decided[year] = b / share
            return b
        earlier = {**{y: q for y, q in nation.items() if y < year}, **decided}
        bm = self._month[tier]
        validity = int(round(m.criteria.validity_years * 12))
        known = government.known_targets(self._targets, tier, year, bm, m.scenario.origin)
        seen = [government.record_gap(tg, year, bm, earlier, m.params.recognition.rereview_pass[tier], validity,
                                      m.scenario.window_start) for tg in known]
        decided[year] = government.decide(m.gov_setting, year, [earlier[y] for y in sorted(earlier)],
                                          government.review_base(nation), [g for g in seen if g], tier)
        b = share * decided[year]
        self.decided[tier][year] = b
        return b


    def allocate(self, tier: str, year: int, batch: float, pools: dict[str, float]) -> dict[str, float]:
        """The quotas of the view's provinces out of the national ``batch`` (simulated firms at
        the view's scale) by ``government.allocation`` (``government.split_batch``): their
        published records (``government.provinces``, cut at the origin) and past shares, or
        their ``pools`` on criteria alone."""
        m = self.model
        s, last = m.scenario.scale, int(m.scenario.origin[:4])
        nation = tiers.recorded_batches(m.scenario.tiers[tier].capacity, m.scenario.origin)
        records = {p: {y: q * s for y, q in rec[tier]["quota_by_year"].items() if y <= last}
                   for p, rec in m.config.government.provinces.items() if tier in rec}
        caps = government.split_batch(batch, year, {y: q * s for y, q in nation.items()}, records,
                                      m.regions.province_names, pools, m.config.government.allocation == "pool")
        for p, q in caps.items():  # real units: a province's last quota is part of what its own plans see
            self.allocated.setdefault(tier, {}).setdefault(p, {})[year] = q / s
        return caps


class Province(Government):
    """A province (Shandong): sizes the SRDI, provincial-champion and leading-enterprise
    batches.  Shandong has two sets of 2025 targets: seed 003's newly-cultivated targets
    (``scenario.targets``) and its 14th-FYP stock targets (``scenario.plan_targets``: 10,000
    SRDI, 1,000 little giants).  Both are held; on each tier the one with the larger
    per-batch need drives the rule, because meeting the more demanding target meets the
    other (a province is scored on both; DOMAIN §8: local plans met and exceeded).

    Inside a view of several provinces (the national view) a province with programmes of its own
    (``government.programmes``) has its own Province agent (``area`` = the province): it sizes
    that province's :data:`PROGRAMME_TIERS` batches toward the province's targets, counted on
    the province's firms (``TierModel._gaps``)."""

    TIERS = ("srdi", "provincial_champion", "leading")
    # the tiers a province runs as its own programmes inside a view of several provinces (issue 14):
    # leading enterprises stay national there, No. 70's 领航企业 and Shandong's 领航型企业 not yet told apart
    PROGRAMME_TIERS = ("srdi", "provincial_champion")


class City(Government):
    """A city (Liaocheng) runs the chain-length system and recommends its candidates to the
    province: in the city view it holds the city's targets and the province's batches reach
    it through the same rule on the city's own record (its recommendations)."""

    TIERS = ()
