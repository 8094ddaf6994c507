"""Check command-line overrides before Hydra sees them, so that an unknown scenario, an
unknown lever or a misspelt key fails with one line naming the field and what is
allowed (Hydra's own messages span several lines)."""

from __future__ import annotations

import dataclasses
import re
from typing import get_type_hints

import yaml

from .config import TIERS, ConfigError, RunConfig, TierSchedule, _check_scalar

GROUPS = ("scenario", "policy", "criteria", "params", "executor", "design", "experiment")
_DICT_VALUE_TYPES = {("ScenarioConfig", "tiers"): (TIERS, TierSchedule)}


def _walk(cls: type, parts: list[str], done: list[str], value: str | None) -> bool:
    """Check a dotted key against the schema; True if it ends inside a free-form mapping
    (quota_by_year, apply_prob, ...) where Hydra needs '++' to add a key."""
    if not parts:
        return False
    name, rest = parts[0], parts[1:]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    where = ".".join(done + [name])
    if name not in fields:
        raise ConfigError(f"{where}: unknown key (allowed: {', '.join(fields)})")
    typ = get_type_hints(cls)[name]
    if dataclasses.is_dataclass(typ):
        return _walk(typ, rest, done + [name], value)
    elif (cls.__name__, name) in _DICT_VALUE_TYPES and rest:
        keys, sub = _DICT_VALUE_TYPES[(cls.__name__, name)]
        if rest[0] not in keys:
            raise ConfigError(f"{where}.{rest[0]}: unknown key (allowed: {', '.join(keys)})")
        return _walk(sub, rest[1:], done + [name, rest[0]], value)
    elif typ in (bool, int, float, str) and not rest:
        if value is None:  # a Hydra sweep function (range(...), choice(...)): Hydra expands it
            return False
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        if typ is str and not isinstance(parsed, str):
            parsed = value
        _check_scalar(where, parsed, typ, fields[name].metadata)
        return False
    # free-form dicts and lists (quota_by_year, apply_prob, targets, ...) are checked by validate()
    return typ is dict and bool(rest)


def check_overrides(overrides: list[str], extra_keys: tuple[str, ...] = ()) -> list[str]:
    """Raise ConfigError (one line) for an override naming an unknown group option or key.
    Returns the overrides with keys inside free-form mappings written as '++key=value'
    (add or replace).  ``extra_keys``: top-level keys an entry point adds (e.g. 'policies')."""
    from .compose import choices

    out = []
    for ov in overrides:
        out.append(ov)
        if "=" not in ov:
            continue
        key, value = ov.split("=", 1)
        if re.search(r"\[\d+\]", key):  # list items: accept a[0].b as Hydra's a.0.b
            key = re.sub(r"\[(\d+)\]", r".\1", key)
            out[-1] = ov = f"{key}={value}"
        key = key.lstrip("+~")
        if key.startswith("hydra") or key in extra_keys or key.split(".")[0] in extra_keys:
            continue
        if key in GROUPS:
            opts = choices(key)
            for v in value.split(","):  # multirun sweeps: scenario=a,b
                if v not in opts:
                    raise ConfigError(f"{key}: {v!r} is not allowed (allowed: {', '.join(opts)})")
            continue
        values: list[str | None] = _sweep_values(value) or [None]
        free_form = any([_walk(RunConfig, key.split("."), [], v) for v in values])
        if free_form and not ov.startswith("+"):
            out[-1] = "++" + ov
    return out


def _sweep_values(value: str) -> list[str]:
    """Values of a Hydra multirun list 'a,b,c' (plain values only; ranges and functions
    such as range(...) or choice(...) are left to Hydra)."""
    if "(" in value or "[" in value or "{" in value:
        return []
    return value.split(",")
