"""Validation: a composed mapping -> the typed :class:`~sim.core.schema.RunConfig`, failing with
one line that names the field, the value and what is allowed (``ConfigError``).

* :func:`validate` — the configuration itself: keys, types, ranges, choices, and the rules
  between fields (dates in order, the smallest ``scenario.scale`` a scenario can run at:
  :func:`min_scale`).  In memory only, so it is cheap to repeat (design points, replicates).
* :func:`check_run` — the run as a user asked for it, once per run before anything is written:
  its data file (:func:`sim.config.history.check_file`) and whether every lever that is on
  acts in the run (a window wholly outside it is an error; a partly outside one is clipped,
  with an :class:`~sim.core.errors.InputWarning`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, get_origin, get_type_hints

from sim.config import history, national_record, rule_file
from sim.core.errors import InputWarning
from sim.core.levers import MAX_REGIONS
from sim.core.regions import Regions
from sim.core.schema import (
    DATE_RE,
    GOVERNMENT_RULES,
    TIERS,
    ConfigError,
    HistoryMapping,
    RegionConfig,
    RunConfig,
    ScenarioConfig,
    TargetConfig,
    TierSchedule,
)

# --------------------------------------------------------------------------------------
# Validation: mapping -> dataclasses, one-line errors
# --------------------------------------------------------------------------------------

_NESTED_DICT_TYPES = {("ScenarioConfig", "tiers"): TierSchedule}
_NESTED_LIST_TYPES = {("ScenarioConfig", "targets"): TargetConfig, ("ScenarioConfig", "plan_targets"): TargetConfig,
                      ("ScenarioConfig", "history"): HistoryMapping, ("ScenarioConfig", "regions"): RegionConfig}
_DICT_KEYS = {("ScenarioConfig", "tiers"): TIERS, ("GovernmentConfig", "weights"): GOVERNMENT_RULES[1:],
              ("RecognitionParams", "apply_prob"): TIERS, ("RecognitionParams", "rereview_pass"): TIERS,
              ("RecognitionParams", "rereview_file"): TIERS}


# keys that were removed, (dataclass, field) -> why: an old config that sets one fails with this
# reason instead of a bare "unknown key"
REMOVED = {("GrowthParams", "title_bonus"): "removed in issue 12: a title acts on growth only through its financing relief "
           "(DOMAIN §6), set by params.firms.title_fin_relief"}


def _fail(path: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{path}: {value!r} is not allowed (allowed: {allowed})")


def _check_scalar(path: str, value: Any, typ: type, meta: dict) -> Any:
    if typ is bool:
        if not isinstance(value, bool):
            _fail(path, value, "true or false")
        return value
    if typ in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, value, "a number" if typ is float else "an integer")
        if typ is int and (isinstance(value, float) and not value.is_integer()):
            _fail(path, value, "an integer")
        if isinstance(value, float) and not math.isfinite(value):
            _fail(path, value, "a finite number")
        value = typ(value)
        lo_hi = meta.get("range")
        if lo_hi and not (lo_hi[0] <= value <= lo_hi[1]):
            _fail(path, value, f"{lo_hi[0]} to {lo_hi[1]} {meta.get('unit', '')}".rstrip())
        return value
    if typ is str:
        if not isinstance(value, str):
            _fail(path, value, "a string")
        if meta.get("choices") and value not in meta["choices"]:
            _fail(path, value, ", ".join(meta["choices"]))
        unit = str(meta.get("unit", ""))
        if "YYYY-MM" in unit and not DATE_RE.match(value) and not (value == "" and "'' =" in unit):
            _fail(path, value, "a date 'YYYY-MM'" + (" or ''" if "'' =" in unit else ""))
        return value
    return value


def _check_list(path: str, value: Any, meta: dict) -> list:
    """Items of a numeric list, each within ``item_range``, or score bands [[threshold, points], ...]."""
    if not isinstance(value, list) or not value:
        _fail(path, value, "a non-empty list")
    if meta.get("bands"):
        for i, b in enumerate(value):
            if not (isinstance(b, list) and (len(b) == 2 or (len(b) == 3 and b[2] == "exclusive"))):
                _fail(f"{path}[{i}]", b, "[threshold, points] or [threshold, points, 'exclusive']")
            _check_scalar(f"{path}[{i}][0]", b[0], float, {"range": (-1e9, 1e9)})
            _check_scalar(f"{path}[{i}][1]", b[1], float, {"range": (0.0, 100.0), "unit": "points"})
        if any(value[i][0] <= value[i + 1][0] for i in range(len(value) - 1)):
            _fail(path, value, "bands with strictly decreasing thresholds, highest first")
        return [[float(b[0]), float(b[1]), *b[2:]] for b in value]
    return [_check_scalar(f"{path}[{i}]", v, float, {"range": meta["item_range"], "unit": meta.get("unit", "")}) for i, v in enumerate(value)]


def build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types, ranges and choices."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        _fail(path or cls.__name__, data, f"a mapping of {cls.__name__} fields")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    for k in unknown:
        if (cls.__name__, k) in REMOVED:
            raise ConfigError(f"{path}.{k}: {REMOVED[cls.__name__, k]}" if path else f"{k}: {REMOVED[cls.__name__, k]}")
    if unknown:
        key = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(f"{key}: unknown key (allowed: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        f, typ, sub = fields[name], hints[name], f"{path}.{name}" if path else name
        nested_dict = _NESTED_DICT_TYPES.get((cls.__name__, name))
        nested_list = _NESTED_LIST_TYPES.get((cls.__name__, name))
        keys = _DICT_KEYS.get((cls.__name__, name))
        if dataclasses.is_dataclass(typ):
            kwargs[name] = build(typ, value, sub)
        elif nested_dict is not None or keys is not None:
            if not isinstance(value, dict):
                _fail(sub, value, "a mapping")
            out = {}
            for k, v in value.items():
                if keys is not None and k not in keys:
                    raise ConfigError(f"{sub}.{k}: unknown key (allowed: {', '.join(keys)})")
                if nested_dict is not None:
                    out[k] = build(nested_dict, v, f"{sub}.{k}")
                else:
                    out[k] = _check_scalar(f"{sub}.{k}", v, float, {"range": (0.0, 1.0), "unit": f.metadata.get("unit", "")})
            kwargs[name] = out
        elif nested_list is not None:
            if not isinstance(value, list):
                _fail(sub, value, "a list")
            kwargs[name] = [build(nested_list, v, f"{sub}[{i}]") for i, v in enumerate(value)]
        elif get_origin(typ) is None and typ in (bool, int, float, str):
            kwargs[name] = _check_scalar(sub, value, typ, f.metadata)
        elif typ is list and (f.metadata.get("item_range") or f.metadata.get("bands")):
            kwargs[name] = _check_list(sub, value, f.metadata)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def validate(cfg: dict) -> RunConfig:
    """Validate a composed run configuration (plain dict) into a :class:`RunConfig`."""
    run = build(RunConfig, cfg, "")
    _check_consistency(run)
    # the government's fitted rules (government.fit) and MIIT's national record (government.allocation)
    return national_record.attach(rule_file.attach(run))


def _check_government(run: RunConfig) -> None:
    """The government's weights (some positive under the mixture), trend bounds and fixed path."""
    g = run.government
    if g.rule == "mixture" and not any(w > 0 for w in g.weights.values()):
        _fail("government.weights", g.weights, "at least one positive weight under government.rule=mixture")
    if g.trend.min_growth > g.trend.max_growth:
        _fail("government.trend.min_growth", g.trend.min_growth, f"at most government.trend.max_growth {g.trend.max_growth}")
    for key, path in (("government.fixed.path", g.fixed.path), ("government.imposed", g.imposed)):
        if not isinstance(path, dict):
            _fail(key, path, "a mapping tier -> {year: firms per batch}")
        for tier, by_year in path.items():
            if tier not in TIERS:
                _fail(key, tier, ", ".join(TIERS))
            if not isinstance(by_year, dict):
                _fail(f"{key}.{tier}", by_year, "a mapping year -> firms per batch, e.g. {2023: 3000}")
            for y, q in by_year.items():
                if isinstance(y, bool) or not str(y).isdigit():
                    _fail(f"{key}.{tier}", y, "years as integers, e.g. {2023: 3000}")
                if isinstance(q, bool) or not isinstance(q, (int, float)) or not (0 <= q < 1e7):
                    _fail(f"{key}.{tier}.{y}", q, "0 to 1e7 firms per batch")
    # YAML gives int keys, command-line overrides string keys: the model reads {tier: {int year: float}}
    g.fixed.path = {tier: {int(y): float(q) for y, q in by_year.items()} for tier, by_year in g.fixed.path.items()}
    g.imposed = {tier: {int(y): float(q) for y, q in by_year.items()} for tier, by_year in g.imposed.items()}


