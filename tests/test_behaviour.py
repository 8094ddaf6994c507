"""Firm behaviour as the evidence says (issue 12): bunching only by firms that aim at a title
and meet its other gates, reported R&D split into real and relabelled, the title's effect
through financing only, and title holders' own exit hazard."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest
from scipy import stats

from sim.config import keys
from sim.config.compose import compose, compose_dict
from sim.config.validate import validate
from sim.core import rules
from sim.core.errors import InputWarning
from sim.core.firms import NONE, TIER_INDEX
from sim.core.model import TierModel
from sim.core.schema import ConfigError, FirmParams, RDParams

F32 = np.float32
R = RDParams()


@cache
def _cfg(*overrides: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        return compose("liaocheng", "no_policy", ["params.rd.noise=0.0", *overrides])


# ---- a model whose first rows are set by hand -------------------------------------------

# an SME 10 years in its niche with 50 M CNY revenue, 2.5% R&D of its own (in the 3% window),
# no title, unconstrained, outside chains: SRDI gates met at 3% (spend 1.5 M CNY)
BASE = dict(alive=True, owner=False, birth=-150, niche_start=-120, revenue=50.0, employees=100.0, has_rd=True, rd_int=0.025, rd_real=0.025,
            rd_prev=0.025, rd_target=0.025, equity_new=0.0, ip=5.0, rd_inst=True, brand=True, emerging=True, chain=-1,
            main_share=0.9, debt=0.5, fin_base=0.0, constraint=0.0)


def model_with(cases: list[dict], *overrides: str) -> tuple[TierModel, np.ndarray]:
    """A Liaocheng model (no levers, no R&D noise) whose rows 0..k-1 are ``BASE`` updated by
    ``cases`` (``holds``: titles held), at month 0 (a January)."""
    m = TierModel(_cfg(*overrides))
    f = m.firms
    rows = np.arange(len(cases))
    for i, case in enumerate(cases):
        f.titles[:, i] = NONE
        for name, v in {**BASE, **case}.items():
            if name == "holds":
                for tier in v:
                    f.titles[TIER_INDEX[tier], i] = -6
            else:
                getattr(f, name)[i] = v
    m._set_codes(rows, 0)  # no lever effects
    m.owners_act()
    m.chain_opening()      # the chain opening refresh reads (these rows are outside chains)
    return m, rows


def ready_at(cases: list[dict]) -> tuple[list[bool], list[bool], np.ndarray]:
    m, rows = model_with(cases)
    f = m.firms
    (g_srdi, srdi), (g_lg, lg) = m._bunch_targets(rows, 0, f.has_rd[rows], f.rd_real[rows])
    assert g_srdi == F32(m.criteria.srdi.min_rd_intensity)
    return srdi.tolist(), lg.tolist(), np.asarray(g_lg)


def test_srdi_bunching_needs_the_aim_and_every_other_srdi_gate():
    cases = [
        {},                                               # meets every other gate at 3%: ready
        {"revenue": 30.0},                                # at 3% spends 0.9 < 1 M CNY: not ready
        {"niche_start": -13},                             # 2 years in the niche by December: nearly, ready
        {"niche_start": -12},                             # 23 months by December: not ready
        {"holds": ["srdi"]},                              # holds the title: does not aim at it
        {"employees": 2000.0, "revenue": 500.0},          # not an SME: the SRDI title is for SMEs
        {"rd_real": 0.02},                                # below the window
        {"rd_real": 0.03},                                # at the gate already
        {"has_rd": False, "rd_real": 0.0},                # no R&D
        {"revenue": 8.0, "equity_new": 25.0},             # equity route, but at 3% spends 0.24 < 1 M CNY: not ready
    ]
    srdi, _, _ = ready_at(cases)
    assert srdi == [True, False, True, False, False, False, False, False, False, False]


def test_little_giant_bunching_needs_srdi_and_every_other_little_giant_gate():
    lg = {"holds": ["srdi"], "revenue": 200.0, "employees": 500.0, "rd_prev": 0.01}
    cases = [
        lg,                                                   # ready at 3% (last year's 1% counts as at the gate too)
        {**lg, "debt": 0.75},                                 # fails the debt gate
        {**lg, "ip": 1.0},                                    # fails the IP gate
        {**lg, "rd_inst": False},                             # no R&D institution
        {**lg, "revenue": 80.0, "rd_real": 0.05},             # 50-100 M CNY: the 6% gate
        {**lg, "revenue": 80.0, "rd_real": 0.025},            # below the 6% window
        {**lg, "revenue": 40.0},                              # below 50 M CNY: no intensity gate
        {**lg, "holds": []},                                  # no SRDI title: aims at SRDI first
        {**lg, "holds": ["srdi", "little_giant"]},            # holds it
    ]
    srdi, little, gate = ready_at(cases)
    assert little == [True, False, False, False, True, False, False, False, False]
    assert gate[0] == F32(0.03) and gate[4] == F32(0.06) and np.isinf(gate[6])
    assert srdi[7] is True   # without the SRDI title it aims at SRDI, whose gates it meets at 3%
    assert srdi[0] is False  # an SRDI holder does not aim at SRDI


def test_bunchers_report_the_gate_and_really_spend_55_percent_of_the_move():
    # u = 0 for every firm: every ready firm in its window bunches
    cases = [{}, {"revenue": 30.0}, {"holds": ["srdi"], "revenue": 80.0, "employees": 500.0, "rd_real": 0.05, "rd_int": 0.05,
                                     "rd_target": 0.05}]
    m, rows = model_with(cases)
    f = m.firms
    d = {"rd_u": np.ones(3, F32), "rd_z": np.zeros(3, F32), "bunch": np.zeros(3, F32)}
    m.rd_decision(rows, 0, d)
    s = R.relabel_share
    np.testing.assert_allclose(f.rd_int[rows], [0.03, 0.025, 0.06], rtol=1e-6)
    np.testing.assert_allclose(f.rd_real[rows], [0.025 + (1 - s) * 0.005, 0.025, 0.05 + (1 - s) * 0.01], rtol=1e-5)
    # IP and institutions read the real intensity; the criteria the reported one
    m.refresh(rows, 0, None, own=True)
    np.testing.assert_allclose(f.ip_rate[rows], R.ip_per_rd * f.rd_real[rows] * f.revenue[rows], rtol=1e-6)
    assert f.p_inst[0] == 0.0 and f.rd_int[0] >= R.institution_min_intensity  # reported 3%, really 2.75%: no institution
    assert f.p_inst[2] > 0.0


def test_relabelling_is_kept_while_it_pays_and_the_ar1_starts_from_real_rd():
    cases = [
        {"rd_int": 0.03, "rd_real": 0.025},                                    # relabelled last year, still ready: keeps on
        {"rd_int": 0.025, "rd_real": 0.025},                                   # did not: its draw (u = 1) says no
        {"rd_int": 0.03, "rd_real": 0.025, "holds": ["srdi", "little_giant"]},  # relabelled, no longer aims: real again
    ]
    m, rows = model_with(cases)
    f = m.firms
    m.rd_decision(rows, 0, {"rd_u": np.ones(3, F32), "rd_z": np.zeros(3, F32), "bunch": np.ones(3, F32)})
    np.testing.assert_allclose(f.rd_int[rows], [0.03, 0.025, 0.025], rtol=1e-6)
    np.testing.assert_allclose(f.rd_prev[rows], [0.03, 0.025, 0.03], rtol=1e-6)  # the two-year test reads reported R&D
    # the AR(1) started from the real 2.5% (with the target at 2.5% and no noise it stays there)
    np.testing.assert_allclose(f.rd_real[rows], [0.025 + (1 - R.relabel_share) * 0.005, 0.025, 0.025], rtol=1e-5)


def test_relabel_share_bounds_real_rd():
    own = np.array([0.021, 0.025, 0.029], F32)
    rep = np.full(3, 0.03, F32)
    np.testing.assert_allclose(rules.real_intensity(own, rep, RDParams(relabel_share=0.0)), rep, rtol=1e-6)
    np.testing.assert_allclose(rules.real_intensity(own, rep, RDParams(relabel_share=1.0)), own, rtol=1e-6)
    got = rules.real_intensity(own, rep, R)
    assert np.all((got > own) & (got < rep))


def test_bunching_in_a_run_only_by_firms_that_aim_and_real_never_exceeds_reported():
    """A 3-year Liaocheng run: every firm reporting more than it spends sits exactly on a
    gate, and relabelled R&D is at most relabel_share of the gap (tolerance: float32)."""
    m = TierModel(_cfg("scenario.horizon=2018-12", "scenario.origin=2018-12", "scenario.window_start=2017-01",
                        "scenario.targets=[]", "scenario.history=[]"))
    m.run()
    f, n = m.firms, m.firms.n
    rel = f.rd_int[:n] - f.rd_real[:n]
    assert np.all(rel >= -1e-7)
    lab = np.flatnonzero(rel > 1e-7)
    assert lab.size > 0  # some firms bunch
    gates = {m.criteria.srdi.min_rd_intensity, m.criteria.little_giant.rd_gate_high, m.criteria.little_giant.rd_gate_mid}
    assert set(np.round(f.rd_int[lab].astype(np.float64), 6)) <= {round(g, 6) for g in gates}
    # own intensity = (real - (1-s) * reported) / s, inside the window below the gate
    s = R.relabel_share
    own = (f.rd_real[lab] - (1 - s) * f.rd_int[lab]) / s
    assert np.all(own >= f.rd_int[lab] * (1 - R.bunch_window) - 1e-5)


# ---- the title's effect: financing only ----------------------------------------------

def test_a_title_changes_growth_only_through_the_financing_constraint():
    fp = FirmParams()
    m, rows = model_with([{"fin_base": 0.5}, {"fin_base": 0.5, "holds": ["srdi"]}, {"fin_base": 0.0, "holds": ["little_giant"]},
                          {"fin_base": 0.0}])
    m.refresh(rows, 0, None, own=True)
    f, g = m.firms, m.params.growth
    c = f.constraint[rows]
    np.testing.assert_allclose(c[:2], [0.5, 0.5 * (1 - fp.title_fin_relief)], rtol=1e-6)
    # the drift difference is exactly the financing penalty on the relieved constraint
    assert (f.drift_m[1] - f.drift_m[0]) * 12 == pytest.approx(g.fin_penalty * 0.5 * fp.title_fin_relief, abs=1e-6)
    # an unconstrained holder gains nothing
    assert f.drift_m[2] == pytest.approx(f.drift_m[3], abs=1e-9)


def test_removed_title_bonus_fails_in_one_line_saying_why():
    d = compose_dict("liaocheng", "baseline")
    d["params"]["growth"]["title_bonus"] = 0.04
    for call in (lambda: validate(d), lambda: keys.leaf("params.growth.title_bonus"),
                 lambda: compose("liaocheng", "baseline", ["+params.growth.title_bonus=0.04"])):
        with pytest.raises(ConfigError) as e:
            call()
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith("params.growth.title_bonus: removed") and "title_fin_relief" in msg


# ---- title holders' exit hazard --------------------------------------------------------

def test_holder_multiplier_is_the_lowest_of_the_titles_held():
    fp = FirmParams(holder_hazard_mult=[0.6, 0.5, 0.3])
    s = np.array([0, 1, 0, 1, 1], bool)
    lg = np.array([0, 0, 1, 1, 0], bool)
    ch = np.array([0, 0, 0, 0, 1], bool)
    np.testing.assert_allclose(rules.holder_hazard_mult(s, lg, ch, fp), [1.0, 0.6, 0.5, 0.5, 0.3], rtol=1e-6)


def test_holders_keep_the_age_and_size_dependence():
    fp = FirmParams()
    ages = np.array([0.5, 2.5, 5.5, 9.0, 2.5], F32)
    rev = np.array([100, 100, 100, 100, 1000], F32)
    mult = F32(fp.holder_hazard_mult[1])
    to_annual = (lambda p: 1 - (1 - p.astype(np.float64)) ** 12)
    generic = to_annual(rules.exit_prob_monthly(ages, rev, fp, 100.0))
    holder = to_annual(rules.exit_prob_monthly(ages, rev, fp, 100.0, mult))
    np.testing.assert_allclose(holder, generic * float(mult), rtol=1e-4)
    assert holder[1] == holder[:4].max()  # the year-3 peak
    assert holder[4] < holder[1]          # larger firms survive longer


def test_holder_exit_frequency_matches_the_hazard():
    """200,000 little giants aged 2.5 at the reference size for 12 months: the share that
    exits is the holder hazard within a two-sided binomial test at p > 0.001."""
    fp = FirmParams()
    n = 200_000
    rng = np.random.default_rng(12)
    p = rules.exit_prob_monthly(np.full(n, 2.5, F32), np.full(n, 100.0, F32), fp, 100.0,
                                rules.holder_hazard_mult(np.ones(n, bool), np.ones(n, bool), np.zeros(n, bool), fp))
    alive = np.ones(n, bool)
    for _ in range(12):
        alive &= ~(rng.random(n, dtype=F32) < p)
    h = fp.hazard_by_age[2] * fp.holder_hazard_mult[1]
    assert stats.binomtest(int((~alive).sum()), n, h).pvalue > 0.001


def test_model_gives_holders_their_hazard_and_updates_it_when_titles_change():
    fp = FirmParams()
    m, rows = model_with([{}, {"holds": ["srdi"]}, {"holds": ["srdi", "little_giant"]}, {"holds": ["provincial_champion"]}])
    f = m.firms
    m.refresh(rows, 0, None, own=True)
    annual = 1 - (1 - f.p_exit[rows].astype(np.float64)) ** 12
    mult = [1.0, fp.holder_hazard_mult[0], min(fp.holder_hazard_mult[:2]), fp.holder_hazard_mult[2]]
    np.testing.assert_allclose(annual, annual[0] * np.array(mult), rtol=1e-4)
    # a batch revokes row 1's title and recognises row 0: the environment refresh updates both
    f.titles[TIER_INDEX["srdi"], 1] = NONE
    f.titles[TIER_INDEX["srdi"], 0] = 5
    m.refresh(rows[:2], 5, None, own=False)
    annual2 = 1 - (1 - f.p_exit[rows[:2]].astype(np.float64)) ** 12
    np.testing.assert_allclose(annual2, [annual[1], annual[0]], rtol=1e-4)
