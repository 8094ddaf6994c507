"""Policy levers move what they act on, in the stated direction, in expectation.

Every comparison uses common random numbers: the lever run and the no-policy run share
config seed and replicate, so their per-process random streams are identical and the
paired difference isolates the lever.  Stochastic checks are paired over replicates:
mean difference > K_SE standard errors of the mean difference (a bound that fails if
the lever does nothing or acts the wrong way).

Scenario: liaocheng (~1,900 firms, ~0.2 s per full run); most runs stop early.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pandas as pd
import pytest
from synthetic import snapshot

from sim.config.compose import compose
from sim.config.validate import build
from sim.core import tiers
from sim.core.agents import ChainOwner
from sim.core.declare import p
from sim.core.levers import F32, LEVER_TYPES, Effects, Lever
from sim.core.model import TierModel
from sim.core.schema import LEVERS, ConfigError, LeverEffects, describe, effects_schema, policy_schema

SCENARIO = "liaocheng"
K_SE = 2.0          # tolerance: paired mean difference must exceed K_SE standard errors
R = 4               # replicates for the directional checks
UNTIL = "2019-12"   # directional runs: 4 years of lever from 2016-01
EFFECT_FIELDS = ("fin_relief", "ip_mult", "cap_add", "drift_add", "rd_mult", "rd_start_mult", "apply_mult", "review_boost")


# ----------------------------------------------------------------------------- helpers
def lever(name: str, intensity: float = 2.0, start: str = "2016-01", end: str | None = None,
          target: str | None = "all") -> tuple[str, ...]:
    ov = [f"policy.{name}.intensity={intensity}", f"policy.{name}.start={start}"]
    if end is not None:
        ov.append(f"policy.{name}.end={end}")
    if target is not None:
        ov.append(f"policy.{name}.target={target}")
    return tuple(ov)


@cache
def cfg(*overrides: str, policy: str = "no_policy"):
    """Composed config, cached (Hydra compose is ~0.3 s)."""
    return compose(SCENARIO, policy, list(overrides))


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@dataclasses.dataclass
class Run:
    model: TierModel
    constraint: list      # per call of the model's effective financing constraint: mean over alive firms
    max_ytd: list         # per month: max year-to-date log growth over alive firms

    def log_growth(self, mask_fn=None) -> float:
        """Mean log revenue growth since the start of initial firms alive now (optionally masked)."""
        m = self.model
        f, n0 = m.firms, m.n_initial
        keep = f.alive[:n0] & ~f.owner[:n0]
        if mask_fn is not None:
            keep &= mask_fn(m)[:n0]
        return float(np.log(f.revenue[:n0][keep] / m.rev0[:n0][keep]).mean())


def run(config, replicate: int, until: str | None = UNTIL) -> Run:
    m = TierModel(config=config, replicate=replicate)
    cons: list = []
    orig = m.constraint

    def spy(idx):  # the effective financing constraint the firm rules read this month
        c = orig(idx)
        cons.append(float(c[m.firms.alive[idx]].mean()))
        return c

    m.constraint = spy
    stop = m.calendar.n_steps if until is None else m.calendar.step_of(until) + 1
    ytd = []
    while m.t_now < stop:
        m.step()
        alive = m.firms.alive[: m.firms.n]
        ytd.append(float(m.firms.ytd[: m.firms.n][alive].max()))
    return Run(m, cons, ytd)


_BASE: dict = {}


def base(replicate: int, until: str | None = UNTIL) -> Run:
    key = (replicate, until)
    if key not in _BASE:
        _BASE[key] = run(cfg(), replicate, until)
    return _BASE[key]


_RUNS: dict = {}


def lever_run(overrides: tuple[str, ...], replicate: int, until: str | None = UNTIL) -> Run:
    key = (overrides, replicate, until)
    if key not in _RUNS:
        _RUNS[key] = run(cfg(*overrides), replicate, until)
    return _RUNS[key]


def paired(metric, overrides: tuple[str, ...], reps: int = R, until: str | None = UNTIL) -> np.ndarray:
    """metric(lever run) - metric(no-policy run), per replicate (common random numbers)."""
    return np.array([metric(lever_run(overrides, r, until)) - metric(base(r, until)) for r in range(reps)])


def assert_positive(d: np.ndarray, what: str, k: float = K_SE) -> None:
    """Paired mean difference > k standard errors (se = sd/sqrt(n); all-equal positive diffs pass)."""
    mean = float(np.mean(d))
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    assert mean > k * se and mean > 0, f"{what}: mean paired diff {mean:.4g} not > {k} x se {se:.4g} (diffs {np.round(d, 5)})"


# ----------------------------------------------------------------------------- intensity 0
def test_intensity_zero_is_bit_identical_to_no_policy():
    zero = tuple(ov for name in LEVERS for ov in lever(name, intensity=0, target="all")) + tuple(
        f"policy.{name}.cost=5" for name in LEVERS)
    a, b = TierModel(config=cfg(*zero), replicate=1), TierModel(config=cfg(), replicate=1)
    ra, rb = a.run(), b.run()
    np.testing.assert_array_equal(ra.stock, rb.stock)
    np.testing.assert_array_equal(ra.flows, rb.flows)
    np.testing.assert_array_equal(ra.alive, rb.alive)
    pd.testing.assert_frame_equal(pd.DataFrame(ra.batches), pd.DataFrame(rb.batches))  # NaN capacities compare equal
    assert same_state(snapshot(a), snapshot(b))
    assert all(v == 0 for v in ra.cost.values())


def test_baseline_at_intensity_zero_equals_no_policy():
    zero = tuple(f"policy.{name}.intensity=0" for name in LEVERS)
    a = TierModel(config=cfg(*zero, policy="baseline"), replicate=2)
    b = TierModel(config=cfg(), replicate=2)
    ra, rb = a.run(), b.run()
    np.testing.assert_array_equal(ra.stock, rb.stock)
    np.testing.assert_array_equal(ra.flows, rb.flows)
    assert same_state(snapshot(a), snapshot(b))


# ----------------------------------------------------------------------------- dating
ALL_ON = tuple(ov for name in LEVERS for ov in lever(name, start="2018-01", end="2018-12"))


def test_no_effect_before_start_date():
    """Every lever on from 2018-01: firm arrays equal no_policy's in every month before,
    and differ within the lever's first months (so the comparison can fail)."""
    a, b = TierModel(config=cfg(*ALL_ON), replicate=0), TierModel(config=cfg(), replicate=0)
    start = a.calendar.step_of("2018-01")
    differs_at = None
    while a.t_now < start + 6:
        a.step()
        b.step()
        same = same_state(snapshot(a), snapshot(b))
        if a.t_now <= start:  # steps 0..start-1 simulated: all before the start date
            assert same, f"firm arrays differ at {a.calendar.date(a.t_now - 1)}, before the levers start"
            np.testing.assert_array_equal(a.stock[: a.t_now], b.stock[: b.t_now])
        elif not same and differs_at is None:
            differs_at = a.t_now - 1
    assert differs_at == start, "levers switched on in 2018-01 should change the firm arrays that month"


