"""Tests for sim.tiers: criteria at their boundaries (DOMAIN §2) on hand-built FirmArrays,
score bands, market position, batch capacity, and the batch / re-review mechanics."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core import tiers
from sim.core.firms import NONE, TIER_INDEX, FirmArrays
from sim.core.population import Niches
from sim.core.schema import CapacityConfig, CriteriaConfig, FirmParams, RecognitionParams, TierSchedule

F32 = np.float32
T = 200            # the month at which criteria are evaluated
FP = FirmParams()  # large_min = 400 M CNY


def below(x: float) -> np.float32:
    """The largest float32 strictly below float32(x)."""
    return np.nextafter(F32(x), F32(-np.inf))


def make_firms(n: int, **base) -> FirmArrays:
    f = FirmArrays.empty(n + 3)   # spare capacity: only the first n rows are in use
    f.n = n
    for name, value in base.items():
        getattr(f, name)[:n] = value
    return f


def set_growth(f: FirmArrays, i: int, g2: float) -> None:
    """Revenue history with 2-year average growth g2 (rev_y3 = 100)."""
    f.rev_y3[i] = 100.0
    f.rev_y2[i] = 100.0 * (1 + g2)
    f.rev_y1[i] = 100.0 * (1 + g2) ** 2


def market(n: int, share=0.2, region_rank=1, nat_rank=1, global_rank=1) -> tiers.Market:
    return tiers.Market(np.full(n, share, dtype=F32), np.full(n, region_rank, dtype=np.int32),
                        np.full(n, nat_rank, dtype=np.int32), np.full(n, global_rank, dtype=np.int32))


def run_variants(tier: str, base: dict, variants: list, c: CriteriaConfig | None = None, mk_base: dict | None = None,
                 hold: tuple[str, ...] = ()):
    """Build one firm per variant from ``base`` (holding the titles ``hold``), apply
    ``mutate(f, mk, i)``, and compare ``tiers.eligible`` with the expected verdict row by row."""
    c = c or CriteriaConfig()
    n = len(variants)
    f = make_firms(n, **{k: v for k, v in base.items() if not k.startswith("_")})
    for tier_held in hold:
        f.titles[TIER_INDEX[tier_held], :n] = T - 5
    for i in range(n):
        set_growth(f, i, base.get("_g2", 0.10))
    mk = market(n, **(mk_base or {}))
    for i, (_, mutate, _) in enumerate(variants):
        mutate(f, mk, i)
    m = tiers.FirmMetrics.of(f, T, FP)
    got = tiers.eligible(tier, f, m, mk if tier in tiers.NEEDS_MARKET else None, c)
    assert got.shape == (n,) and got.dtype == bool
    wrong = [(label, bool(g)) for (label, _, want), g in zip(variants, got) if bool(g) != want]
    assert wrong == [], wrong


def setter(**values):
    def mutate(f, mk, i):
        for name, v in values.items():
            if name in ("nat_share", "region_rank", "nat_rank", "global_rank"):
                getattr(mk, name)[i] = v
            elif name == "g2":
                set_growth(f, i, v)
            elif name == "holds":
                for tier, held in v.items():
                    f.titles[TIER_INDEX[tier], i] = T - 5 if held else NONE
            else:
                getattr(f, name)[i] = v
    return mutate


# ---- little giant ---------------------------------------------------------------------

LG_BASE = dict(alive=True, niche_start=T - 120, revenue=200.0, employees=500.0, has_rd=True, rd_int=0.05, rd_prev=0.05,
               ip=5.0, rd_inst=True, brand=True, emerging=True, chain=0, main_share=0.9, debt=0.5, quality=0.5,
               key_link=False, rd_staff_ratio=3.0, equity_new=0.0)


def lg_variants():
    return [
        ("base", setter(), True),
        ("niche 3.0 yr", setter(niche_start=T - 36), True),
        ("niche 2.92 yr", setter(niche_start=T - 35), False),
        ("main 0.70", setter(main_share=0.70), True),
        ("main <0.70", setter(main_share=below(0.70)), False),
        ("growth 5.01%", setter(g2=0.0501), True),
        ("growth 4.99%", setter(g2=0.0499), False),
        ("debt 0.70", setter(debt=0.70), True),
        ("debt 0.7001", setter(debt=0.7001), False),
        ("share 10%", setter(nat_share=0.10), True),
        ("share <10%", setter(nat_share=below(0.10)), False),
        # revenue >= 100 M CNY: 3% in each of the last two years
        ("rev 100, 3%/3%", setter(revenue=100.0, rd_int=0.03, rd_prev=0.03), True),
        ("rev 100, now <3%", setter(revenue=100.0, rd_int=below(0.03), rd_prev=0.03), False),
        ("rev 100, prev <3%", setter(revenue=100.0, rd_int=0.03, rd_prev=below(0.03)), False),
        # revenue 50-100 M CNY: 6% in each of the last two years
        ("rev <100, 3%", setter(revenue=below(100.0), rd_int=0.03, rd_prev=0.03), False),
        ("rev <100, 6%/6%", setter(revenue=below(100.0), rd_int=0.06, rd_prev=0.06), True),
        ("rev 50, 6%/6%", setter(revenue=50.0, rd_int=0.06, rd_prev=0.06), True),
        ("rev 50, now <6%", setter(revenue=50.0, rd_int=below(0.06), rd_prev=0.06), False),
        ("rev 50, prev <6%", setter(revenue=50.0, rd_int=0.06, rd_prev=below(0.06)), False),
        # revenue < 50 M CNY: R&D >= 30 M CNY over two years (2 x this year's spend), >= 80 M CNY
        # equity raised and R&D staff >= 50% (issue 12: the equity and staff tests were missing)
        ("rev 40, spend 15/yr, equity 80, staff 1.0", setter(revenue=40.0, rd_int=0.375, rd_prev=0.375, equity_new=80.0), True),
        ("rev 40, spend 14.8/yr", setter(revenue=40.0, rd_int=0.37, rd_prev=0.37, equity_new=80.0), False),
        ("rev 40, 6%", setter(revenue=40.0, rd_int=0.06, rd_prev=0.06, equity_new=80.0), False),
        ("rev 40, spend 15/yr, equity <80", setter(revenue=40.0, rd_int=0.375, rd_prev=0.375, equity_new=below(80.0)), False),
        ("rev 40, spend 15/yr, staff 0.5", setter(revenue=40.0, rd_int=0.375, rd_prev=0.375, equity_new=80.0, rd_staff_ratio=F32(0.5) / F32(0.375)), True),
        ("rev 40, spend 15/yr, staff <0.5", setter(revenue=40.0, rd_int=0.375, rd_prev=0.375, equity_new=80.0, rd_staff_ratio=1.3), False),
        ("rev 50, equity not needed", setter(revenue=50.0, rd_int=0.06, rd_prev=0.06, equity_new=0.0, rd_staff_ratio=0.0), True),
        ("ip 2", setter(ip=2.0), True),
        ("ip 1", setter(ip=1.0), False),
        ("no institution", setter(rd_inst=False), False),
        ("no brand", setter(brand=False), False),
        # issue 12: chain membership alone is not a key link (it was)
        ("chain only", setter(chain=0, emerging=False, key_link=False), False),
        ("chain at a key link", setter(chain=0, emerging=False, key_link=True), True),
        ("key-link product, no chain", setter(chain=-1, emerging=False, key_link=True), False),
        ("emerging only", setter(chain=-1, emerging=True), True),
        ("no key link", setter(chain=-1, emerging=False), False),
        ("not SRDI", setter(holds={"srdi": False}), False),
        ("large: 1000 emp, rev 400", setter(employees=1000.0, revenue=400.0), False),
        ("SME: 999 emp, rev 400", setter(employees=999.0, revenue=400.0), True),
        ("SME: 1000 emp, rev <400", setter(employees=1000.0, revenue=below(400.0)), True),
        ("dead", setter(alive=False), False),
    ]


def test_little_giant_gates_at_their_thresholds():
    run_variants("little_giant", LG_BASE, lg_variants(), hold=("srdi",))


def test_little_giant_flags_can_be_switched_off():
    c = CriteriaConfig()
    c.little_giant.requires_srdi = False
    c.little_giant.needs_institution = False
    c.little_giant.needs_brand = False
    c.little_giant.needs_key_link = False
    c.little_giant.sme_only = False
    run_variants("little_giant", LG_BASE, [
        ("not SRDI", setter(), True),
        ("no inst, brand, link", setter(rd_inst=False, brand=False, chain=-1, emerging=False), True),
        ("large firm", setter(employees=5000.0, revenue=800.0), True),
        ("ip 1 still fails", setter(ip=1.0), False),
    ], c=c)


def test_little_giant_growth_gate_exactly_five_percent_passes():
    f = make_firms(1, **LG_BASE)
    f.titles[TIER_INDEX["srdi"], 0] = T - 5
    f.rev_y3[0], f.rev_y2[0], f.rev_y1[0] = 100.0, 105.0, 110.25
    m = tiers.FirmMetrics.of(f, T, FP)
    assert bool(tiers.eligible("little_giant", f, m, market(1), CriteriaConfig())[0])


# ---- provincial SRDI ----------------------------------------------------------------

SRDI_BASE = dict(alive=True, niche_start=T - 120, revenue=50.0, employees=100.0, has_rd=True, rd_int=0.1, rd_prev=0.1,
                 ip=10.0, rd_inst=True, brand=False, emerging=False, chain=-1, main_share=1.0, debt=0.3, quality=1.0, _g2=0.2,
                 rd_staff_ratio=3.0)


def test_srdi_gates_at_their_thresholds():
    run_variants("srdi", SRDI_BASE, [
        ("base", setter(), True),
        ("niche 2.0 yr", setter(niche_start=T - 24), True),
        ("niche 1.92 yr", setter(niche_start=T - 23), False),
        ("rev 10, spend 1.0", setter(revenue=10.0, rd_int=0.1), True),
        ("rev 10, spend 0.999", setter(revenue=10.0, rd_int=0.0999), False),
        ("rev 50, 3%", setter(rd_int=0.03), True),
        ("rev 50, <3%", setter(rd_int=below(0.03)), False),
        ("rev <10, 20%", setter(revenue=below(10.0), rd_int=0.2), False),
        ("rev <10, 20%, equity 20 raised", setter(revenue=5.0, rd_int=0.2, equity_new=20.0), True),
        ("rev <10, 20%, equity <20", setter(revenue=5.0, rd_int=0.2, equity_new=below(20.0)), False),
        ("debt 0.95 (SRDI: debt enters the score only)", setter(debt=0.95), True),
        ("large", setter(employees=1000.0, revenue=400.0), False),
        ("dead", setter(alive=False), False),
    ])


def test_srdi_pass_score_is_inclusive():
    f = make_firms(1, **{k: v for k, v in SRDI_BASE.items() if not k.startswith("_")})
    set_growth(f, 0, 0.2)
    f.quality[0], f.ip[0] = 0.3, 1.0
    m, mk, c = tiers.FirmMetrics.of(f, T, FP), market(1, share=0.02), CriteriaConfig()
    score = tiers.srdi_score(f, m, mk, c)[0]
    assert 20 < score < 100
    c.srdi.pass_score = float(score)
    assert bool(tiers.eligible("srdi", f, m, mk, c)[0])
    c.srdi.pass_score = float(np.nextafter(score, F32(np.inf)))
    assert not bool(tiers.eligible("srdi", f, m, mk, c)[0])


def test_srdi_score_by_hand():
    """The official points (issue 12: main share up to 5, growth up to 10, 1 point per full
    2 years in the niche up to 5, field 5/3; refinement 25; innovation 35), from the
    defaults: the points below are MIIT 2022's, so a changed default fails here."""
    c = CriteriaConfig()
    f = make_firms(3, **{k_: v for k_, v in SRDI_BASE.items() if not k_.startswith("_")})
    set_growth(f, 0, 0.2)
    # firm 0: main 1.0 -> 5, growth 20% -> 10, niche 10 yr -> 5, no chain, not emerging -> 0 | quality 1 -> 20,
    #         debt 0.3 -> 5 | share 20% -> 15 | IP 10 -> 10, R&D 10% of 50 = 5 M -> 10, staff 0.3 -> 5, institution 4 = 89
    # firm 1: main 0.75 -> 3, growth 6% -> 6, niche 3.5 yr -> 1 (one full 2 years), chain member -> 3 | quality 0.5 -> 10,
    #         debt 0.6 -> 3 | share 5% -> 10 | IP 2 -> 6, R&D 7% -> 6 / 3.5 M -> 6, staff 0.21 -> 5, no institution = 53
    # firm 2: main 0.6 -> 1, growth -1% -> 0, niche 2 yr -> 1, chain at a key link -> 5 | quality 0 -> 0, debt 0.7 -> 1 |
    #         share 0.5% -> 0 | IP 0 -> 0, R&D 3% / 1.5 M -> 2, staff 0.09 -> 1, institution 4 = 15
    set_growth(f, 1, 0.06)
    f.main_share[1], f.niche_start[1], f.chain[1] = 0.75, T - 42, 3
    f.quality[1], f.debt[1] = 0.5, 0.6
    f.rd_int[1], f.ip[1], f.rd_inst[1] = 0.07, 2.0, False
    set_growth(f, 2, -0.01)
    f.main_share[2], f.niche_start[2], f.chain[2], f.key_link[2] = 0.6, T - 24, 1, True
    f.quality[2], f.debt[2], f.rd_int[2], f.ip[2] = 0.0, 0.7, 0.03, 0.0
    mk = market(3)
    mk.nat_share[:] = [0.2, 0.05, 0.005]
    score = tiers.srdi_score(f, tiers.FirmMetrics.of(f, T, FP), mk, c)
    assert score.tolist() == pytest.approx([89.0, 53.0, 15.0], abs=1e-4)


