"""Batch-size rules: how a government sizes a recognition batch after the published record.

One place for every rule (issue 13).  A government agent (``sim.core.agents.Ministry``,
``Province``, ``City``) calls :func:`decide` once per batch of a tier it sizes (a few times
a year, never per firm); the helpers below are pure functions of a handful of numbers, so
each can be checked by hand (tests/test_government.py).

Units: batch sizes, gaps and losses are firms in real units (a simulated count divided by
``scenario.scale``); years are batches left (one batch per tier per year).

Rules (``government.rule``):

* ``target_chasing`` — batch = over_fulfilment x (gap to the target after the expected
  review losses) / batches left to the deadline, at least ``floor`` x the last batch (with no
  open target, that floor alone); never below 0.  With several targets on a tier the largest need drives (a government that meets
  its most demanding target meets the others).
* ``trend`` — the last ``k`` batches (recorded or decided) continued log-linearly: the
  least-squares growth of log(batch) over them, clipped to [min_growth, max_growth], applied
  once to the last batch.
* ``fixed`` — an explicit per-tier, per-year path (``government.fixed.path``) or else the last batch
  repeated (the naive persistence forecast).
* ``criteria_only`` — no bound: every eligible applicant is recognised.

Every rule is then bounded by the review capacity (``review_capacity`` x the tier's largest
recorded batch) and, in ``tiers.run_batch``, by the eligible applicants.

``mixture`` — each replicate draws one of the four rules and its parameters from its own
stream ``SeedSequence(seed, spawn_key=(replicate, GOVERNMENT_STREAM))``: it depends on the seed
and the replicate only, so the draw is reproducible and the same under every policy (paired).
Without a fit (``government.fit=''``) the rule is drawn by ``government.weights`` and the
parameters from the priors in :data:`PRIORS`.  With the fit of the rules to the recorded batch
sequences (``government.posterior``, loaded from ``government.fit`` by the config layer; made by
``sim.analysis.rule_fit``) the weights are the posterior ones (:func:`mixture_weights`) and
the parameters one of the rule's fitted draws.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.core import tiers
from sim.core.calendar import month_index
from sim.core.schema import GOVERNMENT_RULES, GovernmentConfig, ScenarioConfig, TargetConfig

GOVERNMENT_STREAM = 1_000_013  # replicate r's rule draw: SeedSequence(seed, spawn_key=(r, GOVERNMENT_STREAM))
RULES = tuple(r for r in GOVERNMENT_RULES if r != "mixture")

# The uncertain government parameters: (dotted path under ``government``, shape, lo, hi, unit, note).
# The mixture draws each replicate's values from these, and sim.analysis.calibration declares
# them as priors (uninformed by the record to 2021: they size batches after it).
PRIORS: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("target_chasing.over_fulfilment", "loguniform", 1.5, 4.0, "multiple of the per-year need",
     "DOMAIN §8: the 2018 plan of ~600 little giants in 3 years gave 1,832 (3.05x); the 2016 plan of 200 demonstration "
     "champions by 2025 had 340 by 2021 (2.8x the pro-rata 120): both observed plans sit in the middle of [1.5, 4] "
     "(geometric middle 2.45); a prior on [1, 3] put most of its mass below the only evidence"),
    ("target_chasing.floor", "uniform", 0.75, 1.5, "share of the last batch (> 1: the programme grows whatever its targets)",
     "2016-21 batch sequences (data/): after a programme's second batch, batch / previous batch ranged from 124/160 = 0.78 "
     "(champions 2019) to 2,930/1,584 = 1.85 (little giants 2021), and batches kept growing once plans were met "
     "(champions 2020-21: x1.44, x1.46 after the 2016 plan's 200 demonstration firms were reached); little-giant and "
     "Shandong SRDI batches never fell"),
    ("trend.max_growth", "uniform", 0.2, 0.85, "1/yr (log growth)",
     "2016-21 batch sequences: champion batches grew up to 0.38/yr in log (178 -> 259), little giants 0.62 (1,584 -> 2,930)"),
    ("review_capacity", "uniform", 1.5, 3.0, "multiple of the largest recorded batch",
     "2016-21 batch sequences: after a programme's first batch no batch exceeded 1.85x its predecessor (little giants 2021)"),
)


# ---- the rules, as pure functions ----------------------------------------------------

def per_year_need(gap: float, batches_left: int, retention: float = 1.0) -> float:
    """Firms per batch still needed: ``gap`` over the batches left, divided by the share of
    new recognitions expected to survive to the deadline (``retention`` in (0, 1]); 0 when
    the gap is closed or no batch is left."""
    if batches_left <= 0 or gap <= 0:
        return 0.0
    return gap / batches_left / max(retention, 1e-9)


def target_chasing(need: float, over_fulfilment: float, last_batch: float | None, floor: float) -> float:
    """over_fulfilment x ``need`` (firms per batch), at least ``floor`` x ``last_batch`` (none
    without a last batch), never below 0."""
    b = over_fulfilment * max(need, 0.0)
    if last_batch is not None and floor > 0:
        b = max(b, floor * last_batch)
    return max(b, 0.0)


def trend(batches: Sequence[float], k: int, min_growth: float, max_growth: float) -> float | None:
    """The next batch on the log-linear trend of the last ``k`` positive ``batches``: their
    least-squares growth per batch in log, clipped to [min_growth, max_growth], applied to
    the last batch; the last batch itself with a single batch; None with none."""
    xs = [float(b) for b in batches if b > 0][-max(k, 1):]
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    y = np.log(np.asarray(xs))
    i = np.arange(len(xs), dtype=float)
    g = float(np.polyfit(i, y, 1)[0])
    return xs[-1] * math.exp(min(max(g, min_growth), max_growth))


def fixed(year: int, path: dict, last_batch: float | None) -> float | None:
    """The path's batch for ``year`` if given, else ``last_batch`` (persistence)."""
    if year in path:
        return float(path[year])
    return last_batch