def test_no_effect_after_end_date():
    """Levers on 2018-01..2018-12.  After 2018-12 the model must behave exactly as one
    whose levers were removed: month by month identical firm arrays, neutral effects,
    and no further fiscal cost."""
    c = cfg(*ALL_ON, *(f"policy.{name}.cost=1" for name in LEVERS))
    a, b = TierModel(config=c, replicate=3), TierModel(config=c, replicate=3)
    end = a.calendar.step_of("2018-12")
    stop = a.calendar.step_of("2020-12") + 1
    cost_at_end = None
    while a.t_now < stop:
        if a.t_now == end + 1:
            b.levers = []  # from here on: no lever at all
            cost_at_end = dict(a.cost)
            assert all(v > 0 for v in cost_at_end.values())
        a.step()
        b.step()
        if a.t_now - 1 == end:  # the end month is inclusive: still on
            assert (a.effects.fin_relief > 0).any() and a.effects.chain_opening > 0
        if a.t_now - 1 > end:
            assert same_state(snapshot(a), snapshot(b)), f"lever still acts at {a.calendar.date(a.t_now - 1)}, after its end"
            neutral = Effects.none(a.effects.size)  # effect arrays span the capacity
            for name in EFFECT_FIELDS:
                np.testing.assert_array_equal(getattr(a.effects, name), getattr(neutral, name), err_msg=name)
            assert a.effects.chain_opening == 0.0 and a.effects.library_share == 0.0
            assert not a.firms.library[: a.firms.n].any()
    assert a.cost == cost_at_end
    # and the levers did act while on (else the comparison above proves nothing)
    ref = TierModel(config=cfg(), replicate=3)
    while ref.t_now < stop:
        ref.step()
    assert not same_state(snapshot(a), snapshot(ref))