def test_srdi_niche_years_score_per_full_two_years():
    """1 point per full 2 years in the niche, at most 5 (not 1 a year)."""
    c = CriteriaConfig()
    months = [23, 24, 47, 48, 119, 120, 240]
    f = make_firms(len(months), **{k_: v for k_, v in SRDI_BASE.items() if not k_.startswith("_")})
    f.niche_start[:len(months)] = [T - x for x in months]
    mk = market(len(months))
    score = tiers.srdi_score(f, tiers.FirmMetrics.of(f, T, FP), mk, c)
    assert (score - score[0]).tolist() == pytest.approx([0, 1, 1, 2, 4, 5, 5], abs=1e-4)


# ---- innovative SME: 100-point score (DOMAIN §2) -------------------------------------------

# base: R&D 5% -> 20 (innovation 20) | growth 12% -> 15, debt 0.6 -> 5 (growth 20) | main 0.6 -> 15, not emerging -> 5
# (specialisation 20): total 60, every sub-score at or above its minimum -> eligible, with no slack anywhere
INNOV_BASE = dict(alive=True, niche_start=T - 60, revenue=50.0, employees=100.0, has_rd=True, rd_int=0.05, rd_prev=0.05,
                  ip=0.0, emerging=False, main_share=0.6, debt=0.6, _g2=0.12)


