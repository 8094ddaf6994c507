"""Structured configuration: every parameter of the model, once, with its unit and source.

A run is described by one :class:`RunConfig` (scenario, policy, criteria, behaviour
parameters, run knobs).  Hydra composes it from ``configs/``; :func:`validate` turns the
composed mapping into typed dataclasses and fails with **one line** naming the field, the
value and what is allowed.  Each field's ``metadata`` holds ``unit``, ``source`` and,
where a range applies, ``range=(lo, hi)`` (inclusive) or ``choices``.

Conventions: money in M CNY (million yuan) unless stated; rates are *annual* unless the
name says ``monthly``; shares are fractions in [0, 1]; dates are ``'YYYY-MM'`` strings.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from sim.core.declare import p
from sim.core.errors import UserError
from sim.core.levers import LEVER_TYPES


class ConfigError(UserError):
    """A configuration value is unknown, malformed or out of range (one-line message)."""


DATE_RE = re.compile(r"^(19|20|21)\d\d-(0[1-9]|1[0-2])$")
TIERS = ("innovative", "srdi", "little_giant", "single_champion", "provincial_champion", "leading")
LEVERS = tuple(LEVER_TYPES)  # the registered lever classes' names (sim/core/levers.py), in definition order
SEGMENTS = ("all", "sme", "library", "titled", "chain", "library_or_titled")

# --------------------------------------------------------------------------------------
# Behaviour parameters
# --------------------------------------------------------------------------------------


@dataclass
class GrowthParams:
    """Revenue growth: annual log-growth ~ Laplace(mu, b) built from monthly Gaussian
    steps whose variance is drawn once a year from an exponential (a Gaussian scale
    mixture), so each calendar year's growth is exactly Laplace."""

    drift: float = p(0.06, "1/yr (log revenue, nominal)", "assumed ~ nominal above-scale industrial revenue growth 2016-21 (5-10%/yr); calibrated by issue 4", range=(-0.5, 0.5))
    small_bonus: float = p(0.02, "1/yr per unit log(ref/revenue)", "DOMAIN §6: small firms grow faster (Gibrat fails); assumed", range=(0.0, 0.5))
    young_bonus: float = p(0.10, "1/yr at age 0, decays with age_scale", "DOMAIN §6: young firms grow faster; assumed", range=(0.0, 1.0))
    age_scale: float = p(5.0, "yr", "assumed", range=(0.1, 50.0))
    laplace_scale: float = p(0.18, "annual Laplace scale b at ref revenue", "DOMAIN §6 tent-shaped growth; assumed, calibrated by issue 4", range=(0.0, 2.0))
    size_elasticity: float = p(0.17, "beta in b ∝ revenue^-beta", "DOMAIN §6: beta 0.15-0.2", range=(0.0, 1.0))
    age_vol: float = p(0.5, "extra volatility multiple at age 0", "DOMAIN §6: volatility falls with age; assumed", range=(0.0, 5.0))
    ref_revenue: float = p(100.0, "M CNY/yr", "reference size for size effects; convention", range=(1.0, 1e6))
    cap: float = p(0.6, "max annual log growth (capacity-expansion limit)", "assumed; land & factors lever raises it", range=(0.01, 5.0))
    fin_penalty: float = p(0.04, "1/yr drift lost at full financing constraint", "DOMAIN §6: financing constraint binds growth; assumed", range=(0.0, 1.0))
    employee_elasticity: float = p(0.7, "d log employees / d log revenue", "assumed", range=(0.0, 2.0))


@dataclass
class RDParams:
    """R&D: whether a firm does R&D, its intensity (R&D / revenue), and class-I IP."""

    share_with_rd: float = p(0.37, "share of firms with any R&D", "DOMAIN §6: 147,000 of 401,000 above-scale firms (2020)", range=(0.0, 1.0))
    median_intensity: float = p(0.030, "R&D/revenue among R&D performers, median", "DOMAIN §6: ~1.5-1.7% aggregate incl. zeros; assumed", range=(0.0, 0.5))
    sigma_intensity: float = p(0.75, "sd of log intensity across firms", "assumed", range=(0.0, 3.0))
    start_prob: float = p(0.05, "1/yr chance a non-R&D firm starts R&D", "assumed", range=(0.0, 1.0))
    stop_prob: float = p(0.03, "1/yr chance an R&D firm stops", "assumed", range=(0.0, 1.0))
    persistence: float = p(0.7, "AR(1) coefficient of log intensity toward the firm's target, per year", "assumed", range=(0.0, 1.0))
    noise: float = p(0.25, "sd of annual log-intensity shock", "assumed", range=(0.0, 3.0))
    fin_penalty: float = p(0.5, "intensity lost at full financing constraint (fraction)", "DOMAIN §6: titles raise R&D by easing financing; assumed", range=(0.0, 1.0))
    bunch_window: float = p(0.3, "relative distance below a 3%/6% gate within which a firm aiming at the title bunches", "DOMAIN §6 (Chen et al. AER 2021 notching)", range=(0.0, 1.0))
    bunch_prob: float = p(0.45, "chance a firm in the window that aims at the title and meets its other gates moves onto the gate (per annual R&D decision; a firm that relabelled last year and still qualifies keeps on)", "assumed; DOMAIN §6: firms bunch above R&D notches (Chen et al. 2021)", range=(0.0, 1.0))
    relabel_share: float = p(0.45, "share of a bunching firm's move onto a gate (gate - own intensity) that is relabelled, not spent", "Chen, Liu, Serrato & Xu, AER 2021 (DOMAIN §6): reported R&D +18.8% at the notch, ~45% of that response relabelling", range=(0.0, 1.0))
    ip_per_rd: float = p(0.12, "class-I IP per M CNY of R&D", "assumed; little giants hold >50 patents (DOMAIN §6)", range=(0.0, 10.0))
    institution_prob: float = p(0.15, "1/yr chance an R&D firm at or above institution_min_intensity founds an R&D institution", "assumed", range=(0.0, 1.0))
    institution_min_intensity: float = p(0.03, "R&D/revenue above which firms found R&D institutions", "assumed (the SRDI / little-giant 3% gate)", range=(0.0, 1.0))
    institution_share_init: list = p([0.6, 0.15], "share holding an R&D institution at the start: [intensity >= institution_min_intensity, other R&D firms]", "assumed", item_range=(0.0, 1.0))
    max_intensity: float = p(0.6, "R&D/revenue, upper bound", "assumed (keeps the lognormal tail finite)", range=(0.01, 5.0))