def test_entrants_get_no_effect_in_their_entry_month():
    m = TierModel(config=cfg(*lever("financing"), *lever("services")), replicate=0)
    for _ in range(24):
        n_before = m.firms.n
        m.step()
        n_after = m.firms.n
        assert m.effects.fin_relief.shape == (m.capacity,)  # arrays span the capacity, neutral beyond the rows reached
        assert (m.effects.fin_relief[n_after:] == 0).all()
        if n_after > n_before:
            assert (m.effects.fin_relief[n_before:] == 0).all() and (m.effects.apply_mult[n_before:] == 1).all()
            assert (m.effects.fin_relief[:n_before][m.firms.alive[:n_before]] > 0).any()


def test_entrants_are_reached_from_the_month_after_entry():
    m = TierModel(config=cfg(*lever("financing")), replicate=0)
    for _ in range(12):
        n_before = m.firms.n
        m.step()
        old = np.arange(m.n_initial, n_before)           # entrants of earlier months
        alive = m.firms.alive[old]
        assert (m.effects.fin_relief[old][alive] > 0).all(), (
            f"{m.calendar.date(m.t_now - 1)}: {(m.effects.fin_relief[old][alive] == 0).sum()} entrants not reached by 'all'")


# ----------------------------------------------------------------------------- directions
def test_financing_lowers_constraint_and_raises_growth_and_rd():
    ov = lever("financing")
    assert_positive(paired(lambda r: -np.mean(r.constraint), ov), "financing: -(mean effective financing constraint)")
    assert_positive(paired(lambda r: r.log_growth(), ov), "financing: mean log revenue growth")

    def rd(r):
        f, n = r.model.firms, r.model.firms.n
        perf = f.alive[:n] & f.has_rd[:n]
        return float(f.rd_int[:n][perf].mean())

    assert_positive(paired(rd, ov), "financing: mean R&D intensity of performers")


def test_talent_raises_class_one_ip():
    def ip(r):
        f, n0 = r.model.firms, r.model.n_initial
        return float(f.ip[:n0][f.alive[:n0]].mean())

    assert_positive(paired(ip, lever("talent")), "talent: mean class-I IP")


def test_land_raises_growth_through_the_cap():
    """Land with its drift effect switched off acts only through the capacity limit:
    reached firms grow faster, and some exceed the no-policy cap, never the raised one."""
    ov = (*lever("land"), "params.levers.land_drift=0")
    assert_positive(paired(lambda r: r.log_growth(), ov), "land (cap only): mean log revenue growth")
    cap = cfg().params.growth.cap
    raised = cap + LeverEffects().land_cap * 2.0
    eps = 1e-5
    for r in range(2):
        assert max(base(r).max_ytd) <= cap + eps
        lv = lever_run(ov, r)
        assert cap + eps < max(lv.max_ytd) <= raised + eps


def test_land_only_lifts_the_cap_for_reached_firms():
    """Land aimed at chain suppliers: a firm's growth since January exceeds the no-policy
    cap only if the lever reached it this year, and some reached firms do exceed it."""
    m = TierModel(config=cfg(*lever("land", target="chain")), replicate=0)
    cap = m.params.growth.cap
    stop = m.calendar.step_of(UNTIL) + 1
    reached = np.zeros(0, dtype=bool)
    n_over = 0
    while m.t_now < stop:
        if m.calendar.month(m.t_now) == 1:
            reached[:] = False
        m.step()
        n = m.firms.n
        reached = np.concatenate([reached, np.zeros(n - reached.shape[0], dtype=bool)])
        reached |= m.effects.cap_add[:n] > 0
        over = m.firms.alive[:n] & (m.firms.ytd[:n] > cap + 1e-5)
        assert not (over & ~reached).any(), f"{m.calendar.date(m.t_now - 1)}: unreached firms grew past the cap"
        n_over += int(over.sum())
    assert n_over > 0, "no reached firm used the raised capacity limit"


