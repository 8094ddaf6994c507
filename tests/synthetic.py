"""Helpers shared by the tests: synthetic result tables, firm-state snapshots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.core.firms import SCHEMA

TIERS = ["srdi", "little_giant", "single_champion"]


def make_traj(n_rep: int = 10, n_months: int = 24, start: str = "2021-01", window_open: int = 6) -> pd.DataFrame:
    """stock = 10*r + m + 100*j (+50 per tier in 'boost'); recognised = r + j;
    cumulative_new = recognised * (m - window_open + 1) from month index ``window_open`` on.
    So summed little_giant + single_champion stock = 20r + 2m + 300 (+100 in boost)."""
    dates = pd.period_range(start, periods=n_months, freq="M").strftime("%Y-%m")
    frames = []
    for scen, off in (("base", 0), ("boost", 50)):
        r, m, j = (a.ravel() for a in np.meshgrid(np.arange(n_rep), np.arange(n_months), np.arange(len(TIERS)), indexing="ij"))
        rec = r + j
        frames.append(pd.DataFrame({
            "scenario": scen, "policy": "status_quo", "replicate": r, "date": np.asarray(dates)[m],
            "tier": np.asarray(TIERS)[j], "stock": 10 * r + m + 100 * j + off, "recognised": rec,
            "rereviewed": 0, "revoked": 0, "exited": 0,
            "cumulative_new": np.where(m >= window_open, rec * (m - window_open + 1), 0),
        }))
    return pd.concat(frames, ignore_index=True)


def snapshot(m) -> dict[str, np.ndarray]:
    """Copies of every firm array of model ``m`` over rows in use (plus titles)."""
    f, n = m.firms, m.firms.n
    out = {name: getattr(f, name)[:n].copy() for name in SCHEMA}
    out["titles"] = f.titles[:, :n].copy()
    return out