def test_innovative_score_bands_via_eligibility():
    run_variants("innovative", INNOV_BASE, [
        ("base: 60 points", setter(), True),
        ("R&D <5% -> 15 (innovation 15)", setter(rd_int=below(0.05)), False),
        ("R&D 3% -> 15 + 2 IP (8) = 23", setter(rd_int=0.03, ip=2.0), True),
        ("R&D <3% -> 10 + 8 = 18", setter(rd_int=below(0.03), ip=2.0), False),
        ("R&D 2% -> 10 + 3 IP (12) = 22", setter(rd_int=0.02, ip=3.0), True),
        ("R&D <2% -> 5 + 12 = 17", setter(rd_int=below(0.02), ip=3.0), False),
        ("R&D 1% -> 5 + 4 IP (16) = 21", setter(rd_int=0.01, ip=4.0), True),
        ("R&D <1% -> 0 + 16", setter(rd_int=below(0.01), ip=4.0), False),
        ("no R&D, IP capped at 20", setter(rd_int=0.0, ip=10.0), True),
        ("total 55 (main <0.6 -> 10)", setter(main_share=below(0.6)), False),
        ("main 0.5 -> 5 + emerging 10 = 15, innovation 40", setter(main_share=0.5, emerging=True, ip=5.0), True),
        ("main <0.5 -> 0 + 10 = 10", setter(main_share=below(0.5), emerging=True, ip=5.0), False),
        ("growth sub-score 10: 6% -> 10, debt 0.8 -> 0", setter(g2=0.06, debt=0.8, ip=5.0, main_share=0.7), False),
        ("growth sub-score 15: 6% -> 10, debt 0.75 -> 5", setter(g2=0.06, debt=0.75, ip=5.0, main_share=0.7), True),
        ("debt >0.75 -> 0", setter(g2=0.06, debt=0.7501, ip=5.0, main_share=0.7), False),
        ("growth 16% -> 20, debt 0.8 -> 0", setter(g2=0.16, debt=0.8), True),
        ("negative growth -> 0, debt 0.3 -> 10", setter(g2=-0.01, debt=0.3, ip=5.0, main_share=0.7), False),
        ("large", setter(employees=1000.0, revenue=400.0), False),
    ])


def test_innovative_direct_routes():
    """An SME with an R&D institution or >= 5 M CNY new equity qualifies without the score;
    a large firm does not; the routes can be switched off."""
    base = {**INNOV_BASE, "rd_int": 0.0, "debt": 0.9}  # score far below 60
    variants = [
        ("score fails", setter(), False),
        ("R&D institution", setter(rd_inst=True), True),
        ("equity 5", setter(equity_new=5.0), True),
        ("equity <5", setter(equity_new=below(5.0)), False),
        ("large, institution", setter(rd_inst=True, employees=1000.0, revenue=400.0), False),
    ]
    run_variants("innovative", base, variants)
    c = CriteriaConfig()
    c.innovative.direct_routes = False
    run_variants("innovative", base, [(label, fn, False) for label, fn, _ in variants], c=c)


def test_innovative_debt_exactly_55_percent_gets_5_points():
    c = CriteriaConfig()
    assert tiers.band_points(-np.array([0.55], dtype=F32), c.innovative.debt_bands)[0] == 5


@pytest.mark.parametrize("bands_name, edges", [
    ("rd_bands", [(0.05, 20), (0.03, 15), (0.02, 10), (0.01, 5)]),
    ("growth_bands", [(0.15, 20), (0.10, 15), (0.05, 10), (0.0, 5)]),
    ("main_bands", [(0.70, 20), (0.60, 15), (0.55, 10), (0.50, 5)]),
])
def test_band_points_at_edges_in_float32(bands_name, edges):
    bands = getattr(CriteriaConfig().innovative, bands_name)
    for dtype in (np.float32, np.float64):
        at = np.array([e for e, _ in edges], dtype=dtype)
        just_below = np.nextafter(at, dtype(-np.inf))
        pts_at = tiers.band_points(at, bands)
        pts_below = tiers.band_points(just_below, bands)
        assert list(pts_at) == [p for _, p in edges], dtype
        assert list(pts_below) == [p for _, p in edges[1:]] + [0], dtype
    assert tiers.band_points(np.array([1.0, 0.5, -1.0], dtype=F32), bands)[0] == edges[0][1]
    assert tiers.band_points(np.array([-1.0], dtype=F32), bands)[0] == 0


def test_band_points_debt_bands_negated():
    bands = CriteriaConfig().innovative.debt_bands
    debt = np.array([0.0, 0.3, below(0.55), 0.5501, 0.75, 0.7501, 1.0], dtype=F32)
    assert list(tiers.band_points(-debt, bands)) == [10, 10, 10, 5, 5, 0, 0]


@pytest.mark.parametrize("bands", [
    [[0.8, 10], [0.6, 7.5], [0.4, 4], [0.2, 1]],
    [[-0.5, 10, "exclusive"], [-0.7, 5]],
    [[0.5, 3, "exclusive"], [0.5, 2], [0.1, 0.25]],   # equal thresholds, exclusive first: nested
    [[0.5, 3], [0.5, 2, "exclusive"], [0.1, 1]],      # inclusive then exclusive at one threshold: not nested
    [[0.1, 1], [0.5, 3]],                             # ascending: not nested
    [],
])
def test_band_points_is_the_first_band_reached(bands):
    """The counting shortcut for nested bands and the fallback both give the definition:
    the points of the first band in the list that x reaches, 0 below every band."""
    x = np.concatenate([np.random.default_rng(3).uniform(-1, 1, 2_000), [b[0] for b in bands],
                        np.nextafter([b[0] for b in bands], -np.inf)]).astype(F32)

    def first(v: float) -> float:
        for b in bands:
            if (v > F32(b[0])) if len(b) > 2 else (v >= F32(b[0])):
                return float(F32(b[1]))
        return 0.0
    got = tiers.band_points(x, bands)
    assert got.dtype == F32
    assert list(got) == [first(v) for v in x]


