"""Do the calibrated counts depend on the scale?  Runs the calibration observations'
model values (default parameters, real units) at several scales over a few replicates.

    python -m experiments.scale_check scenario=national            # scales 0.05 and 0.2, 3 replicates
    python -m experiments.scale_check scenario=shandong scales=0.2,0.66 reps=4

Prints per observation the mean (sd) at each scale, its relative difference from the largest
scale's mean, and whether that is within the calibration distance's noise sd at that scale; writes results/calibration/scale_check_<scenario>.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from experiments._schema import one_line_errors
from sim.analysis import calibration
from sim.config import keys
from sim.config.compose import compose
from sim.core.schema import ConfigError
from sim.run import atomic


def _number(key: str, text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{key}: {text!r} is not allowed (allowed: {'numbers, comma-separated' if kind is float else 'an integer >= 1'})") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    scales, reps, overrides = (0.05, 0.2), 3, []
    with one_line_errors():
        for a in argv:
            if a.startswith("scales="):
                scales = tuple(_number("scales", x, float) for x in a.split("=", 1)[1].split(","))
            elif a.startswith("reps="):
                reps = _number("reps", a.split("=", 1)[1], int)
                if reps < 1:
                    raise ConfigError(f"reps: {reps} is not allowed (allowed: an integer >= 1)")
            else:
                overrides.append(a)
        cfg = compose(overrides=["calibration=", *overrides])
        for s in scales:  # each scale as scenario.scale: in range and above the scenario's minimum
            keys.with_values(cfg, {"scenario.scale": s})
        table = calibration.scale_check(cfg, scales, reps)
    ref = max(scales)
    base = table[table["scale"] == ref].set_index(["series", "year"])["mean"]
    table["rel_diff"] = table["mean"].to_numpy() / base.loc[list(zip(table["series"], table["year"]))].to_numpy() - 1.0
    # what the calibration distance tolerates: its noise sd at that scale (published error + small-number noise)
    table["tolerance"] = np.sqrt(cfg.abc.rel_tol ** 2 + 1.0 / np.maximum(table["observed"] * table["scale"], 1.0))
    table["within"] = table["rel_diff"].abs() <= table["tolerance"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    for s in scales:
        if s != ref:
            sub = table[table["scale"] == s]
            print(f"scale {s} vs {ref}: {int(sub['within'].sum())} of {len(sub)} means within the distance's noise sd; "
                  f"median |relative difference| {sub['rel_diff'].abs().median():.3f}")
    out = Path("results/calibration") / f"scale_check_{cfg.scenario.name}.csv"
    atomic.write_csv(table, out)
    print(f"results: {out}")


if __name__ == "__main__":
    main()