def batches_left(deadline: str, year: int, batch_month: int) -> int:
    """The batches of a yearly tier (batch month ``batch_month``, 1-12; 0 = continuous, counted
    as December) from ``year``'s on, this one included, that fall by ``deadline`` ('YYYY-MM')."""
    bm = batch_month or 12
    return int(deadline[:4]) - year + (1 if bm <= int(deadline[5:7]) else 0)


def review_base(recorded: dict[int, float]) -> float:
    """The base of the review capacity (firms): the largest recorded batch, or 0 (no cap) while
    fewer than two are recorded — a programme's first batch says little about what it can
    review: the second batches of 2016-21 were 1.2x (champions) and 6.4x (little giants) the first."""
    return max(recorded.values()) if len(recorded) >= 2 else 0.0


def reviews_due(year: int, batches: int, batch_month: int, validity_months: int, deadline_month: int) -> int:
    """How many of the ``batches`` yearly batches from ``year`` (month ``batch_month``; 0 =
    December) are re-reviewed by the deadline (month index ``deadline_month``, year x 12 + month - 1)."""
    bm = batch_month or 12
    return sum(1 for y in range(year, year + batches) if y * 12 + bm - 1 + validity_months <= deadline_month)


def retention(rereview_pass: float, reviews_due: int, batches: int) -> float:
    """The share of a new batch expected to hold its title at the deadline, averaged over the
    ``batches`` left: ``reviews_due`` of them are re-reviewed before it, each passing with
    ``rereview_pass``."""
    return 1.0 - (1.0 - rereview_pass) * reviews_due / max(batches, 1)


def bounded(batch: float | None, review_cap: float) -> float:
    """A batch bounded by the review capacity (firms); no batch (None) = the capacity."""
    if batch is None:
        return review_cap
    return float(min(max(batch, 0.0), review_cap))


# ---- what a government sees when it sizes a batch -------------------------------------

@dataclass
class Gap:
    """One target as seen by one tier at a batch: firms still missing (threshold minus the
    count now plus the review losses expected before the deadline), the batches of the tier
    left to the deadline (this one included), the share of the gap this tier covers (its share
    of the target's tiers' last recorded batches), and the share of a new batch expected to
    survive to the deadline (stock targets: re-reviews due before the deadline)."""

    gap: float
    batches_left: int
    share: float = 1.0
    retention: float = 1.0

    def need(self) -> float:
        return per_year_need(self.gap * self.share, self.batches_left, self.retention)


def known_targets(targets: Sequence[TargetConfig], tier: str, year: int, batch_month: int, origin: str) -> list[TargetConfig]:
    """The targets on ``tier`` a government knew when it sized ``year``'s batch (month
    ``batch_month``; 0 = December): announced before that month and by the end of the record
    ``origin`` ('YYYY-MM'; a target announced later was unknown to a forecast made then)."""
    when = f"{year:04d}-{(batch_month or 12):02d}"
    return [t for t in targets if tier in t.tiers and (not t.announced or t.announced < when) and t.announced <= origin]


