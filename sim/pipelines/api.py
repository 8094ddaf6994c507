"""One-call Python entry points for notebooks: the same runs as the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.config.compose import compose
from sim.pipelines.forecast import forecast as _forecast


def forecast(scenario: str = "shandong", policy: str = "baseline", n_replicates: int = 20, seed: int = 1,
             overrides: list[str] | tuple[str, ...] = (), out_dir: str | Path | None = None,
             overwrite: bool = False) -> dict[str, pd.DataFrame]:
    """Run the forecast ensemble and return its tables (trajectories, batches, forecast,
    reachability, observed, figures); also write them to ``out_dir`` if given.

    ``out_dir`` appears complete when the run ends, or not at all (a failure or Ctrl-C leaves
    nothing).  It must be new or empty, or hold this very call's previous run (replaced);
    any other run's folder is refused with a ConfigError before the run, unless
    ``overwrite=True`` (its old files are then replaced as a whole, none left beside the new).

    >>> tables = sim.forecast(scenario="shandong", policy="baseline", n_replicates=100, seed=1)
    >>> tables["reachability"][["target", "p_reached"]]
    """
    cfg = compose(scenario, policy, [f"n_replicates={n_replicates}", f"seed={seed}", *overrides])
    return _forecast(cfg, out_dir, overwrite=overwrite, overrides=overrides)  # the overrides label a what-if (titles, summary)