@dataclass
class FirmParams:
    """Population synthesis (DOMAIN §6) and demography."""

    size_median: float = p(60.0, "M CNY/yr, lognormal body median (above-scale SMEs)", "assumed: 75.5 trn CNY over 401,000 SMEs -> mean ~188 M CNY (DOMAIN §4)", range=(1.0, 1e5))
    size_sigma: float = p(1.1, "sd of log revenue (body)", "assumed; DOMAIN §6 lognormal body", range=(0.1, 5.0))
    large_min: float = p(400.0, "M CNY/yr, minimum revenue of a large firm", "DOMAIN §2 size standard (2011)", range=(1.0, 1e6))
    large_min_employees: float = p(1000.0, "employees, minimum of a large firm (SME: fewer employees or less revenue)", "DOMAIN §2 size standard (2011)", range=(1.0, 1e7))
    title_fin_relief: float = p(0.3, "fraction of the financing constraint removed by an SRDI or little-giant title (the title's only effect: certification with lenders)", "DOMAIN §6: titles act mainly by easing financing (sign only: the DiD studies are 2022-25); size assumed: 0.3 puts a titled firm's constraint at that of an untitled firm 3.3x its revenue (fin_constraint_size 0.3), ~ one size class, the certification effect of public R&D awards on SME debt access (Lerner 1999; Meuleman & De Maeseneire 2012)", range=(0.0, 1.0))
    pareto_alpha: float = p(1.2, "Pareto tail index of large firms", "DOMAIN §6: alpha 1.0-1.5", range=(0.5, 5.0))
    small_median: float = p(8.0, "M CNY/yr, median revenue of the small tech-SME pool", "assumed (below the 20 M CNY above-scale bar)", range=(0.1, 1e3))
    small_sigma: float = p(0.8, "sd of log revenue, small tech SMEs", "assumed", range=(0.1, 5.0))
    small_rd_share: float = p(0.6, "share of small tech SMEs doing R&D", "assumed: the pool is selected on technology", range=(0.0, 1.0))
    revenue_per_employee: float = p(0.9, "M CNY per employee", "assumed ~ industrial labour productivity", range=(0.01, 100.0))
    age_mean: float = p(12.0, "yr, mean firm age at start for a firm of growth.ref_revenue", "assumed", range=(0.5, 60.0))
    age_size_elasticity: float = p(0.25, "d log(mean age at start) / d log(revenue)", "assumed: larger firms are older, as the growth process itself implies (a firm grows large over years; size rises with age: Evans 1987, JPE 95(4); Cabral & Mata 2003, AER 93(4)); 0.25 makes a 1 bn CNY firm's mean age ~1.8x a 100 M CNY firm's", range=(0.0, 1.0))
    niche_years_share: float = p(0.8, "years in niche / age, mean", "assumed; >74% of little giants 10+ years in niche (DOMAIN §6)", range=(0.0, 1.0))
    main_share_a: float = p(6.0, "Beta a of main-business share", "assumed; little giants >97% (DOMAIN §6)", range=(0.1, 100.0))
    main_share_b: float = p(1.2, "Beta b of main-business share", "assumed", range=(0.1, 100.0))
    debt_a: float = p(5.0, "Beta a of debt/assets", "assumed ~ mean 0.55", range=(0.1, 100.0))
    debt_b: float = p(4.0, "Beta b of debt/assets", "assumed", range=(0.1, 100.0))
    fin_constraint_base: float = p(0.5, "financing constraint (0 none .. 1 full) at ref revenue", "assumed", range=(0.0, 1.0))
    fin_constraint_size: float = p(0.3, "elasticity of constraint to revenue (negative effect)", "assumed: small firms more constrained", range=(0.0, 2.0))
    capability_corr: float = p(0.9, "correlation of R&D, brand, field, main-business share with a latent capability", "assumed: titled firms excel on all criteria at once (DOMAIN §6)", range=(0.0, 0.99))
    brand_share: float = p(0.6, "share of firms with an own brand", "assumed", range=(0.0, 1.0))
    emerging_share: float = p(0.4, "share of firms in strategic-emerging fields", "assumed", range=(0.0, 1.0))
    key_link_share: float = p(0.3, "share of firms whose product is a key link of its chain (counts only for chain members)", "assumed: SD names 709 core suppliers on 43 chains (DOMAIN §4), a minority of chain suppliers", range=(0.0, 1.0))
    rd_staff_per_intensity: float = p(3.0, "median R&D-staff share per unit R&D intensity (R&D staff / employees = ratio x R&D/revenue, capped at 1)", "assumed: R&D spending is mostly staff cost, so a 5% intensity ~ 15% R&D staff", range=(0.0, 50.0))
    rd_staff_sigma: float = p(0.5, "sd of the log ratio across firms", "assumed", range=(0.0, 3.0))
    equity_share: list = p([0.05, 0.25], "share that raised new equity in the last 2 years: [above-scale and large firms, small tech SMEs]", "assumed (venture funding concentrates on small tech firms)", item_range=(0.0, 1.0))
    equity_median: float = p(20.0, "M CNY, median equity raised by those that raised any", "assumed", range=(0.01, 1e5))
    equity_sigma: float = p(1.2, "sd of log equity raised", "assumed", range=(0.0, 5.0))
    firms_per_niche: float = p(6.0, "mean simulated firms per national product niche (细分市场)", "assumed; hand-tuned with niche_zipf so 2021 little-giant stocks match the record (national 4,762, SD 362); formal calibration: issue 4", range=(2.0, 1e5))
    niche_zipf: float = p(0.7, "Zipf exponent of niche sizes (firms per niche)", "assumed; hand-tuned with firms_per_niche (see there)", range=(0.0, 3.0))
    niche_max_share: float = p(0.25, "largest share of its niche's expected national market a firm holds at synthesis (larger firms are placed in larger niches)", "assumed: a large firm's product sits in a market several times its own revenue; without it a 1 bn CNY group drawn into a 0.3 bn niche leads it nationally and worldwide (issue 12: 1,000-1,800 eligible champions a year in Shandong against a quota of 35)", range=(0.01, 1.0))
    china_global_share_a: float = p(2.0, "Beta a of China's share of a niche's world market", "China ~28-29% of world manufacturing value added in 2019-20 (UN / World Bank WDI, published 2020-21): Beta(2, 5), mean 0.29", range=(0.1, 100.0))
    china_global_share_b: float = p(5.0, "Beta b", "see china_global_share_a", range=(0.1, 100.0))
    foreign_leader_share: float = p(0.25, "mean world share of the largest foreign firm in a niche", "assumed: world niche leaders hold about a quarter to a third of their world markets (Simon, Hidden Champions of the 21st Century, 2009)", range=(0.0, 1.0))
    foreign_ladder: list = p([1.0, 0.6, 0.4], "world shares of the 3 largest foreign firms relative to the largest", "assumed", item_range=(0.0, 1.0))
    market_coverage: float = p(0.85, "share of a niche's domestic market supplied by modelled firms (national)", "assumed", range=(0.05, 1.0))
    hazard_by_age: list = p([0.016, 0.063, 0.095, 0.09, 0.085, 0.08, 0.08], "1/yr exit hazard at age 0..6 yr", "DOMAIN §6 (SAIC 2013 survival report)", item_range=(0.0, 1.0))
    hazard_old: float = p(0.035, "1/yr exit hazard from age 7 yr on", "assumed ('lower after' year 7, DOMAIN §6)", range=(0.0, 1.0))
    hazard_max: float = p(0.9, "1/yr, upper bound of the exit hazard", "assumed (small firms' size scaling)", range=(0.0, 1.0))
    hazard_size_elasticity: float = p(0.2, "hazard ∝ (revenue/ref)^-e", "DOMAIN §6: larger firms survive longer; assumed", range=(0.0, 2.0))
    holder_hazard_mult: list = p([0.6, 0.5, 0.5], "multiplier on the age- and size-dependent exit hazard of a title holder: [srdi, little_giant, single or provincial champion]; a firm with several titles takes the lowest", "assumed (DOMAIN §6 gives no holder hazard): holders passed a screen the generic hazard does not see (debt <= 70%, growth, margins, IP, an institution), so distressed firms are screened out; higher tiers screen harder; a selection effect, not a title effect", item_range=(0.0, 1.0))
    entry_rate: float = p(0.05, "1/yr entrants per firm of the initial population", "assumed ~ balances exits (population roughly stable 2016-21)", range=(0.0, 1.0))
    entrant_median: float = p(25.0, "M CNY/yr, median revenue of an entrant", "assumed (newly above-scale firms)", range=(0.1, 1e4))