# ---- single champion, provincial champion, leading ---------------------------------------

CH_BASE = dict(alive=True, niche_start=T - 150, revenue=500.0, employees=3000.0, main_share=0.9)


def test_champion_global_top3_and_revenue_or_little_giant():
    run_variants("single_champion", CH_BASE, [
        ("base", setter(), True),
        ("niche 10 yr", setter(niche_start=T - 120), True),
        ("niche <10 yr", setter(niche_start=T - 119), False),
        ("global rank 3", setter(global_rank=3), True),
        ("global rank 4", setter(global_rank=4), False),
        ("main 0.70", setter(main_share=0.70), True),
        ("main <0.70", setter(main_share=below(0.70)), False),
        ("revenue 400", setter(revenue=400.0), True),
        ("revenue <400", setter(revenue=below(400.0)), False),
        ("revenue <400, little giant", setter(revenue=60.0, employees=80.0, holds={"little_giant": True}), True),
        ("revenue <400, SRDI only", setter(revenue=60.0, employees=80.0, holds={"srdi": True}), False),
        ("dead", setter(alive=False), False),
    ], mk_base=dict(global_rank=1, nat_rank=1, region_rank=1))


def test_provincial_champion_rank_rules():
    run_variants("provincial_champion", CH_BASE, [
        ("base", setter(), True),
        ("niche 3 yr", setter(niche_start=T - 36), True),
        ("niche <3 yr", setter(niche_start=T - 35), False),
        ("national rank 5", setter(nat_rank=5), True),
        ("national rank 6", setter(nat_rank=6), False),
        ("not #1 in the province", setter(region_rank=2, nat_rank=2), False),
        ("revenue <400, little giant", setter(revenue=100.0, holds={"little_giant": True}), True),
        ("revenue <400", setter(revenue=100.0), False),
        # issue 12: the main-product test and the SRDI exception were missing
        ("main 0.70", setter(main_share=0.70), True),
        ("main <0.70", setter(main_share=below(0.70)), False),
        ("revenue 100, SRDI", setter(revenue=100.0, holds={"srdi": True}), True),
        ("revenue <100, SRDI", setter(revenue=below(100.0), holds={"srdi": True}), False),
    ], mk_base=dict(global_rank=9, nat_rank=1, region_rank=1))


def test_leading_rules():
    base = dict(alive=True, revenue=1000.0, employees=5000.0, owner=True)
    run_variants("leading", base, [   # default owners_first: owners and large firms above the bar
        ("owner at 1 bn", setter(), True),
        ("owner below 1 bn", setter(revenue=below(1000.0)), False),
        ("large non-owner", setter(owner=False, revenue=9000.0), True),
        ("large non-owner at the pillar bar", setter(owner=False, revenue=5000.0), True),
        ("large non-owner below the pillar bar", setter(owner=False, revenue=below(5000.0)), False),
        ("SME non-owner", setter(owner=False, revenue=9000.0, employees=999.0), False),
    ])
    c = CriteriaConfig()
    c.leading.rule = "chain_owners"
    run_variants("leading", base, [
        ("owner at 1 bn", setter(), True),
        ("not an owner", setter(owner=False, revenue=9000.0), False),
    ], c=c)
    c = CriteriaConfig()
    c.leading.rule = "largest"
    run_variants("leading", base, [
        ("large non-owner", setter(owner=False, revenue=5000.0), True),
        ("large non-owner below the pillar bar", setter(owner=False, revenue=2000.0), False),
        ("large owner at 1 bn", setter(revenue=1000.0), True),
        ("SME by employees", setter(owner=True, revenue=2000.0, employees=999.0), False),
        ("large below the bar", setter(revenue=999.0), False),
    ], c=c)


def test_leading_priority_owners_first_then_revenue():
    f = make_firms(4)
    f.revenue[:4] = [2000.0, 9000.0, 1500.0, 5000.0]
    f.owner[:4] = [True, False, True, False]
    c = CriteriaConfig()
    rows = np.arange(4)
    pr = tiers.selection_priority("leading", f, rows, c, np.zeros(4, dtype=F32))
    assert list(np.argsort(-pr)) == [0, 2, 1, 3]          # owners (by revenue), then the rest by revenue
    c.leading.rule = "largest"
    pr = tiers.selection_priority("leading", f, rows, c, np.zeros(4, dtype=F32))
    assert list(np.argsort(-pr)) == [1, 3, 0, 2]
    assert list(tiers.selection_priority("leading", f, np.array([3, 1]), c, np.zeros(2, dtype=F32)) > 9.0) == [False, True]  # log1p(5000) < 9 < log1p(9000)


# ---- market position -----------------------------------------------------------------

def test_region_ranks_of_a_subset_equal_the_full_ranks_and_ties_share():
    rng = np.random.default_rng(5)
    f = make_firms(400)
    f.niche[:400] = rng.integers(0, 30, 400)
    f.revenue[:400] = rng.choice(np.array([5.0, 20.0, 80.0, 400.0, 900.0], dtype=F32), 400)  # many ties
    f.alive[:400] = rng.random(400) < 0.9
    full = tiers.region_ranks(f)
    live = np.where(f.alive[:400], f.revenue[:400], 0.0)
    want = [1 + np.sum((f.niche[:400] == f.niche[i]) & (live > live[i])) for i in range(400)]
    assert list(full) == want                       # 1 + firms of the niche with a larger revenue
    rows = np.flatnonzero(live >= 80.0)[::3]
    assert list(tiers.region_ranks(f, rows)) == list(full[rows])


def test_market_position_by_hand():
    # niche 0: revenues 50, 30, 20; niche 1: 40, 10 and a dead firm with revenue 100
    f = make_firms(6)
    f.niche[:6] = [0, 1, 0, 1, 0, 1]
    f.revenue[:6] = [30.0, 10.0, 50.0, 100.0, 20.0, 40.0]
    f.alive[:6] = [True, True, True, False, True, True]
    niches = Niches(
        china_share=np.array([0.5, 0.25], dtype=F32),
        foreign_top=np.array([[0.2, 0.1, 0.06], [0.0, 0.0, 0.0]], dtype=F32),
        ext_top=np.array([[0.3, 0.2, 0.1, 0.0, 0.0], [0.0] * 5], dtype=F32),
        weight=np.array([0.25, 0.75], dtype=F32), region_share=0.5)
    mk = tiers.market_position(f, niches, coverage=0.8)
    # live total 150 -> national expectation 150 / 0.5 = 300; niche 0: max(100, 75) / 0.8 = 125;
    # niche 1: max(50, 225) / 0.8 = 281.25
    want_share = [30 / 125, 10 / 281.25, 50 / 125, 0.0, 20 / 125, 40 / 281.25]
    np.testing.assert_allclose(mk.nat_share, want_share, rtol=1e-6)
    assert list(mk.region_rank) == [2, 2, 1, 3, 3, 1]
    # niche 0 outside firms 0.3, 0.2, 0.1: share 0.4 -> none above; 0.24 -> 0.3 above; 0.16 -> 0.3, 0.2 above
    assert list(mk.nat_rank[[2, 0, 4]]) == [1, 3, 5]
    assert list(mk.nat_rank[[5, 1]]) == [1, 2]
    # world: niche 0 global shares 0.2, 0.12, 0.08 vs foreign 0.2, 0.1, 0.06 -> above: 0, 1, 2
    assert list(mk.global_rank[[2, 0, 4]]) == [1, 4, 7]
    assert list(mk.global_rank[[5, 1]]) == [1, 2]



