"""Result tables (forecast quantiles, tier sums) and crash-safe atomic file writers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from sim.core.record import tier_sum
from sim.core.schema import TIERS

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# forecast metric name -> trajectories column
METRICS = {"stock": "stock", "new": "recognised", "cumulative_new": "cumulative_new"}
SUM_COLUMNS = ["stock", "recognised", "cumulative_new"]


# --------------------------------------------------------------------------- tables
def forecast_table(traj: pd.DataFrame) -> pd.DataFrame:
    """Across-replicate mean, quantiles (numpy 'linear') and replicate count per
    (scenario, policy[, region], date, tier, metric), metric in ('stock', 'new', 'cumulative_new');
    ``region`` when the trajectories name theirs (a view's areas, sim.run.ensemble.trajectories)."""
    keys = ["scenario", "policy", *(["region"] if "region" in traj.columns else []), "date", "tier"]
    long = (
        traj[[*keys, "replicate", *METRICS.values()]]
        .rename(columns={v: k for k, v in METRICS.items()})
        .melt(id_vars=[*keys, "replicate"], value_vars=list(METRICS), var_name="metric")
    )
    long["metric"] = pd.Categorical(long["metric"], categories=list(METRICS))
    grouped = long.groupby([*keys, "metric"], observed=True, sort=True)
    g = grouped["value"]
    q = g.quantile(list(QUANTILES), interpolation="linear").unstack()
    q.columns = [f"p{round(x * 100):02d}" for x in q.columns]
    out = pd.concat(
        [g.mean().rename("mean"), q, grouped["replicate"].nunique().rename("n_replicates")], axis=1
    ).reset_index()
    out["metric"] = out["metric"].astype(str)
    return out


def sum_tiers(traj: pd.DataFrame, tiers: Iterable[str] | str) -> pd.DataFrame:
    """Per (scenario, policy, replicate, date): stock, recognised and cumulative_new summed over
    ``tiers`` (``sim.core.record.tier_sum``: in TIERS order, compensated — the sum sweep outcomes and
    calibration summaries use). Raises ValueError for tiers absent from ``traj``."""
    tiers = [tiers] if isinstance(tiers, str) else list(tiers)
    missing = sorted(set(tiers) - set(traj["tier"].unique()))
    if missing:
        raise ValueError(f"tiers not in trajectories: {', '.join(missing)}")
    sub = traj[traj["tier"].isin(tiers)]
    g = sub.groupby(["scenario", "policy", "replicate", "date"], sort=True)
    out = g.size().index.to_frame(index=False)
    rows, cols = g.ngroup().to_numpy(), sub["tier"].map({t: k for k, t in enumerate(TIERS)}).to_numpy()
    for c in SUM_COLUMNS:
        wide = np.full((len(out), len(TIERS)), np.nan)
        wide[rows, cols] = sub[c].to_numpy(dtype=np.float64)
        out[c] = tier_sum(wide)
    return out
