"""The national record MIIT sizes its batches from in a regional view (``government.allocation=
past_share``; issue 13): the national scenario's recorded little-giant and champion batches
and the national targets and plans, read from ``configs/scenario/national.yaml`` (their
source rows are in sim/data/national_to_2021.csv) and attached to the config as
``government.national`` when it is validated — so a run folder's config carries what its
Ministry saw, and the core never reads files.

Plain data (firms, real units; years as ints): ``{"source": ..., "tiers": {tier: {"batch_month":
m, "quota_by_year": {year: firms}}}, "targets": [TargetConfig fields, ...]}``.  The record is
cut at the run's ``scenario.origin`` where it is used (sim/core/agents.py ``Ministry``), so a
back-test ``until=Y`` sees the national batches to Y only."""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path

from omegaconf import OmegaConf

from sim.config.paths import config_dir
from sim.core.agents import Ministry, Province
from sim.core.schema import ConfigError, RunConfig, TargetConfig, TierSchedule

NATIONAL_SCENARIO = "national"  # configs/scenario/<this>.yaml


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict:
    """The Ministry's tiers (recorded batches, batch month) and targets from a scenario file."""
    try:
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # noqa: BLE001 - any YAML failure is one line
        raise ConfigError(f"government.national: {path}: cannot be read ({type(e).__name__}) (allowed: the national scenario YAML)") from None
    tiers = {}
    for tier in Ministry.TIERS:
        sched = (data.get("tiers") or {}).get(tier) or {}
        cap = sched.get("capacity") or {}
        tiers[tier] = {"batch_month": int(sched.get("batch_month", 12)),
                       "quota_by_year": {int(y): float(q) for y, q in (cap.get("quota_by_year") or {}).items()}}
    names = {f.name for f in dataclasses.fields(TargetConfig)}
    targets = []
    for t in list(data.get("targets") or []) + list(data.get("plan_targets") or []):
        if set(t.get("tiers", ())) & set(Ministry.TIERS) and not t.get("region"):  # an area's target is not MIIT's
            targets.append({k: v for k, v in t.items() if k in names})
    return {"source": f"configs/scenario/{Path(path).name}", "tiers": tiers, "targets": targets}


@functools.lru_cache(maxsize=8)
def _load_programme(path: str, mtime: float, province: str) -> dict:
    """A province's own programmes from its scenario file: the schedules of its programme tiers
    (``Province.PROGRAMME_TIERS``, validated as TierSchedule), the recorded batches of all its
    quota tiers, and its targets and plans on the programme tiers (``region`` = the province)."""
    try:
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # noqa: BLE001 - any YAML failure is one line
        raise ConfigError(f"government.programmes: {path}: cannot be read ({type(e).__name__}) (allowed: a province's scenario YAML)") from None
    scheds = data.get("tiers") or {}
    tiers, records = {}, {}
    for tier, sched in scheds.items():
        cap = (sched or {}).get("capacity") or {}
        if cap.get("quota_by_year"):
            records[tier] = {int(y): float(q) for y, q in cap["quota_by_year"].items()}
        if tier in Province.PROGRAMME_TIERS and (sched or {}).get("enabled", True):
            try:
                tiers[tier] = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(TierSchedule), sched))
            except Exception as e:  # noqa: BLE001
                raise ConfigError(f"government.programmes.{province}.tiers.{tier}: {str(sched)[:60]!r} is not allowed "
                                  f"({type(e).__name__}; allowed: TierSchedule fields, {path})") from None
    names = {f.name for f in dataclasses.fields(TargetConfig)}
    targets = [{**{k: v for k, v in t.items() if k in names}, "region": province}
               for t in list(data.get("targets") or []) + list(data.get("plan_targets") or [])
               if set(t.get("tiers", ())) & set(tiers)]
    return {"source": f"configs/scenario/{Path(path).name}", "tiers": tiers, "records": records, "targets": targets}


def programme(province: str) -> dict:
    """The shipped programmes of ``province`` (configs/scenario/<province>.yaml; a fresh copy)."""
    path = config_dir() / "scenario" / f"{province}.yaml"
    return copy.deepcopy(_load_programme(str(path), path.stat().st_mtime, province))


def _programmes_of(record: dict) -> dict:
    """Carried-over programmes (a run folder's config: JSON keys are strings) with int years;
    one line if they are not such programmes."""
    try:
        out = {}
        for p, prog in record.items():
            tiers = {t: {**s, "capacity": {**s["capacity"], "quota_by_year": {int(y): float(q) for y, q in
                                                                             s["capacity"]["quota_by_year"].items()}}}
                     for t, s in prog["tiers"].items()}
            records = {t: {int(y): float(q) for y, q in r.items()} for t, r in prog["records"].items()}
            out[p] = {"source": prog["source"], "tiers": tiers, "records": records, "targets": [dict(t) for t in prog["targets"]]}
        return out
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(f"government.programmes: {str(record)[:60]!r} is not allowed (allowed: not set by hand; it is "
                          "loaded from configs/scenario/*.yaml)") from None


