"""Result tables (forecast quantiles, tier sums) and crash-safe atomic file writers."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .config import TIERS
from .record import tier_sum

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# forecast metric name -> trajectories column
METRICS = {"stock": "stock", "new": "recognised", "cumulative_new": "cumulative_new"}
SUM_COLUMNS = ["stock", "recognised", "cumulative_new"]
_NEW_FILE_MODE = 0o644


# --------------------------------------------------------------------------- atomic writes
def _atomic_write(path: str | os.PathLike, write: Callable[[IO], None], text: bool = False) -> Path:
    """Run ``write(fh)`` on a temp file next to ``path``, fsync it, then ``os.replace`` it onto
    ``path``. On any exception the temp file is removed and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE
    kw: dict[str, Any] = {"mode": "w", "encoding": "utf-8", "newline": ""} if text else {"mode": "wb"}
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", **kw)
    try:
        with tmp:
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, mode)  # NamedTemporaryFile creates 0600
        os.replace(tmp.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return _atomic_write(path, lambda fh: fh.write(data))


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Atomically write ``df`` as UTF-8 CSV (``index=False`` unless overridden)."""
    kwargs.setdefault("index", False)
    return _atomic_write(path, lambda fh: df.to_csv(fh, **kwargs), text=True)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Atomically write ``df`` as Parquet (pyarrow)."""
    return _atomic_write(path, lambda fh: df.to_parquet(fh, **kwargs))


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays -> native Python; anything else -> ``str(obj)``."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Atomically write ``obj`` as JSON (indent=2, key order kept, non-serialisable -> str)."""

    def _write(fh: IO) -> None:
        json.dump(obj, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")

    return _atomic_write(path, _write, text=True)


# --------------------------------------------------------------------------- tables
def forecast_table(traj: pd.DataFrame) -> pd.DataFrame:
    """Across-replicate mean, quantiles (numpy 'linear') and replicate count per
    (scenario, policy, date, tier, metric), metric in ('stock', 'new', 'cumulative_new')."""
    keys = ["scenario", "policy", "date", "tier"]
    long = (
        traj[[*keys, "replicate", *METRICS.values()]]
        .rename(columns={v: k for k, v in METRICS.items()})
        .melt(id_vars=[*keys, "replicate"], value_vars=list(METRICS), var_name="metric")
    )
    long["metric"] = pd.Categorical(long["metric"], categories=list(METRICS))
    grouped = long.groupby([*keys, "metric"], observed=True, sort=True)
    g = grouped["value"]
    q = g.quantile(list(QUANTILES), interpolation="linear").unstack()
    q.columns = [f"p{round(x * 100):02d}" for x in q.columns]
    out = pd.concat(
        [g.mean().rename("mean"), q, grouped["replicate"].nunique().rename("n_replicates")], axis=1
    ).reset_index()
    out["metric"] = out["metric"].astype(str)
    return out


def sum_tiers(traj: pd.DataFrame, tiers: Iterable[str] | str) -> pd.DataFrame:
    """Per (scenario, policy, replicate, date): stock, recognised and cumulative_new summed over
    ``tiers`` (``sim.record.tier_sum``: in TIERS order, compensated — the sum sweep outcomes and
    calibration summaries use). Raises ValueError for tiers absent from ``traj``."""
    tiers = [tiers] if isinstance(tiers, str) else list(tiers)
    missing = sorted(set(tiers) - set(traj["tier"].unique()))
    if missing:
        raise ValueError(f"tiers not in trajectories: {', '.join(missing)}")
    sub = traj[traj["tier"].isin(tiers)]
    g = sub.groupby(["scenario", "policy", "replicate", "date"], sort=True)
    out = g.size().index.to_frame(index=False)
    rows, cols = g.ngroup().to_numpy(), sub["tier"].map({t: k for k, t in enumerate(TIERS)}).to_numpy()
    for c in SUM_COLUMNS:
        wide = np.full((len(out), len(TIERS)), np.nan)
        wide[rows, cols] = sub[c].to_numpy(dtype=np.float64)
        out[c] = tier_sum(wide)
    return out
