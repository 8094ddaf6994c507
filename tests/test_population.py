"""Tests for sim.population: the synthesised national population (scale 0.02, ~10,000 firms)
against DOMAIN §6 and the configured distributions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from sim.config.compose import compose
from sim.core.firms import FirmArrays
from sim.core.population import KINDS, Niches, draw_attributes, expected_markets, place_by_size, sizes, synthesise

SCALE = 0.02
SME, LARGE, SMALL = (KINDS.index(k) for k in ("sme", "large", "small"))


@pytest.fixture(scope="module")
def run():
    return compose("national", "baseline")


@pytest.fixture(scope="module")
def pop(run):
    p = run.params
    firms, kinds, niches, n_chains, owners = synthesise(run.scenario.population, SCALE, p.firms, p.rd, p.chains, 120,
                                                        np.random.default_rng(2021))
    return firms, kinds[: firms.n], niches, n_chains, owners


def test_counts_are_scale_times_config(run, pop):
    firms, kinds, *_ = pop
    cfg = run.scenario.population
    want = {"sme": round(cfg.n_sme * SCALE), "large": round(cfg.n_large * SCALE), "small": round(cfg.n_small_tech * SCALE)}
    assert want == {"sme": 8020, "large": 180, "small": 1800}
    assert sizes(cfg, SCALE) == want
    assert firms.n == sum(want.values())
    assert {k: int((kinds == KINDS.index(k)).sum()) for k in KINDS} == want
    assert firms.alive[: firms.n].all() and not firms.alive[firms.n:].any()
    assert firms.capacity > firms.n   # room reserved for entrants


def test_share_of_smes_doing_rd(run, pop):
    firms, kinds, *_ = pop
    sme = kinds == SME
    share = run.params.rd.share_with_rd
    assert share == pytest.approx(0.37)                                   # DOMAIN §6: 147,000 of ~401,000
    n = int(sme.sum())
    se = np.sqrt(share * (1 - share) / n)
    assert firms.has_rd[: firms.n][sme].mean() == pytest.approx(share, abs=3 * se)


def test_mass_at_zero_intensity(run, pop):
    firms, kinds, *_ = pop
    n = firms.n
    rd, has = firms.rd_int[:n], firms.has_rd[:n]
    assert np.all(rd[~has] == 0.0)
    assert np.all(rd[has] > 0.0) and np.all(rd <= 0.6)
    for kind, share in ((SME, run.params.rd.share_with_rd), (SMALL, run.params.firms.small_rd_share)):
        sel = kinds == kind
        se = np.sqrt(share * (1 - share) / sel.sum())
        assert (rd[sel] == 0).mean() == pytest.approx(1 - share, abs=3 * se)


def test_median_intensity_among_performers(run, pop):
    firms, kinds, *_ = pop
    r = run.params.rd
    perf = (kinds == SME) & firms.has_rd[: firms.n]
    log_rd = np.log(firms.rd_int[: firms.n][perf].astype(np.float64))
    # log intensity ~ N(log median, sqrt(sigma^2 + noise^2)); SE of a sample median = sqrt(pi/2) s / sqrt(n)
    s = np.hypot(r.sigma_intensity, r.noise)
    se = np.sqrt(np.pi / 2) * s / np.sqrt(perf.sum())
    assert np.median(log_rd) == pytest.approx(np.log(r.median_intensity), abs=4 * se)


def test_sme_revenue_body_is_lognormal(run, pop):
    """Above-scale SMEs: lognormal(size_median, size_sigma) truncated to [20, 4000) M CNY —
    no mass piles up at the 20 M CNY bar (a KS test against the truncated normal of log revenue)."""
    firms, kinds, *_ = pop
    f = run.params.firms
    lr = np.log(firms.revenue[: firms.n][kinds == SME].astype(np.float64))
    mu, s = np.log(f.size_median), f.size_sigma
    dist = stats.truncnorm((np.log(20.0) - mu) / s, (np.log(4000.0) - mu) / s, loc=mu, scale=s)
    n = lr.size
    med = np.median(lr)
    se_med = 1.0 / (2 * dist.pdf(dist.median()) * np.sqrt(n))   # asymptotic SE of a sample median
    assert med == pytest.approx(dist.median(), abs=4 * se_med)
    assert stats.kstest(lr, dist.cdf).pvalue > 0.01
    # no spike at the bar: the share within 1% above 20 M CNY matches the density there
    near = np.mean(lr < np.log(20.2))
    expected = dist.cdf(np.log(20.2))
    assert near == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))
    assert lr.min() >= np.log(20.0) - 1e-6


def test_large_firm_tail_is_pareto(run, pop):
    firms, kinds, *_ = pop
    f = run.params.firms
    assert 1.0 <= f.pareto_alpha <= 1.5                # DOMAIN §6
    rev = np.sort(firms.revenue[: firms.n][kinds == LARGE].astype(np.float64))[::-1]
    assert rev[-1] >= f.large_min
    # Hill estimator on the top k: alpha = k / sum log(x_i / x_(k+1)); SE alpha / sqrt(k)
    k = 150
    hill = k / np.log(rev[:k] / rev[k]).sum()
    assert hill == pytest.approx(f.pareto_alpha, abs=3 * f.pareto_alpha / np.sqrt(k))
    # a larger draw of the same kind pins it down (SE ~ 0.008)
    big = FirmArrays.empty(20_000)
    draw_attributes(big, slice(0, 20_000), "large", 0, False, f, run.params.rd, 10, np.random.default_rng(9))
    x = big.revenue.astype(np.float64)
    mle = x.size / np.log(x / f.large_min).sum()
    assert mle == pytest.approx(f.pareto_alpha, abs=3 * f.pareto_alpha / np.sqrt(x.size))
    assert stats.kstest(x, "pareto", args=(f.pareto_alpha, 0, f.large_min)).pvalue > 0.01


def test_niche_ids_within_range(run, pop):
    firms, _, niches, *_ = pop
    f, cfg = run.params.firms, run.scenario.population
    k = int(np.ceil(firms.n / cfg.region_share / f.firms_per_niche))
    assert niches.k == k
    niche = firms.niche[: firms.n]
    assert niche.min() >= 0 and niche.max() < k
    assert niches.foreign_top.shape == (k, 3) and niches.ext_top.shape == (k, 5) and niches.weight.shape == (k,)
    assert niches.weight.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.all((niches.china_share > 0) & (niches.china_share < 1))
    assert np.all(niches.ext_top == 0)   # national scenario: no firms outside the simulated population
    # Zipf niche sizes: niche 0 is (in expectation) the most populated
    counts = np.bincount(niche, minlength=k)
    assert counts[:10].mean() > counts[-100:].mean()


def test_chain_owners_are_the_largest_large_firms(run, pop):
    firms, kinds, _, n_chains, owners = pop
    c, cfg = run.params.chains, run.scenario.population
    n = firms.n
    assert n_chains == max(1, round(cfg.n_chains * SCALE)) == 6
    assert len(owners) == n_chains * c.owners_per_chain
    assert np.array_equal(np.sort(owners), np.flatnonzero(firms.owner[:n]))
    assert np.all(kinds[owners] == LARGE)
    # every chain has exactly owners_per_chain owners
    assert np.array_equal(np.bincount(firms.chain[owners], minlength=n_chains), np.full(n_chains, c.owners_per_chain))
    # they are the largest large firms
    large = np.flatnonzero(kinds == LARGE)
    others = np.setdiff1d(large, owners)
    assert firms.revenue[owners].min() >= firms.revenue[others].max()
    assert np.all(firms.chain[others] == -1)    # other large firms are in no chain


def test_chain_members_are_smes_at_the_member_share(run, pop):
    firms, kinds, _, n_chains, _ = pop
    n, share = firms.n, run.params.chains.member_share
    chain, owner = firms.chain[:n], firms.owner[:n]
    member = (chain >= 0) & ~owner
    assert not np.any(member & (kinds == LARGE))
    assert chain.max() < n_chains
    not_large = int((kinds != LARGE).sum())
    assert stats.binomtest(int(member.sum()), not_large, share).pvalue > 0.001


def test_sme_classification_follows_the_2011_standard(run, pop):
    firms, kinds, *_ = pop
    n, large_min = firms.n, run.params.firms.large_min
    emp, rev = firms.employees[:n], firms.revenue[:n]
    sme = firms.is_sme(run.params.firms)
    assert np.array_equal(sme, (emp < 1000) | (rev < large_min))
    # SMEs and small tech SMEs are SMEs by the standard, large firms are not
    assert np.array_equal(sme, kinds != LARGE)
    # above-scale SMEs: revenue >= 20 M CNY; small tech SMEs below it
    assert rev[kinds == SME].min() >= 20.0
    assert rev[kinds == SMALL].max() < 20.0
    # SMEs that reach the 400 M CNY bar stay SMEs through their head count
    big_sme = (kinds == SME) & (rev >= large_min)
    assert big_sme.any() and np.all(emp[big_sme] < 1000)


def test_synthesis_is_reproducible(run):
    p = run.params
    a = synthesise(run.scenario.population, 0.005, p.firms, p.rd, p.chains, 120, np.random.default_rng(4))
    b = synthesise(run.scenario.population, 0.005, p.firms, p.rd, p.chains, 120, np.random.default_rng(4))
    for name in ("revenue", "rd_int", "niche", "chain", "birth", "niche_start"):
        assert np.array_equal(getattr(a[0], name), getattr(b[0], name)), name
    assert np.array_equal(a[4], b[4])


def test_no_firm_starts_with_more_than_its_share_of_a_niche(run, pop):
    """place_by_size at synthesis: every firm holds at most ``niche_max_share`` of its niche's
    expected national market (unless even the largest niche is too small for it)."""
    firms, _, niches, *_ = pop
    f = run.params.firms
    n = firms.n
    markets = expected_markets(niches, float(firms.revenue[:n].sum(dtype=np.float64)), f.market_coverage)
    share = firms.revenue[:n] / markets[firms.niche[:n]]
    fits = firms.revenue[:n] <= f.niche_max_share * markets.max()
    assert share[fits].max() <= f.niche_max_share * (1 + 1e-5)
    # the large firms did need moving: drawn by niche weight alone, many would exceed the share
    assert (firms.revenue[:n] >= f.large_min).sum() > 50


def test_place_by_size_moves_only_firms_too_large_for_their_niche():
    w = np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32)
    niches = Niches(china_share=np.full(4, 0.3, np.float32), foreign_top=np.zeros((4, 3), np.float32),
                    ext_top=np.zeros((4, 5), np.float32), weight=w, region_share=1.0)
    firms = FirmArrays.empty(6)
    firms.n = 6
    firms.revenue[:6] = [10.0, 10.0, 10.0, 10.0, 30.0, 60.0]     # total 130: markets 65, 39, 19.5, 6.5
    firms.niche[:6] = [3, 3, 1, 1, 3, 3]
    moved = place_by_size(firms, np.arange(6), niches, 0.5, 1.0, np.random.default_rng(1))
    # 10 in the 6.5 market (rows 0, 1) moves to a market >= 20 (niche 0 or 1); 30 needs >= 60 (niche 0);
    # 60 needs 120 > every market: the largest niche; rows 2 and 3 fit where they are
    assert moved == 4
    assert set(firms.niche[:2]) <= {0, 1} and list(firms.niche[2:]) == [1, 1, 0, 0]


def test_world_market_priors_are_the_sourced_ones():
    from sim.core.schema import FirmParams
    fp = FirmParams()
    assert fp.china_global_share_a / (fp.china_global_share_a + fp.china_global_share_b) == pytest.approx(0.286, abs=0.01)
    assert fp.foreign_leader_share == pytest.approx(0.25)


@pytest.mark.parametrize("elasticity", [0.0, 0.25])
def test_mean_age_at_start_scales_with_revenue(run, elasticity):
    # larger firms are older: E[age | revenue] = age_mean x (revenue / ref)^elasticity, in every
    # revenue quartile (ages are whole months: error <= 1/24 yr); tolerance 3 standard errors
    f = replace(run.params.firms, age_size_elasticity=elasticity)
    big = FirmArrays.empty(20_000)
    draw_attributes(big, slice(0, 20_000), "large", 0, False, f, run.params.rd, 10, np.random.default_rng(4), run.params.growth)
    rev, age = big.revenue.astype(np.float64), -big.birth.astype(np.float64) / 12.0
    expected = f.age_mean * (rev / run.params.growth.ref_revenue) ** elasticity
    q = np.quantile(rev, [0.0, 0.25, 0.5, 0.75, 1.0])
    for lo, hi in zip(q[:-1], q[1:]):
        sel = (rev >= lo) & (rev <= hi)
        se = age[sel].std() / np.sqrt(sel.sum())
        assert age[sel].mean() == pytest.approx(expected[sel].mean(), abs=3 * se + 1 / 24)
    top, bottom = rev >= q[3], rev <= q[1]
    ratio = age[top].mean() / age[bottom].mean()
    assert (ratio > 1.3) == (elasticity > 0)