def _check_regions(sc: ScenarioConfig) -> None:
    """The view's regions (sim/core/regions.py): unique names, positive shares summing to 1,
    provinces that are not regions' names, at most 8 regions (a lever segment code), scales in (0, 1]."""
    names = [r.name for r in sc.regions]
    for i, r in enumerate(sc.regions):
        if not r.name or r.name in names[:i]:
            _fail(f"scenario.regions[{i}].name", r.name, "a name not empty and not used by another region")
        if r.share <= 0:
            _fail(f"scenario.regions[{i}].share", r.share, "a share above 0 (fraction of the view's firms)")
        if r.province and r.province in names:
            _fail(f"scenario.regions[{i}].province", r.province, "'' or a province that is not itself a region's name")
        if r.scale <= 0:
            _fail(f"scenario.regions[{i}].scale", r.scale, "a scale above 0 and at most 1 (the fraction of the region's thinned firms simulated)")
    if len(names) > MAX_REGIONS:
        _fail("scenario.regions", f"{len(names)} regions", f"at most {MAX_REGIONS} (a region code packs into a lever's segment code)")
    total = sum(r.share for r in sc.regions)
    if sc.regions and abs(total - 1.0) > 1e-6:
        _fail("scenario.regions", f"shares summing to {total:.6g}", "shares summing to 1 (the regions partition the view's firms)")


