"""Firm behaviour rules: growth, R&D, IP, financing, exit, entry.

Each rule is written once as a function of arrays (a firm row is an array of length 1)
and random variates passed in by the caller, so the vectorised driver and the per-agent
reference driver share it.  Units: revenue M CNY/yr, rates per year unless named
``monthly``, times in years unless named ``months``.
"""

from __future__ import annotations

import numpy as np

from sim.core.schema import FirmParams, GrowthParams, RDParams

F32 = np.float32


# ---- age -------------------------------------------------------------------------------

def age_years(t: int, birth_month: np.ndarray) -> np.ndarray:
    """Age in years (float32) at month ``t`` of firms born in ``birth_month`` (month index;
    negative before the start).  Whole months are exact in float32."""
    return (t - birth_month).astype(F32) / F32(12.0)


# ---- financing -------------------------------------------------------------------------

def financing_constraint(fin_base: np.ndarray, relief: np.ndarray) -> np.ndarray:
    """Effective constraint (0 none .. 1 full) after relief (fraction removed, 0..1)."""
    return fin_base * (F32(1.0) - np.clip(relief, 0.0, 1.0))


# ---- growth ----------------------------------------------------------------------------

def youth(age: np.ndarray, g: GrowthParams) -> np.ndarray:
    """The young-firm factor exp(-age / age_scale) (1 at birth, falling with age in years) that
    the growth volatility and the drift both scale with."""
    return np.exp(-age / F32(g.age_scale))


def laplace_scale(revenue: np.ndarray, age: np.ndarray, g: GrowthParams, young: np.ndarray | None = None) -> np.ndarray:
    """Annual Laplace scale b of log growth: b0 * (rev/ref)^-beta * (1 + age_vol*exp(-age/tau)).
    ``young``: :func:`youth` of ``age`` if already computed."""
    size = np.maximum(revenue, F32(0.01)) / F32(g.ref_revenue)
    young = youth(age, g) if young is None else young
    return (F32(g.laplace_scale) * size ** F32(-g.size_elasticity)
            * (F32(1.0) + F32(g.age_vol) * young)).astype(F32, copy=False)


