"""Fit the government's batch-size rules to the recorded batches (sim/analysis/rule_fit.py) and
write government_fit.json (what ``government.fit=<file>`` reads), rules.csv and points.csv; with
``ship`` also the shipped fit every run uses by default (sim/data/posteriors/government.json)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.analysis import calibration, rule_fit
from sim.config import rule_file
from sim.core.schema import RunConfig
from sim.pipelines import folders
from sim.run import atomic


def fit_government(config: RunConfig, out_dir: str | Path | folders.RunFolder | None = None, until: int | None = None,
                   ship: bool = False, command: str = "") -> dict:
    """The fit on ``config``'s recorded batches up to ``until`` (default: the origin year).
    Writes government_fit.json, rules.csv and points.csv to ``out_dir`` (complete or absent);
    ``ship`` also writes the fit to sim/data/posteriors/government.json (atomically)."""
    cfg = calibration.truncate_quotas(config, until) if until else config
    result = rule_fit.fit(cfg)
    result["command"] = command
    with folders.run_folder(out_dir) as folder:
        if folder is not None:
            atomic.write_json(result, folder.path / "government_fit.json")
            atomic.write_csv(rule_fit.rules_table(result), folder.path / "rules.csv")
            atomic.write_csv(pd.DataFrame(result["points"]), folder.path / "points.csv")
    if ship:
        atomic.write_json(result, rule_file.GOVERNMENT_FIT)
    return result