def _check_consistency(run: RunConfig) -> None:
    sc = run.scenario
    if not (sc.start < sc.horizon):
        raise ConfigError(f"scenario.horizon: {sc.horizon!r} is not allowed (allowed: a month after scenario.start {sc.start!r})")
    _check_government(run)
    _check_regions(sc)  # before the targets and series that name the view's areas
    for key, i, t in [("targets", i, t) for i, t in enumerate(sc.targets)] + [("plan_targets", i, t) for i, t in enumerate(sc.plan_targets)]:
        for tier in t.tiers:
            if tier not in TIERS:
                raise ConfigError(f"scenario.{key}[{i}].tiers: {tier!r} is not allowed (allowed: {', '.join(TIERS)})")
        # the dates' format is checked by build (units 'YYYY-MM'); here their range
        if t.announced > sc.horizon:
            _fail(f"scenario.{key}[{i}].announced", t.announced, f"'' or a month up to scenario.horizon {sc.horizon}")
        if t.counted_from and key == "targets":  # the reported counts run from window_start (sim.core.record)
            _fail(f"scenario.targets[{i}].counted_from", t.counted_from, "'' (a reported target counts from scenario.window_start; counted_from is for plan_targets)")
        if t.counted_from and not (sc.start <= t.counted_from <= sc.horizon):
            _fail(f"scenario.{key}[{i}].counted_from", t.counted_from, f"'' or a month from scenario.start {sc.start} to scenario.horizon {sc.horizon}")
    areas = {"", *Regions.of(sc).areas()} if sc.regions else {""}
    for key, i, t in [("targets", i, t) for i, t in enumerate(sc.targets)] + [("plan_targets", i, t) for i, t in enumerate(sc.plan_targets)]:
        if t.region not in areas:
            _fail(f"scenario.{key}[{i}].region", t.region, "'' (the view's own area)" + (
                  f" or an area of the view: {', '.join(sorted(areas - {''}))}" if len(areas) > 1 else ""))
    for i, t in enumerate(sc.targets):
        if t.count == "firms" and t.metric == "stock" and len(set(t.tiers)) > 1:
            # distinct holders of several titles are not recorded: a stock over tiers sums titles
            _fail(f"scenario.targets[{i}].count", t.count, "recognitions for a stock over several tiers (titles held are summed)")
        if not (sc.start <= t.deadline <= sc.horizon):
            _fail(f"scenario.targets[{i}].deadline", t.deadline, f"a month from scenario.start {sc.start} to scenario.horizon {sc.horizon}")
    for name, lever in run.policy.levers().items():
        for area in lever.regions:
            if area not in areas - {""}:
                _fail(f"policy.{name}.regions", area, f"an area of the view: {', '.join(sorted(areas - {''}))}" if len(areas) > 1
                      else "[] in a view of one region (the lever reaches the whole view)")
        if lever.end < lever.start:
            raise ConfigError(f"policy.{name}.end: {lever.end!r} is not allowed (allowed: a month not before start {lever.start!r})")
    for tier, sched in sc.tiers.items():
        for year, q in sched.capacity.quota_by_year.items():
            if not str(year).isdigit():
                raise ConfigError(f"scenario.tiers.{tier}.capacity.quota_by_year.{year}: unknown key (allowed: a year)")
            _check_scalar(f"scenario.tiers.{tier}.capacity.quota_by_year.{year}", q, float, {"range": (0, 1e7), "unit": "firms"})
        # YAML gives int keys, command-line overrides string keys: later entries win
        sched.capacity.quota_by_year = {int(y): float(q) for y, q in sched.capacity.quota_by_year.items()}
    _check_scale(sc)
    if run.executor.name == "dask" and "://" not in run.executor.address:
        raise ConfigError(f"executor.address: {run.executor.address!r} is not allowed (allowed: tcp://HOST:PORT of a running Dask scheduler when executor=dask)")
    if not (sc.start <= sc.origin <= sc.horizon) or not (sc.start <= sc.window_start <= sc.horizon):
        raise ConfigError(f"scenario.origin: {sc.origin!r} / window_start {sc.window_start!r} is not allowed (allowed: months from {sc.start} to {sc.horizon})")


