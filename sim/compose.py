"""Compose a run configuration from ``configs/`` by name, exactly as the Hydra command
line does (Hydra's compose API), and validate it.  For notebooks and tests."""

from __future__ import annotations

from pathlib import Path

from .config import RunConfig, validate

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def config_dir() -> Path:
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(f"configs/: not found at {CONFIG_DIR} (install tiersim from its source tree: pip install -e .)")
    return CONFIG_DIR


def choices(group: str) -> list[str]:
    """Names available in a config group (e.g. 'scenario')."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def register() -> None:
    """Register the RunConfig schema with Hydra's ConfigStore as ``run_schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="run_schema", node=RunConfig)


def compose_dict(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The composed configuration as a plain dict (not yet validated)."""
    from hydra import compose as hcompose, initialize_config_dir
    from omegaconf import OmegaConf

    from .cli import check_overrides

    ov = ([f"scenario={scenario}"] if scenario else []) + ([f"policy={policy}"] if policy else []) + list(overrides)
    ov = check_overrides(ov)
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = hcompose(config_name="config", overrides=ov)
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def compose(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Compose and validate: ``compose('shandong', 'baseline', ['policy.financing.intensity=2'])``."""
    return validate(compose_dict(scenario, policy, overrides))
