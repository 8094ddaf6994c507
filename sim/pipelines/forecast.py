"""The default forecast: an ensemble of one scenario under one policy, reduced to the
tables a planner reads (forecast quantiles, target reachability), fan charts, and a
summary — each file written atomically, the folder as a whole by the run-folder protocol
(:mod:`sim.pipelines.folders`).  Under the mixture of batch-size rules it also writes
variance_by_rule.csv; with ``batch_curve=true`` reachability_by_batch.csv and its figure."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from sim.analysis import batch_curve as bc
from sim.analysis import targets
from sim.analysis.tables import forecast_table
from sim.config import history, labels, posterior
from sim.core import government
from sim.core.levers import lever_dates
from sim.core.schema import RunConfig
from sim.core.tiers import recorded_batches
from sim.pipelines import folders
from sim.pipelines.provenance import _git_commit, _versions
from sim.run import atomic, ensemble


def observed(config: RunConfig) -> pd.DataFrame:
    """Published points for this scenario, mapped onto tiers and metrics, with the area each
    counts (``region``: '' the view's own, from its data file; an area's series,
    ``history.<i>.region``, from the area's shipped file)."""
    path = config.data.path or history.default_history_path(config.scenario.name)
    return history.points_by_area(path, [dataclasses.asdict(m) for m in config.scenario.history], int(config.scenario.origin[:4]))


def history_for_target(obs: pd.DataFrame, target: dict, window_start: str) -> pd.DataFrame:
    """Observed points comparable with a target's series: stock points of its tiers for
    stock targets; batch counts cumulated from the window start for cumulative_new; the points
    of the target's own area only (``region``: Shandong's for a Shandong target of the national view)."""
    sub = obs[obs["tier"].isin(target["tiers"]) & (obs["region"] == target.get("region", "")
                                                   if "region" in obs else True)]
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


def config_record(config: RunConfig) -> dict:
    """The config as summary.json records it: the government's fitted draws (hundreds of
    numbers, from the file ``government.fit`` names) summarised by rule (log evidence, draws)."""
    d = dataclasses.asdict(config)
    d["government"]["posterior"] = {r: {"log_evidence": e.get("log_evidence"), "n_draws": len(e.get("draws") or [])}
                                    for r, e in config.government.posterior.items()}
    return d


def government_record(config: RunConfig) -> dict:
    """What sized the batches after the origin: the rule, the fit used, the mixture's weights and
    how MIIT's batches reached the region (``government.allocation``; the region's shares)."""
    gov = config.government
    shares = {tier: round(share, 4) if share is not None else "own_record (no recorded batch)"
              for tier, (_, share) in government.national_shares(gov.national, config.scenario).items()}
    return {"rule": gov.rule, "fit": gov.fit, "prior_weights": dict(gov.weights),
            "weights": {r: round(w, 4) for r, w in government.mixture_weights(gov.weights, gov.posterior).items()},
            "allocation": gov.allocation if gov.national else "own_record (the nation, or allocation=own_record)",
            "region_shares": shares}


def same_run(config: RunConfig) -> Callable[[Path], bool]:
    """Whether a folder holds a forecast of this very configuration (its summary.json's
    ``config``): such a folder may be replaced by the re-run (same config and seed: the same
    tables), any other is refused."""

    def same(folder: Path) -> bool:
        want = json.loads(json.dumps(config_record(config), default=str))  # as summary.json holds it
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
    every = ensemble.trajectories(config, records, areas=True)  # the view's area, then each of its regions and provinces
    traj = every[every["region"] == ensemble.view_area(config)].reset_index(drop=True)  # what the targets are counted on
    batch = ensemble.batches(config, records)
    tgts = [dataclasses.asdict(t) for t in config.scenario.targets]
    fc = forecast_table(every)
    counts = ensemble.target_counts(config, records)  # each target's own count (firms or recognitions)
    reach = targets.reachability_table(traj, tgts, batch, origin=config.scenario.origin, counts=counts,
                                       rules=ensemble.rules(config, records))
    obs = observed(config)
    rules = ensemble.rules(config, records)
    rule_var = targets.variance_by_rule(traj, tgts, rules, counts) if rules["rule"].nunique() > 1 else None
    curve, marks, curve_summary = (None, {}, {})
    if config.batch_curve:
        t1 = time.perf_counter()
        curve, marks = batch_curve_runs(config, reach)
        curve_summary = {"seconds": round(time.perf_counter() - t1, 1), "ensembles": int(len(curve)),
                         **{n: {"batch_for_p50": bc.crossing(g, 0.5), "batch_for_p90": bc.crossing(g, 0.9)}
                            for n, g in curve.groupby("target", sort=False)}}
    tables = {"trajectories": every, "batches": batch, "forecast": fc, "reachability": reach, "observed": obs}
    if rule_var is not None:
        tables["variance_by_rule"] = rule_var
    if curve is not None:
        tables["reachability_by_batch"] = curve
    figures: list[str] = []
    if folder is not None:
        out = folder.path
        atomic.write_parquet(every, out / "trajectories.parquet")
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
            "government": government_record(config),
            "config": config_record(config),
        }
        if rule_var is not None:
            atomic.write_csv(rule_var, out / "variance_by_rule.csv")
            summary["variance_by_rule"] = _between_shares(rule_var)
        if curve is not None:
            atomic.write_csv(curve, out / "reachability_by_batch.csv")
            summary["batch_curve"] = curve_summary
            if config.plots:
                from sim.plots.charts import batch_curve_chart

                paths = batch_curve_chart(curve, out / "batch_curve", labels={t["name"]: t["label"] for t in tgts}, marks=marks,
                                          title=f"{config.scenario.label}: P(target | firms recognised per year after {config.scenario.origin})",
                                          footer=f"tiersim; {len(records)} replicates per point on common random numbers, scale {config.scenario.scale:g}, "
                                                 f"seed {config.seed}; other tiers by government.rule={config.government.rule}")
                summary["figures"] += [str(folder.public(p)) for p in paths]
        atomic.write_json(summary, out / "summary.json")
    tables["figures"] = pd.DataFrame({"path": figures})
    return tables


