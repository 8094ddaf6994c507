"""Crash-safe atomic file writers (CSV, Parquet, JSON, bytes): a file is whole or absent."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

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
