"""Check command-line overrides before Hydra sees them, so that an unknown scenario, an
unknown lever or a misspelt key fails with one line naming the field and what is
allowed (Hydra's own messages span several lines)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sim.config import keys
from sim.core.schema import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def config_dir() -> Path:
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(f"configs/: not found at {CONFIG_DIR} (install tiersim from its source tree: pip install -e .)")
    return CONFIG_DIR


def choices(group: str) -> list[str]:
    """Names available in a config group (e.g. 'scenario')."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


GROUPS = ("scenario", "policy", "criteria", "params", "executor", "design", "experiment")


def _check_key(key: str, value: str | None) -> bool:
    """Check a dotted key (and, for a declared scalar, its command-line value) against the
    schema; True if it ends inside a free-form mapping (quota_by_year, apply_prob, ...) where
    Hydra needs '++' to add a key.  Lists and free-form entries are checked by validate()."""
    leaf = keys.leaf(key)
    if value is not None and leaf.type in keys.SCALARS:  # None: a Hydra sweep function (range(...), choice(...))
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        if leaf.type is str and not isinstance(parsed, str):
            parsed = value
        keys.check(key, parsed)
    return leaf.free_form


def check_overrides(overrides: list[str], extra_keys: tuple[str, ...] = ()) -> list[str]:
    """Raise ConfigError (one line) for an override naming an unknown group option or key.
    Returns the overrides with keys inside free-form mappings written as '++key=value'
    (add or replace).  ``extra_keys``: top-level keys an entry point adds (e.g. 'policies')."""

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
        free_form = any([_check_key(key, v) for v in values])
        if free_form and not ov.startswith("+"):
            out[-1] = "++" + ov
    return out


def _sweep_values(value: str) -> list[str]:
    """Values of a Hydra multirun list 'a,b,c' (plain values only; ranges and functions
    such as range(...) or choice(...) are left to Hydra)."""
    if "(" in value or "[" in value or "{" in value:
        return []
    return value.split(",")