# --------------------------------------------------------------------------------------
# The smallest population a scenario can run at
# --------------------------------------------------------------------------------------

MIN_SMES_PER_TIER = 3  # simulated SMEs per enabled tier at the least, so that each tier can hold a title


def _round_up(x: float, digits: int = 2) -> float:
    """``x`` rounded up to ``digits`` significant digits (0.0014286 -> 0.0015)."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return round(math.ceil(x / step - 1e-9) * step, 12)


def min_scale(sc: ScenarioConfig) -> tuple[float, str]:
    """The smallest ``scenario.scale`` the scenario can run at, and why: at least one firm of
    each kind the scenario has (above-scale SMEs, large firms, small tech SMEs; the large firms
    own the chains and make the leading tier), and ``MIN_SMES_PER_TIER`` SMEs per enabled tier
    (each tier's batches need applicants).  Rounded up to two significant digits."""
    pop = sc.population
    needs = [(1.0 / n, f"at least one {kind} of its {n:,} drawn") for kind, n in
             (("above-scale SME", pop.n_sme), ("large firm", pop.n_large), ("small tech SME", pop.n_small_tech)) if n > 0]
    enabled = sum(1 for t in sc.tiers.values() if t.enabled)
    if enabled and pop.n_sme + pop.n_small_tech > 0:
        needs.append((MIN_SMES_PER_TIER * enabled / (pop.n_sme + pop.n_small_tech),
                      f"at least {MIN_SMES_PER_TIER} SMEs for each of its {enabled} enabled tiers"))
    lo, why = max(needs)
    return _round_up(lo), why


def _check_scale(sc: ScenarioConfig) -> None:
    pop = sc.population
    if pop.n_sme + pop.n_large + pop.n_small_tech == 0:
        return  # the schema's own defaults (no scenario): check_run refuses running it
    lo, why = min_scale(sc)
    if sc.scale < lo:
        _fail("scenario.scale", sc.scale, f">= {lo:g} for {sc.name or 'this scenario'}: {why}")


# --------------------------------------------------------------------------------------
# The run as asked for: its data file, and levers that act in it
# --------------------------------------------------------------------------------------


def check_run(run: RunConfig) -> None:
    """Checks of a run a user asked for, made once before anything is written (not on the
    configs a run derives internally): the history file (``data.path`` or the scenario's shipped
    one) against the scenario, the lever windows against the run (:func:`lever_windows`;
    an :class:`InputWarning` for each clipped window), and the government's fitted rules
    (``government.fit``: an InputWarning for a fitted parameter set by hand).  Raises ConfigError (one line)."""

    pop = run.scenario.population
    if pop.n_sme + pop.n_large + pop.n_small_tech == 0:
        _fail("scenario.population", dataclasses.asdict(pop), "n_sme + n_large + n_small_tech > 0 firms")
    _check_data(run)
    for message in lever_windows(run):
        warnings.warn(message, InputWarning, stacklevel=2)
    rule_file.warn_unused(run)


def _check_data(run: RunConfig) -> None:
    sc = run.scenario
    if not run.data.path and sc.name not in history.SHIPPED_FILES:
        _fail("data.path", run.data.path, f"a history CSV file (scenario {sc.name!r} ships none; shipped: {', '.join(history.SHIPPED_FILES)})")
    areas = {"", *Regions.of(sc).areas()} if sc.regions else {""}
    for i, m in enumerate(sc.history):  # an area's series (issue 14): an area of the view with a file of its own
        if m.region and (m.region not in areas or m.region not in history.SHIPPED_FILES):
            _fail(f"scenario.history[{i}].region", m.region, "'' (the view's own series)" + (
                  " or an area of the view with a shipped history file: "
                  + ", ".join(sorted(a for a in areas if a in history.SHIPPED_FILES)) if len(areas) > 1 else ""))
    path = run.data.path or history.default_history_path(sc.name)
    pop = sc.population
    firms = pop.n_sme + pop.n_large + pop.n_small_tech
    try:
        history.check_file(path, population=firms,
                           required=tuple(dict.fromkeys(m.series for m in sc.history if not m.region)), scenario=sc.name)
    except history.HistoryError as e:
        raise ConfigError(f"data.path: {e}") from None
    for area in dict.fromkeys(m.region for m in sc.history if m.region):  # an area's series: its own shipped file
        try:
            history.check_file(history.default_history_path(area), population=firms,
                               required=tuple(dict.fromkeys(m.series for m in sc.history if m.region == area)), scenario=area)
        except history.HistoryError as e:
            raise ConfigError(f"scenario.history (region {area}): {e}") from None


def lever_windows(run: RunConfig) -> list[str]:
    """The one-line warnings for levers (those that are on: intensity > 0) whose window only
    partly overlaps the run ``scenario.start .. scenario.horizon`` (clipped to it).  A window
    wholly outside the run while other levers act in it is a ConfigError naming the date to
    move.  When no lever acts in the run at all (a run that ends before its policy begins,
    e.g. a fit to the years before 2021), that is one warning, not an error."""
    sc = run.scenario
    on = {name: lv for name, lv in run.policy.levers().items() if lv.intensity > 0}
    acting = {name for name, lv in on.items() if lv.start <= sc.horizon and lv.end >= sc.start}
    span = f"{sc.start}..{sc.horizon}"
    if on and not acting:
        first = min(lv.start for lv in on.values())
        return [f"policy: no lever acts in the run {span} (the first starts {first}); the run is the same as with policy=no_policy"]
    out = []
    for name, lv in on.items():
        if name not in acting:
            if lv.start > sc.horizon:
                _fail(f"policy.{name}.start", lv.start, f"a month up to scenario.horizon {sc.horizon}, so that the lever acts in the run {span}")
            _fail(f"policy.{name}.end", lv.end, f"a month from scenario.start {sc.start}, so that the lever acts in the run {span}")
        window = f"window {lv.start}..{lv.end}"
        if lv.start < sc.start:
            out.append(f"policy.{name}: {window} starts before the run ({sc.start}); clipped")
        if lv.end > sc.horizon:
            out.append(f"policy.{name}: {window} ends after the run ({sc.horizon}); clipped")
    return out
