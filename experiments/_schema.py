"""Helpers for the entry points: one-line config errors, the overrides that compose a run,
and the schema of entry points whose config is config.yaml plus keys of their own
(experiments/compare.py, experiments/sensitivity.py)."""

from __future__ import annotations

import contextlib
import sys

from omegaconf import OmegaConf

from sim.compose import config_dir
from sim.config import ConfigError


def register(node: type) -> None:
    """Use ``node`` (a RunConfig subclass adding the entry's keys) as config.yaml's
    ``run_schema`` for this process, so Hydra accepts and type-checks those keys."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="run_schema", node=node)


@contextlib.contextmanager
def outside_hydra():
    """Let Hydra's compose API run inside a running Hydra app (``sim.compose``): set the
    app's global state aside and put it back afterwards."""
    from hydra.core.global_hydra import GlobalHydra

    saved = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        if saved is not None:
            GlobalHydra.instance().initialize(saved)


def compose_entry(config_name: str, node: type, overrides: list[str]) -> dict:
    """The entry's composed config as a plain dict (Hydra's compose API, no run directory)."""
    from hydra import compose, initialize_config_dir

    register(node)
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = compose(config_name=config_name, overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def split(container: dict, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """(entry options, run configuration) of a composed entry config."""
    opts = {k: container.pop(k) for k in keys if k in container}
    return opts, container


def key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


@contextlib.contextmanager
def one_line_errors():
    """A ConfigError anywhere inside ends the command with its one-line message on stderr and
    exit status 2 (before Hydra creates an output directory, where used in ``main``)."""
    try:
        yield
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def config_overrides(args: list[str]) -> list[str]:
    """The ``key=value`` overrides of a command line that compose a RunConfig (not flags,
    not ``hydra.*``)."""
    return [a for a in args if "=" in a and not a.startswith(("-", "hydra"))]
