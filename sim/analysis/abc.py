"""ABC-SMC: a weighted posterior sample of parameter sets from a simulator and a distance.

Approximate Bayesian computation by sequential Monte Carlo (Toni et al. 2009; Beaumont
et al. 2009) with an adaptive tolerance schedule (Del Moral et al. 2012): generation 0
samples the prior; each later generation sets its tolerance to a weighted quantile of the
previous generation's distances, proposes by resampling a particle by weight and moving
it with a Gaussian kernel whose covariance is twice the previous population's weighted
covariance (Beaumont 2009), truncated to the prior's support, and keeps proposals whose
distance is within the tolerance.  Importance weights

    w_i ∝ prior(θ_i) / Σ_j w_j K(θ_i | θ_j)

use the truncated kernel's density (its normalising mass inside the support is estimated
by Monte Carlo with fixed draws).  Parameters declared uninformed by the record
(``Prior.informed=False``) are proposed afresh from their prior instead of moved: a valid
proposal (their prior cancels in the weight) that keeps the kernel in the dimensions the data
speak to; the acceptance step still conditions them on the data, so if they do matter
their posterior shows it.

Parameters are moved in a unit space: each prior maps its range onto [0, 1] (linearly for
``uniform`` and ``beta``, on the log scale for ``loguniform``), so a kernel covariance
means the same for a share and for a count.  Every random draw comes from the ``rng``
given; proposals are simulated in fixed-size rounds and accepted in proposal order, so
the result does not depend on how a round is spread over workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from sim.config.posterior import effective_sample_size  # a posterior's ESS: defined with the posteriors

SHAPES = ("uniform", "loguniform", "beta")


@dataclass(frozen=True)
class Prior:
    """One uncertain parameter: a dotted config path (or ``obs.*`` for an observation-side
    parameter), its prior on [lo, hi] in ``unit``, and whether the record can inform it.
    ``beta``: Beta(a, b) stretched onto [lo, hi]."""

    path: str
    shape: str
    lo: float
    hi: float
    unit: str
    informed: bool
    note: str = ""
    a: float = 1.0
    b: float = 1.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"prior {self.path}: shape {self.shape!r} is not allowed (allowed: {', '.join(SHAPES)})")
        if not (self.hi > self.lo) or (self.shape == "loguniform" and self.lo <= 0):
            raise ValueError(f"prior {self.path}: range [{self.lo}, {self.hi}] is not allowed (allowed: lo < hi, lo > 0 for loguniform)")

    def to_value(self, u: np.ndarray) -> np.ndarray:
        """Unit-space coordinate(s) in [0, 1] -> parameter value(s) in ``unit``."""
        if self.shape == "loguniform":
            return np.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        return self.lo + u * (self.hi - self.lo)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.shape == "loguniform":
            return (np.log(x) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (x - self.lo) / (self.hi - self.lo)

    def sample_unit(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.beta(self.a, self.b, n) if self.shape == "beta" else rng.random(n)

    def logpdf_unit(self, u: np.ndarray) -> np.ndarray:
        """Log prior density of the unit-space coordinate (-inf outside [0, 1])."""
        u = np.asarray(u, dtype=float)
        inside = (u >= 0) & (u <= 1)
        if self.shape == "beta":
            from scipy import stats  # on use: replicate workers import this module only for posteriors

            out = stats.beta.logpdf(np.clip(u, 1e-12, 1 - 1e-12), self.a, self.b)
        else:
            out = np.zeros_like(u)
        return np.where(inside, out, -np.inf)

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Prior quantiles in ``unit`` (to compare with the posterior's)."""
        from scipy import stats

        u = stats.beta.ppf(qs, self.a, self.b) if self.shape == "beta" else np.asarray(qs)
        return [float(v) for v in self.to_value(np.asarray(u))]

    def describe(self) -> dict:
        return asdict(self)


@dataclass
class Settings:
    """ABC-SMC knobs: particles per generation, the most generations, the quantile of the
    previous distances that sets the next tolerance, the simulation budget, proposals per
    round, and the acceptance rate below which the schedule stops."""

    n_particles: int = 200
    generations: int = 6
    quantile: float = 0.5
    max_simulations: int = 4000
    round_size: int = 40
    min_acceptance: float = 0.03
    kernel_scale: float = 2.0
    mc_draws: int = 2000


@dataclass
class Result:
    """The final population: values (N, d) in each prior's unit, normalised weights,
    distances; one dict per generation (tolerance, simulations, acceptance rate, ESS)."""

    priors: list[Prior]
    values: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    generations: list[dict] = field(default_factory=list)
    n_simulations: int = 0
    stop_reason: str = ""

    @property
    def ess(self) -> float:
        return effective_sample_size(self.weights)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The q-quantile of ``x`` under weights ``w`` (lower value at ties of the weighted CDF)."""
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order]) / w.sum()
    return float(x[order][min(np.searchsorted(cw, q), len(x) - 1)])


def _kernel_cov(u: np.ndarray, w: np.ndarray, scale: float) -> np.ndarray:
    d = u.shape[1]
    cov = np.atleast_2d(np.cov(u.T, aweights=w)) * scale
    return cov + np.eye(d) * 1e-8  # keeps it positive definite when a coordinate has collapsed


def _inside_mass(mu: np.ndarray, chol: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per particle, the kernel's mass inside the unit box, from fixed standard normals ``z``."""
    steps = z @ chol.T                                              # (M, d)
    out = np.empty(len(mu))
    for i, m in enumerate(mu):  # one particle at a time keeps memory at M x d
        x = m + steps
        out[i] = np.mean(np.all((x >= 0) & (x <= 1), axis=1))
    return np.maximum(out, 1.0 / len(z))


