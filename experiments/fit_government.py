"""Fit the government's batch-size rules to the recorded batch sequences (issue 13).

    python -m experiments.fit_government                       # national record to 2021
    python -m experiments.fit_government until=2019            # the record to 2019 (a back-test's view)
    python -m experiments.fit_government ship=true             # also replace the shipped fit

Each rule (target chasing, trend, fixed) is asked, at every recorded batch that has an earlier
one, for the batch it would have set from what was known before it, and scored against the
published batch (``government.fitting.*``: sigma, dof, n_prior, n_keep, seed; the method is in
sim/analysis/rule_fit.py).  Writes into results/government_fit/<scenario>/<timestamp>/:
government_fit.json (weights, evidence, kept draws; ``government.fit=<that file>`` uses it),
rules.csv (one row per rule: prior and posterior weight, log evidence, ESS, parameter
quantiles) and points.csv (per batch and rule: recorded vs the rule's 5/50/95%).
``ship=true`` writes the fit to sim/data/posteriors/government.json, the default of every run.
"""

from __future__ import annotations

import sys

import pandas as pd

from experiments._schema import compose_single, one_line_errors, run_in_folder
from sim.config.overrides import check_overrides
from sim.config.validate import check_run, validate
from sim.core.schema import ConfigError, RunConfig
from sim.pipelines.fit_rules import fit_government

RUN_DIR = "hydra.run.dir=results/government_fit/${scenario.name}/${now:%Y-%m-%d_%H-%M-%S}"
DEFAULTS = ["scenario=national"]


def report(result: dict, out_dir: str) -> None:
    print(f"fit of the batch-size rules on {result['n_points']} recorded batches of {result['scenario']} to {result['origin']} "
          f"(sigma {result['sigma']}, dof {result['dof']}, {result['n_prior']} prior draws):")
    for rule, e in result["rules"].items():
        ev = "not scored (needs the firms)" if e["log_evidence"] is None else f"log evidence {e['log_evidence']:.2f}, ESS {e['ess']:.0f}"
        qs = "; ".join(f"{k} {q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]" for k, q in e["quantiles"].items())
        print(f"  {rule:<15} weight {e['prior_weight']:.2f} -> {e['posterior_weight']:.3f}  {ev}  {qs}")
    pts = pd.DataFrame(result["points"])
    if len(pts):
        print(pts.pivot_table(index=["tier", "year", "recorded"], columns="rule", values="p50").to_string(float_format=lambda v: f"{v:.0f}"))
    print(f"results: {out_dir}")


def _split(argv: list[str]) -> tuple[list[str], bool]:
    """(overrides, ship): ``until=Y`` is ``abc.until=Y`` (as in experiments.backtest); ``ship=``
    is this command's own key."""
    rest, ship = [], False
    for a in argv:
        if a.startswith("ship="):
            v = a.split("=", 1)[1].lower()
            if v not in ("true", "false"):
                raise ConfigError(f"ship: {v!r} is not allowed (allowed: true or false)")
            ship = v == "true"
        else:
            rest.append(("abc." + a) if a.startswith("until=") else a)
    return rest, ship


def main(argv: list[str] | None = None) -> None:
    with one_line_errors():
        args, ship = _split(list(sys.argv[1:] if argv is None else argv))
        args = [RUN_DIR, *DEFAULTS, *(check_overrides([a])[0] for a in args)]
        job, hydra_node = compose_single("config", RunConfig, args)
        run = validate(job)
        check_run(run)
        command = "python -m experiments.fit_government " + " ".join(sys.argv[1:] if argv is None else argv)
        run_in_folder(hydra_node, job, args, lambda folder: fit_government(run, folder, run.abc.until or None, ship, command.strip()), report)


if __name__ == "__main__":
    main()