def test_city_view_provincial_ranks_count_the_rest_of_the_province():
    """In a city view (province_share > 0) the rank for "#1 in the province" counts the outside
    rivals that are in the province; the national rank counts every outside rival."""
    f = make_firms(3)
    f.niche[:3] = [0, 0, 1]
    f.revenue[:3] = [30.0, 20.0, 40.0]
    f.alive[:3] = True
    ext = np.array([[0.5, 0.3, 0.0, 0.0, 0.0], [0.2, 0.1, 0.0, 0.0, 0.0]], dtype=F32)
    kw = dict(china_share=np.array([0.5, 0.5], dtype=F32), foreign_top=np.zeros((2, 3), dtype=F32), ext_top=ext,
              weight=np.array([0.5, 0.5], dtype=F32), region_share=0.1)
    city = tiers.market_position(f, Niches(**kw), coverage=1.0)
    in_prov = np.array([[False, True, False, False, False], [True, False, False, False, False]])
    prov = tiers.market_position(f, Niches(**kw, ext_in_province=in_prov), coverage=1.0)
    # niche 0: market max(50, 0.5 * 900) = 450 -> shares 0.067, 0.044: rivals 0.5 (outside SD), 0.3 (in SD) above both
    assert list(city.region_rank[:2]) == [1, 2] and list(prov.region_rank[:2]) == [2, 3]
    # niche 1: share 40 / 450 = 0.089: rivals 0.2 (in SD) and 0.1 (not) above
    assert city.region_rank[2] == 1 and prov.region_rank[2] == 2
    assert np.array_equal(city.nat_rank, prov.nat_rank) and list(prov.nat_rank) == [3, 4, 3]


def test_province_share_must_exceed_the_city_share():
    from sim.core.population import draw_niches
    from sim.core.schema import ConfigError, FirmParams
    with pytest.raises(ConfigError, match=r"^scenario\.population\.province_share: 0\.001 is not allowed"):
        draw_niches(10, 0.004, FirmParams(), np.random.default_rng(0), province_share=0.001)
    n = draw_niches(2000, 0.004, FirmParams(), np.random.default_rng(0), province_share=0.076)
    assert n.ext_in_province.shape == (2000, 5)
    assert n.ext_in_province.mean() == pytest.approx((0.076 - 0.004) / 0.996, abs=0.01)  # binomial sd 0.0026
    assert draw_niches(10, 0.076, FirmParams(), np.random.default_rng(0)).ext_in_province is None

# ---- capacity and schedule --------------------------------------------------------------

def test_capacity_quota_listed_default_and_growth():
    cap = CapacityConfig(rule="quota", quota_by_year={2019: 248, 2020: 1584, 2021: 2930}, quota_default=3000.0, quota_growth=0.1)
    assert tiers.capacity(cap, 2020, 1.0) == pytest.approx(1584.0)
    assert tiers.capacity(cap, 2021, 0.01) == pytest.approx(29.30)
    # before the listed years: the default; after: the default growing from the last listed year
    assert tiers.capacity(cap, 2018, 1.0) == pytest.approx(3000.0)
    assert tiers.capacity(cap, 2022, 1.0) == pytest.approx(3000.0 * 1.1)
    assert tiers.capacity(cap, 2025, 0.5) == pytest.approx(0.5 * 3000.0 * 1.1 ** 4)
    flat = CapacityConfig(rule="quota", quota_by_year={"2019": 19, "2020": 122}, quota_default=230.0)  # YAML may give str keys
    assert tiers.capacity(flat, 2019, 1.0) == pytest.approx(19.0)
    assert tiers.capacity(flat, 2030, 1.0) == pytest.approx(230.0)
    assert tiers.capacity(CapacityConfig(rule="quota", quota_default=2.0), 2024, 1.0) == pytest.approx(2.0)


def test_capacity_selection_rate_and_criteria_are_unbounded():
    assert tiers.capacity(CapacityConfig(rule="selection_rate", selection_rate=0.5, quota_default=5.0), 2022, 1.0) == np.inf
    assert tiers.capacity(CapacityConfig(rule="criteria", quota_default=5.0), 2022, 1.0) == np.inf


def test_due():
    s = TierSchedule(first_year=2019, batch_month=6)
    assert tiers.due("little_giant", s, 2019, 6)
    assert not tiers.due("little_giant", s, 2019, 5)
    assert not tiers.due("little_giant", s, 2018, 6)
    assert not tiers.due("little_giant", TierSchedule(enabled=False, first_year=2019, batch_month=6), 2020, 6)
    cont = TierSchedule(first_year=2022, batch_month=0)
    assert all(tiers.due("innovative", cont, 2023, m) for m in range(1, 13))
    assert not tiers.due("innovative", cont, 2021, 12)


# ---- batches and re-review ---------------------------------------------------------------

K = TIER_INDEX["little_giant"]


class Batch:
    """run_batch with explicit inputs: nobody applies, everybody meets the criteria, unless set."""

    def __init__(self, n, rule="criteria", **cap):
        self.f = make_firms(n, alive=True)
        self.sched = TierSchedule(batch_month=6, capacity=CapacityConfig(rule=rule, **cap))
        self.rp = RecognitionParams()
        self.ok = np.ones(n, dtype=bool)
        self.review_ok = np.ones(n, dtype=bool)
        self.apply_mult = np.ones(n, dtype=F32)
        self.review_boost = np.zeros(n, dtype=F32)
        self.priority = np.zeros(n, dtype=F32)
        self.u_apply = np.full(n, 0.999, dtype=F32)
        self.u_review = np.full(n, 0.5, dtype=F32)
        self.u_select = np.full(n, 0.5, dtype=F32)

    def __call__(self, t, year=2020, scale=1.0, tier="little_giant"):
        """The model's path: candidates (per-row apply probabilities: row i has code i), then the batch."""
        n = self.f.n
        p_row = tiers.apply_probability(tier, self.sched, self.rp, self.apply_mult)
        app, due = tiers.candidates(tier, self.f, t, 36, p_row, np.arange(n), self.u_apply)
        return tiers.run_batch(tier, self.f, t, self.sched, year, scale, self.rp, app, due, self.ok[app], self.review_ok[due],
                               self.review_boost[due], lambda rows: self.priority[rows], self.u_review, self.u_select)

    @property
    def rec(self):
        return self.f.titles[K, : self.f.n]


