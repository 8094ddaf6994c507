"""Hydra callbacks (registered in configs/config.yaml under ``hydra.callbacks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.run.sweep import JOBS_DIR, TABLE, collect


class CollectSweep(Callback):
    """At the end of a ``--multirun``, aggregate the jobs' outcome files
    (``<sweep dir>/jobs/*.parquet``) into ``<sweep dir>/sweep.parquet`` and ``sweep.csv``
    (the same as ``python -m experiments.collect <sweep dir>``).  Does nothing for a
    multirun whose jobs wrote no job files."""
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:

        sweep_dir = Path(config.hydra.sweep.dir)
        if not any((sweep_dir / JOBS_DIR).glob("*.parquet")):
            return
        table = collect(sweep_dir)
        print(f"sweep table: {sweep_dir / TABLE} ({len(table)} rows, {table['job'].nunique()} jobs)", flush=True)
