"""Synthesise the firm population and its product niches from a scenario (DOMAIN §6).

Three kinds of firm: above-scale industrial SMEs (lognormal revenue body), large firms
(Pareto tail above the large-firm bar) and a pool of small tech SMEs below the
above-scale bar.  Niches hold the national and world market structure that decides
market shares and ranks.  Every draw comes from the Generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import ndtr, ndtri

from sim.core.firms import FirmArrays
from sim.core.regions import Regions
from sim.core.schema import ChainParams, ConfigError, FirmParams, GrowthParams, PopulationConfig, RDParams

F32 = np.float32
KINDS = ("sme", "large", "small")


@dataclass
class Niches:
    """Per-niche market structure (index = niche id).

    china_share: China's share of the niche's world market (fraction);
    foreign_top: world-market shares of the three largest foreign firms (K x 3, descending);
    ext_top: national-market shares of the five largest domestic firms *outside* the
        simulated population (K x 5, descending; zero in the national scenario);
    ext_in_province: which of those five are in the region's province (K x 5; only in a
        city view, ``province_share`` > 0: each with chance (province_share - region_share)
        / (1 - region_share)), so provincial ranks count the rest of the province;
    weight: each niche's expected share of the national industry's revenue (sums to 1);
        its national market is at least weight x total simulated revenue / region share.
    """

    china_share: np.ndarray
    foreign_top: np.ndarray
    ext_top: np.ndarray
    weight: np.ndarray
    region_share: float
    ext_in_province: np.ndarray | None = None

    @property
    def k(self) -> int:
        return self.china_share.shape[0]


def _scaled(n: int, scale: float) -> int:
    return int(round(n * scale))


def sizes(pop: PopulationConfig, scale: float) -> dict[str, int]:
    """Firm counts per kind at this scale (at least one large firm per scaled chain owner slot)."""
    return {"sme": _scaled(pop.n_sme, scale), "large": _scaled(pop.n_large, scale), "small": _scaled(pop.n_small_tech, scale)}


def draw_niches(k: int, region_share: float, f: FirmParams, rng: np.random.Generator, province_share: float = 0.0) -> Niches:
    china = rng.beta(f.china_global_share_a, f.china_global_share_b, size=k).astype(F32)
    lead = rng.exponential(f.foreign_leader_share, size=(k, 1)).astype(F32)
    foreign = np.minimum(lead * np.asarray(f.foreign_ladder, dtype=F32), (1 - china)[:, None] / 2).astype(F32)
    if region_share < 1.0:
        # the largest firms of the rest of China: five per niche, shares of the national market
        ext = np.sort(rng.beta(1.0, 6.0, size=(k, 5)).astype(F32), axis=1)[:, ::-1] * F32(1.0 - region_share)
    else:
        ext = np.zeros((k, 5), dtype=F32)
    w = zipf_weights(k, f.niche_zipf) * rng.lognormal(0.0, 0.3, size=k)
    in_province = None
    if province_share > 0.0:  # a city view: which outside rivals are in the city's province (own child stream)
        if not region_share < province_share <= 1.0:
            raise ConfigError(f"scenario.population.province_share: {province_share!r} is not allowed (allowed: 0, or "
                              f"above region_share {region_share!r} and at most 1)")
        q = (province_share - region_share) / (1.0 - region_share)
        in_province = rng.spawn(1)[0].random((k, 5)) < q
    return Niches(china_share=china, foreign_top=np.ascontiguousarray(foreign), ext_top=np.ascontiguousarray(ext),
                  weight=(w / w.sum()).astype(F32), region_share=float(region_share), ext_in_province=in_province)


def expected_markets(niches: Niches, total_revenue: float, coverage: float) -> np.ndarray:
    """Each niche's expected national market (M CNY/yr): its weight times the whole
    country's revenue (``total_revenue`` of the simulated firms over the region share),
    over the coverage of simulated firms (float32)."""
    return niches.weight * F32(total_revenue / niches.region_share) / F32(coverage)


def place_by_size(firms: FirmArrays, rows: np.ndarray, niches: Niches, max_share: float, coverage: float,
                  rng: np.random.Generator) -> int:
    """Move each firm of ``rows`` whose revenue exceeds ``max_share`` of its niche's expected
    national market into a niche drawn in proportion to the niche weights among the niches
    whose expected market is at least revenue / max_share (the largest niche if none is).
    Large firms make products with large markets: without this a 1 bn CNY group drawn into
    a 0.3 bn CNY niche would lead it nationally and worldwide.  Returns the number moved."""
    n = firms.n
    # (a thinned row's revenue counts for the firms it stands for; weight 1 elsewhere: the same sum)
    total = float((firms.revenue[:n] * firms.weight[:n]).sum(dtype=np.float64))
    niche, moved = placed(firms.revenue[rows], firms.niche[rows], niches, total, max_share, coverage, rng)
    firms.niche[rows] = niche
    return moved


def placed(revenue: np.ndarray, niche: np.ndarray, niches: Niches, total_revenue: float, max_share: float,
           coverage: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The niches of firms with ``revenue`` drawn into ``niche``, after :func:`place_by_size`'s
    rule (``total_revenue``: the whole population's, M CNY/yr): a copy of ``niche`` with the
    firms too big for theirs moved, and how many moved."""
    markets = expected_markets(niches, total_revenue, coverage).astype(np.float64)
    rev = revenue.astype(np.float64)
    out = np.array(niche, dtype=np.int32, copy=True)
    big = np.flatnonzero(rev > max_share * markets[out])
    if big.size == 0:
        return out, 0
    order = np.argsort(-markets, kind="stable")          # niches, largest expected market first
    cum = np.cumsum(niches.weight[order].astype(np.float64))
    # the niches large enough for a firm are a prefix of ``order``; draw within it by weight
    allowed = np.maximum(np.searchsorted(-markets[order], -rev[big] / max_share, side="right"), 1)
    u = rng.random(big.size) * cum[allowed - 1]
    out[big] = order[np.minimum(np.searchsorted(cum, u, side="right"), allowed - 1)].astype(np.int32)
    return out, int(big.size)