def test_rereview_exactly_at_36_months_and_clock_restarts():
    b = Batch(3)
    b.rec[:] = 10
    b.review_ok[:] = [True, True, False]
    p = F32(b.rp.rereview_pass["little_giant"])
    b.u_review[:] = [below(p), p, 0.0]      # pass: u < pass rate
    res = b(45)                             # 35 months: nobody is due, even those failing the criteria
    assert list(b.rec) == [10, 10, 10]
    assert (res.rereviewed, res.revoked, res.recognised) == (0, 0, 0)
    res = b(46)                             # 36 months: due
    assert list(b.rec) == [46, NONE, NONE]  # pass (u < 0.85) / unlucky / criteria fail
    assert (res.rereviewed, res.revoked) == (1, 2)
    res = b(81)                             # the new clock runs from 46
    assert b.rec[0] == 46 and res.rereviewed == 0
    b.u_review[0] = 0.999                    # unlucky this time
    res = b(82)
    assert b.rec[0] == NONE and res.revoked == 1


def test_rereview_boost_and_criteria_flag():
    b = Batch(4)
    b.rp.rereview_pass = dict(b.rp.rereview_pass, little_giant=0.85)
    b.rec[:] = 0
    b.review_boost[:] = [1.0, 0.5, 0.5, 0.0]   # p = 1, 0.925, 0.925, 0.85
    b.u_review[:] = [0.99, 0.92, 0.93, 0.5]
    b.review_ok[3] = False
    b(36)
    assert list(b.rec) == [36, 36, NONE, NONE]
    b2 = Batch(2)
    b2.rp.review_needs_criteria = False
    b2.rp.rereview_pass = dict(b2.rp.rereview_pass, little_giant=0.85)
    b2.rec[:] = 0
    b2.review_ok[:] = False
    b2.u_review[:] = [0.1, 0.9]
    b2(36)
    assert list(b2.rec) == [36, NONE]       # criteria ignored, pass rate still applies


def test_applications_need_the_draw_and_the_criteria():
    b = Batch(4)
    p = F32(b.rp.apply_prob["little_giant"])
    b.u_apply[:] = [below(p), p, 0.0, 0.0]   # apply with probability apply_prob: u < p
    b.ok[:] = [True, True, False, True]
    b.f.alive[3] = False
    res = b(100)
    assert list(b.rec) == [100, NONE, NONE, NONE]
    assert (res.applicants, res.eligible, res.recognised) == (2, 1, 1)


def test_continuous_tier_applies_at_the_monthly_rate():
    b = Batch(2)
    b.sched.batch_month = 0
    monthly = 1 - (1 - b.rp.apply_prob["innovative"]) ** (1 / 12)   # the annual propensity as a monthly rate
    b.u_apply[:] = [monthly * 0.999, monthly * 1.001]
    b(5, tier="innovative")
    assert list(b.f.titles[TIER_INDEX["innovative"], :2]) == [5, NONE]


def test_quota_bounds_recognitions_by_priority():
    b = Batch(20, rule="quota", quota_by_year={2020: 4})
    b.u_apply[:10] = 0.0                      # 10 eligible applicants ...
    b.u_apply[10:15] = 0.0
    b.ok[10:15] = False                       # ... 5 ineligible applicants, 5 who do not apply
    rng = np.random.default_rng(3)
    b.priority[:] = rng.permutation(20).astype(F32)
    b.u_select[:] = rng.random(20, dtype=F32) * 0.5
    res = b(100, year=2020)
    assert (res.applicants, res.eligible, res.capacity, res.recognised) == (15, 10, 4.0, 4)
    assert res.eligible > res.capacity       # bound by capacity
    chosen = set(np.flatnonzero(b.rec == 100))
    assert chosen == set(np.argsort(-b.priority[:10])[:4])


def test_quota_not_binding_takes_the_whole_pool():
    for n_elig in (3, 4):
        b = Batch(10, rule="quota", quota_by_year={2020: 4})
        b.u_apply[:n_elig] = 0.0
        res = b(100, year=2020)
        assert res.eligible == n_elig and res.eligible <= res.capacity
        assert res.recognised == n_elig and set(np.flatnonzero(b.rec == 100)) == set(range(n_elig))


def test_scaled_quota_is_rounded_at_random_with_the_right_mean():
    # quota 4 at scale 0.3 -> 1.2 simulated firms: 2 with probability 0.2, else 1
    takes = []
    for u in (np.arange(200, dtype=F32) + F32(0.5)) / F32(200):
        b = Batch(6, rule="quota", quota_by_year={2020: 4})
        b.u_apply[:] = 0.0
        b.u_select[:] = u
        res = b(100, year=2020, scale=0.3)
        assert res.capacity == pytest.approx(1.2)
        takes.append(res.recognised)
    assert set(takes) == {1, 2}
    assert np.mean(takes) == pytest.approx(1.2, abs=1 / 200)


def test_selection_rate_rule():
    b = Batch(4, rule="selection_rate", selection_rate=0.5)
    b.u_apply[:] = 0.0
    b.u_select[:] = [0.1, 0.49, 0.5, 0.9]
    res = b(100)
    assert list(b.rec) == [100, 100, NONE, NONE]
    assert res.capacity == np.inf and res.recognised == 2


def test_model_batches_respect_capacity_and_report_bound():
    """Liaocheng (~1,900 firms): every capacity-bound batch takes floor or ceil of its quota,
    every pool-bound batch takes no more than its eligible pool."""
    from sim.config.compose import compose
    from sim.core.model import TierModel

    run = compose("liaocheng", "baseline", ["agents=on_demand", "seed=3"])
    rec = TierModel(config=run).run()
    assert rec.batches
    n_capacity = 0
    for b in rec.batches:
        assert b["recognised"] <= b["eligible"] <= b["applicants"]
        if b["bound"] == "capacity":
            n_capacity += 1
            assert b["eligible"] > b["capacity"]
            assert np.floor(b["capacity"]) <= b["recognised"] <= np.ceil(b["capacity"])
        else:
            assert b["bound"] == "pool"
            assert not (b["eligible"] > b["capacity"])
    assert n_capacity > 0   # the 'leading' quota of 2 binds