def record_gap(tg: TargetConfig, year: int, batch_month: int, earlier: dict[int, float], rereview_pass: float,
               validity_months: int, window_start: str) -> Gap | None:
    """Target ``tg`` as a government sees it from a batch record alone, before ``year``'s batch
    (no firms: the fit of sim/analysis/rule_fit.py, and MIIT's national batches in a regional
    view).  ``earlier`` = the tier's batches before ``year`` (firms, real units).  A stock
    target counts the batches (re-review losses before the batch ignored) less the expected
    losses of the holders due for re-review by the deadline; a cumulative target counts the
    batches from its ``counted_from`` year (else ``window_start``'s).  None once no batch is
    left before the deadline."""
    left = batches_left(tg.deadline, year, batch_month)
    if left <= 0:
        return None
    bm = batch_month or 12
    if tg.metric == "stock":
        dl = month_index(tg.deadline)
        count = sum(earlier.values())
        due = sum(b for y, b in earlier.items() if y * 12 + bm - 1 + validity_months <= dl)
        q = reviews_due(year, left, bm, validity_months, dl)
        return Gap(float(tg.threshold) - count + due * (1.0 - rereview_pass), left, 1.0, retention(rereview_pass, q, left))
    start = int((tg.counted_from or window_start)[:4])
    return Gap(float(tg.threshold) - sum(b for y, b in earlier.items() if y >= start), left)


def allocation_share(region: dict[int, float], nation: dict[int, float]) -> float | None:
    """A region's share of MIIT's batches of a tier (``government.allocation=past_share``): its
    recorded batches over the national ones of the same years (firms, real units), or None
    when it has no recorded batch (or the nation none in those years) to take a share from."""
    years = [y for y in region if y in nation]
    total = sum(nation[y] for y in years)
    if not years or total <= 0:
        return None
    return sum(region[y] for y in years) / total


def split_batch(batch: float, year: int, nation: dict[int, float], records: dict[str, dict[int, float]],
                provinces: tuple[str, ...], pools: dict[str, float], by_pool: bool = False) -> dict[str, float]:
    """MIIT's batch of a tier across the provinces of a view (firms; any one unit): ``by_pool``
    (``government.allocation=pool``) — each province its share of the pool on criteria alone
    (``pools``; equal shares of an empty pool).  Else (``past_share``): a province with a
    published record (``records``, cut at the origin) gets its recorded batch in a recorded year
    and its :func:`allocation_share` of the nation's recorded batches (``nation``) in a later
    one; the provinces without a record share the rest by their pools.  A province's unused
    quota is not passed on (a recommendation quota, DOMAIN §2)."""
    def by(weights: dict[str, float], amount: float) -> dict[str, float]:
        total = sum(weights.values())
        return {p: amount * (w / total if total > 0 else 1.0 / len(weights)) for p, w in weights.items()}
    if by_pool:
        return by({p: pools.get(p, 0.0) for p in provinces}, batch)
    out: dict[str, float] = {}
    for p in provinces:
        rec = records.get(p)
        if not rec:
            continue
        if year in rec:
            out[p] = min(rec[year], batch)
        else:
            share = allocation_share(rec, nation)
            if share is not None:
                out[p] = share * batch
    rest = [p for p in provinces if p not in out]
    if rest:
        out.update(by({p: pools.get(p, 0.0) for p in rest}, max(0.0, batch - sum(out.values()))))
    return {p: out[p] for p in provinces}


def national_shares(national: dict, scenario: ScenarioConfig) -> dict[str, tuple[dict[int, float], float | None]]:
    """For each tier of the national record ``national`` (``government.national``) the region
    (``scenario``) holds: the national batches recorded to the region's origin (firms) and the
    region's :func:`allocation_share` of them (None: no recorded batch of its own)."""
    out, last = {}, int(scenario.origin[:4])
    for tier, rec in (national.get("tiers") or {}).items():
        if tier in scenario.tiers:
            nation = {int(y): float(q) for y, q in rec["quota_by_year"].items() if int(y) <= last}
            out[tier] = (nation, allocation_share(tiers.recorded_batches(scenario.tiers[tier].capacity, scenario.origin), nation))
    return out


@dataclass
class Setting:
    """A replicate's rule and parameters (from the config, or drawn under ``mixture``)."""

    rule: str
    over_fulfilment: float
    floor: float
    trend_k: int
    min_growth: float
    max_growth: float
    review_capacity: float
    path: dict  # {tier: {year: firms}}

    def as_dict(self) -> dict:
        return {"rule": self.rule, "over_fulfilment": self.over_fulfilment, "floor": self.floor,
                "max_growth": self.max_growth, "review_capacity": self.review_capacity}


FITTED = {"target_chasing": ("target_chasing.over_fulfilment", "target_chasing.floor", "review_capacity"),
          "trend": ("trend.max_growth", "review_capacity"),
          "fixed": ("review_capacity",)}  # the PRIORS parameters each rule's batches depend on (criteria_only: none)
FITTED_KEYS = tuple(sorted({k for keys in FITTED.values() for k in keys}))  # every parameter a fit draws


