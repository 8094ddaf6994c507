"""Check command-line overrides before Hydra sees them, so that an unknown scenario, an
unknown lever or a misspelt key fails with one line naming the field and what is
allowed (Hydra's own messages span several lines)."""

from __future__ import annotations

import re
from typing import Any

from sim.config import keys
from sim.config.paths import CONFIG_DIR, config_dir  # noqa: F401  (re-exported: entry points import config_dir from here)
from sim.core.errors import one_line
from sim.core.schema import ConfigError


def choices(group: str) -> list[str]:
    """Names available in a config group (e.g. 'scenario')."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


GROUPS = ("scenario", "policy", "criteria", "params", "government", "executor", "design", "experiment")
OPTIONAL_GROUPS = ("experiment",)  # config.yaml selects none by default: '<group>=null' is allowed


def parse(override: str) -> tuple[str, Any, list[Any] | None]:
    """``key=value`` as Hydra's override grammar reads it: (key, value, the values of a
    discrete sweep ``a,b`` / ``choice(...)`` / ``range(...)`` or None).  ``1e-4`` is a float,
    ``[1,2]`` a list, ``{a: 1}`` a mapping, ``2030-01`` a string, as Hydra composes them.
    A syntax error is a ConfigError naming the override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        ov = OverridesParser.create().parse_override(override)
    except HydraException as e:
        key, _, value = override.partition("=")
        raise ConfigError(f"{key.lstrip('+~')}: {value!r} is not allowed (allowed: a value in Hydra's override syntax; "
                          f"{one_line(e).split(' See ')[0]})") from None
    if ov.is_sweep_override():
        return ov.key_or_group, None, list(ov.sweep_iterator()) if ov.is_discrete_sweep() else []
    return ov.key_or_group, ov.value(), None


def _check_key(key: str, value: Any) -> bool:
    """Check a dotted key, and a value for it (Hydra's parse of the command line), against the
    schema; True if it ends inside a free-form mapping (quota_by_year, apply_prob, ...) where
    Hydra needs '++' to add a key.  Entries of free-form mappings and interpolations
    (``${...}``, resolved by Hydra) are left to validate()."""
    leaf = keys.leaf(key)
    if value is _NO_VALUE or (isinstance(value, str) and "${" in value):
        return leaf.free_form
    if leaf.type is str and isinstance(value, (bool, int, float)):
        value = str(value)  # Hydra turns a scalar given for a string key into its text
    if leaf.type is int and isinstance(value, float):  # Hydra will not put 2.0 into an integer key
        raise ConfigError(f"{key}: {value!r} is not allowed (allowed: an integer)")
    keys.check(key, value)
    return leaf.free_form


_NO_VALUE = object()  # a deletion (~key) or a sweep Hydra expands itself (interval(...))


def check_overrides(overrides: list[str], extra_keys: tuple[str, ...] = ()) -> list[str]:
    """Raise ConfigError (one line) for an override naming an unknown group option or key, or
    giving a key a value of the wrong kind (a list or mapping for a number, a number for a
    lever, a string for a flag, a number out of its range).  Returns the overrides with keys
    inside free-form mappings written as '++key=value' (add or replace).  ``extra_keys``:
    top-level keys an entry point adds (e.g. 'policies')."""

    out = []
    for ov in overrides:
        out.append(ov)
        if "=" not in ov and not ov.startswith("~"):
            continue
        key, value = ov.split("=", 1) if "=" in ov else (ov, "")
        if re.search(r"\[\d+\]", key):  # list items: accept a[0].b as Hydra's a.0.b
            key = re.sub(r"\[(\d+)\]", r".\1", key)
            out[-1] = ov = f"{key}={value}" if "=" in ov else key
        key = key.lstrip("+~")
        if key.startswith("hydra") or key in extra_keys or key.split(".")[0] in extra_keys:
            continue
        _, parsed, sweep = parse(ov)
        values = sweep if sweep is not None else [parsed]
        if key in GROUPS:
            opts = choices(key)
            for v in values:  # multirun sweeps: scenario=a,b
                if not (isinstance(v, str) and v in opts) and not (v is None and key in OPTIONAL_GROUPS):
                    raise ConfigError(f"{key}: {v!r} is not allowed (allowed: {', '.join(opts)})")
            continue
        if ov.startswith("~") or sweep == []:
            values = [_NO_VALUE]
        free_form = any([_check_key(key, v) for v in values])
        if free_form and not ov.startswith("+"):
            out[-1] = "++" + ov
    return out