def run(simulate: Callable[[np.ndarray, np.ndarray], np.ndarray], priors: list[Prior], settings: Settings,
        rng: np.random.Generator, log: Callable[[str], None] | None = None) -> Result:
    """ABC-SMC.  ``simulate(values, sim_ids)`` returns one distance per row of ``values``
    ((B, d), in each prior's unit); ``sim_ids`` (B,) are unique simulation numbers (0, 1, ...)
    from which the caller seeds each simulation."""
    d, N, s = len(priors), settings.n_particles, settings
    sim_count = 0
    gens: list[dict] = []

    def to_values(u: np.ndarray) -> np.ndarray:
        return np.column_stack([p.to_value(u[:, k]) for k, p in enumerate(priors)])

    def log_prior(u: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.sum([p.logpdf_unit(u[:, k]) for k, p in enumerate(priors) if mask[k]], axis=0)

    def simulate_round(u: np.ndarray) -> np.ndarray:
        nonlocal sim_count
        ids = np.arange(sim_count, sim_count + len(u))
        sim_count += len(u)
        return np.asarray(simulate(to_values(u), ids), dtype=float)

    # generation 0: the prior
    u = np.column_stack([p.sample_unit(rng, N) for p in priors])
    dist = simulate_round(u)
    w = np.full(N, 1.0 / N)
    gens.append({"generation": 0, "epsilon": math.inf, "simulations": N, "accepted": N, "acceptance": 1.0,
                 "ess": effective_sample_size(w), "median_distance": float(np.median(dist))})
    if log:
        log(f"abc: generation 0 (prior): {N} simulations, median distance {np.median(dist):.3f}")
    stop = "generations"
    mv = np.array([p.informed for p in priors], dtype=bool)   # coordinates the kernel moves
    if not mv.any():
        mv[:] = True
    fresh = [k for k in range(d) if not mv[k]]
    for g in range(1, s.generations):
        eps = weighted_quantile(dist, w, s.quantile)
        um = u[:, mv]
        cov = _kernel_cov(um, w, s.kernel_scale)
        chol = np.linalg.cholesky(cov)
        inv = np.linalg.inv(cov)
        mass = _inside_mass(um, chol, rng.standard_normal((s.mc_draws, int(mv.sum()))))
        acc_u, acc_d, n_sim_g = [], [], 0
        budget_hit = False
        while sum(len(a) for a in acc_u) < N:
            if sim_count + s.round_size > s.max_simulations:
                budget_hit = True
                break
            props = np.empty((0, int(mv.sum())))
            while len(props) < s.round_size:  # truncated kernel: redraw moves that leave the box
                parent = rng.choice(N, size=s.round_size, p=w)
                cand = um[parent] + rng.standard_normal((s.round_size, int(mv.sum()))) @ chol.T
                props = np.vstack([props, cand[np.all((cand >= 0) & (cand <= 1), axis=1)]])
            full = np.empty((s.round_size, d))
            full[:, mv] = props[: s.round_size]
            for k in fresh:  # parameters the record cannot inform: proposed from their prior
                full[:, k] = priors[k].sample_unit(rng, s.round_size)
            dd = simulate_round(full)
            n_sim_g += len(full)
            ok = dd <= eps
            acc_u.append(full[ok])
            acc_d.append(dd[ok])
        n_acc = sum(len(a) for a in acc_u)
        if budget_hit:
            stop = f"simulation budget ({s.max_simulations}) reached in generation {g}"
            if log:
                log(f"abc: {stop}; keeping generation {g - 1}")
            break
        new_u = np.vstack(acc_u)[:N]
        new_d = np.concatenate(acc_d)[:N]
        # importance weights: prior / mixture of truncated Gaussian kernels around the old
        # particles, on the moved coordinates (the others' prior proposal cancels their prior)
        diff = new_u[:, None, mv] - um[None, :, :]                       # (N, N_old, d_moved)
        q = np.einsum("ijk,kl,ijl->ij", diff, inv, diff)
        kern = np.exp(-0.5 * q) / mass[None, :]                            # common factors cancel
        denom = kern @ w
        new_w = np.exp(log_prior(new_u, mv)) / np.maximum(denom, 1e-300)
        new_w /= new_w.sum()
        acceptance = n_acc / n_sim_g
        u, dist, w = new_u, new_d, new_w
        gens.append({"generation": g, "epsilon": eps, "simulations": n_sim_g, "accepted": int(min(n_acc, N)),
                     "acceptance": acceptance, "ess": effective_sample_size(w), "median_distance": float(np.median(dist))})
        if log:
            log(f"abc: generation {g}: epsilon {eps:.3f}, {n_sim_g} simulations, acceptance {acceptance:.2f}, ESS {effective_sample_size(w):.0f}")
        if acceptance < s.min_acceptance:
            stop = f"acceptance {acceptance:.3f} below {s.min_acceptance}"
            break
    return Result(priors, to_values(u), w, dist, gens, sim_count, stop)