def mixture_weights(weights: dict[str, float], posterior: dict) -> dict[str, float]:
    """The mixture's rule weights: ``weights`` (the prior), updated by the fit's evidence where
    there is one.  The rules the record can score (``posterior[rule]['log_evidence']`` not None)
    share their total prior weight in proportion to prior x evidence; a rule it cannot score
    (criteria_only: its batches are the eligible pools, which the firm-free fit does not
    simulate) keeps its prior weight.  Normalised to sum 1."""
    w = {r: float(weights.get(r, 0.0)) for r in RULES}
    scored = [r for r in RULES if (posterior.get(r) or {}).get("log_evidence") is not None and w[r] > 0]
    if scored:
        top = max(posterior[r]["log_evidence"] for r in scored)
        raw = {r: w[r] * math.exp(posterior[r]["log_evidence"] - top) for r in scored}
        mass, tot = sum(w[r] for r in scored), sum(raw.values())
        w.update({r: mass * raw[r] / tot for r in scored})
    tot = sum(w.values())
    return {r: v / tot for r, v in w.items()}


def setting(gov: GovernmentConfig, seed: int, replicate: int) -> Setting:
    """The replicate's rule and parameters.  A single rule: one of its fitted draws (chosen
    from the replicate's stream) if the fit has any, else the config's values.  ``mixture``:
    a rule drawn by :func:`mixture_weights` and every parameter of :data:`PRIORS` drawn (all of
    them, in a fixed order, whichever rule is drawn) from the replicate's own stream; with a
    fit, the drawn rule's parameters are then replaced by one of its fitted draws (one more
    variate, so without a fit the stream is used as it always was)."""
    base = Setting(gov.rule, gov.target_chasing.over_fulfilment, gov.target_chasing.floor, gov.trend.k,
                   gov.trend.min_growth, gov.trend.max_growth, gov.review_capacity,
                   gov.fixed.path)  # {tier: {year: firms}}, keys made ints by the config layer
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(replicate), GOVERNMENT_STREAM)))
    if gov.rule != "mixture":  # a single rule: its fitted draws where there are, else the config's values
        draws = (gov.posterior.get(gov.rule) or {}).get("draws") or []
        return _with_draw(base, draws[int(rng.integers(len(draws)))]) if draws else base
    mw = mixture_weights(gov.weights, gov.posterior)
    w = np.array([mw[r] for r in RULES], dtype=float)
    rule = RULES[int(rng.choice(len(RULES), p=w / w.sum()))]
    vals = {}
    for path, shape, lo, hi, _unit, _note in PRIORS:
        u = float(rng.random())
        vals[path] = lo * (hi / lo) ** u if shape == "loguniform" else lo + (hi - lo) * u
    drawn = dataclasses.replace(base, rule=rule, over_fulfilment=vals["target_chasing.over_fulfilment"],
                                floor=vals["target_chasing.floor"], max_growth=vals["trend.max_growth"],
                                review_capacity=vals["review_capacity"])
    draws = (gov.posterior.get(rule) or {}).get("draws") or []
    return _with_draw(drawn, draws[int(rng.integers(len(draws)))]) if draws else drawn


_FIELD = {"target_chasing.over_fulfilment": "over_fulfilment", "target_chasing.floor": "floor",
          "trend.max_growth": "max_growth", "review_capacity": "review_capacity"}


def _with_draw(s: Setting, draw: dict) -> Setting:
    """``s`` with the parameters of one fitted draw ({PRIORS path: value}) set."""
    return dataclasses.replace(s, **{_FIELD[k]: float(v) for k, v in draw.items() if k in _FIELD})


def decide(s: Setting, year: int, batches: Sequence[float], largest_recorded: float, gaps: Sequence[Gap],
           tier: str = "") -> float:
    """The batch (firms, real units) of ``tier`` in ``year`` under setting ``s``: ``batches``
    are the tier's earlier batches in order (recorded, then decided), ``largest_recorded``
    its largest recorded batch (the review capacity's base), ``gaps`` the targets on it."""
    cap = s.review_capacity * largest_recorded if largest_recorded > 0 else math.inf
    last = float(batches[-1]) if len(batches) else None
    if s.rule == "criteria_only":
        return cap
    if s.rule == "target_chasing":
        # no open target on this tier (none set, or the plan closed): the floor alone, floor x the last batch
        need = max((g.need() for g in gaps), default=0.0)
        return bounded(target_chasing(need, s.over_fulfilment, last, s.floor), cap)
    if s.rule == "trend":
        return bounded(trend(batches, s.trend_k, s.min_growth, s.max_growth), cap)
    return bounded(fixed(year, s.path.get(tier, {}), last), cap)
