"""Where the project's Hydra config groups live (``configs/`` beside the package): a leaf
module, so every part of the config layer can find them without import circles."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def config_dir() -> Path:
    """``configs/`` of the source tree; a FileNotFoundError naming the fix when absent."""
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(f"configs/: not found at {CONFIG_DIR} (install tiersim from its source tree: pip install -e .)")
    return CONFIG_DIR
