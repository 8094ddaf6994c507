"""The government's fitted batch-size rules a run draws from (``government.fit``): which file,
loading and checking it, and attaching it to a config (``government.posterior``).  The fit is
made by sim/analysis/rule_fit.py (``experiments.fit_government``)."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np

from sim.config.history import DATA_DIR
from sim.core.errors import InputWarning
from sim.core.government import FITTED, FITTED_KEYS, RULES
from sim.core.schema import ConfigError, GovernmentConfig, RunConfig

GOVERNMENT_FIT: Path = DATA_DIR / "posteriors" / "government.json"
FIT_KIND = "tiersim government fit"  # the 'kind' of a fit file (sim/analysis/rule_fit.py writes it)


def government_fit_path(value: str) -> Path | None:
    """The fit file named by ``government.fit``: '' -> None; 'default' -> the shipped national
    fit; else the file (a directory: its government_fit.json)."""
    if not value:
        return None
    path = GOVERNMENT_FIT if value == "default" else Path(value)
    if path.is_dir():
        path = path / "government_fit.json"
    if not path.is_file():
        raise ConfigError(f"government.fit: {value!r} is not allowed (allowed: 'default' (the shipped national fit), '' for none, "
                          "or a government_fit.json written by experiments.fit_government, or its run folder)")
    return path


@functools.lru_cache(maxsize=8)
def _load_fit(path: str, mtime: float) -> dict:
    """{rule: {log_evidence, draws}} from a fit file, checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"government.fit: {path}: cannot be read as JSON ({type(e).__name__}) (allowed: a government_fit.json written by experiments.fit_government)") from None
    if not isinstance(data, dict) or data.get("kind") != FIT_KIND or not isinstance(data.get("rules"), dict):
        raise ConfigError(f"government.fit: {path}: not a fit file (allowed: JSON with kind {FIT_KIND!r} and rules, written by experiments.fit_government)")
    out = {}
    for rule, e in data["rules"].items():
        if rule not in RULES:
            raise ConfigError(f"government.fit: {path}: rule {rule!r} is not allowed (allowed: {', '.join(RULES)})")
        le, draws = e.get("log_evidence"), e.get("draws") or []
        if le is not None and not (isinstance(le, (int, float)) and np.isfinite(le)):
            raise ConfigError(f"government.fit: {path}: {rule}.log_evidence {le!r} is not allowed (allowed: a finite number or null)")
        for d in draws:
            for k, v in d.items():
                if k not in FITTED.get(rule, ()) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                    raise ConfigError(f"government.fit: {path}: {rule} draw {k}={v!r} is not allowed "
                                      f"(allowed: {', '.join(FITTED.get(rule, ())) or 'no parameters'}, finite and >= 0)")
        out[rule] = {"log_evidence": le, "draws": [dict(d) for d in draws]}
    return out


def attach(config: RunConfig) -> RunConfig:
    """``config`` with ``government.posterior`` loaded from ``government.fit`` (in place; also
    returned), unless it already carries one (a config derived from an attached one, or a
    back-test's refit); none for ``government.fit=''``."""
    gov = config.government
    if not gov.fit:
        gov.posterior = {}
    elif not gov.posterior:
        path = government_fit_path(gov.fit)
        gov.posterior = _load_fit(str(path), path.stat().st_mtime)
    return config


def warn_unused(config: RunConfig) -> None:
    """With a fit, every replicate draws the fitted parameters (sim/core/government.py ``FITTED``)
    from it: an :class:`InputWarning` for each of them the config sets to a value of its own
    (``government.fit=''`` uses the given values)."""
    gov, default = config.government, GovernmentConfig()
    if not gov.posterior:
        return

    def value(obj, dotted: str):
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj

    used = FITTED.get(gov.rule, ()) if gov.rule != "mixture" else FITTED_KEYS
    for k in sorted(used):
        if value(gov, k) != value(default, k) and any(k in d for e in gov.posterior.values() for d in e.get("draws", [])[:1]):
            warnings.warn(f"government.{k}={value(gov, k)!r} is not used: each replicate draws it from the fit {gov.fit!r} "
                          "(allowed: government.fit='' to use the given value)", InputWarning, stacklevel=3)