def test_land_ending_mid_year_does_not_cut_revenue():
    """Regression (rules.grow used to clip the step at cap - ytd even when negative, cutting
    revenue by up to ~40% in the month a firm's cap fell).  Land on 2016-01..2018-06 (A)
    vs ..2018-12 (B): identical through June.  In July the only differences are land's drift (<= land_drift*2/12) and the cap, so a firm of A
    that grew past the normal cap may be stopped from growing further, but its July log
    step must not fall below min(B's step, 0) by more than the drift difference."""
    a = TierModel(config=cfg(*lever("land", end="2018-06")), replicate=0)
    b = TierModel(config=cfg(*lever("land", end="2018-12")), replicate=0)
    june = a.calendar.step_of("2018-06")
    while a.t_now <= june:
        a.step()
        b.step()
    n = a.firms.n
    assert same_state(snapshot(a), snapshot(b))
    cap = a.params.growth.cap
    over = a.firms.alive[:n] & (a.firms.ytd[:n] > cap + 1e-3)
    assert over.sum() > 0
    rev = a.firms.revenue[:n].copy()
    a.step()
    b.step()
    step_a = np.log(a.firms.revenue[:n] / rev)[over]
    step_b = np.log(b.firms.revenue[:n] / rev)[over]
    slack = LeverEffects().land_drift * 2.0 / 12.0 + 1e-4
    worst = float(np.min(step_a - np.minimum(step_b, 0.0)))
    assert worst >= -slack, f"ending the land lever cut a firm's revenue by {-worst:.2f} log points in one month"


def test_innovation_raises_rd_intensity_and_rd_share():
    ov = lever("innovation")

    def mean_rd(r):
        f, n = r.model.firms, r.model.firms.n
        return float(f.rd_int[:n][f.alive[:n]].mean())

    def share_rd(r):
        f, n = r.model.firms, r.model.firms.n
        return float(f.has_rd[:n][f.alive[:n]].mean())

    assert_positive(paired(mean_rd, ov), "innovation: mean R&D intensity")
    assert_positive(paired(share_rd, ov), "innovation: share of firms doing R&D")


def test_chain_length_opens_owners_and_speeds_suppliers():
    ov = lever("chain_length", target="chain")
    c = cfg(*ov)
    size = LeverEffects().chain_length * 2.0
    m_on, m_off = TierModel(config=c, replicate=0), TierModel(config=cfg(), replicate=0)
    for _ in range(3):
        m_on.step()
        m_off.step()
    owners_on, owners_off = m_on.agents_by_type[ChainOwner], m_off.agents_by_type[ChainOwner]
    assert len(owners_on) > 0
    base_open = m_on.params.chains.base_opening
    assert all(a.opening == pytest.approx(base_open + size) for a in owners_on)
    assert all(a.opening == pytest.approx(base_open) for a in owners_off)
    assert sum(a.purchases for a in owners_on) > sum(a.purchases for a in owners_off)

    def suppliers(m):
        return m.firms.chain[: m.firms.n] >= 0

    assert_positive(paired(lambda r: r.log_growth(suppliers), ov), "chain_length: suppliers' mean log revenue growth")
    # the push is aimed at suppliers: they gain more than firms outside key chains
    gap = paired(lambda r: r.log_growth(suppliers) - r.log_growth(lambda m: ~suppliers(m)), ov)
    assert_positive(gap, "chain_length: suppliers' gain minus non-suppliers' gain")


