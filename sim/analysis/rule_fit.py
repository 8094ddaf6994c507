"""The batch-size rules fitted to the recorded batch sequences (issue 13: "calibrate the rules'
parameters on the 2016-2021 batches").

Firm-free and fast (well under a second): each rule of sim/core/government.py is asked, at every
recorded batch that has an earlier one, for the batch it would have set from what the government
knew then — the recorded batches before it and the targets announced before the batch month —
and is scored against the batch actually published:

    log(recorded / rule's batch) ~ sigma x Student-t(dof)  (``government.fitting.sigma``, ``dof``)

The rule's parameters are drawn ``n_prior`` times from the priors of ``government.PRIORS`` (the
same draws for every rule); a rule's evidence is its mean likelihood over them, its posterior
the draws weighted by likelihood, resampled systematically to ``n_keep`` draws.  The mixture
(``government.setting``) then weights the rules by prior x evidence (``government.mixture_weights``)
and draws a replicate's parameters from its rule's kept draws.

What the fit cannot see, stated: ``criteria_only`` (its batch is the eligible pool, which needs
the firm model) keeps its prior weight; the eligible-applicant bound of ``tiers.run_batch`` is
not applied (the recorded batches were all below the simulated pools); a stock target's count is
the sum of the recorded batches before the batch (re-review losses before 2022 are ignored: the
first little-giant re-review is in 2022, champions' losses to 2021 were ~100 of 951) and its
expected losses use ``params.recognition.rereview_pass`` as configured.

Units: batches in firms (real units); sigma in log units; evidence as a natural log.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.config.rule_file import FIT_KIND
from sim.core import government, tiers
from sim.core.schema import RunConfig


@dataclasses.dataclass
class Point:
    """One recorded batch the rules are scored on, with what the government knew before it."""

    tier: str
    year: int
    recorded: float            # firms, the published batch
    earlier: dict[int, float]  # the tier's recorded batches before ``year``
    gaps: list                 # government.Gap for each target known then


def _known(config: RunConfig, tier: str, year: int, batch_month: int) -> list:
    """Targets on ``tier`` announced before the batch of ``year`` (month ``batch_month``)."""
    sc = config.scenario
    # the view's own targets: an area's (Shandong's inside the national view) is not the view's government's
    return government.known_targets([t for t in list(sc.targets) + list(sc.plan_targets) if not t.region], tier, year,
                                    batch_month, sc.origin)


def _gap(config: RunConfig, tg, tier: str, year: int, earlier: dict[int, float]) -> government.Gap | None:
    """The gap of target ``tg`` as the government saw it before ``year``'s batch (firms)."""
    return government.record_gap(tg, year, config.scenario.tiers[tier].batch_month, earlier,
                                 config.params.recognition.rereview_pass[tier],
                                 int(round(config.criteria.validity_years * 12)), config.scenario.window_start)


def points(config: RunConfig) -> list[Point]:
    """Every recorded batch up to ``scenario.origin`` of a quota tier that has an earlier one."""
    out = []
    for tier, sched in config.scenario.tiers.items():
        cap = sched.capacity
        if not sched.enabled or cap.rule != "quota":
            continue
        rec = tiers.recorded_batches(cap, config.scenario.origin)
        for year in sorted(rec):
            earlier = {y: float(b) for y, b in rec.items() if y < year}
            if not earlier:
                continue
            gaps = [g for g in (_gap(config, t, tier, year, earlier) for t in _known(config, tier, year, sched.batch_month)) if g]
            out.append(Point(tier, year, float(rec[year]), earlier, gaps))
    return out


