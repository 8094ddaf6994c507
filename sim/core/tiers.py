"""The ladder: criteria evaluation, applications, batch capacity, validity, re-review.

The criteria of DOMAIN §2 are data (``schema.CriteriaConfig``); this module turns them
into masks over the firm arrays.  One batch per tier per year at the tier's batch month
(``batch_month = 0``: continuous, every month): holders whose 3-year clock has run are
re-reviewed (pass -> clock restarts, fail -> revoked); eligible non-holders apply; the
capacity rule (quota, selection rate, or criteria only) bounds who is recognised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from sim.core.firms import NONE, TIER_INDEX, FirmArrays
from sim.core.population import Niches, expected_markets
from sim.core.regions import Ghosts, take_top
from sim.core.schema import TIERS, CapacityConfig, CriteriaConfig, FirmParams, RecognitionParams, TierSchedule
from sim.core.variates import Sparse

F32 = np.float32
FLOW_KINDS = ("recognised", "rereviewed", "revoked", "exited")


# ---- firm metrics the criteria read ---------------------------------------------------

@dataclass
class Market:
    """Market position of a set of rows (all rows in use, or a batch's candidates):
    ranks are empty when only shares were asked for."""

    nat_share: np.ndarray     # national niche market share
    region_rank: np.ndarray   # rank in the province's part of the niche (1 = largest): the simulated firms,
                              # and in a city view the rest of the province's outside rivals
    nat_rank: np.ndarray      # rank in the national niche market
    global_rank: np.ndarray   # rank in the world niche market

    def part(self, sel: slice) -> Market:
        """The same quantities for the rows ``sel`` of this set (ranks only if present)."""
        return Market(*(x[sel] if x.size else x for x in (self.nat_share, self.region_rank, self.nat_rank, self.global_rank)))


def niche_markets(f: FirmArrays, niches: Niches, coverage: float, ghosts: Ghosts | None = None) -> np.ndarray:
    """Each niche's national market (M CNY/yr): the larger of its simulated revenue and its
    expected share of the whole country's revenue (simulated total / region share), over
    the coverage of simulated firms.

    ``ghosts`` (a view with thinned regions, sim/core/regions.py): the other firms the thinned
    rows stand for, each in its own niche with its row's revenue, count in the markets too."""
    n = f.n
    live_rev = f.revenue[:n] * f.alive[:n]  # revenue >= 0: exited firms give +0.0
    total = np.bincount(f.niche[:n], weights=live_rev, minlength=niches.k).astype(F32, copy=False)
    whole = float(live_rev.sum(dtype=np.float64))
    if ghosts is not None:
        g = ghosts.market(live_rev, niches.k)
        total = total + g.astype(F32, copy=False)
        whole += float(g.sum())
    return np.maximum(total / F32(coverage), expected_markets(niches, whole, coverage))


def region_ranks(f: FirmArrays, rows: np.ndarray | None = None, cap: int | None = None,
                 ghosts: Ghosts | None = None) -> np.ndarray:
    """Rank of ``rows`` (default: every row in use) among the simulated firms of their niche
    by revenue: 1 + the number of firms in the niche with a larger revenue (exited firms
    count as revenue 0; equal revenues share a rank).  Only the firms that can outrank one
    of ``rows`` (in their niches, revenue above the smallest of theirs) are sorted.

    ``cap``: only ranks up to ``cap`` are asked for (:func:`rank_cap`): a row ranked below
    ``cap`` gets some rank above ``cap``, not its own.  Then only the firms of a niche at or
    above the ``cap``-th largest revenue among ``rows`` there (if that many; else the
    smallest) are sorted: no firm below it outranks a row that can rank up to ``cap``, and
    every row below it has ``cap`` of ``rows`` above it.

    ``ghosts`` (a view with thinned regions, sim/core/regions.py): the other firms the thinned
    rows stand for rank too, in their own niches (they only add rivals: the ``cap`` bound holds)."""
    n, niche = f.n, f.niche[: f.n]
    rows = np.arange(n) if rows is None else np.asarray(rows)
    if rows.size == 0:
        return np.zeros(0, dtype=np.int32)
    live_rev = f.revenue[:n] * f.alive[:n]  # revenue >= 0: exited firms give +0.0

    def keys(nk: np.ndarray, rev: np.ndarray) -> np.ndarray:  # niche ascending, revenue descending (bits of a float32 >= 0 order as its value)
        return (nk.astype(np.int64) << 32) | (0xFFFFFFFF - rev.view(np.uint32).astype(np.int64))

    def key(r: np.ndarray) -> np.ndarray:
        return keys(niche[r], live_rev[r])
    g_row, g_niche = ghosts.arrays() if ghosts is not None and ghosts.n else (None, None)
    g_rev = live_rev.take(g_row) if g_row is not None else None
    n_niche = int(niche.max()) + 1 if g_row is None else max(int(niche.max()), int(g_niche.max())) + 1
    if cap is None:
        wanted = np.zeros(n_niche, dtype=bool)
        wanted[niche[rows]] = True
        rivals = np.flatnonzero((live_rev > live_rev[rows].min()) & wanted[niche])
        if g_row is not None:
            g_in = (g_rev > live_rev[rows].min()) & wanted[g_niche]
    else:  # the threshold per niche of rows, from their keys sorted (niche, then revenue descending)
        own = np.sort(key(rows))
        nk = own >> 32
        starts = np.flatnonzero(np.concatenate(([True], nk[1:] != nk[:-1])))
        ends = np.append(starts[1:], own.size)
        at = np.where(ends - starts >= cap, starts + (cap - 1), ends - 1)
        thr = np.full(n_niche, np.inf, dtype=F32)  # niches without rows: no rival
        thr[nk[starts]] = (0xFFFFFFFF - (own[at] & 0xFFFFFFFF)).astype(np.uint32).view(F32)
        rivals = np.flatnonzero(live_rev >= thr.take(niche))
        if g_row is not None:
            g_in = g_rev >= thr.take(g_niche)
    rival_keys = key(rivals)
    if g_row is not None:  # the ghosts that can outrank a row, beside the rows
        rival_keys = np.concatenate([rival_keys, keys(g_niche[g_in], g_rev[g_in])])
    sorted_keys = np.sort(rival_keys)
    first_of_niche = np.searchsorted(sorted_keys, niche[rows].astype(np.int64) << 32, side="left")
    return (np.searchsorted(sorted_keys, key(rows), side="left") - first_of_niche + 1).astype(np.int32)


def market_for(f: FirmArrays, niches: Niches, markets: np.ndarray, rows: np.ndarray,
               region_rank: np.ndarray | None = None, share: np.ndarray | None = None) -> Market:
    """Market position of ``rows``: national share; with ``region_rank`` (of ``rows``) also
    the national rank (out-of-region domestic leaders with a larger share rank above)
    and the world rank (foreign leaders with a larger world share rank above).
    ``share``: the national share of ``rows`` if already computed (by this function)."""
    nk = f.niche[rows]
    if share is None:
        share = f.revenue[rows] / np.maximum(markets.take(nk, mode="clip"), F32(1e-9)) * f.alive[rows]  # >= 0: exited firms give +0.0
    if region_rank is None:
        empty = np.zeros(0, dtype=np.int32)
        return Market(share, empty, empty, empty)
    reg = region_rank
    nat = reg
    if niches.region_share < 1.0:
        above = niches.ext_top[nk] > share[:, None]
        nat = reg + above.sum(axis=1).astype(np.int32)
        if niches.ext_in_province is not None:  # a city view: provincial ranks count the rest of the province
            reg = reg + (above & niches.ext_in_province[nk]).sum(axis=1).astype(np.int32)
    world = nat + (niches.foreign_top[nk] > (share * niches.china_share[nk])[:, None]).sum(axis=1).astype(np.int32)
    return Market(share, np.asarray(reg, dtype=np.int32), nat.astype(np.int32), world.astype(np.int32))


def market_position(f: FirmArrays, niches: Niches, coverage: float, ranks: bool = True) -> Market:
    """Market position of every row in use (shares, and ranks unless ``ranks=False``)."""
    rows = np.arange(f.n)
    return market_for(f, niches, niche_markets(f, niches, coverage), rows, region_ranks(f, rows) if ranks else None)


def band_points(x: np.ndarray, bands: list) -> np.ndarray:
    """Points for ``x`` from bands [[threshold, points], ...] (highest threshold first):
    the points of the first band that ``x`` reaches (``x >= threshold``; a band written
    [threshold, points, "exclusive"] needs ``x > threshold``), 0 below every band.
    Thresholds are compared in ``x``'s dtype."""
    thr = [np.asarray(b[0], dtype=x.dtype) for b in bands]
    excl = [len(b) > 2 and b[2] == "exclusive" for b in bands]
    nested = all(thr[i] > thr[i + 1] or (thr[i] == thr[i + 1] and (excl[i] or not excl[i + 1])) for i in range(len(bands) - 1))
    if not nested or not bands:  # (validated configs are nested; float rounding could tie two thresholds)
        out = np.zeros(x.shape, dtype=F32)
        for band, th, ex in zip(bands[::-1], thr[::-1], excl[::-1]):  # the first band x reaches writes last
            np.copyto(out, F32(band[1]), where=(x > th) if ex else (x >= th))
        return out
    # nested bands: reaching a band means reaching every band below it, so the number of
    # bands reached picks the points (one compare-and-add per band; 10x a masked copy)
    # the first band's mask, viewed as uint8 (0/1), is the count; the others are added in place
    reached = None
    for th, ex in zip(thr[::-1], excl[::-1]):
        hit = (x > th) if ex else (x >= th)
        if reached is None:
            reached = np.asarray(hit).view(np.uint8)  # (x may be 0-d)
        else:
            reached += hit
    # (reached <= len(bands): in range, so mode="clip" only skips the bounds check: ~1.5x faster)
    return np.array([0.0] + [b[1] for b in bands[::-1]], dtype=F32).take(reached, mode="clip")


class FirmMetrics:
    """Derived quantities of a set of rows at month ``t``: ``niche_years`` (years),
    ``growth_2y`` (2-year revenue growth, a fraction), ``rd_spend`` (M CNY/yr), ``sme`` (mask)
    and ``rd_staff`` (R&D staff / employees).  Each is computed from the rows' columns when
    first read and then kept: a tier's criteria read only some of them (the innovative SME's
    neither the niche years nor R&D spending or staff).  ``FirmMetrics.of(f, t, fp)``."""

    FIELDS = ("niche_years", "growth_2y", "rd_spend", "sme", "rd_staff")

    def __init__(self, f: FirmArrays, t: int, fp: FirmParams, **values: np.ndarray) -> None:
        self._f, self._t, self._fp = f, t, fp
        self.__dict__.update(values)

    @classmethod
    def of(cls, f: FirmArrays, t: int, fp: FirmParams) -> FirmMetrics:
        return cls(f, t, fp)

    @property
    def n(self) -> int:
        """Rows in the set."""
        return self._f.n

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in FirmMetrics.FIELDS or "_f" not in self.__dict__:
            raise AttributeError(name)
        f = self._f
        if name == "niche_years":
            value = niche_years(f, self._t)
        elif name == "growth_2y":
            value = growth_2y(f)
        elif name == "rd_spend":
            value = rd_spend(f)
        elif name == "sme":
            value = f.is_sme(self._fp)
        else:
            value = rd_staff(f)
        self.__dict__[name] = value
        return value

    def replace(self, **values: np.ndarray) -> FirmMetrics:
        """The same rows with ``values`` in place of some metrics (the others as computed)."""
        known = {k: v for k, v in self.__dict__.items() if k in FirmMetrics.FIELDS}
        return FirmMetrics(self._f, self._t, self._fp, **{**known, **values})

    def part(self, sel: slice) -> FirmMetrics:
        """The metrics of the rows ``sel`` of this set (of a FirmSubset: the others computed
        on those rows when read)."""
        f = self._f
        if not hasattr(f, "part"):  # rows of a FirmArrays: every metric now, then its part
            return FirmMetrics(f, self._t, self._fp, **{k: getattr(self, k)[sel] for k in FirmMetrics.FIELDS})
        known = {k: v[sel] for k, v in self.__dict__.items() if k in FirmMetrics.FIELDS}
        return FirmMetrics(f.part(sel), self._t, self._fp, **known)


def growth_2y(f: FirmArrays) -> np.ndarray:
    """Revenue growth over the last two calendar years of each row (fraction per year, the
    geometric mean): sqrt(rev_y1 / rev_y3) - 1, in float64 rounded to 1e-6, so a firm exactly
    at a growth gate is not pushed off it by float32."""
    n = f.n
    g2 = f.rev_y1[:n].astype(np.float64)  # (in place: one float64 temporary)
    g2 /= np.maximum(f.rev_y3[:n], 1e-6)
    np.sqrt(g2, out=g2)
    g2 -= 1.0
    return np.round(g2, 6, out=g2)


def niche_years(f: FirmArrays, t: int) -> np.ndarray:
    """Years each row has been in its product niche at month ``t``."""
    return (t - f.niche_start[: f.n]).astype(F32) / F32(12.0)


def rd_staff(f: FirmArrays) -> np.ndarray:
    """R&D staff / employees of each row: R&D spending is mostly wages, so the share follows
    the intensity, times the firm's own ratio (drawn at synthesis), capped at 1."""
    return np.minimum(f.rd_int[: f.n] * f.rd_staff_ratio[: f.n], F32(1.0))


def rd_spend(f: FirmArrays) -> np.ndarray:
    """R&D spending of each row (M CNY/yr): intensity times revenue, in float32."""
    return (f.rd_int[: f.n] * f.revenue[: f.n]).astype(F32, copy=False)


# ---- gates: the tests that read a firm's own columns ---------------------------------
# Each tier's criteria are its gates (below) and the tests that need more than the firm's
# own row: the score, the market position, the 2-year growth and the SME size cap.  The
# cheap prefilter (:func:`prefilter`) is the gates alone, so every gate is written once.

def _srdi_gates(f: FirmArrays, ny: np.ndarray, rd: np.ndarray, c: CriteriaConfig) -> np.ndarray:
    k, n = c.srdi, f.n
    return ((ny >= k.min_niche_years) & (rd >= k.min_rd_spend) & (f.rd_int[:n] >= k.min_rd_intensity)
            & ((f.revenue[:n] >= k.min_revenue) | (f.equity_new[:n] >= k.min_equity_alt)))


def key_link(f: FirmArrays) -> np.ndarray:
    """At a key chain link (a chain member whose product is a key link) or in a priority
    (strategic-emerging) field: chain membership alone is not a key link."""
    n = f.n
    return ((f.chain[:n] >= 0) & f.key_link[:n]) | f.emerging[:n]


def _little_giant_gates(f: FirmArrays, ny: np.ndarray, rd: np.ndarray, c: CriteriaConfig) -> np.ndarray:
    k, n = c.little_giant, f.n
    rev, rd_now, rd_prev = f.revenue[:n], f.rd_int[:n], f.rd_prev[:n]
    rd_min = np.minimum(rd_now, rd_prev)
    # below revenue_mid: R&D over 2 years, equity raised and the R&D-staff share
    small_ok = (F32(2.0) * rd >= k.rd_spend_small) & (f.equity_new[:n] >= k.equity_small) & (rd_staff(f) >= k.rd_staff_small)
    # the R&D route by revenue: >= revenue_high the high gate, else >= revenue_mid the mid gate,
    # else the small-firm tests (in mask algebra: a np.where over bools costs ~5x)
    high, mid = rev >= k.revenue_high, rev >= k.revenue_mid
    rd_ok = high & (rd_min >= k.rd_gate_high)
    rd_ok |= ~high & mid & (rd_min >= k.rd_gate_mid)
    rd_ok |= ~(high | mid) & small_ok
    ok = ((ny >= k.min_niche_years) & (f.main_share[:n] >= k.min_main_share) & (f.debt[:n] <= k.max_debt)
          & rd_ok & (f.ip[:n] >= k.min_ip))
    if k.requires_srdi:
        ok &= f.holds("srdi")
    if k.needs_institution:
        ok &= f.rd_inst[:n]
    if k.needs_brand:
        ok &= f.brand[:n]
    if k.needs_key_link:
        ok &= key_link(f)
    return ok


def _champion_gates(f: FirmArrays, ny: np.ndarray, rd: np.ndarray, c: CriteriaConfig) -> np.ndarray:
    k, n = c.single_champion, f.n
    return (ny >= k.min_niche_years) & (f.main_share[:n] >= k.min_main_share) & ((f.revenue[:n] >= k.min_revenue) | f.holds("little_giant"))


def _provincial_champion_gates(f: FirmArrays, ny: np.ndarray, rd: np.ndarray, c: CriteriaConfig) -> np.ndarray:
    k, n = c.provincial_champion, f.n
    rev = f.revenue[:n]
    excepted = f.holds("little_giant") | (f.holds("srdi") & (rev >= k.srdi_revenue))
    return (ny >= k.min_niche_years) & (f.main_share[:n] >= k.min_main_share) & ((rev >= k.min_revenue) | excepted)


def _leading_gates(f: FirmArrays, ny: np.ndarray, rd: np.ndarray, c: CriteriaConfig) -> np.ndarray:
    # a chain owner needs the emerging-chain bar, any other firm the pillar-chain bar
    k, n = c.leading, f.n
    return f.revenue[:n] >= np.where(f.owner[:n], F32(k.min_revenue), F32(k.min_revenue_other))


# tier -> its gates (the innovative SME has none: its score is its only test)
GATES: dict[str, Callable[[FirmArrays, np.ndarray, np.ndarray, CriteriaConfig], np.ndarray]] = {
    "srdi": _srdi_gates, "little_giant": _little_giant_gates, "single_champion": _champion_gates,
    "provincial_champion": _provincial_champion_gates, "leading": _leading_gates,
}


def review_criteria(c: CriteriaConfig) -> CriteriaConfig:
    """The criteria a holder is re-reviewed against: its own title's, without the entry
    conditions on other titles (MIIT 2022: a little giant's re-review does not require a
    renewed provincial SRDI title)."""
    return replace(c, little_giant=replace(c.little_giant, requires_srdi=False))


def gates(tier: str, f: FirmArrays, m: FirmMetrics, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """Mask of rows passing ``tier``'s gates (all True for a tier without gates).  ``gated``:
    the rows are known to pass them (:func:`prefilter` ran these very gates on them, at the
    same month and state), so they are not tested again: all True."""
    fn = GATES.get(tier)
    return np.ones(f.n, dtype=bool) if fn is None or gated else fn(f, m.niche_years, m.rd_spend, c)


# ---- criteria -----------------------------------------------------------------------

def innovative_eligible(f: FirmArrays, m: FirmMetrics, c: CriteriaConfig) -> np.ndarray:
    """Innovative SME: 100-point score >= 60 with the sub-score minima, or a direct route
    the model represents (DOMAIN §2)."""
    k, n = c.innovative, f.n
    innov = band_points(f.rd_int[:n], k.rd_bands) + np.minimum(F32(k.ip_points_each) * f.ip[:n], F32(k.ip_points_max))
    growth = band_points(m.growth_2y, k.growth_bands) + band_points(-f.debt[:n], k.debt_bands)
    spec = band_points(f.main_share[:n], k.main_bands) + np.where(f.emerging[:n], F32(k.emerging_points[0]), F32(k.emerging_points[1]))
    ok = (innov + growth + spec >= k.pass_score) & (innov >= k.min_innovation) & (growth >= k.min_growth) & (spec >= k.min_specialisation)
    if k.direct_routes:  # an R&D institution or new equity qualifies without the score
        ok |= f.rd_inst[:n] | (f.equity_new[:n] >= k.direct_equity)
    return ok & m.sme if k.sme_only else ok


def srdi_score(f: FirmArrays, m: FirmMetrics, mk: Market, c: CriteriaConfig) -> np.ndarray:
    """The provincial SRDI score (of 100) with the official points (MIIT 2022 annex 2):
    specialisation 25, refinement 25, distinctiveness 15, innovation 35; docs/CRITERIA.md
    lists the items the model approximates."""
    k, n = c.srdi, f.n
    in_chain = f.chain[:n] >= 0
    at_key = in_chain & f.key_link[:n]
    # at a key link: field_points[0], else in a chain or an emerging field: field_points[1], else 0
    # (looked up by the two bits: ~4x a nested np.where)
    field_bits = at_key.view(np.uint8) << np.uint8(1)
    field_bits |= (in_chain | f.emerging[:n]).view(np.uint8)
    field = np.array([0.0, k.field_points[1], k.field_points[0], k.field_points[0]], dtype=F32).take(field_bits, mode="clip")
    years = m.niche_years / F32(2.0)  # points per full 2 years
    np.floor(years, out=years)
    years *= F32(k.niche_year_points)
    np.minimum(years, F32(k.niche_year_max), out=years)
    # the sums in place, in the order spec + refine + distinct + innov, each summed left to right
    spec = band_points(f.main_share[:n], k.main_bands)
    spec += band_points(m.growth_2y, k.growth_bands)
    spec += years
    spec += field
    refine = F32(k.quality_points) * f.quality[:n]
    refine += band_points(-f.debt[:n], k.debt_bands)
    distinct = band_points(mk.nat_share, k.share_bands)
    rd = np.maximum(band_points(m.rd_spend, k.rd_spend_bands), band_points(f.rd_int[:n], k.rd_int_bands))
    innov = band_points(f.ip[:n], k.ip_bands)
    innov += rd
    innov += band_points(m.rd_staff, k.rd_staff_bands)
    innov += F32(k.institution_points) * f.rd_inst[:n]
    spec += refine
    spec += distinct
    spec += innov
    return spec


def srdi_eligible(f: FirmArrays, m: FirmMetrics, mk: Market, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """Provincial SRDI SME: the gates and the score (DOMAIN §2)."""
    k = c.srdi
    ok = gates("srdi", f, m, c, gated) & (srdi_score(f, m, mk, c) >= k.pass_score)
    return ok & m.sme if k.sme_only else ok


def little_giant_eligible(f: FirmArrays, m: FirmMetrics, mk: Market, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """National little giant: the gates, 2-year growth and national niche share (DOMAIN §2)."""
    k = c.little_giant
    ok = gates("little_giant", f, m, c, gated) & (m.growth_2y >= k.min_growth_2y) & (mk.nat_share >= k.min_niche_share)
    return ok & m.sme if k.sme_only else ok


def champion_eligible(f: FirmArrays, m: FirmMetrics, mk: Market, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """Single champion: the gates and a world rank in the top ``max_global_rank``."""
    return gates("single_champion", f, m, c, gated) & (mk.global_rank <= c.single_champion.max_global_rank)


def provincial_champion_eligible(f: FirmArrays, m: FirmMetrics, mk: Market, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """Provincial champion: the gates, #1 in the region and national top ``max_national_rank``."""
    return gates("provincial_champion", f, m, c, gated) & (mk.region_rank == 1) & (mk.nat_rank <= c.provincial_champion.max_national_rank)


def leading_eligible(f: FirmArrays, m: FirmMetrics, c: CriteriaConfig, gated: bool = False) -> np.ndarray:
    """Leading enterprise: the pool of the selection rule, above its revenue bar (chain
    owners: ``min_revenue``; other large firms: ``min_revenue_other``)."""
    n = f.n
    pool = {"chain_owners": f.owner[:n], "largest": ~m.sme, "owners_first": f.owner[:n] | ~m.sme}[c.leading.rule]
    return pool & gates("leading", f, m, c, gated)


def selection_priority(tier: str, f: FirmArrays, rows: np.ndarray, c: CriteriaConfig, boost: np.ndarray) -> np.ndarray:
    """Who among ``rows`` is chosen first when a quota binds (higher first; a uniform draw
    breaks ties): leading enterprises by the rule (owners first, then revenue), others by
    latent quality plus the precision-services boost (``boost``, aligned with ``rows``)."""
    if tier == "leading":
        size = np.log1p(f.revenue[rows]).astype(F32, copy=False)
        return size + (F32(100.0) * f.owner[rows] if c.leading.rule == "owners_first" else F32(0.0))
    return f.quality[rows] + boost


def eligible(tier: str, f: FirmArrays, m: FirmMetrics, mk: Market | None, c: CriteriaConfig,
             gated: bool = False) -> np.ndarray:
    """Mask of alive rows meeting ``tier``'s criteria at this moment.  ``gated``: the rows
    passed :func:`prefilter` (``tier``'s gates) with these criteria, which are not tested again."""
    if tier == "innovative":
        ok = innovative_eligible(f, m, c)
    elif tier == "srdi":
        ok = srdi_eligible(f, m, mk, c, gated)
    elif tier == "little_giant":
        ok = little_giant_eligible(f, m, mk, c, gated)
    elif tier == "single_champion":
        ok = champion_eligible(f, m, mk, c, gated)
    elif tier == "provincial_champion":
        ok = provincial_champion_eligible(f, m, mk, c, gated)
    else:
        ok = leading_eligible(f, m, c, gated)
    return ok & f.alive[: f.n]


def prefilter(tier: str, f: FirmArrays, rows: np.ndarray, c: CriteriaConfig, t: int) -> np.ndarray:
    """A cheap necessary condition of ``tier``'s criteria at month ``t`` for ``rows`` (so
    the full criteria are evaluated on fewer firms): ``tier``'s gates, the very functions
    the criteria call, on those rows only."""
    fn = GATES.get(tier)
    if fn is None:
        return np.ones(rows.shape[0], dtype=bool)
    if rows.shape[0] * 4 > f.n:  # most rows (a batch's whole pool): comparing every row beats copying the columns
        return fn(f, niche_years(f, t), rd_spend(f), c)[rows]
    sub = f.take(rows)
    return fn(sub, niche_years(sub, t), rd_spend(sub), c)


UNRANKED = 1 << 20  # the rank given to rows rank_screen rules out (they fail every rank test)


def rank_screen(tier: str, share: np.ndarray, nk: np.ndarray, niches: Niches, c: CriteriaConfig) -> np.ndarray:
    """A necessary condition of ``tier``'s rank tests from the national share alone (so the
    ranks, a sort, are computed for fewer rows): a firm is at least #1 among the simulated
    firms, so it misses a world top K if K foreign leaders have a larger world share, and a
    national top R if R outside domestic leaders have a larger national share (the same
    comparisons :func:`market_for` makes)."""
    ok = np.ones(share.shape[0], dtype=bool)
    if share.size == 0:
        return ok
    if tier == "single_champion":
        k = int(c.single_champion.max_global_rank)
        if 1 <= k <= niches.foreign_top.shape[1]:
            ok &= ~(niches.foreign_top[nk, k - 1] > share * niches.china_share[nk])
    elif tier == "provincial_champion" and niches.region_share < 1.0:
        r = int(c.provincial_champion.max_national_rank)
        if 1 <= r <= niches.ext_top.shape[1]:
            ok &= ~(niches.ext_top[nk, r - 1] > share)
    return ok


def rank_cap(tier: str, c: CriteriaConfig) -> int:
    """The largest rank among the simulated firms of its niche (:func:`region_ranks`) at which
    a firm can pass ``tier``'s rank tests (:func:`market_for`: the region, national and world
    ranks are each at least that rank): a single champion's world top ``max_global_rank``, a
    provincial champion's #1 in the region."""
    if tier == "single_champion":
        return max(1, int(c.single_champion.max_global_rank))
    return 1


NEEDS_MARKET = ("srdi", "little_giant", "single_champion", "provincial_champion")  # national shares
NEEDS_RANKS = ("single_champion", "provincial_champion")                           # and ranks


# ---- capacity -----------------------------------------------------------------------

def capacity(cap: CapacityConfig, year: int, scale: float) -> float:
    """Batch capacity in simulated firms (inf when the rule sets no bound)."""
    if cap.rule == "criteria":
        return np.inf
    if cap.rule == "selection_rate":
        return np.inf
    quotas = {int(y): float(q) for y, q in cap.quota_by_year.items()}
    if year in quotas:
        q = quotas[year]
    else:
        last = max((y for y in quotas if y < year), default=None)
        q = cap.quota_default * (1.0 + cap.quota_growth) ** (year - last if last is not None else 0)
    return q * scale


def recorded_batches(cap: CapacityConfig, origin: str) -> dict[int, float]:
    """The published batches (firms, real units, by year) up to the end of the record ``origin``
    ('YYYY-MM'; in a back-test the later ones were dropped first): the history the governments'
    rules continue from."""
    last = int(origin[:4])
    return {int(y): float(q) for y, q in cap.quota_by_year.items() if int(y) <= last}


def enabled_tiers(config) -> list[str]:
    """The tiers a run recognises (``TIERS`` order): those its view schedules, and those a
    province's own programmes hold inside a view of several (``government.programmes``)."""
    sc, own = config.scenario, {t for prog in config.government.programmes.values() for t in prog["tiers"]}
    return [t for t in TIERS if (t in sc.tiers and sc.tiers[t].enabled) or t in own]


def due(tier: str, sched: TierSchedule, year: int, month: int) -> bool:
    """Does ``tier`` hold a batch in this calendar month?"""
    if not sched.enabled or year < sched.first_year:
        return False
    return sched.batch_month == 0 or sched.batch_month == month


@dataclass
class BatchResult:
    """A batch's counts (rows; in a weighted view, firms at the view's scale) and rows."""

    applicants: float
    eligible: float
    capacity: float
    recognised: float
    rereviewed: float
    revoked: float             # failed + lapsed
    lapsed: float              # due holders that did not file
    chosen_rows: np.ndarray    # rows recognised in this batch
    revoked_rows: np.ndarray   # rows whose title was revoked at re-review (failed or lapsed)
    passed_rows: np.ndarray    # rows whose title was renewed at re-review


def apply_probability(tier: str, sched: TierSchedule, rp: RecognitionParams, apply_mult: np.ndarray) -> np.ndarray:
    """Chance that an eligible non-holder applies in a batch: the tier's propensity times
    the services multiplier, converted to a monthly chance for continuous tiers."""
    p = np.minimum(F32(rp.apply_prob[tier]) * apply_mult, F32(1.0))
    if sched.batch_month == 0:
        p = F32(1.0) - (F32(1.0) - p) ** F32(1.0 / 12.0)
    return p.astype(F32, copy=False)


def candidates(tier: str, f: FirmArrays, t: int, validity_months: int, p_table: np.ndarray, code: np.ndarray,
               u_apply: np.ndarray, reviews: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Who takes part in a batch: (applicants, holders due for re-review), as ascending row
    indices.  A non-holder applies when its draw is below its apply probability
    ``p_table[code]`` (per segment code; see :func:`apply_probability`); ``u_apply``: one
    variate per row, or the sparse variates below a bound of ``p_table`` (``variates.Sparse``).  ``reviews=False``
    when no title can be due yet (the calendar says so)."""
    n = f.n
    rec = f.titles[TIER_INDEX[tier], :n]
    p_max = float(p_table.max())
    if not isinstance(u_apply, Sparse) and p_max >= 0.1 and (p_table == p_table[0]).all():
        # one probability for every segment (no lever moves it): a compare with it, no lookup per row
        return np.flatnonzero((u_apply < p_table[0]) & f.alive[:n] & (rec == NONE)), _due(rec, t, validity_months, reviews)
    if isinstance(u_apply, Sparse):  # only the variates below a bound of the probabilities were drawn
        hit = u_apply.hits(p_table.take(code[u_apply.rows], mode="clip"))
        applicants = hit[f.alive[hit] & (rec[hit] == NONE)]
    elif p_max < 0.1:  # applications are rare: test the few draws below the highest probability
        hit = np.flatnonzero(u_apply < p_max)
        applicants = hit[(u_apply[hit] < p_table.take(code[hit], mode="clip")) & f.alive[hit] & (rec[hit] == NONE)]
    else:
        applicants = np.flatnonzero((u_apply < p_table.take(code, mode="clip")) & f.alive[:n] & (rec == NONE))
    return applicants, _due(rec, t, validity_months, reviews)


def _due(rec: np.ndarray, t: int, validity_months: int, reviews: bool) -> np.ndarray:
    """Holders (rows, ascending) whose title, (re)recognised at month ``rec``, has run its validity by ``t``."""
    return np.flatnonzero((rec <= t - validity_months) & (rec != NONE)) if reviews else np.zeros(0, dtype=np.intp)


def run_batch(tier: str, f: FirmArrays, t: int, sched: TierSchedule, year: int, scale: float, rp: RecognitionParams,
              applicants: np.ndarray, due: np.ndarray, ok: np.ndarray, review_ok: np.ndarray, review_boost: np.ndarray,
              priority: Callable[[np.ndarray], np.ndarray], u_review: np.ndarray, u_select: np.ndarray,
              cap: float | None = None, weighted: bool = False) -> BatchResult:
    """One batch of ``tier`` at step ``t``: re-review the ``due`` holders, then recognise
    among the ``applicants`` (row indices from :func:`candidates`).

    ``ok``: applicants meeting the criteria now (aligned with ``applicants``);
    ``review_ok``, ``review_boost``: due holders meeting the criteria they are re-reviewed
    against, and their services boost to the pass rate (aligned with ``due``);
    ``priority(rows)``: selection priority when a quota binds; u_*: uniform variates, one
    per firm row (common random numbers); ``cap``: the batch capacity in simulated firms
    (the model's government, ``TierModel.batch_capacity``; default :func:`capacity`).
    ``weighted`` (a view with thinned regions, sim/core/regions.py): rows count as their
    weights — the counts returned are weighted, and a capacity takes the best-ranked rows
    until their weight reaches it (``regions.take_top``)."""
    rec = f.titles[TIER_INDEX[tier]]
    pass_p = F32(rp.rereview_pass[tier])
    pass_p = pass_p + review_boost * (F32(1.0) - pass_p)
    file_p = F32(rp.rereview_file[tier])
    keep = filed = np.zeros(0, dtype=bool)
    if due.size:
        # one draw: below file_p the holder files, below file_p * pass_p a filer passes
        # (file_p = 1: the draw and the pass rule are those of a review without lapses)
        u = u_review[due]
        filed = u < file_p
        keep = (review_ok if rp.review_needs_criteria else True) & (u < file_p * pass_p)
    passed, revoked = due[keep], due[~keep]
    rec[passed] = t
    rec[revoked] = NONE
    elig = applicants[ok]
    n_elig = int(elig.size)
    cap = capacity(sched.capacity, year, scale) if cap is None else cap
    # a selection rate picks its share of the eligible; a capacity (a quota, or a cap imposed on
    # a tier without one) then takes the best-ranked of them
    pool = elig[u_select[elig] < F32(sched.capacity.selection_rate)] if sched.capacity.rule == "selection_rate" else elig
    if weighted:
        w = f.weight
        if pool.size and float(w[pool].sum(dtype=np.float64)) > cap:
            chosen = pool[take_top(priority(pool) + u_select[pool], w[pool], cap, float(u_select[pool[0]]))]
        else:
            chosen = pool
        rec[chosen] = t

        def wsum(rows: np.ndarray) -> float:
            return float(w[rows].sum(dtype=np.float64))
        return BatchResult(wsum(applicants), wsum(elig), float(cap), wsum(chosen), wsum(passed), wsum(revoked),
                           wsum(due[~filed]) if due.size else 0.0, chosen, revoked, passed)
    if pool.size > cap:
        n_take = int(np.floor(cap + u_select[pool[0]]))  # random rounding of a scaled quota
        score = priority(pool) + u_select[pool]
        chosen = pool[np.argpartition(-score, min(n_take, pool.size - 1))[:n_take]] if n_take > 0 else pool[:0]
    else:
        chosen = pool
    rec[chosen] = t
    return BatchResult(int(applicants.size), n_elig, float(cap), int(chosen.size), int(passed.size), int(revoked.size),
                       int(due.size - filed.sum()), chosen, revoked, passed)