def test_library_holds_configured_share_chosen_by_srdi_score(monkeypatch):
    """Library opened in May (not January): selected at once, kept until January (losing
    only exited firms), then re-selected; each selection is the top int(share x SMEs)
    SMEs by SRDI score."""
    x = 1.5
    m = TierModel(config=cfg(*lever("library", intensity=x, start="2017-05", target="sme")), replicate=0)
    share = min(1.0, LeverEffects().library * x)
    selections, after = {}, {}
    real_select, real_score = m.select_library, tiers.srdi_score

    def select(t, share_arg, sme, *a, **kw):
        scores = []

        def spy(*sa, **skw):
            s = real_score(*sa, **skw)
            scores.append(np.asarray(s).copy())
            return s

        monkeypatch.setattr(tiers, "srdi_score", spy)
        try:
            real_select(t, share_arg, sme, *a, **kw)
        finally:
            monkeypatch.setattr(tiers, "srdi_score", real_score)
        selections[t] = (share_arg, sme.copy(), scores[-1] if scores else None, m.firms.library[: m.firms.n].copy())

    m.select_library = select
    stop = m.calendar.step_of("2018-02") + 1
    while m.t_now < stop:
        m.step()
        after[m.t_now - 1] = (m.firms.library[: m.firms.n].copy(), m.firms.alive[: m.firms.n].copy())
    may, jan = m.calendar.step_of("2017-05"), m.calendar.step_of("2018-01")
    assert not any(after[t][0].any() for t in range(may)), "library filled before its start date"
    for t in (may, jan):
        assert t in selections, f"no library selection at {m.calendar.date(t)}"
        share_arg, sme, score, lib = selections[t]
        assert share_arg == pytest.approx(share)
        assert score is not None, "library selection did not compute SRDI scores"
        k = int(share * sme.sum())
        assert k > 0 and lib.sum() == k, f"{m.calendar.date(t)}: library holds {lib.sum()} firms, expected {k}"
        assert not (lib & ~sme).any(), "library holds non-SMEs"
        # the SRDI score of every row in use is computed (a row's score is its own); only SMEs compete
        assert score.shape == sme.shape, "one SRDI score per row in use"
        full = np.where(sme, score.astype(np.float64), -np.inf)
        assert full[lib].min() >= full[sme & ~lib].max(), "library is not the top of the SMEs by SRDI score"
    # June..December: no re-selection, the library only loses firms that exited
    for t in range(may + 1, jan):
        prev, (lib, alive) = after[t - 1][0], after[t]
        lost = prev & ~lib[: prev.shape[0]]
        assert not (lib[: prev.shape[0]] & ~prev).any() and not lib[prev.shape[0]:].any(), m.calendar.date(t)
        assert not (lost & alive[: prev.shape[0]]).any(), f"{m.calendar.date(t)}: alive firms dropped from the library"
    # January re-selection changes the membership (scores moved in 8 months)
    old = selections[may][3]
    assert not np.array_equal(selections[jan][3][: old.shape[0]], old)


def test_services_raise_applications():
    def applications(r):
        return float(sum(b["applicants"] for b in r.model.batches))

    assert_positive(paired(applications, lever("services")), "services: applications in model.batches")


# ----------------------------------------------------------------------------- eligible pool
def test_financing_and_innovation_enlarge_the_srdi_eligible_pool():
    """Financing + innovation (x2, all firms, from 2016-01) enlarge the pool eligible for
    SRDI, in expectation over 10 replicates (paired differences, mean > 2 se):
    (a) eligible applicants recorded in model.batches at the first SRDI batch (2016-10,
        nobody holds SRDI yet, applications drawn with common random numbers);
    (b) all alive firms meeting the SRDI criteria at the end of the 2017-10 batch month
        (SRDI criteria do not depend on titles held).
    Recognitions themselves need not be monotone (recognised firms leave the pool)."""
    on = cfg(*lever("financing"), *lever("innovation"))

    def pools(config, r):
        m = TierModel(config=config, replicate=r)
        stop = m.calendar.step_of("2017-10") + 1
        while m.t_now < stop:
            m.step()
        first = [b for b in m.batches if b["tier"] == "srdi" and b["date"] == "2016-10"]
        assert len(first) == 1
        f, t = m.firms, m.t_now - 1
        metrics = tiers.FirmMetrics.of(f, t, m.params.firms)
        market = tiers.market_position(f, m.niches, m.params.firms.market_coverage)
        ok = tiers.eligible("srdi", f, metrics, market, m.criteria)
        return first[0]["eligible"], int((ok & f.alive[: f.n]).sum())

    d = np.array([np.subtract(pools(on, r), pools(cfg(), r)) for r in range(10)])
    assert_positive(d[:, 0].astype(float), "financing+innovation: eligible SRDI applicants at the 2016-10 batch")
    assert_positive(d[:, 1].astype(float), "financing+innovation: firms meeting the SRDI criteria at 2017-10")


