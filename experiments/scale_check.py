"""Do the calibrated counts depend on the scale?  Runs the calibration observations'
model values (default parameters, real units) at several scales over a few replicates.

    python -m experiments.scale_check scenario=national            # scales 0.05 and 0.2, 3 replicates
    python -m experiments.scale_check scenario=shandong scales=0.2,0.66 reps=4

Prints per observation the mean (sd) at each scale and the relative difference of the means
against the larger scale's replicate noise; writes results/calibration/scale_check_<scenario>.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from sim import calibration, results
from sim.compose import compose
from sim.config import ConfigError


def main(argv: list[str]) -> None:
    scales, reps, overrides = (0.05, 0.2), 3, []
    for a in argv:
        if a.startswith("scales="):
            scales = tuple(float(x) for x in a.split("=", 1)[1].split(","))
        elif a.startswith("reps="):
            reps = int(a.split("=", 1)[1])
        else:
            overrides.append(a)
    try:
        cfg = compose(overrides=["calibration=", *overrides])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    table = calibration.scale_check(cfg, scales, reps)
    wide = table.pivot_table(index=["series", "year", "observed"], columns="scale", values=["mean", "sd"]).reset_index()
    lo, hi = min(scales), max(scales)
    wide["rel_diff"] = (wide[("mean", lo)] - wide[("mean", hi)]) / wide[("mean", hi)]
    # noise of a difference of two means of `reps` replicates
    wide["z"] = (wide[("mean", lo)] - wide[("mean", hi)]) / np.sqrt((wide[("sd", lo)] ** 2 + wide[("sd", hi)] ** 2) / reps + 1e-9)
    print(wide.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    out = Path("results/calibration") / f"scale_check_{cfg.scenario.name}.csv"
    results.write_csv(table, out)
    print(f"results: {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
