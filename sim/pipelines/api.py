"""One-call Python entry points for notebooks: the same runs as the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.config.compose import compose
from sim.pipelines.forecast import forecast as _forecast


def forecast(scenario: str = "shandong", policy: str = "baseline", n_replicates: int = 20, seed: int = 1,
             overrides: list[str] | tuple[str, ...] = (), out_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Run the forecast ensemble and return its tables (trajectories, batches, forecast,
    reachability, observed, figures); also write them to ``out_dir`` if given.

    >>> tables = sim.forecast(scenario="shandong", policy="baseline", n_replicates=100, seed=1)
    >>> tables["reachability"][["target", "p_reached"]]
    """
    cfg = compose(scenario, policy, [f"n_replicates={n_replicates}", f"seed={seed}", *overrides])
    return _forecast(cfg, out_dir, overrides=overrides)  # the overrides label a what-if (titles, summary)
