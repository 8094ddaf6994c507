"""SHA-256 of the forecast tables of three runs (national at scale 0.05, Shandong and
Liaocheng at full size, 4 replicates each, seed 1, default posterior): the byte-identity
check of refactorings that must not change what the model computes.

    .venv/bin/python scripts/output_hashes.py [--levers] > before.txt   # on the old commit
    .venv/bin/python scripts/output_hashes.py | diff before.txt -
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import sim

RUNS = [("national", "baseline", ["scenario.scale=0.05"]), ("shandong", "baseline", []), ("liaocheng", "baseline", [])]
# every lever at work (Shandong, 2 replicates each): a refactoring of the levers shows here
POLICIES = ("no_policy", "financing_plus", "talent_plus", "land_plus", "innovation_plus", "chain_length_plus",
            "library_plus", "services_plus")
FILES = ("forecast.csv", "reachability.csv", "batches.csv", "trajectories.parquet")


def main() -> None:
    runs = [(sc, po, ex, 4) for sc, po, ex in RUNS]
    if "--levers" in sys.argv:
        runs += [("shandong", po, [], 2) for po in POLICIES]
    for scenario, policy, extra, n in runs:
        with tempfile.TemporaryDirectory() as d:
            sim.forecast(scenario=scenario, policy=policy, n_replicates=n, seed=1,
                         overrides=["plots=false", "progress=off", *extra], out_dir=d)
            for name in FILES:
                digest = hashlib.sha256((Path(d) / name).read_bytes()).hexdigest()
                print(f"{scenario} {policy} {name} {digest}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