def zipf_weights(k: int, zipf: float) -> np.ndarray:
    """Expected share of firms (and revenue) per niche, Zipf in the niche's rank."""
    w = np.arange(1, k + 1, dtype=np.float64) ** (-zipf)
    return w / w.sum()


def draw_revenue(n: int, kind: str, newborn: bool, f: FirmParams, rng: np.random.Generator) -> np.ndarray:
    """Revenues (M CNY/yr) of ``n`` new firms of ``kind``: large firms Pareto above the large-firm
    bar, SMEs lognormal in [20, 4000) (entrants around their own median), small tech SMEs in [1, 20)."""
    if kind == "large":
        return f.large_min * rng.random(n) ** (-1.0 / f.pareto_alpha)
    if kind == "sme":
        median = f.entrant_median if newborn else f.size_median
        return _truncated_lognormal(n, median, f.size_sigma, 20.0, 4000.0, rng)  # above-scale: >= 20 M CNY
    return _truncated_lognormal(n, f.small_median, f.small_sigma, 1.0, 20.0, rng)


def draw_attributes(firms: FirmArrays, rows: slice, kind: str, t_now: int, newborn: bool,
                    f: FirmParams, r: RDParams, n_niches: int, rng: np.random.Generator,
                    g: GrowthParams | None = None, revenue: np.ndarray | None = None) -> None:
    """Fill rows ``rows`` of ``firms`` with new firms of ``kind`` ('sme', 'large', 'small').
    ``newborn`` firms are entrants of month ``t_now`` (age 0, new to their niche).  The
    revenue history before a firm is observed is drawn from ``g``'s annual Laplace growth
    (GrowthParams defaults if None).  ``revenue``: the rows' revenues, drawn before
    (:func:`draw_revenue`; a thinned synthesis keeps rows by revenue first), else drawn here."""
    g = g or GrowthParams()
    n = rows.stop - rows.start
    if n <= 0:
        return
    rev = draw_revenue(n, kind, newborn, f, rng) if revenue is None else revenue
    if kind == "large":
        emp = np.maximum(f.large_min_employees, rev / f.revenue_per_employee * rng.lognormal(0, 0.3, n))
    elif kind == "sme":
        emp = rev / f.revenue_per_employee * rng.lognormal(0, 0.3, n)
        emp = np.where(rev >= f.large_min, np.minimum(emp, f.large_min_employees - 1), emp)
    else:
        emp = rev / f.revenue_per_employee * rng.lognormal(0, 0.3, n)
    # larger firms are older (they took years to grow): the mean age scales with revenue
    age_y = np.zeros(n) if newborn else rng.gamma(2.0, f.age_mean / 2.0, n) * (rev / g.ref_revenue) ** f.age_size_elasticity
    niche_y = np.zeros(n) if newborn else age_y * rng.beta(4.0 * f.niche_years_share, 4.0 * (1 - f.niche_years_share) + 1e-9, n)
    # one latent capability drives R&D, brand, field, specialisation and the score's
    # quality items together (Gaussian copula with correlation capability_corr)
    z = rng.standard_normal(n)
    u = [_copula(z, f.capability_corr, rng) for _ in range(5)]
    rd_share = {"sme": r.share_with_rd, "large": min(1.0, 2.0 * r.share_with_rd), "small": f.small_rd_share}[kind]
    has_rd = u[0] > 1.0 - rd_share
    # rank within performers and within non-performers, so that the target intensity keeps
    # its correlation with capability but has the configured lognormal in each group
    q = np.empty(n)
    for grp in (has_rd, ~has_rd):
        idx = np.flatnonzero(grp)
        q[idx[np.argsort(u[1][idx])]] = (np.arange(idx.size) + 0.5) / max(idx.size, 1)
    target = np.exp(np.log(r.median_intensity) + r.sigma_intensity * ndtri(q))
    rd_int = np.where(has_rd, np.minimum(target * rng.lognormal(0, r.noise, n), r.max_intensity), 0.0)
    rd_spend = rd_int * rev
    ip = rng.poisson(r.ip_per_rd * rd_spend * np.minimum(niche_y, 8.0)) if not newborn else np.zeros(n)
    debt = rng.beta(f.debt_a, f.debt_b, n)
    fin = np.clip(f.fin_constraint_base * (rev / 100.0) ** (-f.fin_constraint_size) * (0.5 + debt), 0.0, 1.0)

    firms.alive[rows] = True
    firms.birth[rows] = t_now - np.round(age_y * 12).astype(np.int32)
    firms.niche_start[rows] = t_now - np.round(niche_y * 12).astype(np.int32)
    firms.revenue[rows] = rev
    # no history before the start: the last three year-ends from Laplace annual growth
    past = rng.laplace(g.drift, g.laplace_scale, size=(3, n))
    firms.rev_y1[rows] = rev * np.exp(-past[0])
    firms.rev_y2[rows] = firms.rev_y1[rows] * np.exp(-past[1])
    firms.rev_y3[rows] = firms.rev_y2[rows] * np.exp(-past[2])
    firms.ytd[rows] = 0.0
    firms.employees[rows] = emp
    firms.has_rd[rows] = has_rd
    firms.rd_int[rows] = rd_int
    firms.rd_prev[rows] = rd_int
    firms.rd_target[rows] = target
    firms.ip[rows] = ip
    quality = ndtr(z)
    firms.rd_inst[rows] = rng.random(n) < np.where(rd_int >= r.institution_min_intensity, r.institution_share_init[0], np.where(has_rd, r.institution_share_init[1], 0.0))
    firms.brand[rows] = u[2] > 1.0 - f.brand_share
    firms.emerging[rows] = u[3] > 1.0 - f.emerging_share
    # Beta(a, b) marginal in the copula's rank order (a sorted Beta sample, cheaper than its quantile function)
    share = np.empty(n)
    share[np.argsort(u[4])] = np.sort(rng.beta(f.main_share_a, f.main_share_b, n))  # the i-th smallest u gets the i-th smallest share
    firms.main_share[rows] = share
    firms.debt[rows] = debt
    firms.fin_base[rows] = fin
    firms.quality[rows] = quality
    firms.niche[rows] = niche_draw(n, n_niches, f.niche_zipf, rng)
    firms.chain[rows] = -1
    firms.owner[rows] = False
    firms.library[rows] = False
    _draw_criteria_attributes(firms, rows, kind, z, f, rng)


