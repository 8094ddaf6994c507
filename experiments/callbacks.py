"""Hydra callbacks (registered in configs/config.yaml under ``hydra.callbacks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from experiments._schema import one_line_errors
from sim.run.sweep import JOBS_DIR, TABLE, claim, collect, multirun_record


class CollectSweep(Callback):
    """A ``--multirun``'s sweep folder: one design per folder, and its table at the end.

    When the multirun starts (before any job, before Hydra writes into the folder), the
    folder is claimed for this multirun's overrides (``<sweep dir>/design.json``): the same
    command resumes, another set of overrides fails in one line (exit 2).  Each job is a
    separate call of ``sweep_job``, so this is the one place that sees the whole design.

    When it ends, the jobs' outcome files (``<sweep dir>/jobs/*.parquet``) are aggregated
    into ``<sweep dir>/sweep.parquet`` and ``sweep.csv`` (the same as ``python -m
    experiments.collect <sweep dir>``); nothing is written for a multirun whose jobs wrote
    no job files."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with one_line_errors():
            claim(Path(config.hydra.sweep.dir), multirun_record(list(config.hydra.overrides.task)), "hydra.sweep.dir")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not any((sweep_dir / JOBS_DIR).glob("*.parquet")):
            return
        table = collect(sweep_dir)
        print(f"sweep table: {sweep_dir / TABLE} ({len(table)} rows, {table['job'].nunique()} jobs)", flush=True)