# ----------------------------------------------------------------------------- a new lever
class Voucher(Lever, register=False):
    """A throw-away lever, not registered (the global schemas stay as they are): raises the
    application propensity of the firms it reaches."""

    name = "voucher"
    sizes = {"voucher_apply": p(0.4, "relative gain in application propensity", "test", range=(0.0, 5.0))}

    def apply(self, e, reach, size):
        e.apply_mult[reach] *= 1 + size.voucher_apply * F32(self.intensity)


def test_registry_holds_the_levers_in_order_and_each_owns_its_effect_sizes():
    assert LEVERS == tuple(LEVER_TYPES) == ("financing", "talent", "land", "innovation", "chain_length", "library", "services")
    assert all(cls.name == name for name, cls in LEVER_TYPES.items())
    assert [f.name for f in dataclasses.fields(LeverEffects)] == [k for cls in LEVER_TYPES.values() for k in cls.sizes]
    assert [name for name, cls in LEVER_TYPES.items() if cls.defines_reach] == ["library"]
    with pytest.raises(TypeError, match="already registered"):
        class Again(Lever):  # noqa: F841 - a second class under a registered name is refused
            name = "financing"
    assert LEVER_TYPES["financing"].__name__ == "Financing"


def test_a_new_lever_is_one_class_and_its_config():
    types = [*LEVER_TYPES.values(), Voucher]
    policy_cls, sizes_cls = policy_schema(types), effects_schema(types)
    # the schemas built with it accept policy.voucher.* and params.levers.voucher_apply, checked as usual
    pol = build(policy_cls, {"voucher": {"intensity": 1.5, "start": "2016-01", "target": "sme"}}, "policy")
    assert list(pol.levers()) == [*LEVERS, "voucher"] and pol.voucher.intensity == 1.5
    sizes = build(sizes_cls, {"voucher_apply": 0.8, "land_cap": 0.2}, "params.levers")
    assert sizes.land_cap == 0.2 and sizes.library == LeverEffects().library
    with pytest.raises(ConfigError, match=r"^params\.levers\.voucher_apply: 9\.0 is not allowed"):
        build(sizes_cls, {"voucher_apply": 9.0}, "params.levers")
    with pytest.raises(ConfigError, match=r"^policy\.voucher\.target: 'nobody' is not allowed"):
        build(policy_cls, {"voucher": {"target": "nobody"}}, "policy")
    rows = {name: (default, unit, source) for name, default, unit, source in describe(sizes_cls, "params.levers.")}
    assert rows["params.levers.voucher_apply"] == (0.4, "relative gain in application propensity", "test")
    assert "policy.voucher.intensity" in [name for name, *_ in describe(policy_cls, "policy.")]
    # the registry and the global schemas are untouched
    assert "voucher" not in LEVER_TYPES and "voucher_apply" not in {f.name for f in dataclasses.fields(LeverEffects)}
    with pytest.raises(ConfigError, match=r"^policy\.voucher: unknown key"):
        build(type(cfg().policy), {"voucher": {"intensity": 1.0}}, "policy")
    # its apply on an Effects table
    e = Effects.none(4)
    Voucher(0, 10, 2.0, "all", 0.0).apply(e, np.array([True, False, True, False]), sizes)
    assert e.apply_mult.tolist() == pytest.approx([2.6, 1.0, 2.6, 1.0])
    # and in a model: the policy's lever classes run, on alive firms of the target (SMEs: not all)
    base_cfg = cfg()
    config = dataclasses.replace(base_cfg, policy=pol, params=dataclasses.replace(base_cfg.params, levers=sizes))
    m = TierModel(config=config, replicate=0)
    assert [type(lv) for lv in m.levers] == [Voucher]
    for _ in range(3):
        m.step()
    n = m.firms.n
    mult = m.effects.apply_mult[:n]
    reached = mult != 1
    alive = m.firms.alive[:n]
    assert reached.any() and not (reached & ~alive).any() and (alive & ~reached).any()
    assert mult[reached] == pytest.approx(1 + 0.8 * 1.5)
    assert m.cost["voucher"] == 0.0 and list(m.cost) == [*LEVERS, "voucher"]