@dataclass
class RecognitionParams:
    """Applications and re-reviews (per tier rates keyed by tier code)."""

    apply_prob: dict = p({"innovative": 0.35, "srdi": 0.6, "little_giant": 0.8, "single_champion": 0.6, "provincial_champion": 0.6, "leading": 1.0},
                         "share of eligible non-holders that apply in a batch (per year for 'continuous' tiers)", "assumed; calibrated by issue 4")
    rereview_pass: dict = p({"innovative": 0.9, "srdi": 0.8, "little_giant": 0.85, "single_champion": 0.85, "provincial_champion": 0.75, "leading": 1.0},
                            "share of holders meeting the criteria that pass re-review", "DOMAIN §4/§7: SD SRDI 3,424 valid of 5,566; SD prov. champions batch-1 review 59 passed; LG unknown (prior)")
    rereview_file: dict = p({"innovative": 1.0, "srdi": 1.0, "little_giant": 1.0, "single_champion": 1.0, "provincial_champion": 1.0, "leading": 1.0},
                            "share of holders due for re-review that file (the others lapse, counted apart from failures)", "DOMAIN §1: failing or not filing revokes; no source splits the two, so every holder files and rereview_pass holds both (prior for a later calibration)")
    review_needs_criteria: bool = p(True, "flag", "a holder failing the criteria at re-review is revoked (MIIT 2022 rules)")
    review_drops_sme_cap: bool = p(True, "flag", "assumed: outgrowing the SME size cap does not by itself revoke a title")


@dataclass
class ChainParams:
    """Chain owners and the chain-length system."""

    member_share: float = p(0.25, "share of SMEs that supply a key chain", "assumed; SD: 709 core suppliers for 43 chains (DOMAIN §4) is the core only", range=(0.0, 1.0))
    owners_per_chain: int = p(3, "chain owners per key chain", "DOMAIN §4: SD 112 owners / 43 chains ≈ 2.6", range=(1, 50))
    growth_per_opening: float = p(0.03, "1/yr supplier drift per unit owner opening (market/purchases)", "DOMAIN §6: chain owners raise suppliers' productivity; assumed", range=(0.0, 1.0))
    ip_per_opening: float = p(0.3, "relative IP-rate gain per unit opening (technology)", "assumed", range=(0.0, 5.0))
    fin_per_opening: float = p(0.2, "relative financing-constraint relief per unit opening (finance)", "assumed", range=(0.0, 1.0))
    base_opening: float = p(0.1, "owner opening without the chain-length system", "assumed", range=(0.0, 5.0))
    purchase_share: float = p(0.1, "share of owner revenue bought from chain SMEs", "assumed; ~1.7 deals per SRDI firm at matchmaking events (DOMAIN §5)", range=(0.0, 1.0))


def _fresh(f: dataclasses.Field) -> dataclasses.Field:
    """A copy of a declared field, so one declaration can serve several schemas."""
    return field(default=f.default, default_factory=f.default_factory, metadata=dict(f.metadata))


def effects_schema(levers: Iterable[type] | None = None) -> type:
    """The dataclass of the effect sizes of ``levers`` (lever classes; default: every
    registered lever) — ``params.levers``: each lever's declared ``sizes``, in lever order."""
    levers = LEVER_TYPES.values() if levers is None else levers
    fields = [(name, type(f.default if f.default is not dataclasses.MISSING else f.default_factory()), _fresh(f))
              for lv in levers for name, f in lv.sizes.items()]
    doc = """Effect of each lever per unit of intensity, declared by its lever class
    (``sizes`` in sim/core/levers.py).  Intensity 0 gives no effect; effects act only on the
    lever's target segment."""
    return dataclasses.make_dataclass("LeverEffects", fields, namespace={"__module__": __name__, "__doc__": doc})


LeverEffects = effects_schema()


@dataclass
class ModelParams:
    growth: GrowthParams = field(default_factory=GrowthParams)
    rd: RDParams = field(default_factory=RDParams)
    firms: FirmParams = field(default_factory=FirmParams)
    recognition: RecognitionParams = field(default_factory=RecognitionParams)
    chains: ChainParams = field(default_factory=ChainParams)
    levers: LeverEffects = field(default_factory=LeverEffects)


# --------------------------------------------------------------------------------------
# Recognition criteria (DOMAIN §2) as data
# --------------------------------------------------------------------------------------


@dataclass
class InnovativeCriteria:
    pass_score: float = p(60.0, "points of 100", "MIIT 2022 梯度培育办法", range=(0, 100))
    min_innovation: float = p(20.0, "points", "MIIT 2022", range=(0, 100))
    min_growth: float = p(15.0, "points", "MIIT 2022", range=(0, 100))
    min_specialisation: float = p(15.0, "points", "MIIT 2022", range=(0, 100))
    sme_only: bool = p(True, "flag", "MIIT 2022")
    rd_bands: list = p([[0.05, 20], [0.03, 15], [0.02, 10], [0.01, 5]], "[min R&D/revenue, points] (innovation)", "MIIT 2022", bands=True)
    ip_points_each: float = p(4.0, "points per class-I IP, capped at ip_points_max (innovation)", "MIIT 2022: core-product IP up to 20", range=(0, 100))
    ip_points_max: float = p(20.0, "points", "MIIT 2022", range=(0, 100))
    growth_bands: list = p([[0.15, 20], [0.10, 15], [0.05, 10], [0.0, 5]], "[min main-revenue growth, points] (growth)", "MIIT 2022", bands=True)
    debt_bands: list = p([[-0.55, 10, "exclusive"], [-0.75, 5]], "[-(upper bound of debt/assets), points(, 'exclusive')] (growth)", "MIIT 2022: <55% 10, 55-75% 5", bands=True)
    main_bands: list = p([[0.70, 20], [0.60, 15], [0.55, 10], [0.50, 5]], "[min main-business share, points] (specialisation)", "MIIT 2022", bands=True)
    emerging_points: list = p([10, 5], "[points in a strategic-emerging field, otherwise] (specialisation)", "MIIT 2022", item_range=(0.0, 100.0))
    direct_routes: bool = p(True, "flag: an SME with an R&D institution or >= direct_equity new equity qualifies without the score", "MIIT 2022 (direct routes; the high-tech-enterprise title and S&T awards are not modelled)")
    direct_equity: float = p(5.0, "M CNY equity raised (2 yr) for the direct route", "MIIT 2022", range=(0, 1e5))


