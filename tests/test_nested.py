"""Consistency of the nested model (issue 14): a view that simulates China outside Shandong at
a reduced scale (its firms below the strata bar thinned to a tenth, weighted, with ghosts in
the markets) agrees with the full national view on Shandong's counts and on the nation's, in
distribution, with the default strata bar and with every firm thinned.  Stated tolerance:
every compared mean within 4 standard errors of the difference (10 replicates each, national
at scale 0.04: ~15 s).  The check has power: the
same view without the ghosts (a thinned row's firms missing from the markets) is told apart."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.compose import compose
from sim.core.model import TierModel, simulate
from sim.core.schema import TIERS

SCALE, REL, R = 0.04, 0.1, 10
SRDI, LG = TIERS.index("srdi"), TIERS.index("little_giant")
END_2021 = 71  # 2021-12, months from 2016-01
STATS = ("SD SRDI 2021", "SD LG 2021", "SD SRDI 2025", "SD LG 2025", "SD LG recognised 2021-25", "SD firms alive 2025",
         "national LG 2025", "national SRDI 2025")


def _stats(rec) -> list[float]:
    sd = rec.area("shandong")
    return [sd.stock[END_2021, SRDI], sd.stock[END_2021, LG], sd.stock[-1, SRDI], sd.stock[-1, LG],
            sd.flows[60:, LG, 0].sum(), sd.alive[-1], rec.stock[-1, LG], rec.stock[-1, SRDI]]


def _ensemble(overrides: list[str], n: int = R, ghosts: bool = True) -> np.ndarray:
    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE}", *overrides])
    out = []
    for rep in range(n):
        if ghosts:
            out.append(_stats(simulate(cfg, rep)))
        else:  # the thinned rows' other firms left out of the markets and ranks
            m = TierModel(cfg, rep)
            m.ghosts = None
            out.append(_stats(m.run()))
    return np.array(out)


def _z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    return (a.mean(axis=0) - b.mean(axis=0)) / se


@pytest.fixture(scope="module")
def full():
    return _ensemble([])


@pytest.mark.parametrize("strata", ["400", "1e7"])  # the default bar (large firms kept); every firm thinned
def test_a_shandong_focused_view_agrees_with_the_national_view_within_4_standard_errors(full, strata):
    thin = _ensemble([f"scenario.regions.0.scale={REL}", f"scenario.strata_revenue={strata}"])
    z = _z(thin, full)
    bad = {name: round(float(v), 2) for name, v in zip(STATS, z) if not abs(v) < 4}
    assert not bad, f"z-scores beyond 4: {bad} (thinned means {thin.mean(0).round(0)}, full {full.mean(0).round(0)})"
    assert full[:, 3].mean() > 100  # Shandong holds little giants: the comparison is not of zeros


def test_without_ghosts_the_thinned_view_is_told_apart(full):
    """Power: a thinned view whose thinned rows stand for their firms in the counts but not in
    the markets (each niche short of the thinned firms' revenue) overstates national shares, so
    little giants; the check above tells it from the national view."""
    bare = _ensemble([f"scenario.regions.0.scale={REL}"], n=6, ghosts=False)
    z = _z(bare, full)
    assert (z > 0).sum() >= 6  # more of nearly everything: shares overstated
    assert np.abs(z).max() > 4, dict(zip(STATS, z.round(2)))  # the check above fails it