@pytest.mark.parametrize("tier", ["srdi", "little_giant", "single_champion", "provincial_champion", "leading"])
def test_prefilter_is_a_necessary_condition_of_the_criteria(tier):
    """On a simulated population mid-run: every firm meeting the criteria passes the
    prefilter (so skipping the others changes nothing), and the prefilter does cut."""
    from sim.config.compose import compose
    from sim.core.model import TierModel

    m = TierModel(config=compose("shandong", "baseline", ["scenario.scale=0.2", "agents=on_demand"]), replicate=1)
    for _ in range(70):
        m.step()
    f, t = m.firms, m.t_now
    rows = np.arange(f.n)
    mk = tiers.market_for(f, m.niches, tiers.niche_markets(f, m.niches, m.params.firms.market_coverage), rows,
                          tiers.region_ranks(f, rows))
    ok = tiers.eligible(tier, f, tiers.FirmMetrics.of(f, t, m.params.firms), mk, m.criteria)
    pre = tiers.prefilter(tier, f, rows, m.criteria, t)
    assert ok.any() and not (ok & ~pre).any()
    assert pre.mean() < 0.9


@pytest.mark.parametrize("tier", sorted(tiers.GATES))
def test_prefilter_is_the_criteria_gates_on_the_rows(tier):
    """One definition of each gate: the prefilter of some rows is the very mask the
    criteria's gates give those rows, and a firm failing any one gate fails both."""
    c = CriteriaConfig()
    n = 12
    f = make_firms(n, alive=True, revenue=1500.0, rd_int=0.08, rd_prev=0.08, ip=5.0, rd_inst=True, brand=True,
                   main_share=0.95, debt=0.4, niche_start=T - 12 * 12, chain=1, key_link=True, employees=300.0,
                   owner=True)  # (a chain owner: the leading enterprise's 1 bn bar)
    f.titles[TIER_INDEX["srdi"], :n] = T - 5
    # one gate failed per row (row 0 passes every gate)
    f.niche_start[1] = T  # 0 years in the niche
    f.main_share[2] = 0.5
    f.debt[3] = 0.9
    f.rd_int[4] = f.rd_prev[4] = 0.001
    f.ip[5] = 0.0
    f.rd_inst[6] = False
    f.brand[7] = False
    f.titles[TIER_INDEX["srdi"], 8] = NONE
    f.revenue[9] = 5.0
    f.chain[10] = -1
    rows = np.array([0, 2, 3, 5, 7, 9, 10, 11, 1, 4, 6, 8])
    m = tiers.FirmMetrics.of(f, T, FP)
    whole = tiers.gates(tier, f, m, c)
    assert np.array_equal(tiers.prefilter(tier, f, rows, c, T), whole[rows])       # most rows: whole arrays
    for few in (rows[:2], rows[-2:]):                                               # few rows: their columns
        assert np.array_equal(tiers.prefilter(tier, f, few, c, T), whole[few])
    assert whole[0] and not whole.all()
    mk = market(n)
    assert not (tiers.eligible(tier, f, m, mk, c) & ~whole).any()


def test_prefilter_follows_the_criteria_config():
    """Moving a gate in the config moves the prefilter with it (no second copy of the bar)."""
    f = make_firms(1, alive=True, revenue=15.0, rd_int=0.1, niche_start=T - 36)
    rows = np.array([0])
    assert tiers.prefilter("srdi", f, rows, CriteriaConfig(), T).all()
    strict = CriteriaConfig()
    strict.srdi.min_revenue = 20.0
    assert not tiers.prefilter("srdi", f, rows, strict, T).any()
    assert tiers.prefilter("innovative", f, rows, strict, T).all()


# ---- reviews on each title's own criteria; lapses apart from failures (issue 12) ----------

def test_little_giant_review_does_not_need_a_renewed_srdi_title():
    """A little giant whose SRDI title lapsed still passes its own re-review criteria (MIIT
    2022); a non-holder of SRDI still cannot enter; the other criteria are unchanged."""
    c = CriteriaConfig()
    rc = tiers.review_criteria(c)
    f = make_firms(2, **{k: v for k, v in LG_BASE.items()})
    set_growth(f, 0, 0.1)
    set_growth(f, 1, 0.1)
    f.main_share[1] = 0.5
    m, mk = tiers.FirmMetrics.of(f, T, FP), market(2)
    assert not tiers.eligible("little_giant", f, m, mk, c).any()            # no SRDI title: no entry
    assert tiers.eligible("little_giant", f, m, mk, rc).tolist() == [True, False]  # review: own criteria only
    assert rc.little_giant.requires_srdi is False and c.little_giant.requires_srdi is True
    assert rc.srdi == c.srdi and rc.single_champion == c.single_champion


def test_model_reviews_a_little_giant_without_its_srdi_title():
    """In the model, a due little giant that holds no SRDI title is judged on the little
    giant's own criteria (so it is not revoked for the missing SRDI title)."""
    from sim.config.compose import compose
    from sim.core.model import TierModel

    m = TierModel(config=compose("shandong", "baseline", ["scenario.scale=0.05", "agents=on_demand"]), replicate=0)
    for _ in range(80):
        m.step()
    f, t = m.firms, m.t_now
    holders = np.flatnonzero(f.holds("little_giant") & f.alive[: f.n])
    assert holders.size
    markets = tiers.niche_markets(f, m.niches, m.params.firms.market_coverage)
    _, with_srdi = m._criteria("little_giant", t, holders[:0], holders, markets, True)
    f.titles[TIER_INDEX["srdi"], holders] = NONE
    _, without = m._criteria("little_giant", t, holders[:0], holders, markets, True)
    assert with_srdi.any() and np.array_equal(with_srdi, without)


def test_holders_that_do_not_file_lapse_and_are_counted_apart():
    b = Batch(4)
    b.rp.rereview_pass = dict(b.rp.rereview_pass, little_giant=0.8)
    b.rp.rereview_file = dict(b.rp.rereview_file, little_giant=0.5)
    b.rec[:] = 0
    b.review_ok[:] = [True, True, False, True]
    # file if u < 0.5; pass if it filed, meets the criteria and u < 0.5 * 0.8 = 0.4
    b.u_review[:] = [0.1, 0.45, 0.1, 0.7]
    res = b(36)
    assert list(b.rec) == [36, NONE, NONE, NONE]
    assert (res.rereviewed, res.revoked, res.lapsed) == (1, 3, 1)   # failed: row 1 (draw), row 2 (criteria)


def test_everyone_files_by_default_so_no_lapses():
    assert set(RecognitionParams().rereview_file.values()) == {1.0}
    b = Batch(3)
    b.rec[:] = 0
    b.u_review[:] = [0.1, 0.9, 0.999]
    res = b(36)
    assert res.lapsed == 0 and res.revoked == 2


# ---- the eligible pool on criteria alone, per batch and scenario (issue 12) ---------------

def _pools(scenario: str, overrides: list[str], replicates: int = 2) -> list[dict]:
    from sim.config.compose import compose
    from sim.config.posterior import config_for_replicate
    from sim.core.model import simulate

    cfg = compose(scenario, "baseline", overrides)  # each replicate draws its parameters from the shipped posterior, as forecasts do
    out = []
    for r in range(replicates):  # a batch split among the provinces of the view (MIIT's, nationally): its parts summed
        merged: dict[tuple, dict] = {}
        for b in simulate(config_for_replicate(cfg, r), r).batches:
            key = (b["date"], b["tier"])
            if key in merged:
                merged[key] = {k: (v + b[k] if isinstance(v, float) else v) for k, v in merged[key].items()}
            else:
                merged[key] = dict(b, replicate=r)
        out += merged.values()
    return out


