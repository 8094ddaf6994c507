"""Heatmap of P(reached) over two swept parameters, read from a sweep's aggregated table.

    python -m experiments.heatmap <sweep_dir | table.parquet | table.csv> \\
        x=policy.financing.intensity y=policy.talent.intensity target=little_giant_new_2025 [value=p|count] [out=<base>]

Reads the table (a sweep directory: its job files through ``sweep.collect(write=False)``, or
its ``sweep.parquet`` when it has no job files), never runs the model and never rewrites the
sweep's tables (``python -m experiments.collect`` is the command that writes them); the
arguments are checked before anything is read.  Writes ``<out>.png`` and ``<out>.svg``
(default: ``heatmap_<target>`` next to the table).
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
    """The sweep table at ``path``, read only: a sweep directory's job files aggregated in
    memory (they are newer than a ``sweep.parquet`` of a sweep still running), else its
    ``sweep.parquet``; a ``.parquet`` or ``.csv`` table as it is."""
    if path.is_dir():
        if any((path / sweep.JOBS_DIR).glob("*.parquet")):
            return sweep.collect(path, write=False)
        if (path / sweep.TABLE).is_file():
            return pd.read_parquet(path / sweep.TABLE)
        raise ValueError(f"table: {str(path)!r} is not allowed (allowed: a sweep directory with {sweep.JOBS_DIR}/*.parquet "
                         f"or {sweep.TABLE})")
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
