"""Where the time of one replicate goes: wall time per part of ``TierModel.step``.

    .venv/bin/python benchmarks/profile.py                       # national, full scale, replicate 0
    .venv/bin/python benchmarks/profile.py --scenario shandong --scale 1 --json

Each named part is timed by wrapping the model's method (or the ``tiers`` function) with a
wall-clock timer, so nested parts are also inside their parents (``refresh_rates`` contains
``refresh`` and ``rd_decision``; ``refresh`` also runs for entrants, inside ``entry``); ``recognise`` is also split by the tiers
that were due in the month.  One run, fresh process; the overhead of the timers is a few
microseconds per call (~2,000 calls per run).  Plain Python; no timing assertions anywhere.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.config.compose import compose
from sim.core import model as model_mod
from sim.core import tiers as tiers_mod

# (label, owner, attribute, parent) — the parent is only for the printed tree
PARTS = [
    ("apply_levers", model_mod.TierModel, "apply_levers", None),
    ("  _lever_table (January, lever changes)", model_mod.TierModel, "_lever_table", "apply_levers"),
    ("    select_library", model_mod.TierModel, "select_library", "_lever_table"),
    ("  _lever_rows", model_mod.TierModel, "_lever_rows", "apply_levers"),
    ("owners_act", model_mod.TierModel, "owners_act", None),
    ("chain_opening", model_mod.TierModel, "chain_opening", None),
    ("draw (firm-rule variates)", model_mod.TierModel, "draw", None),
    ("refresh_rates", model_mod.TierModel, "refresh_rates", None),
    ("  refresh (also for entrants)", model_mod.TierModel, "refresh", "refresh_rates"),
    ("    rd_decision (January)", model_mod.TierModel, "rd_decision", "refresh"),
    ("move_firms", model_mod.TierModel, "move_firms", None),
    ("exit_firms", model_mod.TierModel, "exit_firms", None),
    ("entry", model_mod.TierModel, "entry", None),
    ("recognise", model_mod.TierModel, "recognise", None),
    ("  niche_markets", tiers_mod, "niche_markets", "recognise"),
    ("  candidates", tiers_mod, "candidates", "recognise"),
    ("  _criteria (prefilter, market, ranks, eligible)", model_mod.TierModel, "_criteria", "recognise"),
    ("    region_ranks", tiers_mod, "region_ranks", "_criteria"),
    ("  run_batch", tiers_mod, "run_batch", "recognise"),
    ("record", model_mod.TierModel, "record", None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="national")
    ap.add_argument("--policy", default="baseline")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--replicate", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = ap.parse_args()

    acc: dict[str, float] = collections.Counter()
    calls: dict[str, int] = collections.Counter()

    def wrap(label: str, owner, attr: str) -> None:
        fn = getattr(owner, attr)

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[label] += time.perf_counter() - t0
                calls[label] += 1
        setattr(owner, attr, timed)

    for label, owner, attr, _ in PARTS:
        wrap(label, owner, attr)
    by_tiers: dict[str, float] = collections.Counter()
    months: dict[str, int] = collections.Counter()
    rec = model_mod.TierModel.recognise

    def recognise(self, t):
        y, mth = self.calendar.year(t), self.calendar.month(t)
        due = "+".join(x for x in model_mod.TIERS if x in self.scenario.tiers and tiers_mod.due(x, self.scenario.tiers[x], y, mth)) or "(none)"
        t0 = time.perf_counter()
        rec(self, t)
        by_tiers[due] += time.perf_counter() - t0
        months[due] += 1
    model_mod.TierModel.recognise = recognise

    cfg = compose(args.scenario, args.policy, [f"scenario.scale={args.scale}"])
    t0 = time.perf_counter()
    m = model_mod.TierModel(config=cfg, replicate=args.replicate)
    t1 = time.perf_counter()
    m.run()
    t2 = time.perf_counter()
    out = {"scenario": args.scenario, "policy": args.policy, "scale": args.scale, "n_firms": int(m.n_initial),
           "rows_end": int(m.firms.n), "steps": m.calendar.n_steps, "synth_s": round(t1 - t0, 3), "step_s": round(t2 - t1, 3),
           "parts_s": {label.strip(): round(acc[label], 3) for label, *_ in PARTS},
           "calls": {label.strip(): calls[label] for label, *_ in PARTS},
           "recognise_by_due_tiers_s": {k: {"months": months[k], "s": round(v, 3)} for k, v in sorted(by_tiers.items(), key=lambda x: -x[1])}}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{args.scenario}/{args.policy} scale {args.scale}: {out['n_firms']:,} firms at the start, {out['rows_end']:,} rows at the end, "
          f"{out['steps']} steps")
    print(f"{'synthesis':52s} {out['synth_s']:7.3f} s")
    print(f"{'steps (all of the below)':52s} {out['step_s']:7.3f} s")
    for label, *_ in PARTS:
        share = acc[label] / (t2 - t1) if t2 > t1 else 0.0
        print(f"  {label:50s} {acc[label]:7.3f} s {100 * share:5.1f}%  ({calls[label]} calls)")
    print("recognise by the tiers due in the month:")
    for k, v in out["recognise_by_due_tiers_s"].items():
        print(f"  {k:50s} {v['s']:7.3f} s  ({v['months']} months)")


if __name__ == "__main__":
    main()