@dataclass
class SRDICriteria:
    min_niche_years: float = p(2.0, "yr", "MIIT 2022 provincial SRDI", range=(0, 50))
    min_rd_spend: float = p(1.0, "M CNY/yr", "MIIT 2022", range=(0, 1e4))
    min_rd_intensity: float = p(0.03, "R&D/revenue", "MIIT 2022", range=(0, 1))
    min_revenue: float = p(10.0, "M CNY/yr", "MIIT 2022", range=(0, 1e5))
    pass_score: float = p(60.0, "points of 100 (13-indicator score)", "MIIT 2022", range=(0, 100))
    sme_only: bool = p(True, "flag", "MIIT 2022")
    min_equity_alt: float = p(20.0, "M CNY equity raised in 2 yr: the alternative to min_revenue", "MIIT 2022: revenue >= 10 M CNY or >= 20 M CNY equity raised in 2 years", range=(0, 1e5))
    # the 13-indicator score with the official points (docs/CRITERIA.md says which items
    # the model approximates and how):
    # specialisation 25 = main-business share 5 + 2-yr growth 10 + years in niche 5 + field 5
    main_bands: list = p([[0.8, 5], [0.7, 3], [0.6, 1]], "[min main-business share, points] (specialisation: up to 5)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", bands=True)
    growth_bands: list = p([[0.10, 10], [0.08, 8], [0.06, 6], [0.04, 4], [0.0, 2]], "[min 2-yr average main-revenue growth, points] (specialisation: up to 10)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", bands=True)
    niche_year_points: float = p(1.0, "points per full 2 years in the niche, capped at niche_year_max", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准): 1 point per 2 years", range=(0, 25))
    niche_year_max: float = p(5.0, "points", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", range=(0, 25))
    field_points: list = p([5, 3], "[points at a key chain link (key_link in a chain), in a key field only (chain member or strategic-emerging)] (specialisation)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准): key link with results 5, key field without 3, else 0", item_range=(0.0, 25.0))
    # refinement 25 = digital 5 + quality 5 + net margin 10 (latent quality) + debt 5
    quality_points: float = p(20.0, "points x latent quality (digital maturity 5, quality management 5, net margin 10)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准); approximated by the latent quality score (not modelled item by item)", range=(0, 100))
    debt_bands: list = p([[-0.5, 5], [-0.6, 3], [-0.7, 1]], "[-(upper bound of debt/assets), points(, 'exclusive')] (refinement: up to 5)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准): <=50% 5, 50-60% 3, 60-70% 1", bands=True)
    # distinctiveness 15: provincial indicators
    share_bands: list = p([[0.10, 15], [0.05, 10], [0.01, 5]], "[min national niche share, points] (distinctiveness 15)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准): set by each province; approximated by national niche share (docs/CRITERIA.md)", bands=True)
    # innovation 35 = IP 10 + R&D 10 + R&D staff 5 + institution 10
    ip_bands: list = p([[5, 10], [1, 6]], "[min class-I IP rights, points] (innovation: up to 10)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准): class-I IP 6, high-value / own class-I 8-10; approximated by count (>= 5 rights taken as high-value)", bands=True)
    rd_spend_bands: list = p([[5.0, 10], [4.0, 8], [3.0, 6], [2.0, 4], [1.0, 2]], "[min R&D M CNY/yr, points] (innovation: the larger of this and rd_int_bands)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", bands=True)
    rd_int_bands: list = p([[0.10, 10], [0.08, 8], [0.06, 6], [0.04, 4], [0.03, 2]], "[min R&D/revenue, points] (innovation: the larger of this and rd_spend_bands)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", bands=True)
    rd_staff_bands: list = p([[0.20, 5], [0.10, 3], [0.05, 1]], "[min R&D staff / employees, points] (innovation: up to 5)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准)", bands=True)
    institution_points: float = p(4.0, "points for an R&D institution (innovation; national 10, provincial 8, city 4, lower 2)", "MIIT 2022 梯度培育办法, annex 2 (专精特新中小企业认定标准); the level is not modelled: assumed city level", range=(0, 35))


@dataclass
class LittleGiantCriteria:
    requires_srdi: bool = p(True, "flag", "MIIT 2022: must already be provincial SRDI")
    min_niche_years: float = p(3.0, "yr", "MIIT 2022", range=(0, 50))
    min_main_share: float = p(0.7, "main business / revenue", "MIIT 2022", range=(0, 1))
    min_growth_2y: float = p(0.05, "2-yr average main-revenue growth (fraction/yr)", "MIIT 2022", range=(-1, 5))
    max_debt: float = p(0.7, "debt/assets", "MIIT 2022", range=(0, 1))
    min_niche_share: float = p(0.10, "national niche market share", "MIIT 2022", range=(0, 1))
    rd_gate_high: float = p(0.03, "R&D/revenue (each of last 2 yr) if revenue >= 100 M CNY", "MIIT 2022", range=(0, 1))
    rd_gate_mid: float = p(0.06, "R&D/revenue if revenue 50-100 M CNY", "MIIT 2022", range=(0, 1))
    rd_spend_small: float = p(30.0, "M CNY R&D (2 yr) if revenue < 50 M CNY", "MIIT 2022", range=(0, 1e4))
    equity_small: float = p(80.0, "M CNY equity raised (2 yr) if revenue < 50 M CNY", "MIIT 2022", range=(0, 1e5))
    rd_staff_small: float = p(0.5, "R&D staff / employees if revenue < 50 M CNY", "MIIT 2022", range=(0, 1))
    revenue_high: float = p(100.0, "M CNY/yr", "MIIT 2022", range=(0, 1e5))
    revenue_mid: float = p(50.0, "M CNY/yr", "MIIT 2022", range=(0, 1e5))
    min_ip: float = p(2.0, "class-I IP rights", "MIIT 2022", range=(0, 1e4))
    needs_institution: bool = p(True, "flag", "MIIT 2022: an R&D institution")
    needs_brand: bool = p(True, "flag", "MIIT 2022: own brand")
    needs_key_link: bool = p(True, "flag", "MIIT 2022: at a key chain link (a chain member whose product is a key link) or in a priority (strategic-emerging) field; chain membership alone does not count")
    sme_only: bool = p(True, "flag", "MIIT 2022")


@dataclass
class ChampionCriteria:
    min_niche_years: float = p(10.0, "yr in the product field", "MIIT single-champion rules", range=(0, 50))
    max_global_rank: int = p(3, "rank in the world niche market", "MIIT: global top 3", range=(1, 100))
    min_main_share: float = p(0.7, "product / main business", "MIIT", range=(0, 1))
    min_revenue: float = p(400.0, "M CNY/yr (waived for little giants)", "MIIT", range=(0, 1e6))


@dataclass
class ProvincialChampionCriteria:
    min_niche_years: float = p(3.0, "yr", "Shandong provincial champion rules (DOMAIN §2)", range=(0, 50))
    max_national_rank: int = p(5, "rank in the national niche market (and #1 in the province)", "Shandong rules", range=(1, 100))
    min_main_share: float = p(0.7, "main product / revenue", "Shandong rules (DOMAIN §2)", range=(0, 1))
    min_revenue: float = p(400.0, "M CNY/yr (waived for little giants and for SRDI holders above srdi_revenue)", "Shandong rules", range=(0, 1e6))
    srdi_revenue: float = p(100.0, "M CNY/yr: a provincial SRDI holder at or above it is excepted from min_revenue", "Shandong rules (DOMAIN §2)", range=(0, 1e6))


@dataclass
class LeadingCriteria:
    rule: str = p("owners_first", "selection rule: chain_owners (owners above the revenue bar), largest (large firms above it, by revenue), owners_first (both, owners first, then by revenue)", "no published criteria (DOMAIN §2): in practice chain owners; SD's target (150) exceeds its 112 owners", choices=("chain_owners", "largest", "owners_first"))
    min_revenue: float = p(1000.0, "M CNY/yr, bar for a chain owner", "DOMAIN §2: a peer province's chain-owner bar, 1 bn CNY for emerging chains (the lower of its two bars)", range=(0, 1e7))
    min_revenue_other: float = p(5000.0, "M CNY/yr, bar for a large firm that owns no key chain (rules largest, owners_first)", "DOMAIN §2: the peer province's chain-owner bar for pillar chains, 5 bn CNY: a firm large enough to own a pillar chain", range=(0, 1e7))


@dataclass
class CriteriaConfig:
    name: str = p("miit2022", "label", "criteria set name")
    innovative: InnovativeCriteria = field(default_factory=InnovativeCriteria)
    srdi: SRDICriteria = field(default_factory=SRDICriteria)
    little_giant: LittleGiantCriteria = field(default_factory=LittleGiantCriteria)
    single_champion: ChampionCriteria = field(default_factory=ChampionCriteria)
    provincial_champion: ProvincialChampionCriteria = field(default_factory=ProvincialChampionCriteria)
    leading: LeadingCriteria = field(default_factory=LeadingCriteria)
    validity_years: float = p(3.0, "yr until re-review", "DOMAIN §1: 3-year validity", range=(0.5, 20))


# --------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------


@dataclass
class CapacityConfig:
    """How a tier's batch is bounded: a quota per batch, a selection rate among eligible
    applicants, or the criteria alone (nobody knew in 2021 which one MIIT used)."""

    rule: str = p("criteria", "rule", "scenario choice (DOMAIN §7)", choices=("quota", "selection_rate", "criteria"))
    quota_by_year: dict = p({}, "firms per batch, keyed by year", "history (data/) for recorded years; scenario assumption after")
    quota_default: float = p(0.0, "firms per batch for years not in quota_by_year", "scenario assumption", range=(0, 1e7))
    quota_growth: float = p(0.0, "1/yr growth of quota_default after the last listed year", "scenario assumption", range=(-1, 5))
    selection_rate: float = p(1.0, "share of eligible applicants recognised", "scenario assumption", range=(0, 1))


@dataclass
class TierSchedule:
    enabled: bool = p(True, "flag", "scenario")
    first_year: int = p(2016, "year of the first batch", "history (data/)", range=(1990, 2100))
    batch_month: int = p(12, "month of the annual batch (1-12); 0 = continuous (monthly)", "history dates (data/), approximate", range=(0, 12))
    capacity: CapacityConfig = field(default_factory=CapacityConfig)


@dataclass
class PopulationConfig:
    n_sme: int = p(0, "above-scale industrial SMEs", "scenario (see scenario yaml for source)", range=(0, 10_000_000))
    n_large: int = p(0, "large industrial firms", "scenario assumption", range=(0, 1_000_000))
    n_small_tech: int = p(0, "small (below-scale) tech SMEs", "scenario assumption", range=(0, 10_000_000))
    n_chains: int = p(0, "key chains under the chain-length system", "scenario (seed documents / data)", range=(0, 10_000))
    region_share: float = p(1.0, "region's share of each national niche market (1 = national)", "scenario assumption", range=(0.001, 1.0))
    province_share: float = p(0.0, "the province's share of each national niche market when the region is a city inside it (0: the region is a province or the nation); provincial ranks then count the rest of the province's firms", "scenario assumption (Liaocheng: Shandong's 0.076)", range=(0.0, 1.0))


@dataclass
class RegionConfig:
    """A region of a view's one population (issue 14): every firm row belongs to one region.
    A view's regions partition its firms (their shares sum to 1); a city names its province,
    so the province's counts are the sum over the regions in it (and the nation's the sum over
    all regions, exactly).  Absent (``scenario.regions: []``): one region, the scenario itself."""

    name: str = p("", "id (unique in the view; a province's own region may carry the province's name)", "scenario")
    label: str = p("", "text", "scenario")
    province: str = p("", "the province the region lies in ('' = the region is a province, or an aggregate of provinces such as the rest of China)", "scenario")
    share: float = p(0.0, "the region's share of the view's firms, every kind and size alike (fraction; the view's shares sum to 1)", "data row named in the scenario yaml", range=(0.0, 1.0))
    scale: float = p(1.0, "the region's sampling scale relative to scenario.scale: below 1, the region's firms under scenario.strata_revenue at synthesis (and its small tech SMEs and entrants) are thinned to this fraction, each kept row standing for a whole number of firms of mean 1 / scale (FirmArrays.weight); the firms at or above the bar (by default every large firm) are all kept", "view (run knob; docs/NESTED.md)", range=(0.0, 1.0))
    source: str = p("", "text", "data/ row")


@dataclass
class TargetConfig:
    name: str = p("", "id", "scenario")
    label: str = p("", "text", "scenario")
    tiers: list = p([], "tier codes summed", "scenario")
    metric: str = p("stock", "metric", "scenario", choices=("stock", "cumulative_new"))
    count: str = p("firms", "what a cumulative_new counts: firms = distinct firms gaining their first title of the tiers from window_start (a firm with two titles of the tiers, or re-recognised after holding one, counts once); recognitions = every recognition, re-recognitions included (the count before issue 12)", "seed 003 (鲁工信发〔2021〕5号): '新培育省级以上…企业' counts enterprises newly cultivated, at provincial level or above", choices=("firms", "recognitions"))
    threshold: float = p(0.0, "firms", "seed documents", range=(0, 1e8))
    deadline: str = p("2025-12", "YYYY-MM", "seed documents")
    announced: str = p("", "YYYY-MM the target was announced ('' = known from scenario.start); a government chases only targets announced by the end of the published record (scenario.origin; in a back-test the end of `until`)", "the target's document")
    counted_from: str = p("", "YYYY-MM a cumulative_new plan target counts from ('' = scenario.window_start; plan_targets only)", "the target's document (a plan's own period)")
    illustrative: bool = p(False, "flag", "True when no official figure exists")
    region: str = p("", "the area the target counts ('' = the view's own; else a region or province of the view, e.g. shandong in the national view: counted on that area's firms and chased by no government of the view until its province's programmes are simulated, issue 14)", "the target's document (whose government set it)")
    source: str = p("", "text", "document")


@dataclass
class HistoryMapping:
    series: str = p("", "data series", "data/")
    tier: str = p("", "tier", "mapping")
    metric: str = p("stock", "metric", "mapping: stock at the month; batch_new = recognised in the calendar year; cumulative_new = recognised from window_start; cumulative_all = recognised since scenario.start", choices=("stock", "batch_new", "cumulative_new", "cumulative_all"))
    month: int = p(12, "month", "data/ date_announced", range=(1, 12))
    alt_series: str = p("", "series with an alternative figure", "data/")
    unit_note: str = p("", "text", "data/")
    region: str = p("", "the area the series counts ('' = the view's own, from its data file; else an area of the view with a shipped file of its own, e.g. shandong in the national view: read from sim/data/<area>_to_2021.csv and counted on that area's firms)", "issue 14: one distance over the national, Shandong and Liaocheng history")


@dataclass
class ScenarioConfig:
    name: str = p("", "id", "scenario")
    label: str = p("", "text", "scenario")
    start: str = p("2016-01", "YYYY-MM (first simulated month)", "before the first champion batch (2016)")
    horizon: str = p("2025-12", "YYYY-MM (last simulated month)", "target deadline")
    origin: str = p("2021-12", "YYYY-MM: end of the published record", "data/ ends 2021")
    window_start: str = p("2021-01", "YYYY-MM: new recognitions count from here", "seed 003: 'newly cultivated' from 2021")
    scale: float = p(1.0, "population fraction simulated (counts scaled back)", "run knob", range=(0.0, 1.0))  # the smallest per scenario: sim.config.validate.min_scale
    population: PopulationConfig = field(default_factory=PopulationConfig)
    tiers: dict = p({}, "TierSchedule per tier code", "scenario")
    targets: list = p([], "TargetConfig list", "seed documents")
    plan_targets: list = p([], "TargetConfig list: further targets the governments chase (sim/core/government.py), not reported", "plan documents (data/)")
    history: list = p([], "HistoryMapping list", "data/")
    strata_revenue: float = p(400.0, "M CNY/yr: in a region at reduced scale (regions.<i>.scale < 1), firms with at least this revenue at synthesis (at the default: every large firm, params.firms.large_min) are simulated at the view's scale; the rest are thinned (1e7: every firm, the ghosts standing in the markets and ranks)", "MIIT's single-champion revenue bar (criteria.single_champion.min_revenue, 400 M CNY): the firms whose national ranks and shares decide champion titles are not thinned", range=(0.0, 1e7))
    regions: list = p([], "RegionConfig list: the regions of the view's one population ([]: one region, the scenario itself)", "scenario (shares from data rows)")


# --------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------


@dataclass
class LeverConfig:
    """One dated lever.  ``intensity`` 0 means no effect; 1 is the documents' level."""

    start: str = p("2021-01", "YYYY-MM", "policy document date")
    end: str = p("2025-12", "YYYY-MM (inclusive)", "target deadline")
    intensity: float = p(0.0, "multiple of the announced level", "policy", range=(0.0, 10.0))
    target: str = p("all", "segment reached", "policy document", choices=SEGMENTS)
    cost: float = p(0.0, "fiscal cost, M CNY per firm reached per year per unit intensity", "DOMAIN §5", range=(0.0, 1e6))
    regions: list = p([], "the areas of the view the lever reaches (regions or provinces, e.g. [shandong] in the national view; []: the whole view)", "the lever's document (whose government funds it)")


def _lever() -> Any:
    return field(default_factory=LeverConfig)


def policy_schema(levers: Iterable[type] | None = None) -> type:
    """The dataclass of a policy over ``levers`` (lever classes; default: every registered
    lever): ``name``, ``label`` and one :class:`LeverConfig` per lever, in lever order;
    ``lever_types`` maps each name to its class."""
    types = {lv.name: lv for lv in (LEVER_TYPES.values() if levers is None else levers)}

    def levers_of(self) -> dict[str, LeverConfig]:
        return {name: getattr(self, name) for name in types}

    levers_of.__name__, levers_of.__qualname__ = "levers", "PolicyConfig.levers"
    fields = [("name", str, p("", "id", "policy")), ("label", str, p("", "text", "policy"))]
    fields += [(name, LeverConfig, _lever()) for name in types]
    doc = """Levers keyed by name (``policy.financing.intensity=1.5``); an absent lever is off."""
    return dataclasses.make_dataclass("PolicyConfig", fields, namespace={
        "__module__": __name__, "__doc__": doc, "lever_types": types, "levers": levers_of})


PolicyConfig = policy_schema()


GOVERNMENT_RULES = ("mixture", "target_chasing", "trend", "fixed", "criteria_only")
ALLOCATIONS = ("past_share", "own_record", "pool")  # how MIIT's batches reach a region (GovernmentConfig.allocation)


@dataclass
class TargetChasingConfig:
    """Target chasing (sim/core/government.py): batch = over_fulfilment x gap / batches left, floored."""

    over_fulfilment: float = p(2.45, "multiple of the per-year need to close the gap (1 = on plan)", "DOMAIN §8: the 2018 little-giant plan was met 3.05x (1,832 vs ~600), the 2016 champion plan 2.8x pro rata (340 by 2021 vs 120); default the geometric middle of the prior [1.5, 4] (sim/core/government.py PRIORS), which has both observed plans inside", range=(0.1, 10.0))
    floor: float = p(0.78, "share of the last batch a batch does not fall below (with no open target, the batch; > 1: growth whatever the targets)", "2016-21 batch sequences (data/): the smallest batch / previous batch, champions 2019 (124/160); prior [0.75, 1.5] (the largest ratio 1.85, little giants 2021); runs draw it from the fit (government.fit)", range=(0.0, 2.0))


@dataclass
class TrendConfig:
    """Trend following: log-linear growth over the last k batches, clipped."""

    k: int = p(3, "batches the growth is fitted on", "assumed: the 3 batches of the little-giant record", range=(2, 20))
    min_growth: float = p(-0.25, "1/yr, lowest log growth per batch", "2016-21 batch sequences: the largest fall, log(124/160) = -0.25", range=(-5.0, 5.0))
    max_growth: float = p(0.5, "1/yr, highest log growth per batch", "2016-21 batch sequences: champions up to 0.38 (178 -> 259), little giants 0.62 (1,584 -> 2,930); default the middle of the prior [0.2, 0.85]", range=(-5.0, 5.0))


@dataclass
class FixedConfig:
    """A fixed path: explicit batches per tier and year, else the last batch repeated."""

    path: dict = p({}, "firms per batch, keyed by tier, then year ({little_giant: {2023: 3000}}); years not listed repeat the last batch", "scenario assumption (default: none, the naive persistence forecast)")


@dataclass
class FittingConfig:
    """The fit of the batch-size rules to the recorded batch sequences (sim/analysis/government_fit.py)."""

    sigma: float = p(0.3, "s.d. of log(recorded batch / rule's batch)", "assumed: a batch within about 35% of the rule's size is one s.d.; the year-on-year log changes of the champion batches 2016-21 have s.d. 0.26 (data: champion_new)", range=(0.01, 5.0))
    dof: float = p(4.0, "degrees of freedom of the Student-t error of log(recorded / rule's batch) (large = normal)", "assumed: heavy tails, so one surprising batch (a programme's ramp-up: little giants 248 -> 1,584 in 2020) cannot decide the fit alone", range=(1.0, 1e6))
    n_prior: int = p(4000, "prior draws of the rules' parameters scored on the record", "run knob (the evidence's Monte-Carlo error falls as 1/sqrt(n_prior))", range=(10, 1_000_000))
    n_keep: int = p(200, "posterior draws kept per rule (systematic resampling)", "run knob", range=(1, 100_000))
    seed: int = p(0, "seed of the prior draws", "run knob", range=(0, 2**63 - 1))


@dataclass
class GovernmentConfig:
    """Who sizes the batches after the published record, and by which rule (issue 13;
    sim/core/government.py).  Years up to the record's end use the published batches."""

    rule: str = p("mixture", "batch-size rule after the record: mixture (each replicate draws one of the others by weights), target_chasing, trend, fixed, criteria_only", "issue 13; DOMAIN §7: how MIIT sizes batches was unknown in 2021", choices=GOVERNMENT_RULES)
    weights: dict = p({"target_chasing": 0.4, "trend": 0.2, "fixed": 0.2, "criteria_only": 0.2}, "relative weight of each rule in the mixture", "assumed: DOMAIN §8 (targets cascade and were met early and overshot) puts the most weight on target chasing; DOMAIN §7 leaves the others open")
    review_capacity: float = p(2.0, "multiple of the tier's largest recorded batch that one batch can review", "2016-21 batch sequences: after a programme's second batch no batch exceeded 1.85x its predecessor; prior [1.5, 3]; no cap while fewer than two batches are recorded (second batches were 1.2x and 6.4x the first)", range=(0.1, 100.0))
    target_chasing: TargetChasingConfig = field(default_factory=TargetChasingConfig)
    trend: TrendConfig = field(default_factory=TrendConfig)
    fixed: FixedConfig = field(default_factory=FixedConfig)
    fit: str = p("default", "the fit of the rules to the recorded batches the mixture draws from: default (sim/data/posteriors/government.json: the national 2016-21 record), '' (none: weights and priors as declared), or a JSON file of experiments.fit_government", "experiments.fit_government (sim/analysis/government_fit.py)")
    posterior: dict = p({}, "the fit, loaded from government.fit when the config is validated ({rule: {log_evidence, draws}}); not set by hand", "sim/config/rule_file.py attach")
    fitting: FittingConfig = field(default_factory=FittingConfig)
    allocation: str = p("past_share", "how MIIT's little-giant and champion batches reach a region: in a regional view past_share (MIIT sizes the national batch by the replicate's rule on the national record and targets, and allocates the region its share of the national batches recorded to the origin; a tier the region has no recorded batch of keeps own_record) or own_record (the rule on the region's own record and targets); in a view of several provinces (scenario.regions) MIIT's batch is split among them: past_share (a province with a published record of the tier, configs/scenario/<province>.yaml, gets its recorded batch in a recorded year and its share of the national batches recorded to the origin after; the provinces without one share the rest by their pools) or pool (each province its share of the pool on criteria alone)", "issue 13; DOMAIN §2 (MIIT runs the batches, provinces recommend within quotas) and §8 (how quotas are split among provinces is unknown at end-2021: the past share is the declared prior; data: Shandong's 362 of the 4,762 little giants of batches 1-3, 146 of the 951 champions of batches 1-6)", choices=ALLOCATIONS)
    provinces: dict = p({}, "the published records of MIIT's tiers of the provinces of a view of several provinces under allocation=past_share ({province: {tier: {batch_month, quota_by_year}}}), loaded from configs/scenario/<province>.yaml when the config is validated; not set by hand", "sim/config/national_record.py attach")
    national: dict = p({}, "the national record MIIT sizes its batches from in a regional view under allocation=past_share ({tiers: {tier: {batch_month, quota_by_year}}, targets: [...]}), loaded from configs/scenario/national.yaml when the config is validated; not set by hand", "sim/config/national_record.py attach")
    province_programmes: bool = p(True, "in a view of several provinces, a province with a scenario file of its own (configs/scenario/<province>.yaml: Shandong in the national view) runs its own SRDI and provincial-champion programmes for its regions: its schedules, recorded batches and targets, sized by its Province agent; false: the view's schedules everywhere", "issue 14; DOMAIN §2 (provinces recognise SRDI SMEs and provincial champions by their own quotas)")
    programmes: dict = p({}, "the provinces' own programmes under province_programmes ({province: {source, tiers: {tier: TierSchedule fields}, records: {tier: {year: firms}}, targets: [TargetConfig fields]}}), loaded from configs/scenario/<province>.yaml when the config is validated; not set by hand", "sim/config/national_record.py attach")
    imposed: dict = p({}, "firms per batch imposed whatever the rule, keyed by tier, then year ({little_giant: {2023: 3000}}): a decision known to the user, or a point of the batch curve (batch_curve=true); bounded only by the eligible applicants; the view's batches (a province's own programmes inside a view of several follow their rule)", "run knob (default: none)")


@dataclass
class DataConfig:
    path: str = p("", "CSV file of published counts ('' = the scenario's shipped file)", "data/ (sim/data/*_to_2021.csv)")


EXECUTORS = ("serial", "joblib", "dask")
DESIGN_KINDS = ("grid", "lhs", "sobol")


@dataclass
class ExecutorConfig:
    """Where independent replicates (and sweep jobs) run; results do not depend on it."""

    name: str = p("joblib", "executor: serial (this process), joblib (local worker processes, n_jobs of them), dask (the Dask scheduler at address)",
                  "run knob (sim/run/executors.py)", choices=EXECUTORS)
    address: str = p("", "tcp://HOST:PORT of a running Dask scheduler (executor=dask only)", "run knob")
    timeout: float = p(30.0, "s to wait for the Dask scheduler to answer", "run knob", range=(0.1, 3600.0))


@dataclass
class DesignConfig:
    """A space-filling design over declared ranges, run by ``experiments/sweep.py``
    (sampling in ``sim/run/design.py`` with ``scipy.stats.qmc``)."""

    kind: str = p("lhs", "design: grid (every combination of n levels per factor), lhs (Latin hypercube), sobol (scrambled Sobol', n a power of 2)",
                  "experiment", choices=DESIGN_KINDS)
    n: int = p(16, "design points (grid: levels per factor)", "experiment", range=(1, 1_000_000))
    factors: dict = p({}, "dotted config key -> [low, high] or {low, high, scale: linear|log, integer: bool}; grid also {values: [...]} (units of the key)",
                      "experiment (configs/design/*.yaml)")
    seed: int = p(0, "integer: seed of the design sampler (the runs use the run seed)", "run knob", range=(0, 2**32 - 1))


@dataclass
class SweepConfig:
    """Output of sweeps: design sweeps (experiments/sweep.py) and ``--multirun`` jobs."""

    dir: str = p("", "directory of a design sweep ('' = the Hydra run directory); the same dir again resumes", "run knob")
    mode: str = p("lite", "what each --multirun job writes: lite = only its outcomes file <sweep dir>/jobs/<job key>.parquet; "
                  "full = also the forecast tables, fan charts and summary in its job subdirectory", "run knob", choices=("lite", "full"))
    trajectories: bool = p(False, "flag: also write each job's tidy trajectories (<sweep dir>/trajectories/<job key>.parquet)", "run knob")


@dataclass
class ABCConfig:
    """Calibration knobs (ABC-SMC, ``sim.calibration``; ``experiments/calibrate.py``)."""

    n_particles: int = p(200, "particles per generation", "run knob (ABC-SMC)", range=(4, 100_000))
    generations: int = p(6, "most generations (the prior is generation 0)", "run knob", range=(1, 100))
    quantile: float = p(0.5, "next tolerance = this weighted quantile of the last distances", "run knob (Del Moral et al. 2012; Beaumont et al. 2009)", range=(0.05, 0.95))
    max_simulations: int = p(4000, "simulation budget of one calibration", "run knob: ~0.4 s per national run at 20,000 SMEs (measured), 4,000 runs ~ 14 min on 2 cores (estimate)", range=(4, 10_000_000))
    round_size: int = p(40, "proposals simulated per round (in parallel)", "run knob", range=(1, 100_000))
    min_acceptance: float = p(0.03, "stop when a generation's acceptance rate falls below this", "run knob", range=(0.0, 1.0))
    firms: int = p(20_000, "simulated above-scale SMEs per calibration run: scale = min(1, firms / scenario.population.n_sme)", "run knob: counts are scaled back; scale check in README", range=(100, 10_000_000))
    until: int = p(0, "last calendar year of observations used (0 = the year of scenario.origin)", "run knob (back-test: experiments/backtest.py until=...)", range=(0, 2100))
    n_predictive: int = p(60, "posterior predictive runs for the fit figure / back-test bands", "run knob", range=(2, 100_000))
    rel_tol: float = p(0.05, "relative error of a published count (log units) added in quadrature to small-number noise 1/sqrt(simulated count)", "assumed: rounding and timing of published figures", range=(0.001, 2.0))


@dataclass
class RunConfig:
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    criteria: CriteriaConfig = field(default_factory=CriteriaConfig)
    params: ModelParams = field(default_factory=ModelParams)
    seed: int = p(1, "integer", "run knob", range=(0, 2**63 - 1))
    n_replicates: int = p(20, "replicates", "run knob", range=(1, 100_000))
    n_jobs: int = p(-1, "parallel workers (-1 = all cores)", "run knob", range=(-1, 1024))
    driver: str = p("vector", "firm-rule driver: vector (all firms as arrays) or agent (each firm's rules as its Mesa agent's method, run by shuffle_do; slow reference)", "run knob", choices=("vector", "agent"))
    agents: str = p("auto", "which SMEs are materialised as Mesa agents: all; on_demand (when asked for: model.sme(row), model.select_firms(mask)); auto = all for a model built directly (up to agent_limit), on demand in ensemble replicates (they return records only)", "run knob", choices=("auto", "all", "on_demand"))
    agent_limit: int = p(60_000, "max SMEs materialised by agents='auto'", "run knob (memory/time budget)", range=(0, 10_000_000))
    progress: str = p("auto", "progress bar", "run knob: auto = only when stderr is a terminal", choices=("auto", "on", "off"))
    plots: bool = p(True, "flag: draw fan charts", "run knob")
    batch_curve: bool = p(False, "flag: also run P(target | batch size): for every target, the ensemble at a grid of fixed annual batch sizes after the origin (a tier without a quota is capped at it) (sim/analysis/batch_curve.py; ~8-10 ensembles per target), written to reachability_by_batch.csv and batch_curve.png", "run knob (issue 13)")
    data: DataConfig = field(default_factory=DataConfig)
    calibration: str = p("", "posterior replicates draw parameter sets from: '' = none (the defaults above), 'default' (the scenario's own shipped posterior, sim/data/posteriors/<scenario>.parquet; Liaocheng: Shandong's), a shipped name (sim/data/posteriors/<name>.parquet), a posterior.parquet file or a calibration run directory", "issue 4: experiments/calibrate.py output; replicate r draws with SeedSequence(seed, spawn_key=(r, 1000003))")
    abc: ABCConfig = field(default_factory=ABCConfig)
    government: GovernmentConfig = field(default_factory=GovernmentConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    design: DesignConfig = field(default_factory=DesignConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)


def describe(cls: type = RunConfig, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """Every parameter as (dotted name, default, unit, source) — for docs and tests."""
    rows = []
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        typ = get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(typ):
            rows += describe(typ, name + ".")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append((name, default, f.metadata.get("unit", ""), f.metadata.get("source", "")))
    return rows
