"""Space-filling designs over declared parameter ranges, and the sweep jobs they make.

A design (``config.design``, :class:`sim.core.schema.DesignConfig`) names factors by dotted
config key with a range, ``{policy.financing.intensity: [0, 2]}`` or
``{key: {low, high, scale: linear|log, integer: bool}}`` (grid also ``{values: [...]}``),
and a kind: ``grid`` (every combination of ``n`` levels per factor), ``lhs`` (a Latin
hypercube of ``n`` points) or ``sobol`` (the first ``n`` points of a scrambled Sobol'
sequence, ``n`` a power of 2).  Sampling uses ``scipy.stats.qmc`` seeded from
``design.seed``; every design point then becomes one job: the base configuration with the
point's values set, validated.  The base configuration is composed once (no per-job Hydra
composition).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.config import keys
from sim.config.posterior import keep_factors
from sim.config.validate import validate
from sim.core.schema import ConfigError, DesignConfig, RunConfig

SCALES = ("linear", "log")


@dataclass(frozen=True)
class Factor:
    key: str                     # dotted config key
    low: float
    high: float
    scale: str = "linear"        # linear | log
    integer: bool = False        # round to integers (integer config fields always are)
    values: tuple = ()           # grid only: explicit levels


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """``{'policy': {'financing': {'intensity': [0, 2]}}}`` (Hydra's reading of a dotted
    override) -> ``{'policy.financing.intensity': [0, 2]}``; a spec is a list or a mapping
    with low/high/values."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not ({"low", "high", "values"} & set(v)):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def factors(design: DesignConfig) -> list[Factor]:
    """The design's factors, each key checked against the configuration schema (unknown key
    or a range outside the key's allowed values: one-line ConfigError)."""
    if not design.factors:
        raise ConfigError("design.factors: {} is not allowed (allowed: a mapping of dotted config keys to [low, high])")
    out = []
    for key, spec in _flatten(design.factors).items():
        where = f"design.factors.{key}"
        if isinstance(spec, (list, tuple)) and len(spec) == 2:
            spec = {"low": spec[0], "high": spec[1]}
        if not isinstance(spec, dict) or not (({"low", "high"} <= set(spec)) or "values" in spec):
            raise ConfigError(f"{where}: {spec!r} is not allowed (allowed: [low, high] or {{low, high, scale, integer}} or {{values: [...]}})")
        extra = set(spec) - {"low", "high", "scale", "integer", "values"}
        if extra:
            raise ConfigError(f"{where}.{sorted(extra)[0]}: unknown key (allowed: low, high, scale, integer, values)")
        try:  # unknown key: the command line's one-line error
            typ = keys.leaf(key).type
        except ConfigError as e:
            raise ConfigError(f"design.factors.{e}") from None
        if typ not in (int, float, None):  # None: an entry of a free-form mapping or a list item
            name = typ.__name__ if isinstance(typ, type) else str(typ)
            raise ConfigError(f"{where}: {spec!r} is not allowed (allowed: ranges of numeric keys only; this key is a {name})")
        values = tuple(spec.get("values", ()))
        if values and design.kind != "grid":
            raise ConfigError(f"{where}.values: {list(values)!r} is not allowed (allowed: only with design.kind=grid)")
        probe = list(values) if values else [spec["low"], spec["high"]]
        for v in probe:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where}: {v!r} is not allowed (allowed: numbers)")
            try:  # out-of-range value: the command line's one-line error
                keys.check(key, v)
            except ConfigError as e:
                raise ConfigError(f"design.factors.{e}") from None
        low, high = (min(probe), max(probe)) if values else (float(spec["low"]), float(spec["high"]))
        if not values and not low < high:
            raise ConfigError(f"{where}: [{low}, {high}] is not allowed (allowed: low < high)")
        scale = spec.get("scale", "linear")
        if scale not in SCALES:
            raise ConfigError(f"{where}.scale: {scale!r} is not allowed (allowed: {', '.join(SCALES)})")
        if scale == "log" and low <= 0:
            raise ConfigError(f"{where}.low: {low} is not allowed (allowed: > 0 with scale: log)")
        integer = bool(spec.get("integer", False)) or typ is int
        out.append(Factor(key, float(low), float(high), scale, integer, values))
    return out


def _from_unit(f: Factor, u: np.ndarray) -> np.ndarray:
    """Map u in [0, 1) onto the factor's range (integers: equal-width bins over low..high)."""
    if f.integer:
        lo, hi = math.ceil(f.low), math.floor(f.high)
        if f.scale == "log":  # lo >= 1 here (log needs low > 0): bins of equal log width around each integer
            a, b = np.log(lo - 0.5), np.log(hi + 0.5)
            return np.clip(np.rint(np.exp(a + u * (b - a))), lo, hi)
        return np.clip(np.floor(lo + u * (hi - lo + 1)), lo, hi)
    if f.scale == "log":
        return np.exp(np.log(f.low) + u * (np.log(f.high) - np.log(f.low)))
    return f.low + u * (f.high - f.low)


def _levels(f: Factor, n: int) -> list:
    if f.values:
        return list(f.values)
    x = np.geomspace(f.low, f.high, n) if f.scale == "log" else np.linspace(f.low, f.high, n)
    return list(dict.fromkeys(np.rint(x).astype(int).tolist())) if f.integer else x.tolist()


def unit_sample(design: DesignConfig, d: int) -> np.ndarray:
    """``(n, d)`` points in [0, 1)^d for lhs or sobol, seeded from ``design.seed``."""
    from scipy.stats import qmc

    rng = np.random.default_rng(design.seed)
    if design.kind == "lhs":
        return qmc.LatinHypercube(d=d, rng=rng).random(design.n)
    m = int(round(math.log2(design.n)))
    if 2**m != design.n:
        raise ConfigError(f"design.n: {design.n} is not allowed (allowed: a power of 2 for design.kind=sobol, e.g. {2 ** max(m, 1)})")
    return qmc.Sobol(d=d, scramble=True, rng=rng).random_base2(m)


def points(design: DesignConfig) -> list[dict[str, Any]]:
    """The design points, ``[{dotted key: value}, ...]`` (Python ints for integer factors)."""
    fs = factors(design)
    if design.kind == "grid":
        grid = list(itertools.product(*[_levels(f, design.n) for f in fs]))
        return [{f.key: (int(v) if f.integer else float(v)) for f, v in zip(fs, row)} for row in grid]
    u = unit_sample(design, len(fs))
    cols = [_from_unit(f, u[:, j]) for j, f in enumerate(fs)]
    return [{f.key: (int(c[i]) if f.integer else float(c[i])) for f, c in zip(fs, cols)} for i in range(len(u))]


def apply(base: dict, point: dict[str, Any]) -> RunConfig:
    """The base configuration (a composed mapping) with the point's values set, validated."""
    return keep_factors(keys.with_values(base, point), point)  # a factor the posterior draws turns the posterior off


def jobs(base: dict, design: DesignConfig | None = None) -> list[tuple[dict[str, Any], RunConfig]]:
    """One sweep job ``(point, config)`` per design point (``design`` defaults to the base's)."""
    design = design or validate(base).design
    return [(pt, apply(base, pt)) for pt in points(design)]
