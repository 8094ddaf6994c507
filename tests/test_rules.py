"""Tests for sim.rules: the growth process (Laplace annual growth from a Gaussian scale
mixture, DOMAIN §6), the capacity limit, exit hazards, IP arrivals, R&D and bunching."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.core import rules
from sim.core.schema import FirmParams, GrowthParams, RDParams

F32 = np.float32
G = GrowthParams()


NO_CAP = F32(1e6)


def simulate_year(revenue, age, drift, g, rng, cap=NO_CAP):
    """One calendar year as the model runs it: one exponential per firm (January) and
    twelve monthly normal steps.  Returns (b, annual log growth, end revenue)."""
    n = revenue.shape[0]
    b = rules.laplace_scale(revenue, age, g)
    vol = rules.monthly_volatility(b, rng.standard_exponential(n, dtype=F32))
    rev, ytd = revenue.copy(), np.zeros(n, dtype=F32)
    for _ in range(12):
        rev, ytd = rules.grow(rev, ytd, drift, vol, rng.standard_normal(n, dtype=F32), cap)
    return b, ytd.astype(np.float64), rev


# ---- growth: Laplace annual log growth --------------------------------------------------

def test_annual_growth_is_laplace():
    n = 200_000
    rng = np.random.default_rng(20240601)
    rev = np.full(n, G.ref_revenue, dtype=F32)
    age = np.full(n, 200.0, dtype=F32)           # old: the age term has vanished
    drift = np.full(n, 0.045, dtype=F32)
    b, x, rev_end = simulate_year(rev, age, drift, G, rng)
    assert np.allclose(b, G.laplace_scale)       # at the reference size, b is the configured scale
    # the year-to-date sum is the log revenue change
    np.testing.assert_allclose(x, np.log(rev_end.astype(np.float64) / rev), atol=1e-5)
    # excess kurtosis of a Laplace is 3; a sample's standard error is sqrt(1188/n) (delta method on
    # m4/m2^2 with Laplace moments mu2k = (2k)! b^2k) = 0.077 at n = 200,000: accept within 4 SE.
    se = np.sqrt(1188.0 / n)
    assert stats.kurtosis(x) == pytest.approx(3.0, abs=4 * se)
    # mean drift and sd sqrt(2) b: standard errors sqrt(2) b / sqrt(n) and ~ sqrt(5/n)/2 relative
    assert x.mean() == pytest.approx(0.045, abs=4 * np.sqrt(2) * G.laplace_scale / np.sqrt(n))
    assert x.std() == pytest.approx(np.sqrt(2) * G.laplace_scale, rel=4 * np.sqrt(5.0 / n) / 2)
    ks = stats.kstest(x, "laplace", args=(0.045, G.laplace_scale))
    assert ks.pvalue > 0.01, ks
    # and it is clearly not Gaussian with the same mean and sd
    assert stats.kstest(x, "norm", args=(x.mean(), x.std())).pvalue < 1e-6


def test_standardised_growth_is_laplace_across_sizes_and_ages():
    n = 100_000
    rng = np.random.default_rng(7)
    rev = np.exp(rng.uniform(np.log(5.0), np.log(5000.0), n)).astype(F32)
    age = rng.uniform(0.0, 30.0, n).astype(F32)
    drift = rng.uniform(-0.05, 0.15, n).astype(F32)
    b, x, _ = simulate_year(rev, age, drift, G, rng)
    zs = (x - drift) / b.astype(np.float64)
    assert stats.kstest(zs, "laplace").pvalue > 0.01
    assert stats.kurtosis(zs) > 2.0   # ~3 (heterogeneous mixing cannot lower it)


def test_volatility_falls_with_size_by_beta():
    assert 0.15 <= G.size_elasticity <= 0.2          # DOMAIN §6
    age = np.full(3, 100.0, dtype=F32)
    rev = np.array([G.ref_revenue, G.ref_revenue * np.e, G.ref_revenue * 10.0], dtype=F32)
    b = rules.laplace_scale(rev, age, G).astype(np.float64)
    assert b[0] == pytest.approx(G.laplace_scale, rel=1e-6)
    assert b[1] / b[0] == pytest.approx(np.exp(-G.size_elasticity), rel=1e-5)
    assert b[2] / b[0] == pytest.approx(10.0 ** -G.size_elasticity, rel=1e-5)
    # and the simulated growth sd follows: small (10 M CNY) vs large (1,000 M CNY) firms
    n = 50_000
    rng = np.random.default_rng(11)
    sds = []
    for r in (10.0, 1000.0):
        _, x, _ = simulate_year(np.full(n, r, dtype=F32), np.full(n, 100.0, dtype=F32), np.zeros(n, dtype=F32), G, rng)
        sds.append(x.std())
    rel_se = np.sqrt(5.0 / n) / 2                   # relative SE of a Laplace sample sd
    assert sds[0] / sds[1] == pytest.approx(100.0 ** G.size_elasticity, rel=5 * np.sqrt(2) * rel_se)


def test_volatility_falls_with_age():
    ages = np.array([0.0, 1.0, 3.0, 10.0, 50.0], dtype=F32)
    b = rules.laplace_scale(np.full(5, G.ref_revenue, dtype=F32), ages, G)
    assert np.all(np.diff(b) < 0)
    assert b[0] == pytest.approx(G.laplace_scale * (1 + G.age_vol), rel=1e-6)
    assert b[-1] == pytest.approx(G.laplace_scale, rel=1e-3)


def test_monthly_volatility_is_the_scale_mixture():
    b = np.array([0.1, 0.2, 0.3], dtype=F32)
    e = np.array([0.5, 1.0, 2.0], dtype=F32)
    vol = rules.monthly_volatility(b, e)
    # twelve months of variance vol^2 add up to V = 2 b^2 e
    np.testing.assert_allclose(12 * vol.astype(np.float64) ** 2, 2 * b.astype(np.float64) ** 2 * e, rtol=1e-5)
    assert vol.dtype == F32


def test_growth_drift_components():
    rev = np.array([G.ref_revenue, G.ref_revenue / np.e, G.ref_revenue * 5], dtype=F32)
    age = np.full(3, 1e4, dtype=F32)
    zero = np.zeros(3, dtype=F32)
    d = rules.growth_drift(rev, age, zero, 0.0, G).astype(np.float64)
    assert d[0] == pytest.approx(G.drift, abs=1e-6)
    assert d[1] == pytest.approx(G.drift + G.small_bonus, abs=1e-6)   # one log unit below the reference
    assert d[2] == pytest.approx(G.drift, abs=1e-6)                  # no bonus above the reference
    young = rules.growth_drift(rev[:1], np.zeros(1, dtype=F32), zero[:1], 0.0, G)[0]
    assert young == pytest.approx(G.drift + G.young_bonus, abs=1e-6)
    # (issue 12) no title term: a title acts only through the constraint it relieves
    constrained = rules.growth_drift(rev[:1], age[:1], np.ones(1, dtype=F32), 0.01, G)[0]
    assert constrained == pytest.approx(G.drift - G.fin_penalty + 0.01, abs=1e-6)


# ---- growth: the annual capacity limit ---------------------------------------------------

def test_grow_respects_the_annual_cap():
    n = 20_000
    rng = np.random.default_rng(5)
    rev0 = np.full(n, 50.0, dtype=F32)
    cap = rng.uniform(0.05, 0.5, n).astype(F32)
    drift = np.full(n, 0.8, dtype=F32)                   # strong growth: the cap binds for many
    vol = np.full(n, 0.15, dtype=F32)
    rev, ytd = rev0.copy(), np.zeros(n, dtype=F32)
    reached = np.zeros(n, dtype=bool)
    for _ in range(12):
        rev, ytd = rules.grow(rev, ytd, drift, vol, rng.standard_normal(n, dtype=F32), cap)
        assert np.all(ytd <= cap + F32(1e-6))          # a float32 rounding of the last step at most
        assert np.all(np.log(rev.astype(np.float64) / rev0) <= cap + 1e-5)
        reached |= np.isclose(ytd, cap, atol=1e-6)
    assert 0.5 < reached.mean() < 1.0                  # the cap binds for most firms at some month, not all
    # a step below the remaining room passes unchanged
    r, y = rules.grow(np.array([100.0], F32), np.array([0.1], F32), np.array([0.12], F32), np.array([0.0], F32),
                      np.array([0.0], F32), F32(0.6))
    assert y[0] == pytest.approx(0.11, abs=1e-7) and r[0] == pytest.approx(100 * np.exp(0.01), rel=1e-6)
    # negative shocks are not limited
    r, y = rules.grow(np.array([100.0], F32), np.array([0.59], F32), np.array([0.0], F32), np.array([0.1], F32),
                      np.array([-3.0], F32), F32(0.6))
    assert y[0] == pytest.approx(0.29, abs=1e-6) and r[0] == pytest.approx(100 * np.exp(-0.3), rel=1e-5)


def test_capacity_limit_never_forces_a_decline():
    r, y = rules.grow(np.array([100.0], F32), np.array([0.8], F32), np.array([0.0], F32), np.array([0.0], F32),
                      np.array([0.0], F32), F32(0.6))
    assert r[0] >= F32(100.0)


# ---- exit --------------------------------------------------------------------------

def test_exit_hazard_compounds_to_the_annual_table():
    fp = FirmParams()
    table = list(fp.hazard_by_age) + [fp.hazard_old]
    # DOMAIN §6: 1.6% (year 1), 6.3% (2), 9.5% (3, peak), >= 8% to year 7, lower after
    assert table[:3] == pytest.approx([0.016, 0.063, 0.095])
    assert len(fp.hazard_by_age) == 7 and min(table[3:7]) >= 0.08 and max(table) == table[2]
    assert fp.hazard_old < 0.08
    ages = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 30], dtype=F32) + F32(0.5)
    ref = G.ref_revenue
    pm = rules.exit_prob_monthly(ages, np.full(ages.shape, ref, dtype=F32), fp, ref).astype(np.float64)
    annual = 1 - (1 - pm) ** 12
    np.testing.assert_allclose(annual, table[:7] + [fp.hazard_old] * 3, rtol=1e-4)
    # whole years only: age 2.99 is still in the age-2 row
    assert rules.exit_prob_monthly(np.array([2.0, 2.99], F32), np.full(2, ref, F32), fp, ref)[1] == pytest.approx(pm[2])


def test_exit_hazard_falls_with_size():
    fp = FirmParams()
    rev = np.array([10.0, 100.0, 1000.0, 10000.0], dtype=F32)
    pm = rules.exit_prob_monthly(np.full(4, 2.5, dtype=F32), rev, fp, 100.0).astype(np.float64)
    assert np.all(np.diff(pm) < 0)
    annual = 1 - (1 - pm) ** 12
    assert annual[2] == pytest.approx(fp.hazard_by_age[2] * 10.0 ** -fp.hazard_size_elasticity, rel=1e-4)
    assert np.all((pm >= 0) & (pm < 1))


# ---- R&D and IP ------------------------------------------------------------------------

def test_ip_arrival_prob_increases_with_rd_and_multiplier():
    r = RDParams()
    rd = np.array([0.0, 0.01, 0.03, 0.06, 0.2], dtype=F32)
    rev = np.full(5, 100.0, dtype=F32)
    p1 = rules.ip_arrival_prob(rd, rev, 1.0, r)
    assert p1[0] == 0.0 and np.all(np.diff(p1) > 0)
    p2 = rules.ip_arrival_prob(rd, rev, 1.5, r)
    assert np.all(p2[1:] > p1[1:])
    assert np.all(rules.ip_arrival_prob(rd, rev * 2, 1.0, r)[1:] > p1[1:])
    # 1 - exp(-lambda/12), lambda = ip_per_rd x spend x mult
    assert p1[2] == pytest.approx(1 - np.exp(-r.ip_per_rd * 3.0 / 12), rel=1e-5)
    assert np.all(p2 < 1)


def test_rd_year_target_mult_raises_intensity_with_common_random_numbers():
    r = RDParams()
    n = 50_000
    rng = np.random.default_rng(13)
    has = rng.random(n) < 0.5
    target = rng.lognormal(np.log(r.median_intensity), r.sigma_intensity, n).astype(F32)
    rd = np.where(has, target * rng.lognormal(0, r.noise, n), 0).astype(F32)
    u = rng.random(n, dtype=F32)
    z = rng.standard_normal(n, dtype=F32)
    zero = np.zeros(n, dtype=F32)
    h1, i1 = rules.rd_year(has, rd, target, zero, 1.0, 1.0, u, z, r)
    h2, i2 = rules.rd_year(has, rd, target, zero, 1.2, 1.0, u, z, r)
    assert np.array_equal(h1, h2)                          # same draws: same performers
    assert i2.mean() > i1.mean()
    assert np.all(i2 >= i1)
    # continuing performers below the 0.6 cap: log intensity rises by (1 - persistence) log 1.2
    cont = has & h1 & (i2 < 0.6)
    np.testing.assert_allclose(np.log(i2[cont] / i1[cont]), (1 - r.persistence) * np.log(1.2), atol=2e-5)
    # new performers start at their goal: the full factor
    new = ~has & h1 & (i2 < 0.6)
    assert new.sum() > 100
    np.testing.assert_allclose(np.log(i2[new] / i1[new]), np.log(1.2), atol=2e-5)
    # a full financing constraint lowers the goal by fin_penalty
    _, i3 = rules.rd_year(has, rd, target, np.ones(n, dtype=F32), 1.0, 1.0, u, z, r)
    np.testing.assert_allclose(np.log(i3[new] / i1[new]), np.log(1 - r.fin_penalty), atol=2e-5)
    assert np.all(i1[~h1] == 0)


def test_rd_year_start_and_stop_rates():
    r = RDParams()
    n = 100_000
    rng = np.random.default_rng(17)
    has = np.arange(n) % 2 == 0
    rd = np.where(has, F32(0.03), F32(0.0)).astype(F32)
    u = rng.random(n, dtype=F32)
    z = rng.standard_normal(n, dtype=F32)
    new_has, _ = rules.rd_year(has, rd, np.full(n, 0.03, F32), np.zeros(n, F32), 1.0, 2.0, u, z, r)
    starts = int((~has & new_has).sum())
    stops = int((has & ~new_has).sum())
    assert stats.binomtest(starts, int((~has).sum()), r.start_prob * 2.0).pvalue > 0.001
    assert stats.binomtest(stops, int(has.sum()), r.stop_prob).pvalue > 0.001


def test_bunch_moves_only_ready_firms_in_the_window_with_the_given_probability():
    r = RDParams()
    n = 40_000
    rng = np.random.default_rng(19)
    gate = 0.03
    lo = gate * (1 - r.bunch_window)
    x = rng.uniform(0.0, 0.05, n).astype(F32)
    ready = rng.random(n) < 0.8
    u = rng.random(n, dtype=F32)
    no = np.zeros(n, bool)
    out, real = rules.bunch(x, [(gate, ready)], u, no, r)
    window = ready & (x < F32(gate)) & (x >= F32(lo))
    moved = out != x
    assert not np.any(moved & ~window)                    # outside the window, or not ready: untouched
    assert np.all(out[moved] == F32(gate))                # movers land on the gate
    assert np.array_equal(moved, window & (u < F32(r.bunch_prob)))
    assert np.array_equal(real[~moved], x[~moved])        # no move: all of it real
    k, m = int(moved.sum()), int(window.sum())
    assert m > 5000
    assert stats.binomtest(k, m, r.bunch_prob).pvalue > 0.001
    # the window edges: just below the lower edge stays, the lower edge itself may move
    edge = np.array([np.nextafter(F32(lo), F32(0)), F32(lo), np.nextafter(F32(gate), F32(0)), F32(gate)], dtype=F32)
    got, _ = rules.bunch(edge, [(gate, np.ones(4, bool))], np.zeros(4, F32), np.zeros(4, bool), r)
    assert list(got == F32(gate)) == [False, True, True, True]
    assert got[0] == edge[0]


def test_bunch_two_gates_and_no_bunching_without_probability():
    r = RDParams()
    x = np.array([0.025, 0.045, 0.035, 0.07], dtype=F32)
    ones, no = np.ones(4, bool), np.zeros(4, bool)
    out, _ = rules.bunch(x, [(0.03, ones), (0.06, ones)], np.zeros(4, F32), no, r)
    assert list(out) == [F32(0.03), F32(0.06), F32(0.035), F32(0.07)]
    r0 = RDParams(bunch_prob=0.0)
    assert np.array_equal(rules.bunch(x, [(0.03, ones), (0.06, ones)], np.zeros(4, F32), no, r0)[0], x)


def test_age_years_is_months_over_twelve_rounded_once_to_float32():
    birth = np.arange(-1200, 121, dtype=np.int32)
    for t in (0, 37, 119):
        got = rules.age_years(t, birth)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, ((t - birth) / 12.0).astype(np.float32))