def _draw_criteria_attributes(firms: FirmArrays, rows: slice, kind: str, z: np.ndarray, f: FirmParams,
                              rng: np.random.Generator) -> None:
    """Attributes only the criteria read (key link, R&D-staff ratio, new equity), from a
    child stream of ``rng`` so that the other attributes' draws are those without them."""
    n = rows.stop - rows.start
    x = rng.spawn(1)[0]
    firms.key_link[rows] = _copula(z, f.capability_corr, x) > 1.0 - f.key_link_share
    firms.rd_staff_ratio[rows] = f.rd_staff_per_intensity * x.lognormal(0.0, f.rd_staff_sigma, n)
    share = f.equity_share[1] if kind == "small" else f.equity_share[0]
    firms.equity_new[rows] = np.where(x.random(n) < share, x.lognormal(np.log(f.equity_median), f.equity_sigma, n), 0.0)


def _truncated_lognormal(n: int, median: float, sigma: float, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Lognormal(median, sigma) truncated to [lo, hi) by inverse CDF (no mass piles at the bounds)."""
    a, b = ndtr((np.log(lo) - np.log(median)) / sigma), ndtr((np.log(hi) - np.log(median)) / sigma)
    u = a + (b - a) * rng.random(n)
    return np.minimum(np.exp(np.log(median) + sigma * ndtri(np.clip(u, 1e-12, 1 - 1e-12))), np.nextafter(hi, lo))


def _copula(z: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Uniform variates correlated (Gaussian copula, correlation ``rho``) with ``z``."""
    return ndtr(rho * z + np.sqrt(1.0 - rho * rho) * rng.standard_normal(z.shape[0]))


@lru_cache(maxsize=8)
def _niche_cdf(k: int, zipf: float) -> np.ndarray:
    cdf = np.cumsum(zipf_weights(k, zipf))
    return cdf / cdf[-1]


def niche_draw(n: int, k: int, zipf: float, rng: np.random.Generator) -> np.ndarray:
    """Niche ids with Zipf-distributed niche sizes (inverse-CDF on cumulative weights)."""
    cdf = _niche_cdf(k, zipf)
    return np.minimum(np.searchsorted(cdf, rng.random(n)), k - 1).astype(np.int32)


def assign_chains(firms: FirmArrays, n_chains: int, kinds: np.ndarray, c: ChainParams,
                  rng: np.random.Generator) -> np.ndarray:
    """Put SMEs into key chains (share ``member_share``) and name the largest large firms
    chain owners, ``owners_per_chain`` each (round-robin by revenue).  Returns owner rows."""
    if n_chains <= 0:
        return np.zeros(0, dtype=np.int64)
    n = firms.n
    sme = kinds[:n] != KINDS.index("large")
    member = sme & (rng.random(n) < c.member_share)
    firms.chain[:n][member] = rng.integers(0, n_chains, size=int(member.sum()))
    large = np.flatnonzero(kinds[:n] == KINDS.index("large"))
    order = large[np.argsort(-firms.revenue[large], kind="stable")]
    owners = order[: n_chains * c.owners_per_chain]
    firms.chain[owners] = np.arange(len(owners)) % n_chains
    firms.owner[owners] = True
    return owners


def _synthesise_thinned(pop: PopulationConfig, scale: float, counts: dict[str, int], f: FirmParams, r: RDParams,
                        c: ChainParams, horizon_months: int, rng: np.random.Generator, g: GrowthParams | None,
                        regions: Regions, region_rng: np.random.Generator) -> tuple[FirmArrays, np.ndarray, Niches, int, np.ndarray]:
    """:func:`synthesise` with thinned regions: per kind, the revenues and regions of every firm
    first, then the rows kept (``Regions.thin``) get their other attributes — the thinned-away
    firms cost one revenue and two uniforms each.  The niches are those of the whole population
    (their number from every firm), and placement by size weighs the kept rows."""
    n_full = sum(counts.values())
    kept = []
    for kind in KINDS:
        rev = draw_revenue(counts[kind], kind, False, f, rng)
        codes = regions.draw(counts[kind], region_rng)
        keep, weight = regions.thin(codes, rev, region_rng)
        kept.append((kind, rev[keep], codes[keep], weight))
    n0 = sum(x[1].shape[0] for x in kept)
    expected_entrants = f.entry_rate * n_full * horizon_months / 12.0 * n0 / n_full
    capacity = n0 + int(expected_entrants + 6 * np.sqrt(expected_entrants + 1) + 16)
    firms = FirmArrays.empty(capacity)
    kinds = np.full(capacity, KINDS.index("sme"), dtype=np.int8)
    k = max(1, int(np.ceil(n_full / pop.region_share / f.firms_per_niche)))
    start = 0
    for kind, rev, codes, weight in kept:
        rows = slice(start, start + rev.shape[0])
        draw_attributes(firms, rows, kind, 0, False, f, r, k, rng, g, revenue=rev)
        firms.region[rows], firms.weight[rows] = codes, weight
        kinds[rows] = KINDS.index(kind)
        start = rows.stop
    firms.n = n0
    niches = draw_niches(k, pop.region_share, f, rng, pop.province_share)
    place_by_size(firms, np.arange(n0), niches, f.niche_max_share, f.market_coverage, rng.spawn(1)[0])
    n_chains = max(1, int(round(pop.n_chains * scale))) if pop.n_chains > 0 else 0
    owners = assign_chains(firms, n_chains, kinds, c, rng)
    return firms, kinds, niches, n_chains, owners


def synthesise(pop: PopulationConfig, scale: float, f: FirmParams, r: RDParams, c: ChainParams,
               horizon_months: int, rng: np.random.Generator, g: GrowthParams | None = None,
               regions: Regions | None = None, region_rng: np.random.Generator | None = None,
               ) -> tuple[FirmArrays, np.ndarray, Niches, int, np.ndarray]:
    """Build the initial population.  Returns (firms, kind code per row, niches,
    number of chains, owner rows).  Capacity is reserved for the expected entrants.
    ``regions``: each row's region is drawn with the region shares from ``region_rng`` (its own
    stream: the other draws are those of a view without regions); with a region at reduced
    scale the population is drawn thinned (:func:`_synthesise_thinned`)."""
    counts = sizes(pop, scale)
    n0 = sum(counts.values())
    if n0 == 0:
        raise ConfigError(f"scenario.scale: {scale!r} is not allowed (allowed: a scale at which n_sme + n_large + n_small_tech > 0 firms are drawn)")
    if regions is not None and not regions.uniform:
        return _synthesise_thinned(pop, scale, counts, f, r, c, horizon_months, rng, g, regions, region_rng)
    expected_entrants = f.entry_rate * n0 * horizon_months / 12.0
    capacity = n0 + int(expected_entrants + 6 * np.sqrt(expected_entrants + 1) + 16)
    firms = FirmArrays.empty(capacity)
    kinds = np.full(capacity, KINDS.index("sme"), dtype=np.int8)
    # national niches: a region's firms are spread over the niches of the whole country
    k = max(1, int(np.ceil(n0 / pop.region_share / f.firms_per_niche)))
    start = 0
    for kind in KINDS:
        rows = slice(start, start + counts[kind])
        draw_attributes(firms, rows, kind, 0, False, f, r, k, rng, g)
        kinds[rows] = KINDS.index(kind)
        start = rows.stop
    firms.n = n0
    niches = draw_niches(k, pop.region_share, f, rng, pop.province_share)
    # every firm is placed by size (firms_per_niche and niche_zipf are calibrated with it);
    # entrants are small (entrant_median) and drawn by niche weight alone
    place_by_size(firms, np.arange(n0), niches, f.niche_max_share, f.market_coverage, rng.spawn(1)[0])
    if regions is not None:
        firms.region[:n0] = regions.draw(n0, region_rng)
    n_chains = max(1, int(round(pop.n_chains * scale))) if pop.n_chains > 0 else 0
    owners = assign_chains(firms, n_chains, kinds, c, rng)
    return firms, kinds, niches, n_chains, owners
