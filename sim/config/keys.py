"""Dotted config keys (``policy.financing.intensity``, ``scenario.tiers.srdi.capacity.quota``,
``params.recognition.apply_prob.srdi``, ``scenario.targets.0.threshold``): the one walker over
the :class:`sim.core.schema.RunConfig` schema that the command line, designs, sensitivity analyses,
calibration and sweeps use.

* :func:`leaf` — what a key names: its declared type, the field's metadata (unit, range,
  choices) and whether it ends inside a free-form mapping (``quota_by_year``,
  ``apply_prob``, ``design.factors``: Hydra needs ``++`` to add a key there).
* :func:`check` — the key, and a value for it, against the schema.
* :func:`get` — a key's value in a RunConfig or in its mapping form.
* :func:`with_values` — a RunConfig (or composed mapping) with keys set, **validated**
  (:func:`sim.config.validate.validate`): a value out of range fails like on the command line.

Every error is a one-line :class:`ConfigError` naming the key (list items as ``a[0].b``, as
:func:`sim.config.validate.validate` names them), the value and what is allowed.  List items may be
written ``a.0.b`` (Hydra) or ``a[0].b``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, get_type_hints

from sim.config.validate import (
    _DICT_KEYS,
    _NESTED_DICT_TYPES,
    _NESTED_LIST_TYPES,
    REMOVED,
    _check_list,
    _check_scalar,
    _fail,
    build,
    validate,
)
from sim.core.schema import ConfigError, RunConfig

SCALARS = (bool, int, float, str)
_MISSING = object()


class Leaf(NamedTuple):
    """What a dotted key names."""

    type: Any        # bool, int, float, str, list, dict or a config dataclass; None for an entry of a
    #                  free-form mapping or an item of a plain list (sim.config.validate.validate checks those)
    meta: dict       # the field's metadata: unit, source, range, choices, item_range, bands ({} if none)
    free_form: bool  # the key ends inside a free-form mapping (Hydra needs '++' to add the key)


class _Step(NamedTuple):
    part: str        # the key's part ('0' for a list index)
    kind: str        # field | entry (of a mapping of sub-configs or a free-form mapping) | index
    where: str       # the key so far, as validate() names it ('scenario.targets[0]')
    leaf: Leaf


def parts(key: str) -> list[str]:
    """``'scenario.targets[0].threshold'`` -> ``['scenario', 'targets', '0', 'threshold']``."""
    return re.sub(r"\[(\d+)\]", r".\1", key).split(".")


@functools.cache
def _schema(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}, get_type_hints(cls)


def _walk(key: str, root: type = RunConfig) -> list[_Step]:
    """The steps of ``key`` through the schema of ``root``; ConfigError at the first part that
    is not in it."""
    ps, steps = parts(key), []
    cls: Any = root
    where, i = "", 0
    while i < len(ps):
        name = ps[i]
        fields, hints = _schema(cls)
        where = f"{where}.{name}" if where else name
        if name not in fields:
            if (cls.__name__, name) in REMOVED:  # a key an old config may still set: say why it went
                raise ConfigError(f"{where}: {REMOVED[cls.__name__, name]}")
            raise ConfigError(f"{where}: unknown key (allowed: {', '.join(fields)})")
        f, typ = fields[name], hints[name]
        steps.append(_Step(name, "field", where, Leaf(typ, dict(f.metadata), False)))
        i += 1
        if i == len(ps):
            break
        nxt = ps[i]
        if dataclasses.is_dataclass(typ):
            cls = typ
            continue
        if typ is dict:
            keys, sub = _DICT_KEYS.get((cls.__name__, name)), _NESTED_DICT_TYPES.get((cls.__name__, name))
            if keys is not None and nxt not in keys:
                raise ConfigError(f"{where}.{nxt}: unknown key (allowed: {', '.join(keys)})")
            if sub is not None:  # scenario.tiers.<tier>: a TierSchedule
                where = f"{where}.{nxt}"
                steps.append(_Step(nxt, "entry", where, Leaf(sub, {}, False)))
                cls, i = sub, i + 1
                continue
            for p in ps[i:]:  # a free-form mapping (quota_by_year, apply_prob, design.factors): validate() checks it
                where = f"{where}.{p}"
                steps.append(_Step(p, "entry", where, Leaf(None, dict(f.metadata), True)))
            break
        if typ is list:
            sub = _NESTED_LIST_TYPES.get((cls.__name__, name))
            if sub is not None and nxt.isdigit():  # scenario.targets[i]: a TargetConfig
                where = f"{where}[{nxt}]"
                steps.append(_Step(nxt, "index", where, Leaf(sub, {}, False)))
                cls, i = sub, i + 1
                continue
            for p in ps[i:]:  # items of a plain list (hazard_by_age.0, rd_bands.0.1)
                if not p.isdigit():
                    raise ConfigError(f"{where}.{p}: unknown key (allowed: a list index 0, 1, ...)")
                where = f"{where}[{p}]"
                steps.append(_Step(p, "index", where, Leaf(None, {}, False)))
            break
        kind = typ.__name__ if isinstance(typ, type) else str(typ)
        raise ConfigError(f"{where}.{nxt}: unknown key (allowed: nothing below {where}, a {kind})")
    return steps


def leaf(key: str, root: type = RunConfig) -> Leaf:
    """What ``key`` names in the schema of ``root``: ``(type, metadata, free_form)``; an
    unknown key (at any depth) raises ConfigError naming it and what is allowed there."""
    return _walk(key, root)[-1].leaf


def check(key: str, value: Any = _MISSING, root: type = RunConfig) -> Any:
    """Check ``key`` and, if given, ``value`` for it (type, range, choices, date format; lists
    item by item; a sub-config as a mapping); returns the value as validate() converts it (ints
    of float keys become floats), or the Leaf when no value is given.  Entries of free-form
    mappings and plain-list items pass unchanged (validate() checks them in context)."""
    step = _walk(key, root)[-1]
    lf = step.leaf
    if value is _MISSING:
        return lf
    if lf.type in SCALARS:
        return _check_scalar(step.where, value, lf.type, lf.meta)
    if lf.type is list and (lf.meta.get("item_range") or lf.meta.get("bands")):
        return _check_list(step.where, value, lf.meta)
    if dataclasses.is_dataclass(lf.type):
        return build(lf.type, value, step.where)
    if lf.type is list and not isinstance(value, list):
        _fail(step.where, value, "a list")
    if lf.type is dict and not isinstance(value, dict):
        _fail(step.where, value, "a mapping")
    return value


def _entry(node: Mapping, part: str) -> Any:
    """The mapping key ``part`` names: an int key for a digit part where the mapping has it
    (quota_by_year after validation is keyed by int years)."""
    if part not in node and part.isdigit() and int(part) in node:
        return int(part)
    return part


def get(obj: Any, key: str) -> Any:
    """The value of ``key`` in a RunConfig (or any config dataclass) or in its mapping form."""
    node, where = obj, ""
    for part in parts(key):
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            names = [f.name for f in dataclasses.fields(node)]
            if part not in names:
                raise ConfigError(f"{where + '.' if where else ''}{part}: unknown key (allowed: {', '.join(names)})")
            node, where = getattr(node, part), f"{where}.{part}" if where else part
        elif isinstance(node, Mapping):
            k = _entry(node, part)
            if k not in node:
                raise ConfigError(f"{where + '.' if where else ''}{part}: unknown key (allowed: {', '.join(map(str, node)) or 'none'})")
            node, where = node[k], f"{where}.{part}" if where else part
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{where}[{part}]: unknown key (allowed: a list index 0 to {len(node) - 1})")
            node, where = node[int(part)], f"{where}[{part}]"
        else:
            raise ConfigError(f"{where}.{part}: unknown key (allowed: nothing below {where}, {node!r})")
    return node


def _set(d: dict, key: str, value: Any) -> None:
    """Set ``key`` in the mapping form ``d`` of a config: a missing field of a partial mapping
    or a missing entry of a free-form mapping is added, a missing entry of a mapping of
    sub-configs (``scenario.tiers.<tier>.…``) or list item is an error."""
    steps = _walk(key)
    node: Any = d
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        if isinstance(node, list):
            i = int(step.part)
            if i >= len(node):
                raise ConfigError(f"{step.where}: unknown key (allowed: a list index 0 to {len(node) - 1})")
            if last:
                node[i] = value
            node = node[i]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{step.where}: unknown key (allowed: nothing below {steps[n - 1].where}, {node!r})")
        k = _entry(node, step.part)
        if last:
            node[k] = value
            return
        if k not in node:
            if step.kind == "field" or step.leaf.free_form:
                node[k] = {}
            else:
                raise ConfigError(f"{step.where}: unknown key (allowed: {', '.join(map(str, node)) or 'none'})")
        node = node[k]


def with_values(cfg: RunConfig | Mapping, values: Mapping[str, Any]) -> RunConfig:
    """``cfg`` (a RunConfig or a composed mapping; not modified) with each dotted key set to its
    value, validated again (:func:`sim.config.validate.validate`): an unknown key or a value that is not
    allowed raises a one-line ConfigError."""
    d = copy.deepcopy(dict(cfg)) if isinstance(cfg, Mapping) else dataclasses.asdict(cfg)
    for key, value in values.items():
        check(key, value)
        _set(d, key, value)
    return validate(d)
