"""One-call Python entry points for notebooks: the same runs as the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.config.compose import compose
from sim.core.schema import ConfigError
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

    Bad input raises :class:`sim.core.errors.UserError` (a ``ConfigError`` for the config, its
    data file and posterior) with the one-line message the command line prints; nothing is
    written.  A lever window clipped to the run is an ``InputWarning`` (Python's warnings).
    """
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"overrides: {overrides!r} is not allowed (allowed: a list of 'key=value' strings)")
    for name, value in (("scenario", scenario), ("policy", policy)):
        if not isinstance(value, str):
            raise ConfigError(f"{name}: {value!r} is not allowed (allowed: a config name, a string)")
    cfg = compose(scenario, policy, [f"n_replicates={n_replicates}", f"seed={seed}", *overrides])
    return _forecast(cfg, out_dir, overwrite=overwrite, overrides=overrides)  # the overrides label a what-if (titles, summary)
