"""Global sensitivity: Sobol indices of the deadline outcomes to the levers or to parameters.

    python -m experiments.sensitivity scenario=shandong sensitivity=levers n_base=512
    python -m experiments.sensitivity scenario=shandong sensitivity=params n_base=512 replicates_per_point=4

Factors and ranges: configs/sensitivity/<name>.yaml.  Runs (d + 2)·n_base·replicates_per_point
model runs through the sweep engine and writes design.parquet, points.parquet, sobol.csv,
tornado.png/.svg and summary.json into the Hydra run directory
(results/sensitivity/<scenario>/<analysis>/<timestamp>/).  The same from Python:
``sim.pipelines.sensitivity.run_sobol(config, spec, options, out_dir)``.
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
    key_of,
    make_run_dir,
    one_line_errors,
    split,
)
from sim.config.overrides import check_overrides, choices, config_dir
from sim.config.validate import check_run, validate
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines.folders import RunFolder, in_place
from sim.pipelines.sensitivity import OPTION_KEYS, SobolRun, check_factors, check_options, run_sobol

CONFIG_NAME = "sobol"


def normalise(argv: list[str]) -> list[str]:
    """Check every override (one-line errors) before Hydra sees it."""
    out = []
    for a in argv:
        if not a.startswith("-") and "=" in a:
            key, value = key_of(a), a.split("=", 1)[1]
            if key == "sensitivity" and value not in choices("sensitivity"):
                raise ConfigError(f"sensitivity: {value!r} is not allowed (allowed: {', '.join(choices('sensitivity'))})")
            if key == "policies":
                raise ConfigError("policies: unknown key (allowed here: policy=<name>; use experiments.compare to compare policies)")
            a = check_overrides([a], extra_keys=OPTION_KEYS)[0]
        out.append(a)
    return out


def checked(container: dict) -> tuple[RunConfig, dict, object]:
    """(base run config, sensitivity spec, options) of a composed sobol config, validated."""
    opts, rest = split(container, OPTION_KEYS)
    base = validate(rest)
    check_run(base)
    options = check_options(opts, [t.name for t in base.scenario.targets])
    check_factors(base, opts.get("sensitivity", {}))
    return base, opts.get("sensitivity", {}), options


@hydra.main(config_path=str(config_dir()), config_name=CONFIG_NAME, version_base=None)
def _main(cfg: DictConfig) -> None:
    with one_line_errors():
        base, spec, opts = checked(OmegaConf.to_container(cfg, resolve=True))
    run_and_report(base, spec, opts, in_place(HydraConfig.get().runtime.output_dir))  # Hydra made the folder: in place


def run_and_report(base: RunConfig, spec: dict, opts, folder: RunFolder, stop: Interrupts | None = None) -> None:
    """Run the analysis into ``folder`` (committed here if it is a reserved one) and print."""
    d = len(spec["factors"])
    runs = (d + 2) * opts.n_base * opts.replicates_per_point
    print(f"sobol: {spec.get('name')} ({d} factors), N={opts.n_base}, {opts.replicates_per_point} replicate(s) a point "
          f"-> {runs:,} model runs of {base.scenario.name} (scale {base.scenario.scale:g})", flush=True)
    with folder:
        sob = run_sobol(base, spec, opts, folder, plots=base.plots)
    out = str(folder.final)
    if stop is not None:
        stop.kept = out
    summary = sob.attrs["summary"]
    for output, block in sob.groupby("output", sort=False):
        tot = block[block["index"] == "total"].sort_values("estimate", ascending=False)
        first = block[block["index"] == "first"].set_index("factor")
        if tot["estimate"].isna().all():
            print(f"{output}: constant output (no variance to apportion)")
            continue
        print(f"{output} (var {block['output_var'].iloc[0]:,.1f}):")
        for r in tot.head(4).itertuples():
            f1 = first.loc[r.factor]
            print(f"  {r.factor:<48} S1 {f1.estimate:6.3f} [{f1.ci_low:6.3f}, {f1.ci_high:6.3f}]  "
                  f"ST {r.estimate:6.3f} [{r.ci_low:6.3f}, {r.ci_high:6.3f}]")
    c = summary["check"]
    print(f"check: min interval bound {c['min_ci_low']:.3f}, min estimate {c['min_estimate']:.3f}, "
          f"{c['n_meaningfully_negative']} of {c['n_indices']} indices meaningfully negative (interval below 0)")
    print(f"time: {summary['timings_s']['runs']:.1f} s for {runs:,} runs ({summary['timings_s']['per_run']:.3f} s/run)")
    print(f"results: {out}")
    for name in ("sobol.csv", "tornado.png"):
        print(f"wrote: {out}/{name}")


def main(argv: list[str] | None = None) -> None:
    """A single analysis is composed and validated once, then its folder is made; Hydra's
    flags (``-m``, ``--cfg``, ...) go through ``@hydra.main``."""
    with one_line_errors():
        args = normalise(sys.argv[1:] if argv is None else list(argv))
        if not hydra_handles(args):
            job, hydra_node = compose_single(CONFIG_NAME, SobolRun, args)
            base, spec, opts = checked(dict(job))
        else:
            checked(compose_entry(CONFIG_NAME, SobolRun, [a for a in args if "=" in a and not a.startswith("-")]))
    if not hydra_handles(args):
        with interrupts() as stop:
            run_and_report(base, spec, opts, make_run_dir(hydra_node, job, args), stop)
        return
    hand_over_to_hydra(args, _main, SobolRun)  # Hydra's jobs write in place into the folders Hydra made


if __name__ == "__main__":
    main()
