"""Aggregate a sweep directory's job files into its table, by hand:

    python -m experiments.collect results/sweeps/shandong_500

Reads ``<dir>/jobs/*.parquet`` (one file per finished job) and writes ``<dir>/sweep.parquet``
and ``<dir>/sweep.csv`` (one row per job and replicate, parameters next to outcomes) — what
a design sweep and the end of a ``--multirun`` do themselves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments._schema import report
from sim.core.errors import UserError
from sim.run.sweep import TABLE, collect


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", help="a sweep directory (hydra.sweep.dir of a multirun, or sweep.dir of experiments.sweep)")
    args = ap.parse_args(argv)
    try:
        table = collect(args.sweep_dir)
    except (OSError, UserError) as e:  # no such directory, no job files, a file for a directory
        return report(e)
    print(f"sweep table: {Path(args.sweep_dir) / TABLE} ({len(table)} rows, {table['job'].nunique()} jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
