"""Posteriors: which one a run uses (``calibration=``), loading and checking it, and replicate
r's draw of a parameter set (``SeedSequence(seed, spawn_key=(r, 1000003))``)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import history, keys
from sim.core.government import FITTED_KEYS
from sim.core.schema import ConfigError, RunConfig

POSTERIOR_DIR: Path = history.DATA_DIR / "posteriors"
CALIBRATION_STREAM = 1_000_003   # replicate r's posterior draw: SeedSequence(seed, spawn_key=(r, CALIBRATION_STREAM))
UNIT_PARAM = "obs.champion_unit"
META_COLUMNS = ("weight", "distance", "scenario")


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw² of importance weights."""
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / np.sum(w ** 2)) if w.size and w.sum() > 0 else 0.0


def apply_values(config: RunConfig, values: dict[str, float], where: str = "calibration") -> RunConfig:
    """``config`` with the given config-path values set (``obs.*`` entries are skipped; a
    value for an integer key is rounded) and validated again, so a value outside a field's
    range fails with one line."""
    out = {}
    for path, v in values.items():
        if path.startswith("obs."):
            continue
        try:
            typ = keys.leaf(path).type
        except ConfigError:
            raise ConfigError(f"{where}: parameter {path!r} is not a config key (allowed: dotted paths of sim/core/schema.py RunConfig, or obs.*)") from None
        out[path] = int(round(v)) if typ is int else float(v)
    return keys.with_values(config, out)


def draw_rows(weights: np.ndarray, n: int, seed: int, key: int) -> np.ndarray:
    """``n`` particle indices drawn by weight from SeedSequence(seed, spawn_key=(key,))."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))
    return rng.choice(len(weights), size=n, p=np.asarray(weights) / np.sum(weights))


# --------------------------------------------------------------------------------------
# Forecasting from a posterior
# --------------------------------------------------------------------------------------

# 'default': the scenario's own shipped posterior; a city without one uses its province's
DEFAULT_FALLBACK = {"liaocheng": "shandong"}


def resolve(value: str, scenario: str | None = None) -> Path | None:
    """The posterior file named by ``calibration``: '' -> None; 'default' -> the shipped
    posterior of ``scenario`` (sim/data/posteriors/<scenario>.parquet; Liaocheng: Shandong's);
    a shipped name -> sim/data/posteriors/<name>.parquet; a directory -> its
    posterior.parquet; else the file."""
    if not value:
        return None
    shipped = sorted(p.stem for p in POSTERIOR_DIR.glob("*.parquet"))
    if value == "default" and scenario is not None:
        value = scenario if scenario in shipped else DEFAULT_FALLBACK.get(scenario, scenario)
        if value not in shipped:
            raise ConfigError(f"calibration: 'default' has no shipped posterior for scenario {scenario!r} "
                              f"(allowed: '' for none, or a shipped name ({', '.join(shipped)}), a posterior file or a calibration directory)")
    if "/" not in value and not value.endswith(".parquet"):
        path = POSTERIOR_DIR / f"{value}.parquet"
    else:
        path = Path(value)
        if path.is_dir():
            path = path / "posterior.parquet"
    if not path.is_file():
        raise ConfigError(f"calibration: {value!r} is not allowed (allowed: '' for none, 'default' (the scenario's own), a shipped name "
                          f"({', '.join(shipped) or 'none'}), a posterior.parquet file or a calibration run directory)")
    return path


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise ConfigError(f"calibration: {path}: cannot be read as Parquet ({type(e).__name__}) (allowed: a posterior.parquet written by experiments/calibrate.py)") from None
    if "weight" not in df.columns:
        raise ConfigError(f"calibration: {path}: column 'weight' is missing (allowed: parameter columns plus weight, distance, scenario)")
    params = [c for c in df.columns if c not in META_COLUMNS]
    if not params or len(df) == 0:
        raise ConfigError(f"calibration: {path}: no parameter columns or no rows (allowed: at least one particle and one parameter)")
    for c in ["weight", *params]:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(v) | ((v < 0) if c == "weight" else False))
        if bad.size:
            raise ConfigError(f"calibration: {path} row {bad[0]}, column {c!r}: {df[c].iloc[bad[0]]!r} is not allowed (allowed: a finite number{', >= 0' if c == 'weight' else ''})")
    if df["weight"].sum() <= 0:
        raise ConfigError(f"calibration: {path}, column 'weight': all zero (allowed: weights with a positive sum)")
    return df


def load_posterior(value: str, scenario: str | None = None) -> tuple[Path, pd.DataFrame] | None:
    """The posterior table named by ``calibration`` for ``scenario`` (validated), or None for ''."""
    path = resolve(value, scenario)
    if path is None:
        return None
    return path, _load(str(path), path.stat().st_mtime)


def _applicable(config: RunConfig, df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(applied, skipped) parameter columns: ``params.*`` always; ``scenario.*`` only when
    the posterior was fitted to this scenario; ``government.*`` unless ``government.rule`` is
    ``mixture`` or the government's rules are fitted (``government.posterior``): each replicate
    then draws its rule's parameters from its own stream (sim/core/government.py); ``obs.*``
    never (observation side)."""
    fitted_to = str(df["scenario"].iloc[0]) if "scenario" in df.columns else config.scenario.name
    applied, skipped = [], []
    for c in df.columns:
        if c in META_COLUMNS:
            continue
        ok = (c.startswith("params.") or (c.startswith("scenario.") and fitted_to == config.scenario.name)
              or (c.startswith("government.") and config.government.rule != "mixture" and not config.government.posterior))
        (applied if ok else skipped).append(c)
    return applied, skipped


def config_for_replicate(config: RunConfig, replicate: int) -> RunConfig:
    """``config`` with replicate ``replicate``'s parameter set drawn (by weight) from the
    posterior ``config.calibration``; ``config`` itself when there is none.  The draw uses
    SeedSequence(seed, spawn_key=(replicate, CALIBRATION_STREAM)): reproducible, independent
    of the model's streams and of the executor."""
    loaded = load_posterior(config.calibration, config.scenario.name)
    if loaded is None:
        return config
    path, df = loaded
    applied, _ = _applicable(config, df)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(int(replicate), CALIBRATION_STREAM)))
    w = df["weight"].to_numpy(dtype=float)
    row = df.iloc[int(rng.choice(len(df), p=w / w.sum()))]
    return apply_values(config, {c: float(row[c]) for c in applied}, where=f"calibration {path}")


