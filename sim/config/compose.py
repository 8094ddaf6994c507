"""Compose a run configuration from ``configs/`` by name, exactly as the Hydra command
line does (Hydra's compose API), and validate it.  For notebooks and tests.

Whatever Hydra itself refuses while composing (an override it cannot merge: a list index past
the end, a value its typed schema cannot take) becomes a one-line ConfigError
(:func:`hydra_errors`), like the checks made before Hydra sees the overrides."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from sim.config import labels  # noqa: F401  (registers the what_if resolver that hydra.run.dir in config.yaml uses)
from sim.config.overrides import check_overrides, config_dir
from sim.config.validate import check_run, validate
from sim.core import model
from sim.core.errors import one_line
from sim.core.schema import ConfigError, RunConfig


def _dotted(full_key: str) -> str:
    """OmegaConf's ``scenario.targets[9].threshold`` or ``scenario.targets.9`` as validate()
    names keys (``scenario.targets[9].threshold``)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", str(full_key))


def from_hydra(exc: BaseException) -> ConfigError:
    """The one-line ConfigError for an exception Hydra or OmegaConf raised while composing:
    the override it could not merge, the key, and OmegaConf's reason (for a list index past
    the end: the indices the list has)."""
    from omegaconf.errors import ConfigIndexError, OmegaConfBaseException

    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    text = one_line(exc)
    m = re.match(r"Error merging override (.*)", text)
    override = m.group(1) if m else ""
    key = _dotted(getattr(cause, "full_key", "") or override.split("=", 1)[0].lstrip("+~"))
    value = override.split("=", 1)[1] if "=" in override else None
    if isinstance(cause, ConfigIndexError):
        parent = getattr(cause, "parent_node", None)
        n = len(parent) if parent is not None else 0
        allowed = f"a list index 0 to {n - 1}" if n else "no index: the list is empty"
        return ConfigError(f"{key}: unknown key (allowed: {allowed})")
    reason = one_line(getattr(cause, "msg", None) or cause).split("    full_key:")[0].strip().rstrip(".")
    reason = re.sub(r"\s+", " ", reason.split(" full_key:")[0])
    if value is not None:
        return ConfigError(f"{key}: {value!r} is not allowed (allowed: what the config's schema accepts; Hydra: {reason})")
    return ConfigError(f"{key or 'config'}: not allowed (allowed: a value Hydra can compose and resolve; Hydra: {reason})")


@contextlib.contextmanager
def hydra_errors() -> Iterator[None]:
    """Turn Hydra's and OmegaConf's composition errors into one-line ConfigErrors."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except (HydraException, OmegaConfBaseException) as e:
        raise from_hydra(e) from e


_REGISTERED: list[type] = []  # the node last stored as run_schema in this process


def register(node: type = RunConfig) -> None:
    """Register ``node`` (the RunConfig schema, or an entry point's subclass adding its keys)
    with Hydra's ConfigStore as ``run_schema``.  Storing converts the whole schema (~0.4 s), so
    it is skipped when ``node`` is already the one stored."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    if _REGISTERED and _REGISTERED[-1] is node and "run_schema.yaml" in store.repo:
        return
    store.store(name="run_schema", node=node)
    _REGISTERED[:] = [node]


def compose_dict(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The composed configuration as a plain dict (not yet validated)."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    ov = ([f"scenario={scenario}"] if scenario else []) + ([f"policy={policy}"] if policy else []) + list(overrides)
    ov = check_overrides(ov)
    register()
    with hydra_errors(), initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = hcompose(config_name="config", overrides=ov)
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def compose(scenario: str | None = None, policy: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Compose and validate: ``compose('shandong', 'baseline', ['policy.financing.intensity=2'])``;
    also checks the run's data file and lever windows (:func:`sim.config.validate.check_run`:
    a clipped lever window is an InputWarning)."""
    run = validate(compose_dict(scenario, policy, overrides))
    check_run(run)
    return run


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