def prior_draws(n: int, seed: int) -> pd.DataFrame:
    """``n`` draws of the parameters of ``government.PRIORS`` (columns: their paths)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(government.GOVERNMENT_STREAM,)))
    cols = {}
    for path, shape, lo, hi, _unit, _note in government.PRIORS:
        u = rng.random(n)
        cols[path] = lo * (hi / lo) ** u if shape == "loguniform" else lo + (hi - lo) * u
    return pd.DataFrame(cols)


def predictions(config: RunConfig, rule: str, draws: pd.DataFrame, pts: list[Point]) -> np.ndarray:
    """The batch (firms) ``rule`` sets at each point under each draw: shape (draws, points)."""
    base = government.setting(dataclasses.replace(config.government, rule=rule, posterior={}), config.seed, 0)
    out = np.empty((len(draws), len(pts)))
    for i, row in enumerate(draws.itertuples(index=False)):
        v = dict(zip(draws.columns, row))
        s = dataclasses.replace(base, over_fulfilment=v["target_chasing.over_fulfilment"], floor=v["target_chasing.floor"],
                                max_growth=v["trend.max_growth"], review_capacity=v["review_capacity"])
        for j, pt in enumerate(pts):
            earlier = [pt.earlier[y] for y in sorted(pt.earlier)]
            out[i, j] = government.decide(s, pt.year, earlier, government.review_base(pt.earlier), pt.gaps, pt.tier)
    return out


def log_density(z: np.ndarray, sigma: float, dof: float) -> np.ndarray:
    """Log density of the errors ``z`` (log units) under sigma x Student-t(dof)."""
    return stats.t.logpdf(z / sigma, dof) - math.log(sigma)


def _systematic(w: np.ndarray, n: int) -> np.ndarray:
    """Systematic resampling: ``n`` indices with frequencies proportional to ``w`` (deterministic)."""
    c = np.cumsum(w / w.sum())
    return np.minimum(np.searchsorted(c, (np.arange(n) + 0.5) / n), len(w) - 1)


def fit(config: RunConfig) -> dict:
    """The fit of every scorable rule on ``config``'s recorded batches to ``scenario.origin``
    (``government.fitting``: sigma, n_prior, n_keep, seed).  Returns the fit file's content:
    per rule its prior and posterior weight, log evidence, effective sample size, kept draws
    and their 5/50/95% quantiles, and per point and rule the 5/50/95% of the predicted batch."""
    fc = config.government.fitting
    pts = points(config)
    draws = prior_draws(fc.n_prior, fc.seed)
    rules, rows = {}, []
    for rule in government.RULES:
        params = government.FITTED.get(rule)
        entry: dict = {"prior_weight": float(config.government.weights.get(rule, 0.0)), "log_evidence": None,
                       "ess": None, "draws": [], "quantiles": {}}
        if params is not None and pts:
            pred = np.maximum(predictions(config, rule, draws, pts), 1e-9)
            obs = np.array([p.recorded for p in pts])
            z = np.log(obs)[None, :] - np.log(pred)
            ll = log_density(z, fc.sigma, fc.dof).sum(axis=1)
            top = float(ll.max())
            w = np.exp(ll - top)
            entry["log_evidence"] = top + math.log(float(w.mean()))
            entry["ess"] = float(w.sum() ** 2 / (w ** 2).sum())
            keep = _systematic(w, fc.n_keep)
            kept = draws.iloc[keep][list(params)]
            entry["draws"] = [{k: round(float(v), 6) for k, v in r.items()} for r in kept.to_dict(orient="records")]
            entry["quantiles"] = {k: [round(float(q), 4) for q in kept[k].quantile([0.05, 0.5, 0.95])] for k in params}
            for j, pt in enumerate(pts):
                qs = np.quantile(pred[keep, j], [0.05, 0.5, 0.95])
                rows.append({"tier": pt.tier, "year": pt.year, "recorded": pt.recorded, "rule": rule,
                             "p05": round(float(qs[0]), 1), "p50": round(float(qs[1]), 1), "p95": round(float(qs[2]), 1),
                             "log_ratio_p50": round(float(math.log(pt.recorded / max(qs[1], 1e-9))), 3)})
        rules[rule] = entry
    post = government.mixture_weights(config.government.weights, rules)
    for rule in rules:
        rules[rule]["posterior_weight"] = round(post[rule], 4)
    return {"kind": FIT_KIND, "scenario": config.scenario.name, "origin": config.scenario.origin,
            "sigma": fc.sigma, "dof": fc.dof, "n_prior": fc.n_prior, "n_keep": fc.n_keep, "seed": fc.seed,
            "n_points": len(pts), "points": rows, "rules": rules}


def rules_table(result: dict) -> pd.DataFrame:
    """One row per rule: weights, evidence, ESS and the kept draws' quantiles (tidy)."""
    rows = []
    for rule, e in result["rules"].items():
        row = {"rule": rule, "prior_weight": e["prior_weight"], "posterior_weight": e["posterior_weight"],
               "log_evidence": e["log_evidence"], "ess": e["ess"]}
        for k, (q05, q50, q95) in e["quantiles"].items():
            row.update({f"{k}_p05": q05, f"{k}_p50": q50, f"{k}_p95": q95})
        rows.append(row)
    return pd.DataFrame(rows)


def posterior_of(result: dict) -> dict:
    """What a run carries in ``government.posterior``: per rule its log evidence and draws."""
    return {r: {"log_evidence": e["log_evidence"], "draws": e["draws"]} for r, e in result["rules"].items()}
