"""Compose a run configuration from ``configs/`` by name, exactly as the Hydra command
line does (Hydra's compose API), and validate it.  For notebooks and tests."""

from __future__ import annotations

from sim.config import labels  # noqa: F401  (registers the what_if resolver that hydra.run.dir in config.yaml uses)
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import validate
from sim.core import model
from sim.core.schema import RunConfig


def register() -> None:
    """Register the RunConfig schema with Hydra's ConfigStore as ``run_schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="run_schema", node=RunConfig)


def compose_dict(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The composed configuration as a plain dict (not yet validated)."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf


    ov = ([f"scenario={scenario}"] if scenario else []) + ([f"policy={policy}"] if policy else []) + list(overrides)
    ov = check_overrides(ov)
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = hcompose(config_name="config", overrides=ov)
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def compose(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Compose and validate: ``compose('shandong', 'baseline', ['policy.financing.intensity=2'])``."""
    return validate(compose_dict(scenario, policy, overrides))


class TierModel(model.TierModel):
    """``sim.TierModel``: the model composed by name — what ``mesa.batch_run`` drives::

        sim.TierModel(scenario_name="liaocheng", policy_name="baseline", seed=1)

    ``overrides`` are command-line style (``["policy.financing.intensity=2"]``); a given
    ``config`` (a validated RunConfig) takes precedence.  Composition lives here, in the
    config layer: the core model takes a RunConfig."""

    def __init__(self, scenario_name: str = "liaocheng", policy_name: str = "baseline", seed: int = 1, replicate: int = 0,
                 overrides: tuple[str, ...] | list[str] = (), config: RunConfig | None = None, **kwargs) -> None:
        if config is None:
            config = compose(scenario_name, policy_name, [*overrides, f"seed={seed}"])
        super().__init__(config, replicate=replicate, **kwargs)
