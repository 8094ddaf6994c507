"""Write the regression baseline (tests/baseline/summary.json): a small Shandong run's
counts — every tier, stock and cumulative new titles at a few dates, per replicate —
plus each target's P(reached) and the batches' pool sizes.  ``tests/test_baseline.py``
compares a fresh run against it value for value.

    .venv/bin/python tests/baseline/refresh.py          # rewrite the baseline
    .venv/bin/python tests/baseline/refresh.py --check  # exit 1 if the model drifted

Refresh only for an intended change of what the model computes, and record it in
CHANGELOG.md (reason; whether the shipped posteriors must be refitted).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATH = HERE / "summary.json"
# Shandong has every tier (innovative .. leading, provincial champions); at a fifth of its size
# and 3 replicates the run takes ~1 s.  The shipped Shandong posterior is drawn from, so a
# change of the posterior draw shows here too.
SCENARIO, POLICY, SEED, N = "shandong", "baseline", 7, 3
OVERRIDES = ["scenario.scale=0.2", "n_jobs=1", "plots=false", "progress=off", "calibration=default"]
DATES = ("2017-12", "2019-12", "2021-12", "2023-12", "2025-12")


def summarise() -> dict:
    """The baseline summary of a fresh run (plain JSON types)."""
    import sim

    tables = sim.forecast(scenario=SCENARIO, policy=POLICY, n_replicates=N, seed=SEED, overrides=OVERRIDES)
    traj = tables["trajectories"]
    traj = traj[traj["date"].isin(DATES)]
    counts = {f"{r.tier}|{r.date}|{r.replicate}": [float(r.stock), float(r.cumulative_new), float(r.recognised), float(r.revoked)]
              for r in traj.itertuples()}
    reach = {r.target: [float(r.p_reached), float(r.count_p50)] for r in tables["reachability"].itertuples() if r.rule == "all"}
    b = tables["batches"]
    batches = {f"{r.tier}|{r.date}|{r.replicate}": [float(r.eligible), float(r.recognised)] for r in b.itertuples()}
    return {"run": {"scenario": SCENARIO, "policy": POLICY, "seed": SEED, "n_replicates": N, "overrides": OVERRIDES,
                    "dates": list(DATES)},
            "tiers": sorted(traj["tier"].unique().tolist()),
            "counts [stock, cumulative_new, recognised, revoked]": counts,
            "reachability [p_reached, count_p50]": reach,
            "batches [eligible, recognised]": batches}


def main(argv: list[str]) -> int:
    fresh = summarise()
    if "--check" in argv:
        old = json.loads(PATH.read_text(encoding="utf-8"))
        same = old == fresh
        print("baseline: unchanged" if same else "baseline: CHANGED (see tests/test_baseline.py for the first difference)")
        return 0 if same else 1
    PATH.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PATH} ({len(fresh['counts [stock, cumulative_new, recognised, revoked]'])} count rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