def keep_factors(config: RunConfig, keys) -> RunConfig:
    """``config`` without its posterior (``calibration=''``) when the posterior would overwrite
    any of ``keys`` — the factors of a design, a grid or a sensitivity analysis, whose values
    must hold in every replicate; ``config`` itself otherwise.  Likewise without the
    government's fitted rules (``government.fit=''``) when a factor is one of the parameters
    the fit draws (sim/core/government.py ``FITTED``)."""
    fitted = {f"government.{k}" for k in FITTED_KEYS}
    if set(keys) & fitted and config.government.posterior:
        config = dataclasses.replace(config, government=dataclasses.replace(config.government, fit="", posterior={}))
    loaded = load_posterior(config.calibration, config.scenario.name)
    if loaded is None:
        return config
    applied, _ = _applicable(config, loaded[1])
    return dataclasses.replace(config, calibration="") if set(keys) & set(applied) else config


def describe_use(config: RunConfig) -> dict:
    """What summary.json records about the posterior a forecast drew from."""
    loaded = load_posterior(config.calibration, config.scenario.name)
    if loaded is None:
        return {"calibration": "", "path": None}
    path, df = loaded
    applied, skipped = _applicable(config, df)
    return {"calibration": config.calibration, "path": str(path), "fitted_to": str(df["scenario"].iloc[0]) if "scenario" in df else None,
            "n_particles": int(len(df)), "ess": effective_sample_size(df["weight"].to_numpy(dtype=float)),
            "applied": applied, "skipped": skipped}