def _between_shares(rule_var: pd.DataFrame) -> dict[str, float]:
    """Per target: the share of the count's variance at the deadline that is between rules."""
    b = rule_var[rule_var["rule"] == "between"]
    return {str(r.target): (None if pd.isna(r.share_of_variance) else round(float(r.share_of_variance), 4)) for r in b.itertuples()}


def _last_recorded(config: RunConfig, tier: str) -> float:
    """The tier's last published batch up to the origin (firms), 0 if none."""
    kept = recorded_batches(config.scenario.tiers[tier].capacity, config.scenario.origin)
    return kept[max(kept)] if kept else 0.0


def curve_targets(config: RunConfig) -> list:
    """The targets a batch curve is drawn for: every target whose tiers are all enabled.  A quota
    tier's batch is set to the grid's size; a tier without a quota (criteria, selection rate) is
    capped at it (``TierModel.batch_capacity``), so its curve flattens where the pool binds."""
    sc = config.scenario
    return [t for t in sc.targets if all(x in sc.tiers and sc.tiers[x].enabled for x in t.tiers)]


def batch_curve_runs(config: RunConfig, reach: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """P(target | batch size per year): per target, the ensemble at each batch size of the grid
    (sim.analysis.batch_curve.grid of the pace needed), the target's tiers imposed at that size
    every year after the origin (``government.imposed``, split among its tiers by their last
    recorded batches), every other tier by the governments' rule; the same seed and replicates
    (common random numbers).  Returns the table and the marks of the figure."""
    origin_year = int(config.scenario.origin[:4])
    rows, marks = [], {}
    for t in curve_targets(config):
        row = reach[(reach["rule"] == "all") & (reach["target"] == t.name)].iloc[0]
        last = {x: _last_recorded(config, x) for x in t.tiers}
        pace = bc.base_pace(float(row["needed_per_year"]), sum(last.values()))
        years = range(origin_year + 1, int(t.deadline[:4]) + 1)

        def point(v: float, t=t, last=last, years=years, pace=pace) -> dict:
            per = bc.split(v, list(t.tiers), last)
            cfg = copy.deepcopy(config)
            cfg.government.imposed = {**cfg.government.imposed, **{x: {y: per[x] for y in years} for x in t.tiers}}
            recs = ensemble.run_ensemble(cfg)
            tr, cn = ensemble.trajectories(cfg, recs), ensemble.target_counts(cfg, recs)
            r = targets.reachability_table(tr, [dataclasses.asdict(t)], None, origin=config.scenario.origin, counts=cn)
            return bc.curve_rows(t.name, v, pace, r[r["rule"] == "all"].iloc[0])

        pts = [point(v) for v in bc.grid(pace)]
        for m in bc.EXTEND:  # a curve short of P ~ 1 at 3x the pace: larger batches (a binding pool keeps it short)
            if not bc.needs_extension(pts[-1]["p_reached"]):
                break
            pts.append(point(float(round(m * pace))))
        rows += pts
        marks[t.name] = {"need": float(row["needed_per_year"]), "last": float(sum(last.values()))}
    return pd.DataFrame(rows, columns=bc.COLUMNS), marks