# (tier, first year, last year) -> (kind, low, high): bounds of the pool on criteria alone as a
# multiple of the batch's capacity ("x", quota tiers) or in firms ("n"). Sources (all to 2021):
# DOMAIN §4 batches (national little giants 248 / 1,584 / 2,930: batches that were filled, so the
# pool must reach them; Shandong SRDI 1,167 in 2021); DOMAIN §8: MIIT's 2016 plan of 200
# demonstration + 600 cultivation champions by 2025, its view of the firms able to qualify; a pool a
# few times the quota is how a binding quota with a real selection looks (the first two little-giant
# batches were small against a pool built up over years: a wider bound in 2020). After 2021 the batch sizes are priors, so a
# pool below them is a forecast, not an implausibility: only the recorded years bound it from below.
PLAUSIBLE = {
    "shandong": ({"scale": 0.05}, {("srdi", 2016, 2021): ("x", 0.5, 5.0), ("little_giant", 2020, 2020): ("x", 0.5, 8.0),
                                   ("little_giant", 2021, 2021): ("x", 0.5, 4.0), ("leading", 2022, 2022): ("x", 0.5, 5.0)}),
    "national": ({"scale": 0.05}, {("srdi", 2019, 2025): ("n", 5_000, 40_000), ("little_giant", 2020, 2021): ("x", 0.5, 4.0),
                                   ("single_champion", 2016, 2016): ("n", 400, 2_400)}),
    "liaocheng": ({}, {("srdi", 2016, 2025): ("n", 20, 300), ("little_giant", 2019, 2025): ("n", 2, 60)}),
}


@pytest.mark.parametrize("scenario", sorted(PLAUSIBLE))
def test_eligible_pool_per_batch_is_plausible(scenario):
    """batches carry the pool on criteria alone (every alive non-holder meeting the
    criteria), which contains the eligible applicants, and the median pool of each batch over
    posterior draws lies within a stated plausible range.  (The median, not every draw: with 8
    draws of the national posterior of 2026-12-02 the 2016 champion pools ran 580-4,040, median
    1,710 — two draws passed by luck of the replicates taken.)"""
    knobs, ranges = PLAUSIBLE[scenario]
    n = 6
    batches = _pools(scenario, [f"scenario.{k}={v}" for k, v in knobs.items()], replicates=n)
    assert batches and all(b["pool"] >= b["eligible"] >= b["recognised"] - 1e-9 for b in batches)
    assert all(b["failed"] + b["lapsed"] >= 0 and b["lapsed"] == 0 for b in batches)
    bad = []
    for (tier, first, last), (kind, lo, hi) in ranges.items():
        rows = [b for b in batches if b["tier"] == tier and first <= int(str(b["date"])[:4]) <= last]
        assert rows, (tier, first, last)
        by_date: dict[str, list[float]] = {}
        for b in rows:  # a multiple of the capacity only where there is one (a government may decide a batch of 0)
            if kind == "n" or b["capacity"] > 0:
                by_date.setdefault(str(b["date"]), []).append(b["pool"] / b["capacity"] if kind == "x" else b["pool"])
        for date, xs in by_date.items():
            assert len(xs) >= n // 2, (tier, date)
            if not lo <= float(np.median(xs)) <= hi:
                bad.append((tier, date, round(float(np.median(xs)), 2)))
    assert not bad, f"{scenario}: median pools outside the plausible range: {bad}"


# Leading enterprises are out of this test: their pool is the chain owners (and firms at the pillar-chain bar)
# by definition (DOMAIN §2), and the national quota of ~50 a year is an assumption without a source.
@pytest.mark.xfail(strict=True, reason="issue 12, open: champion pools on criteria alone are 10-40x their quotas "
                                        "(firms grow through the fixed 400 M CNY bar and market shares spread; a region's "
                                        "firms do not cluster in its industries, so '#1 in the province' is weak: issues 14-15)")
@pytest.mark.parametrize("scenario", ["shandong", "national"])
def test_champion_pools_are_within_a_small_multiple_of_the_quota(scenario):
    batches = _pools(scenario, ["scenario.scale=0.05"])
    ratios = [b["pool"] / b["capacity"] for b in batches
              if b["tier"] in ("single_champion", "provincial_champion") and np.isfinite(b["capacity"])]
    assert ratios and max(ratios) <= 10.0


def test_subset_part_is_the_subset_of_the_part_rows_with_replaced_columns_kept():
    """FirmSubset.part (a batch's applicants and due holders, parts of the rows it evaluated):
    the same values as a fresh subset of those rows, whether a column was copied before or
    not, and a replaced column stays replaced."""
    n = 10
    f = make_firms(n, alive=True, revenue=np.arange(1.0, n + 1.0, dtype=np.float32), rd_int=0.05,
                   quality=np.linspace(0.1, 0.9, n, dtype=np.float32))
    f.titles[TIER_INDEX["srdi"], [2, 9]] = 3
    rows = np.array([7, 2, 5, 9, 0])
    own = np.linspace(0.01, 0.05, rows.size, dtype=np.float32)
    sub = f.take(rows, rd_int=own)
    _ = sub.revenue  # copied before the split
    for sel in (slice(None, 2), slice(2, None)):
        part = sub.part(sel)
        fresh = f.take(rows[sel])
        assert part.n == fresh.n == rows[sel].size
        assert np.array_equal(part.revenue, fresh.revenue) and np.array_equal(part.quality, fresh.quality)
        assert np.array_equal(part.rd_int, own[sel]) and not np.array_equal(part.rd_int, fresh.rd_int)
        assert np.array_equal(part.titles, fresh.titles)


def test_market_for_with_a_given_share_equals_the_computed_share():
    """market_for(share=...) (the share computed once for the rank screen) gives the very
    market position it computes itself."""
    from sim.config.compose import compose
    from sim.core.model import TierModel

    m = TierModel(config=compose("shandong", "baseline", ["scenario.scale=0.05", "agents=on_demand"]), replicate=0)
    for _ in range(14):
        m.step()
    f = m.firms
    rows = np.flatnonzero(f.alive[: f.n])[::3]
    markets = tiers.niche_markets(f, m.niches, m.params.firms.market_coverage)
    ranks = tiers.region_ranks(f, rows)
    a = tiers.market_for(f, m.niches, markets, rows, ranks)
    b = tiers.market_for(f, m.niches, markets, rows, ranks, share=tiers.market_for(f, m.niches, markets, rows).nat_share)
    for x, y in zip((a.nat_share, a.region_rank, a.nat_rank, a.global_rank), (b.nat_share, b.region_rank, b.nat_rank, b.global_rank)):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert a.nat_share.size == rows.size > 0 and (a.nat_share > 0).any()
