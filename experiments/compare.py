"""Paired policy effects on common random numbers.

    python -m experiments.compare scenario=shandong 'policies=[baseline,financing_plus]' n_replicates=100

Every policy runs the same replicates of the same seed; the first policy is the reference.
Writes compare.csv, outcomes.parquet, effects.png/.svg and summary.json into the Hydra run
directory (results/compare/<scenario>/<timestamp>/) and prints the effects table.  Other
overrides (seed, scenario.scale, params.*, policy.<lever>.*) apply to every policy.
The same from Python: ``sim.pipelines.compare.compare(sim.pipelines.compare.compose_arms(...), out_dir)``.
"""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments._schema import (
    Interrupts,
    compose_entry,
    compose_single,
    hand_over_to_hydra,
    hydra_handles,
    interrupts,
    make_run_dir,
    one_line_errors,
    outside_hydra,
    split,
)
from experiments._schema import key_of as _key
from sim.analysis.paired import format_effects
from sim.config.overrides import check_overrides, choices, config_dir
from sim.config.validate import validate
from sim.core.schema import ConfigError
from sim.pipelines.compare import OPTION_KEYS, CompareRun, check_options, compare, compose_arms
from sim.pipelines.folders import RunFolder, in_place

CONFIG_NAME = "compare"


def arm_overrides(overrides: list[str]) -> list[str]:
    """The overrides that configure each policy's run: all but the compare keys and Hydra's."""
    return [ov for ov in overrides if "=" in ov and not ov.startswith("-") and _key(ov).split(".")[0] not in OPTION_KEYS
            and not _key(ov).startswith("hydra")]


def normalise(argv: list[str]) -> list[str]:
    """``policies=a,b`` -> ``policies=[a,b]`` (a list, not a Hydra sweep); check every override
    (one-line errors); a ``policy=`` group choice is refused (use ``policies``)."""
    out = []
    for a in argv:
        if not a.startswith("-") and "=" in a:
            key, value = a.split("=", 1)
            if _key(a) == "policies" and not value.startswith("["):
                a = f"{key}=[{value}]"
            if _key(a) == "policy":
                raise ConfigError(f"policy: {value!r} is not allowed here (allowed: policies=[a,b,...] with a, b in {', '.join(choices('policy'))})")
            a = check_overrides([a], extra_keys=OPTION_KEYS)[0]
        out.append(a)
    return out


def precheck(overrides: list[str]) -> None:
    """Validate the compare keys and compose every policy's config before Hydra creates any
    output directory."""
    opts, _ = split(compose_entry(CONFIG_NAME, CompareRun, overrides), OPTION_KEYS)
    checked = check_options(opts, choices("policy"))
    compose_arms(None, checked.policies, arm_overrides(overrides))


def run_and_report(checked, arms, folder: RunFolder, plots: bool, stop: Interrupts | None = None) -> None:
    """Run the comparison into ``folder`` (committed here if it is a reserved one) and print."""
    with folder:
        eff = compare(arms, folder, reference=checked.policies[0], confidence=checked.confidence, plots=plots)
    out = str(folder.final)
    if stop is not None:
        stop.kept = out
    print(format_effects(eff))
    print(f"results: {out}")
    for name in ("compare.csv", "effects.png"):
        print(f"wrote: {out}/{name}")


@hydra.main(config_path=str(config_dir()), config_name=CONFIG_NAME, version_base=None)
def _main(cfg: DictConfig) -> None:
    with one_line_errors():
        opts, rest = split(OmegaConf.to_container(cfg, resolve=True), OPTION_KEYS)
        checked = check_options(opts, choices("policy"))
        validate(rest)
        out, task = HydraConfig.get().runtime.output_dir, list(HydraConfig.get().overrides.task)
        with outside_hydra():
            arms = compose_arms(None, checked.policies, arm_overrides(task))
    run_and_report(checked, arms, in_place(out), rest.get("plots", True))  # Hydra made the folder: in place


def main(argv: list[str] | None = None) -> None:
    """A single compare composes its own config once and each arm once, then makes its folder;
    Hydra's flags (``-m``, ``--cfg``, ...) go through ``@hydra.main``."""
    with one_line_errors():
        args = normalise(sys.argv[1:] if argv is None else list(argv))
        if not hydra_handles(args):
            job, hydra_node = compose_single(CONFIG_NAME, CompareRun, args)
            opts, rest = split(dict(job), OPTION_KEYS)
            checked = check_options(opts, choices("policy"))
            arms = compose_arms(None, checked.policies, arm_overrides(args))
        else:
            precheck([a for a in args if "=" in a and not a.startswith("-")])
    if not hydra_handles(args):
        with interrupts() as stop:
            run_and_report(checked, arms, make_run_dir(hydra_node, job, args), rest.get("plots", True), stop)
        return
    hand_over_to_hydra(args, _main, CompareRun)  # Hydra's jobs write in place into the folders Hydra made


if __name__ == "__main__":
    main()
