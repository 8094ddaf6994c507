"""Forecast: an ensemble of one scenario under one policy -> tables, fan charts, summary.

    python -m experiments.forecast scenario=shandong policy=baseline n_replicates=100 seed=1

Writes into the Hydra run directory (results/<scenario>/<policy>/<timestamp>/) and prints
the reachability table.  The same run from Python: ``sim.api.forecast(...)``.
"""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sim.calibration import describe_use
from sim.cli import check_overrides
from sim.compose import compose, config_dir, register
from sim.config import ConfigError, validate
from sim.forecast import forecast
from sim.targets import format_reachability


def report(tables: dict, out_dir: str) -> None:
    print(format_reachability(tables["reachability"]))
    figs = [p for p in tables["figures"]["path"] if p.endswith(".png")]
    print(f"results: {out_dir}")
    for p in figs:
        print(f"figure: {p}")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base=None)
def _main(cfg: DictConfig) -> None:
    try:
        run = validate(OmegaConf.to_container(cfg, resolve=True))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    out = HydraConfig.get().runtime.output_dir
    try:
        report(forecast(run, out), out)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    """Check the overrides (one-line errors) and, for a single run, the whole composed
    config, before Hydra creates any output directory; then hand over to Hydra."""
    try:
        sys.argv[1:] = [a if a.startswith("-") else check_overrides([a])[0] for a in sys.argv[1:]]
        if not {"-m", "--multirun"} & set(sys.argv[1:]):
            run = compose(overrides=[a for a in sys.argv[1:] if "=" in a and not a.startswith(("-", "hydra"))])
            describe_use(run)  # a missing or malformed posterior fails here, before any output
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    register()
    _main()


if __name__ == "__main__":
    main()