def national_record(name: str = NATIONAL_SCENARIO) -> dict:
    """The shipped record of MIIT's tiers and targets in ``configs/scenario/<name>.yaml`` (a
    fresh copy; default: the nation's)."""
    path = config_dir() / "scenario" / f"{name}.yaml"
    rec = _load(str(path), path.stat().st_mtime)
    return {"source": rec["source"], "tiers": {t: {"batch_month": v["batch_month"], "quota_by_year": dict(v["quota_by_year"])}
                                               for t, v in rec["tiers"].items()},
            "targets": [dict(t) for t in rec["targets"]]}


def provinces_of(config: RunConfig) -> list[str]:
    """The provinces of a view (``scenario.regions``; a region without a province is one), in
    first-seen order; one entry for a view without regions."""
    regs = config.scenario.regions
    return list(dict.fromkeys((r.province or r.name) for r in regs)) if regs else [config.scenario.name]


def _tiers_of(record: dict, key: str) -> dict:
    """A record's tiers with int years (a run folder's JSON keys are strings); one line naming
    ``key`` if it is not such a record."""
    try:
        return {t: {"batch_month": int(v["batch_month"]), "quota_by_year": {int(y): float(q) for y, q in v["quota_by_year"].items()}}
                for t, v in record.items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(f"{key}: {str(record)[:60]!r} is not allowed (allowed: not set by hand; it is loaded from "
                          "configs/scenario/*.yaml)") from None


def attach(config: RunConfig) -> RunConfig:
    """``config`` with ``government.national`` loaded (in place; also returned) when MIIT
    allocates by past share in a regional view (``scenario.population.region_share`` < 1);
    empty otherwise.  A config that already carries one (derived from an attached config)
    keeps it."""
    gov = config.government
    provinces = provinces_of(config)
    if len(provinces) > 1 and gov.allocation == "own_record":
        raise ConfigError("government.allocation: 'own_record' is not allowed (allowed: past_share or pool in a view of "
                          f"several provinces, {', '.join(provinces)}: MIIT's batch is split among them)")
    if len(provinces) == 1 and gov.allocation == "pool":
        raise ConfigError("government.allocation: 'pool' is not allowed (allowed: past_share or own_record in a view of one "
                          f"province, {provinces[0]}: pool splits MIIT's batch among the provinces of a view of several)")
    if len(provinces) > 1 and gov.allocation == "past_share":
        if not gov.provinces:  # each province with a scenario file of its own (Shandong): its published batches
            gov.provinces = {p: national_record(p)["tiers"] for p in provinces
                             if p != config.scenario.name and (config_dir() / "scenario" / f"{p}.yaml").exists()}
        else:
            gov.provinces = {p: _tiers_of(v, f"government.provinces.{p}") for p, v in gov.provinces.items()}
    else:
        gov.provinces = {}
    if len(provinces) > 1 and gov.province_programmes:
        if not gov.programmes:
            gov.programmes = {p: programme(p) for p in provinces
                              if p != config.scenario.name and (config_dir() / "scenario" / f"{p}.yaml").exists()}
        else:
            gov.programmes = _programmes_of(gov.programmes)
        _check_programmes(config)
    else:
        gov.programmes = {}
    regional = config.scenario.population.region_share < 1.0
    if gov.allocation != "past_share" or not regional:
        gov.national = {}
    elif not gov.national:
        gov.national = national_record()
    else:  # carried over (e.g. a run folder's config, whose JSON keys are strings): years as ints again
        try:
            gov.national = {**gov.national, "tiers": _tiers_of(gov.national["tiers"], "government.national"),
                            "targets": [dict(t) for t in gov.national.get("targets", [])]}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConfigError(f"government.national: {str(gov.national)[:60]!r} is not allowed (allowed: not set by hand; "
                              "it is loaded from configs/scenario/*.yaml)") from None
    return config


def _check_programmes(config: RunConfig) -> None:
    """A programme's tier holds its batch in the view's month where the view runs the tier too
    (one batch a month per tier: the variates drawn stay those of one batch)."""
    for p, prog in config.government.programmes.items():
        for tier, sched in prog["tiers"].items():
            view = config.scenario.tiers.get(tier)
            if view is not None and view.enabled and int(sched["batch_month"]) != view.batch_month:
                raise ConfigError(f"government.programmes.{p}.tiers.{tier}.batch_month: {sched['batch_month']} is not allowed "
                                  f"(allowed: {view.batch_month}, the month of scenario.tiers.{tier}'s batch; {prog['source']})")