def monthly_volatility(b: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Monthly sd of log growth for one year, from the annual Laplace scale ``b`` and a
    standard exponential variate ``e``.  A Laplace(0, b) is N(0, V) with V ~ Exp(mean 2b^2);
    twelve monthly N(0, V/12) steps therefore sum to an exactly Laplace annual growth."""
    return np.sqrt(F32(2.0) * b * b * e / F32(12.0)).astype(F32, copy=False)


def growth_drift(revenue: np.ndarray, age: np.ndarray, constraint: np.ndarray, extra: np.ndarray | float,
                 g: GrowthParams) -> np.ndarray:
    """Annual drift of log revenue (1/yr): the firm's own part (:func:`base_drift`) plus the
    part set by its environment (:func:`environment_drift`)."""
    return (base_drift(revenue, age, g) + environment_drift(constraint, extra, g)).astype(F32, copy=False)


def base_drift(revenue: np.ndarray, age: np.ndarray, g: GrowthParams, young: np.ndarray | None = None) -> np.ndarray:
    """Drift from size and age: base + small-firm and young-firm bonuses (1/yr).  ``young``:
    :func:`youth` of ``age`` if already computed."""
    small = np.maximum(F32(0.0), np.log(F32(g.ref_revenue) / np.maximum(revenue, F32(0.01))))
    young = youth(age, g) if young is None else young
    return (F32(g.drift) + F32(g.small_bonus) * small + F32(g.young_bonus) * young).astype(F32, copy=False)


def environment_drift(constraint: np.ndarray, extra: np.ndarray | float, g: GrowthParams) -> np.ndarray:
    """Drift from financing, levers and chain owners: less the financing penalty, plus the
    lever/chain extras (1/yr).  A title acts on growth only through ``constraint`` (its
    financing relief, DOMAIN §6): there is no separate title term."""
    return (-F32(g.fin_penalty) * constraint + extra).astype(F32, copy=False)


def grow(revenue: np.ndarray, ytd: np.ndarray, drift: np.ndarray, vol: np.ndarray, z: np.ndarray,
         cap: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """One month of growth at annual drift ``drift`` (see :func:`growth_step`).  Returns
    (new revenue, new year-to-date log growth)."""
    step = growth_step(drift / F32(12.0), vol, z, cap, ytd)
    return (revenue * np.exp(step)).astype(F32, copy=False), (ytd + step).astype(F32, copy=False)


def growth_step(drift_m: np.ndarray, vol: np.ndarray, z: np.ndarray, cap: np.ndarray | float,
                ytd: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One month's log growth: drift_m + vol*z, limited so that growth since January does
    not exceed the annual capacity-expansion limit ``cap`` (a lowered cap stops growth,
    never forces a fall).  ``out``: a float32 buffer for the result (may be ``z``)."""
    step = np.multiply(vol, z, out=out)
    step += drift_m
    room = np.subtract(cap, ytd, dtype=step.dtype)
    np.maximum(room, F32(0.0), out=room)
    return np.minimum(step, room, out=step)


def employees_for(revenue: np.ndarray, rev0: np.ndarray, emp0: np.ndarray, g: GrowthParams) -> np.ndarray:
    """Employees follow revenue with elasticity ``employee_elasticity``."""
    return (emp0 * (revenue / np.maximum(rev0, F32(1e-6))) ** F32(g.employee_elasticity)).astype(F32, copy=False)


# ---- R&D and IP ------------------------------------------------------------------------

def rd_year(has_rd: np.ndarray, rd_int: np.ndarray, rd_target: np.ndarray, constraint: np.ndarray,
            target_mult: np.ndarray | float, start_mult: np.ndarray | float,
            u_switch: np.ndarray, z: np.ndarray, r: RDParams) -> tuple[np.ndarray, np.ndarray]:
    """Annual R&D decision (January).  Non-performers start with prob start_prob*start_mult;
    performers stop with prob stop_prob.  Log intensity moves toward the firm's target
    (scaled by levers, reduced by the financing constraint) with AR(1) persistence and a
    shock.  Returns (has_rd, intensity)."""
    starts = ~has_rd & (u_switch < F32(r.start_prob) * start_mult)
    stops = has_rd & (u_switch < F32(r.stop_prob))
    new_has = (has_rd | starts) & ~stops
    w = np.flatnonzero(new_has)  # only performers have an intensity

    def at(x: np.ndarray | float) -> np.ndarray | float:
        return x[w] if np.ndim(x) else x
    goal = rd_target[w] * at(target_mult) * (F32(1.0) - F32(r.fin_penalty) * constraint[w])
    prev = np.where(has_rd[w], rd_int[w], goal)
    log_i = (F32(r.persistence) * np.log(np.maximum(prev, F32(1e-5)))
             + F32(1.0 - r.persistence) * np.log(np.maximum(goal, F32(1e-5))) + F32(r.noise) * z[w])
    intensity = np.zeros(new_has.shape, dtype=F32)
    intensity[w] = np.minimum(np.exp(log_i), F32(r.max_intensity))
    return new_has, intensity


def bunch(intensity: np.ndarray, targets: list[tuple[np.ndarray | float, np.ndarray]], u: np.ndarray,
          keep: np.ndarray, r: RDParams) -> tuple[np.ndarray, np.ndarray]:
    """Bunching at R&D-intensity gates (DOMAIN §6; Chen, Liu, Serrato & Xu, AER 2021).

    ``intensity``: each firm's own choice this year (R&D / revenue, from :func:`rd_year`).
    ``targets``: (gate, ready) pairs, a gate (R&D / revenue, scalar or per firm) and the
    firms it is worth bunching at — those aiming at the gate's title that, with their
    intensity at the gate, meet the title's other gates (the caller asks the criteria).
    A ready firm with ``gate * (1 - bunch_window) <= intensity < gate`` moves onto the gate
    if ``u < bunch_prob`` or it relabelled last year (``keep``: relabelling, once set up,
    is repeated while it pays).  Each gate is tested against the firm's own intensity; a
    firm ready at two gates reports the higher it reaches.

    Returns (reported, real): the reported intensity (what the criteria read) and the
    intensity really spent, own + (1 - relabel_share) * (reported - own): of the move from
    its own intensity onto the gate, the share ``relabel_share`` is relabelled."""
    reported = intensity.copy()
    sticky = (u < F32(r.bunch_prob)) | keep
    for gate, ready in targets:
        g = np.asarray(gate, dtype=F32)
        # the few ready and sticky firms first, then the window test on those only
        cand = np.flatnonzero(ready & sticky)
        moves = cand[in_bunch_window(intensity[cand], g[cand] if g.ndim else g, r)]
        reported[moves] = np.maximum(reported[moves], g[moves] if g.ndim else g)
    return reported, real_intensity(intensity, reported, r)


def in_bunch_window(intensity: np.ndarray, gate: np.ndarray | float, r: RDParams) -> np.ndarray:
    """Just below a gate: ``gate * (1 - bunch_window) <= intensity < gate``."""
    g = np.asarray(gate, dtype=F32)
    return (intensity < g) & (intensity >= g * F32(1.0 - r.bunch_window))


def real_intensity(own: np.ndarray, reported: np.ndarray, r: RDParams) -> np.ndarray:
    """R&D / revenue really spent by a firm that reports ``reported`` after choosing ``own``:
    the response (reported - own) is ``relabel_share`` relabelling (Chen et al. 2021: ~45%
    of the notch response), the rest real spending."""
    return (own + F32(1.0 - r.relabel_share) * (reported - own)).astype(F32, copy=False)


def ip_arrival_prob(rd_int: np.ndarray, revenue: np.ndarray, mult: np.ndarray | float, r: RDParams) -> np.ndarray:
    """Monthly probability of one new class-I IP right: 1 - exp(-lambda/12), with
    lambda = ip_per_rd * R&D spend (M CNY/yr) * productivity multiplier.  ``rd_int``: the
    real intensity (``rd_real``): relabelled R&D produces nothing."""
    return ip_prob(ip_rate(rd_int, revenue, r), mult)


def ip_rate(rd_int: np.ndarray, revenue: np.ndarray, r: RDParams) -> np.ndarray:
    """Class-I IP rights per year before productivity multipliers: ip_per_rd * R&D spend
    (real: ``rd_int`` is the real intensity ``rd_real``)."""
    return (F32(r.ip_per_rd) * rd_int * revenue).astype(F32, copy=False)


def ip_prob(rate: np.ndarray, mult: np.ndarray | float) -> np.ndarray:
    """Monthly arrival probability at ``rate`` (1/yr) times the productivity multiplier."""
    return (F32(1.0) - np.exp(-rate * mult / F32(12.0))).astype(F32, copy=False)


def institution_prob_monthly(rd_int: np.ndarray, r: RDParams) -> np.ndarray:
    """Monthly chance of founding an R&D institution (real intensity ``rd_int`` = ``rd_real``
    >= institution_min_intensity: an institution needs R&D really done)."""
    return (rd_int >= F32(r.institution_min_intensity)) * F32(1.0 - (1.0 - r.institution_prob) ** (1 / 12))


# ---- exit and entry --------------------------------------------------------------------

def exit_hazard(age: np.ndarray, revenue: np.ndarray, f: FirmParams, ref_revenue: float) -> np.ndarray:
    """Annual exit hazard of a firm without a title: the age table (DOMAIN §6: 1.6% in
    year 1, peak 9.5% in year 3, lower after year 7) scaled by (revenue/ref)^-elasticity
    (larger firms survive longer).  Not yet capped (see :func:`exit_prob_from_hazard`)."""
    table = np.asarray(list(f.hazard_by_age) + [f.hazard_old], dtype=F32)
    # ages past the table read its last entry (mode="clip" clips the index into the table)
    return (table.take(age.astype(np.int32), mode="clip") * (np.maximum(revenue, F32(0.01)) / F32(ref_revenue)) ** F32(-f.hazard_size_elasticity)).astype(F32, copy=False)


def holder_hazard_mult(srdi: np.ndarray, little_giant: np.ndarray, champion: np.ndarray, f: FirmParams) -> np.ndarray:
    """Multiplier on the exit hazard from the titles a firm holds (masks; ``champion``:
    single or provincial champion): ``holder_hazard_mult`` per title, the lowest of those
    held, 1 without a title.  Holders keep the age and size dependence of
    :func:`exit_hazard`; the multiplier stands for what the title's screen selected
    (debt, growth, margins, IP) that the generic hazard does not read."""
    m_srdi, m_lg, m_ch = (F32(x) for x in f.holder_hazard_mult)
    # the titles held as 3 bits pick the lowest multiplier from a table of the 8 combinations
    # (~3x three masked minimums over every row)
    table = np.ones(8, dtype=F32)
    for bit, m in enumerate((m_srdi, m_lg, m_ch)):
        held_bit = (np.arange(8) >> bit) & 1 == 1
        table[held_bit] = np.minimum(table[held_bit], m)
    combo = np.asarray(srdi).view(np.uint8).copy()
    combo |= np.asarray(little_giant).view(np.uint8) << np.uint8(1)
    combo |= np.asarray(champion).view(np.uint8) << np.uint8(2)
    return table.take(combo, mode="clip")


def exit_prob_from_hazard(hazard: np.ndarray, f: FirmParams) -> np.ndarray:
    """Monthly exit probability from an annual hazard, capped at ``hazard_max``."""
    h = np.minimum(hazard, F32(f.hazard_max))
    return (F32(1.0) - (F32(1.0) - h) ** F32(1.0 / 12.0)).astype(F32, copy=False)


def exit_prob_monthly(age: np.ndarray, revenue: np.ndarray, f: FirmParams, ref_revenue: float,
                      mult: np.ndarray | float = 1.0) -> np.ndarray:
    """Monthly exit probability from the annual age hazard (DOMAIN §6), scaled by size and
    by a title holder's multiplier ``mult`` (:func:`holder_hazard_mult`)."""
    return exit_prob_from_hazard(exit_hazard(age, revenue, f, ref_revenue) * mult, f)


def entrants_expected_monthly(n_initial: int, f: FirmParams) -> float:
    """Expected entrants per month: entry_rate (1/yr) times the initial population."""
    return f.entry_rate * n_initial / 12.0
