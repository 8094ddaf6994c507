"""The default forecast: an ensemble of one scenario under one policy, reduced to the
tables a planner reads (forecast quantiles, target reachability), fan charts, and a
summary — each file written atomically, the folder as a whole by the run-folder protocol
(:mod:`sim.pipelines.folders`)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from sim.analysis import targets
from sim.analysis.tables import forecast_table
from sim.config import history, labels, posterior
from sim.core.levers import lever_dates
from sim.core.schema import RunConfig
from sim.pipelines import folders
from sim.pipelines.provenance import _git_commit, _versions
from sim.run import atomic, ensemble


def observed(config: RunConfig) -> pd.DataFrame:
    """Published points for this scenario, mapped onto tiers and metrics."""
    path = config.data.path or history.default_history_path(config.scenario.name)
    h = history.until(history.load_history(path), int(config.scenario.origin[:4]))
    return history.observed_points(h, [dataclasses.asdict(m) for m in config.scenario.history])


def history_for_target(obs: pd.DataFrame, target: dict, window_start: str) -> pd.DataFrame:
    """Observed points comparable with a target's series: stock points of its tiers for
    stock targets; batch counts cumulated from the window start for cumulative_new."""
    sub = obs[obs["tier"].isin(target["tiers"])]
    if target["metric"] == "stock":
        pts = sub[sub["metric"] == "stock"]
        if len(target["tiers"]) > 1:  # a single published figure for a sum of tiers
            pts = pts[pts["unit_note"].astype(str) != ""] if "unit_note" in pts else pts
        return pts.groupby("date", as_index=False)["value"].sum().assign(label="published")
    new = sub[(sub["metric"] == "batch_new") & (sub["date"] >= window_start)].sort_values("date")
    if new.empty:
        return new.assign(label=[])[["date", "value", "label"]]
    per_date = new.groupby("date", as_index=False)["value"].sum()
    return per_date.assign(value=per_date["value"].cumsum(), label="published (cumulated)")


def same_run(config: RunConfig) -> Callable[[Path], bool]:
    """Whether a folder holds a forecast of this very configuration (its summary.json's
    ``config``): such a folder may be replaced by the re-run (same config and seed: the same
    tables), any other is refused."""

    def same(folder: Path) -> bool:
        want = json.loads(json.dumps(dataclasses.asdict(config), default=str))  # as summary.json holds it
        try:
            return json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("config") == want
        except (OSError, ValueError, AttributeError):
            return False

    return same


def forecast(config: RunConfig, out_dir: str | Path | folders.RunFolder | None = None, records: list | None = None,
             overwrite: bool = False, overrides: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """Run the ensemble (unless its ``records`` are given) and (if ``out_dir``) write
    trajectories.parquet, batches.csv, forecast.csv, reachability.csv, one fan chart per
    target (PNG+SVG) and summary.json.  Returns the tables.

    ``overrides``: the command-line overrides the config was composed with; those that
    change the policy or the parameters label the run (``sim.config.labels``: chart titles,
    ``summary.json``'s ``policy_label`` and ``what_if``).

    A path ``out_dir`` is reserved before the run and appears, complete, when the run ends
    (:mod:`sim.pipelines.folders`); one holding another run's files is refused (ConfigError)
    unless ``overwrite`` — the previous folder of this very configuration is replaced."""
    with folders.run_folder(out_dir, overwrite=overwrite, same=same_run(config)) as folder:
        return _forecast(config, folder, records, overrides)


def _forecast(config: RunConfig, folder: folders.RunFolder | None, records: list | None,
              overrides: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    used = posterior.describe_use(config)  # a bad posterior fails here, in one line
    records = ensemble.run_ensemble(config) if records is None else records
    t_run = time.perf_counter() - t0
    traj = ensemble.trajectories(config, records)
    batch = ensemble.batches(config, records)
    tgts = [dataclasses.asdict(t) for t in config.scenario.targets]
    fc = forecast_table(traj)
    counts = ensemble.target_counts(config, records)  # each target's own count (firms or recognitions)
    reach = targets.reachability_table(traj, tgts, batch, origin=config.scenario.origin, counts=counts,
                                       rules=ensemble.rules(config, records))
    obs = observed(config)
    tables = {"trajectories": traj, "batches": batch, "forecast": fc, "reachability": reach, "observed": obs}
    figures: list[str] = []
    if folder is not None:
        out = folder.path
        atomic.write_parquet(traj, out / "trajectories.parquet")
        atomic.write_csv(batch, out / "batches.csv")
        atomic.write_csv(fc, out / "forecast.csv")
        atomic.write_csv(reach, out / "reachability.csv")
        if config.plots:
            from sim.plots import fan as plots

            for t, row in zip(tgts, reach[reach["rule"] == "all"].itertuples()):
                base = out / f"fan_{t['name']}"
                title = f"{config.scenario.label}: {t['label']} — {labels.title(config.policy.name, config.policy.label, overrides)}"
                paths = plots.fan_chart(plots.bands_for_target(traj, t, counts), t, history=history_for_target(obs, t, config.scenario.window_start),
                                        lever_starts=lever_dates(config.policy), p_reached=(row.p_reached, row.p_low, row.p_high),
                                        title=title, out_base=base)
                figures += [str(folder.public(p)) for p in paths]  # where they will be once the folder is in place
        summary = {
            "scenario": config.scenario.name, "policy": config.policy.name,
            "policy_label": labels.label(config.policy.name, overrides), "what_if": labels.changes(overrides),
            "seed": config.seed,
            "n_replicates": len(records), "scale": config.scenario.scale,
            "timings_s": {"ensemble": round(t_run, 3), "total": round(time.perf_counter() - t0, 3)},
            "calibration": used,
            "fiscal_cost": ensemble.fiscal_cost(config, records),
            "targets": reach.loc[reach["rule"] == "all", ["target", "p_reached", "p_low", "p_high", "count_p50"]].to_dict(orient="records"),
            "figures": figures, "versions": _versions(), "git_commit": _git_commit(),
            "config": dataclasses.asdict(config),
        }
        atomic.write_json(summary, out / "summary.json")
    tables["figures"] = pd.DataFrame({"path": figures})
    return tables
