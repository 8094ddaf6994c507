"""Heatmap of P(reached) over two swept parameters, read from a sweep's aggregated table.

    python -m experiments.heatmap <sweep_dir | table.parquet | table.csv> \\
        x=policy.financing.intensity y=policy.talent.intensity target=little_giant_new_2025 [value=p|count] [out=<base>]

Reads the table (a sweep directory through ``sweep.collect``), never runs the model; writes
``<out>.png`` and ``<out>.svg`` (default: ``heatmap_<target>`` next to the table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from experiments._schema import report
from sim.plots.charts import heatmap
from sim.run import sweep

USAGE = "usage: python -m experiments.heatmap <sweep_dir|table.parquet|table.csv> x=<column> y=<column> target=<name> [value=p|count] [out=<path base>]"
KEYS = ("x", "y", "target", "value", "out")


def read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        return sweep.collect(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"table: {str(path)!r} is not allowed (allowed: a sweep directory, a .parquet or a .csv file)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [a for a in args if "=" not in a]
    kv = dict(a.split("=", 1) for a in args if "=" in a)
    try:
        if len(paths) != 1:
            raise ValueError(f"table: {paths!r} is not allowed (allowed: exactly one sweep directory or table)")
        for k in kv:
            if k not in KEYS:
                raise ValueError(f"{k}: unknown key (allowed: {', '.join(KEYS)})")
        for k in ("x", "y", "target"):
            if k not in kv:
                raise ValueError(f"{k}: missing (allowed: a column of the sweep table)")
        value = kv.get("value", "p")
        if value not in ("p", "count"):
            raise ValueError(f"value: {value!r} is not allowed (allowed: p, count)")
        src = Path(paths[0])
        if not src.exists():
            raise ValueError(f"table: {str(src)!r} does not exist")
        table = read_table(src)
        target = kv["target"].split("__", 1)[-1]
        stem = f"heatmap_{target}" if value == "p" else f"heatmap_count_{target}"
        base = kv.get("out") or str((src if src.is_dir() else src.parent) / stem)
        figs = heatmap(table, kv["x"], kv["y"], target, base, value=value)
    except (OSError, ValueError) as e:  # ValueError includes UserError; one line, the usage in --help's place
        return report(e)
    for f in figs:
        print(f"figure: {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
