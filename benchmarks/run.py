"""Benchmarks for issue 3 ("National scale: a full-population replicate in seconds").

    .venv/bin/python benchmarks/run.py                 # = make bench (~10-15 min on 2 cores)
    .venv/bin/python benchmarks/run.py --quick         # smoke run: 2 runs, 1 agent-driver run, no 100k
    .venv/bin/python benchmarks/run.py --only floor_national --runs 3
    .venv/bin/python benchmarks/run.py --ensemble      # also the 200-replicate national forecast (~minutes)

Prints one JSON object per line on stdout (progress goes to stderr):

* ``national_full``           one national replicate at full population, 120 months, vector driver
* ``driver_comparison_20k``   vector driver vs the per-agent Mesa driver (driver=agent), ~20,000 firms
* ``driver_comparison_100k``  the same at ~100,000 firms
* ``floor_national``          this machine's floor for one national step (see below) and the ratio to it
* ``ensemble_national_200``   (only with --ensemble) ``python -m experiments.forecast scenario=national
                              n_replicates=200 plots=false``, wall time of the whole command

Every timed run happens in a fresh subprocess (``run.py --one SPEC``) so that peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``) and timings belong to that run alone; the child prints
one JSON line, the parent takes medians.  Plain Python: no pytest, no timing assertions.

The floor (``floor_national``): for each of the 120 months of the default run, draw exactly
the variates the model's firm rules draw that month -- by calling the model's own
``model.draw(size, t)`` at the size the model drew, so count, distributions and dtypes are the model's by
construction (3 float32 arrays of the rows in use and the sparse institution variates in a month, 4 more
in January) -- plus one
read-and-write pass over every firm state array (each column of ``sim.core.firms.SCHEMA`` and
``titles``) over the rows in use that month.  The rows in use and the capacity per month
are those of an instrumented run of the same replicate.  A second, wider floor replays
*every* draw of that instrumented run (firm rules, recognition batches, entry) call for
call; both are reported, the headline ``ratio_to_floor`` uses the narrow one.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCH_RESULT "
TARGET_FIRMS = {"driver_comparison_20k": 20_000, "driver_comparison_100k": 100_000}
BENCHES = ("national_full", "driver_comparison_20k", "driver_comparison_100k", "floor_national", "views", "ensemble_national_200")


# ============================================================================ helpers
def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_now_mb() -> float:
    """Current resident set size (VmRSS) in MB, Linux; NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    kib = resource.getrusage(who).ru_maxrss  # KiB on Linux
    return kib / 1024.0


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rnd(x, k=4):
    return None if x is None else round(float(x), k)


def meta() -> dict:
    import numpy as np

    def git(*args):
        try:
            # --no-optional-locks: read-only, never refreshes the index
            return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    h = hashlib.sha256()
    for p in sorted((ROOT / "sim").rglob("*.py")):
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    try:
        import mesa
        mesa_v = mesa.__version__
    except Exception:  # pragma: no cover
        mesa_v = None
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa_v,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": git("rev-parse", "HEAD") or None,
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "sim_sha256": h.hexdigest()[:16],  # content hash of sim/*.py actually measured
    }


# ============================================================================ child: one timed run
def _compose(scale: float, driver: str, extra=(), scenario: str = "national"):
    from sim.config.compose import compose

    return compose(scenario, "baseline", [f"scenario.scale={scale}", f"driver={driver}", "n_jobs=1", "progress=off", *extra])


def child_model(spec: dict) -> dict:
    """Construct (synthesise) one model and step it ``steps`` months; time both."""
    import numpy as np  # noqa: F401  (import cost outside the timings)

    from sim.core.model import TierModel

    t_c0 = time.perf_counter()
    cfg = _compose(spec["scale"], spec["driver"], spec.get("extra", ()), spec.get("scenario", "national"))
    compose_s = time.perf_counter() - t_c0
    rss_before = rss_now_mb()
    t0 = time.perf_counter()
    model = TierModel(config=cfg, replicate=spec["replicate"])
    t1 = time.perf_counter()
    n0 = model.firms.n
    steps = min(spec["steps"], model.calendar.n_steps)
    for _ in range(steps):
        model.step()
    t2 = time.perf_counter()
    alive = model.alive_count[:steps]  # alive at each month end (raw, unscaled)
    return {
        "driver": spec["driver"], "scale": spec["scale"], "replicate": spec["replicate"], "steps": steps,
        "n_firms": int(n0), "n_firms_end": int(model.firms.n), "alive_end": int(alive[-1]),
        "firm_months_alive": int(alive.sum()), "materialised_sme_agents": bool(model.materialise),
        "compose_s": compose_s, "synth_s": t1 - t0, "step_s": t2 - t1, "wall_s": t2 - t0,
        "rss_before_model_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
    }


class CountingRNG:
    """Wraps a numpy Generator: forwards every call, logs (stream, method, args, kwargs,
    size, dtype) into ``sink`` (a list the caller swaps per step).  Draws are unchanged."""

    def __init__(self, rng, stream: str, box: dict) -> None:
        self._rng, self._stream, self._box = rng, stream, box

    def __getattr__(self, attr):
        fn = getattr(self._rng, attr)
        if not callable(fn):
            return fn

        def wrapped(*a, **k):
            import numpy as np

            out = fn(*a, **k)
            arr = np.asarray(out)
            self._box["sink"].append((self._stream, attr, a, k, int(arr.size), arr.dtype.name))
            return out

        return wrapped


def _state_arrays(f):
    from sim.core.firms import SCHEMA

    return [getattr(f, name) for name in SCHEMA] + [f.titles]


def _state_pass(arrays, n: int) -> None:
    """One read and one write of every firm state array over rows 0..n: numbers
    ``a *= 1`` (np.multiply in place), bools ``np.logical_or(a, False, out=a)``; titles
    (tiers x capacity) the same over ``[:, :n]``."""
    import numpy as np

    for a in arrays:
        v = a[..., :n]
        if a.dtype == np.bool_:
            np.logical_or(v, False, out=v)
        else:
            np.multiply(v, a.dtype.type(1), out=v)


def child_floor(spec: dict) -> dict:
    import numpy as np

    from sim.core import tiers as tiers_mod
    from sim.core.firms import SCHEMA
    from sim.core.model import TierModel
    from sim.core.schema import TIERS
    from sim.core.variates import Sparse

    cfg = _compose(1.0, "vector")
    rep = spec["replicate"]

    # --- 1. instrumented run of the same replicate: rows in use, capacity, and every draw, per month
    model = TierModel(config=cfg, replicate=rep)
    box: dict = {"sink": []}
    model.streams = {k: CountingRNG(g, k, box) for k, g in model.streams.items()}
    T = model.calendar.n_steps
    per_step, rows_in_use, capacity, alive = [], [], [], []
    n0 = model.firms.n
    t_audit = time.perf_counter()
    for t in range(T):
        box["sink"] = []
        rows_in_use.append(int(model.firms.n))
        capacity.append(int(model.capacity))
        model.step()
        per_step.append(box["sink"])
        alive.append(int(model.alive_count[t]))
    audit_s = time.perf_counter() - t_audit
    n_end, cal, sc = model.firms.n, model.calendar, model.scenario
    del model

    # --- what model.draw returns (keys, stream, distribution, dtype, size), via the model itself
    probe = TierModel(config=cfg, replicate=rep)
    box2: dict = {"sink": []}
    probe.streams = {k: CountingRNG(g, k, box2) for k, g in probe.streams.items()}
    draws_per_step = {}
    for label, t in (("non_january", 1), ("january", 0)):
        box2["sink"] = []
        d = probe.draw(probe.firms.n, t)
        calls = list(box2["sink"])
        arrays = {}
        for key, v in d.items():  # in key order: one generator call per array; a sparse key's calls are consecutive
            if isinstance(v, Sparse):
                mine = [calls.pop(0)]
                while calls and calls[0][0] == mine[0][0]:
                    mine.append(calls.pop(0))
                arrays[key] = {"stream": mine[0][0], "distribution": "sparse: " + " + ".join(c[1] for c in mine),
                               "dtype": "rows int64 + float32", "size": int(v.rows.size), "of_rows": int(v.size), "bound": v.bound}
            else:
                c = calls.pop(0)
                arrays[key] = {"stream": c[0], "distribution": c[1], "dtype": str(v.dtype), "size": int(v.size)}
        assert not calls, calls
        draws_per_step[label] = {"arrays": arrays, "n_arrays": len(d), "variates": int(sum(a["size"] for a in arrays.values()))}
    draws_per_step["size_note"] = ("size = rows in use at the start (firms ever created; "
                                   f"{probe.firms.n:,} here); move_firms draws one variate per row in use each month")
    del probe

    # --- recognition batches per year from the scenario's tier schedules (batch month, first year,
    # batch_month 0 = continuous: every month); their draws per stream from the instrumented run
    rule_streams = {"growth", "ip", "inst", "exit", "vol", "rd", "bunch"}
    batch_streams = ("apply", "review", "select")
    batch_per_year: dict = {}
    for t in range(T):
        y, m = cal.year(t), cal.month(t)
        due = [x for x in TIERS if x in sc.tiers and tiers_mod.due(x, sc.tiers[x], y, m)]
        if due:
            yr = batch_per_year.setdefault(str(y), {"tier_batches": 0, "tiers": {}})
            yr["tier_batches"] += len(due)
            for x in due:
                yr["tiers"][x] = yr["tiers"].get(x, 0) + 1
    schedules = {x: {"enabled": sc.tiers[x].enabled, "first_year": sc.tiers[x].first_year,
                     "batch_month": sc.tiers[x].batch_month, "capacity_rule": sc.tiers[x].capacity.rule}
                 for x in TIERS if x in sc.tiers}

    # --- every draw of the instrumented run, by category (the ground truth the counts above are checked against)
    audit = {"firm_rules": [0, 0], "batches": [0, 0], "entry": [0, 0], "other": [0, 0]}
    batch_seen: dict = {}
    for t, calls in enumerate(per_step):
        for stream, meth, _a, _k, size, dt in calls:
            cat = ("firm_rules" if stream in rule_streams else "batches" if stream in batch_streams
                   else "entry" if stream == "entry" else "other")
            audit[cat][0] += 1
            audit[cat][1] += size
            if cat == "batches":
                yr = batch_seen.setdefault(str(cal.year(t)), {})
                key = f"{stream}:{meth}:{dt}"
                yr[key] = yr.get(key, 0) + 1
    for y, yr in batch_per_year.items():
        seen = batch_seen.get(y, {})
        yr["arrays_by_stream"] = seen  # "stream:distribution:dtype" -> arrays drawn that year (one variate per row in use)
        yr["arrays"] = sum(seen.values())
        # one uniform array per tier-batch (a sparse one after its geometric gaps)
        yr["apply_arrays_equal_tier_batches"] = sum(v for k, v in seen.items() if k.startswith("apply:random:")) == yr["tier_batches"]
    batch_ok = set(batch_seen) <= set(batch_per_year) and all(v["apply_arrays_equal_tier_batches"] for v in batch_per_year.values())
    # firm-rule calls the floor makes: model.draw at each month's size on fresh streams (sparse keys make a
    # number of calls that depends on the stream, the same in the instrumented run: the same streams and sizes)
    rule_size = [next(size for stream, _m, _a, _k, size, _dt in calls if stream == "growth") for calls in per_step]
    probe = TierModel(config=cfg, replicate=rep)
    box2["sink"] = []
    probe.streams = {k: CountingRNG(g, k, box2) for k, g in probe.streams.items()}
    for t in range(T):
        probe.draw(rule_size[t], t)
    expect_rule_calls = len(box2["sink"])
    del probe
    entry_methods: dict = {}
    for calls in per_step:
        for stream, meth, _a, _k, size, dt in calls:
            if stream == "entry":
                e = entry_methods.setdefault(f"{meth}:{dt}", [0, 0])
                e[0] += 1
                e[1] += size

    # --- 2. the floor, on a freshly constructed model's arrays and streams
    model = TierModel(config=cfg, replicate=rep)
    arrays = _state_arrays(model.firms)
    if max(capacity) > model.capacity:  # the run grew its arrays: give the floor the same room
        model.firms.reserve(max(capacity) - model.firms.n)
        arrays = _state_arrays(model.firms)
    streams = {k: g for k, g in model.streams.items()}

    # rule_size (above): the firm-rule draw size each month, as the model drew it (rows in use when the firm rules ran)

    def floor_narrow():
        for t in range(T):
            d = model.draw(rule_size[t], t)
            del d
            _state_pass(arrays, rows_in_use[t])

    def draws_only():
        for t in range(T):
            d = model.draw(rule_size[t], t)
            del d

    def state_only():
        for t in range(T):
            _state_pass(arrays, rows_in_use[t])

    def floor_all():
        for t in range(T):
            for stream, meth, a, k, _size, _secs in per_step[t]:
                out = getattr(streams[stream], meth)(*a, **k)
                del out
            _state_pass(arrays, rows_in_use[t])

    def batches_entry_only():
        for t in range(T):
            for stream, meth, a, k, _size, _secs in per_step[t]:
                if stream not in rule_streams:
                    out = getattr(streams[stream], meth)(*a, **k)
                    del out

    fns = {"floor": floor_narrow, "draws_firm_rules": draws_only, "state_pass": state_only,
           "floor_all_draws": floor_all, "draws_batches_entry": batches_entry_only}
    times: dict = {k: [] for k in fns}
    floor_narrow()  # warm-up (page faults of first touch)
    for _ in range(spec["reps"]):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)

    return {
        "replicate": rep, "steps": T, "n_firms": int(n0), "n_firms_end": int(n_end), "firm_months_alive": int(sum(alive)),
        "rows_in_use_first_last": [rows_in_use[0], rows_in_use[-1]], "capacity_first_last": [capacity[0], capacity[-1]],
        "times": times, "audit_run_s": audit_s,
        "draws_per_step": draws_per_step,
        "batch_draws_per_year": batch_per_year, "tier_schedules": schedules,
        "draws_audit_120_steps": {
            "note": "generator calls / variates over the instrumented 120-month run, by category",
            **{k: {"calls": v[0], "variates": v[1]} for k, v in audit.items()},
            "firm_rule_calls_expected_from_model_draw": expect_rule_calls,
            "firm_rule_calls_match": audit["firm_rules"][0] == expect_rule_calls and audit["other"][0] == 0,
            "batch_draws_only_in_due_months_one_apply_array_per_batch": batch_ok,
            "entry_by_method": {k: {"calls": v[0], "variates": v[1]} for k, v in sorted(entry_methods.items())},
        },
        "state_arrays": [*SCHEMA, "titles"],
        "state_bytes_per_row": int(sum(np.dtype(dt).itemsize for dt, _ in SCHEMA.values()) + len(TIERS) * np.dtype(np.int32).itemsize),
        "peak_rss_mb": peak_rss_mb(),
    }


def child_ensemble(spec: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="tiersim_bench_") as tmp:
        cmd = [sys.executable, "-m", "experiments.forecast", "scenario=national", f"n_replicates={spec['n']}",
               "plots=false", "progress=off", f"hydra.run.dir={tmp}/run"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        tail = (p.stdout.strip().splitlines() or [""])[:8]
        return {"cmd": " ".join(["python", *cmd[1:-1], "hydra.run.dir=<tmp>"]), "returncode": p.returncode, "wall_s": wall,
                "peak_rss_mb_largest_process": peak_rss_mb(resource.RUSAGE_CHILDREN),
                "stdout_head": tail, "stderr_tail": p.stderr.strip().splitlines()[-5:] if p.returncode else []}


def run_child(spec_json: str) -> None:
    spec = json.loads(spec_json)
    out = {"model": child_model, "floor": child_floor, "ensemble": child_ensemble}[spec["kind"]](spec)
    print(MARK + json.dumps(out), flush=True)


# ============================================================================ parent
class ChildFailed(RuntimeError):
    pass


def spawn(spec: dict) -> dict:
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec)], cwd=ROOT,
                       capture_output=True, text=True)
    if p.stderr:
        sys.stderr.write(p.stderr)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(MARK)]
    if p.returncode != 0 or not lines:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        raise ChildFailed(f"child failed (rc={p.returncode}) for {json.dumps(spec)}: {tail}")
    return json.loads(lines[-1][len(MARK):])


def scale_for(n_target: int) -> tuple[float, int]:
    from sim.config.compose import compose
    from sim.core.population import sizes

    pop = compose("national", "baseline", []).scenario.population
    full = sum(sizes(pop, 1.0).values())
    scale = round(n_target / full, 6)
    return scale, sum(sizes(pop, scale).values())


def model_runs(scale: float, driver: str, steps: int, runs: int, label: str) -> list[dict]:
    out = []
    for r in range(runs):
        res = spawn({"kind": "model", "scale": scale, "driver": driver, "steps": steps, "replicate": r})
        log(f"{label} {driver} run {r + 1}/{runs}: synth {res['synth_s']:.2f} s, {res['steps']} steps {res['step_s']:.2f} s, "
            f"peak {res['peak_rss_mb']:.0f} MB")
        out.append(res)
    return out


def summarise(runs: list[dict]) -> dict:
    step = median([r["step_s"] for r in runs])
    fm = median([r["firm_months_alive"] for r in runs])
    return {
        "runs": len(runs),
        "n_firms": runs[0]["n_firms"], "n_firms_end": int(median([r["n_firms_end"] for r in runs])),
        "wall_s_median": rnd(median([r["wall_s"] for r in runs])),
        "synth_s_median": rnd(median([r["synth_s"] for r in runs])),
        "step_s_median": rnd(step),
        "step_ms_per_month": rnd(1000 * step / runs[0]["steps"], 2),
        "compose_s_median": rnd(median([r["compose_s"] for r in runs])),
        "agent_steps_per_s": rnd(fm / step, 0),
        "peak_rss_mb": rnd(median([r["peak_rss_mb"] for r in runs]), 1),
        "peak_rss_mb_max": rnd(max(r["peak_rss_mb"] for r in runs), 1),
        "rss_before_model_mb_median": rnd(median([r["rss_before_model_mb"] for r in runs]), 1),
        "wall_s_all": [rnd(r["wall_s"], 3) for r in runs],
        "step_s_all": [rnd(r["step_s"], 3) for r in runs],
        "materialised_sme_agents": runs[0]["materialised_sme_agents"],
    }


FIRM_MONTHS = ("agent_steps_per_s = firm-months / step time; firm-months = sum over the steps of firms alive at "
               "each month end (model.alive_count), synthesis excluded")


def bench_national(args, m: dict, cache: dict) -> dict:
    if "national" not in cache:
        cache["national"] = model_runs(1.0, "vector", 120, args.runs, "national_full")
    runs = cache["national"]
    s = summarise(runs)
    targets = {"wall_s": 5, "peak_rss_mb": 1024}
    return {"name": "national_full", "n_firms": s["n_firms"], "n_firms_end": s["n_firms_end"], "steps": runs[0]["steps"],
            "scale": 1.0, "driver": "vector", **{k: v for k, v in s.items() if k not in ("n_firms", "n_firms_end")},
            "wall_s_includes": "population synthesis (TierModel construction) + 120 steps; config composition (Hydra, "
                               "compose_s) and imports excluded",
            "agent_steps_basis": FIRM_MONTHS,
            "peak_rss_note": "ru_maxrss of a fresh process (imports ~rss_before_model_mb included)",
            "targets": targets,
            "meets_targets": bool(s["wall_s_median"] <= targets["wall_s"] and s["peak_rss_mb"] <= targets["peak_rss_mb"]),
            "meta": m}


def bench_compare(name: str, args, m: dict) -> dict:
    scale, n_expected = scale_for(TARGET_FIRMS[name])
    steps = args.compare_steps
    log(f"{name}: scale {scale} -> {n_expected:,} firms, {steps} steps")
    vec = model_runs(scale, "vector", steps, args.runs, name)
    agt = model_runs(scale, "agent", steps, args.agent_runs, name)
    sv, sa = summarise(vec), summarise(agt)
    speed = sa["step_s_median"] / sv["step_s_median"]
    return {"name": name, "n_firms": sv["n_firms"], "n_firms_end": sv["n_firms_end"], "steps": steps, "scale": scale,
            "wall_s_median": sv["wall_s_median"], "agent_steps_per_s": sv["agent_steps_per_s"], "peak_rss_mb": sv["peak_rss_mb"],
            "speedup_vs_agent_driver": rnd(speed, 1),
            "speedup_basis": "agent-driver step time / vector-driver step time (medians); synthesis excluded for both; "
                             "same population (same scale, seed, replicates), same steps from 2016-01",
            "speedup_wall_incl_synthesis": rnd(sa["wall_s_median"] / sv["wall_s_median"], 1),
            "agent_us_per_firm_month": rnd(1e6 * sa["step_s_median"] / median([r["firm_months_alive"] for r in agt]), 2),
            "vector_us_per_firm_month": rnd(1e6 * sv["step_s_median"] / median([r["firm_months_alive"] for r in vec]), 3),
            "target_speedup": 50, "meets_target": bool(speed >= 50),
            "agent_steps_basis": FIRM_MONTHS,
            "vector": sv, "agent": sa, "meta": m}


def bench_floor(args, m: dict, cache: dict) -> dict:
    if "national" not in cache:
        cache["national"] = model_runs(1.0, "vector", 120, args.runs, "national_full (for floor)")
    model_step = median([r["step_s"] for r in cache["national"]])
    log(f"floor_national: instrumented run + {args.runs} floor repetitions")
    res = spawn({"kind": "floor", "replicate": 0, "reps": args.runs})
    tm = {k: median(v) for k, v in res["times"].items()}
    log(f"floor_national: floor {tm['floor']:.2f} s / 120 steps, model {model_step:.2f} s, ratio {model_step / tm['floor']:.2f}")
    ratio = model_step / tm["floor"]
    return {
        "name": "floor_national", "n_firms": res["n_firms"], "n_firms_end": res["n_firms_end"], "steps": res["steps"],
        "scale": 1.0, "wall_s_median": rnd(tm["floor"]),
        "agent_steps_per_s": rnd(res["firm_months_alive"] / tm["floor"], 0),
        "peak_rss_mb": rnd(res["peak_rss_mb"], 1),
        "floor_s_per_120_steps": rnd(tm["floor"]),
        "model_step_s": rnd(model_step),
        "ratio_to_floor": rnd(ratio, 2),
        "target_ratio": 2, "meets_target": bool(ratio <= 2),
        "floor_includes": ("per month t of the 120: model.draw(size_t, t) -- the firm-rule variates, 3 float32 arrays of "
                           "size_t and the sparse institution variates (4 more arrays in January), size_t = the size the model drew that month (rows in use) -- plus one read+write pass over every SCHEMA column and titles over the "
                           "rows in use at month t (np.multiply(a, 1, out=a) for numbers, np.logical_or(a, False, out=a) for "
                           "bools); rows in use and capacity per month from an instrumented run of the same replicate"),
        "floor_excludes": ("recognition-batch draws (batch_draws_per_year) and entry draws (draws_audit_120_steps.entry); "
                           "they are in floor_all_draws_s_per_120_steps"),
        "floor_components_s": {"draws_firm_rules": rnd(tm["draws_firm_rules"]), "state_pass": rnd(tm["state_pass"]),
                               "draws_batches_entry": rnd(tm["draws_batches_entry"])},
        "floor_all_draws_s_per_120_steps": rnd(tm["floor_all_draws"]),
        "floor_all_draws_includes": "every generator call of the instrumented run replayed with the same arguments "
                                    "(firm rules, recognition batches, entry count and entrants' attributes) + the same state pass",
        "ratio_to_floor_all_draws": rnd(model_step / tm["floor_all_draws"], 2),
        "floor_times_all": {k: [rnd(x, 3) for x in v] for k, v in res["times"].items()},
        "rows_in_use_first_last": res["rows_in_use_first_last"], "capacity_first_last": res["capacity_first_last"],
        "state_arrays": res["state_arrays"], "state_bytes_per_row": res["state_bytes_per_row"],
        "draws_per_step": res["draws_per_step"],
        "batch_draws_per_year": res["batch_draws_per_year"],
        "batch_draws_note": ("per due tier-batch (scenario.tiers): one 'apply' uniform array (a continuous tier's sparse, "
                             "after geometric gaps); 'review' and 'select' arrays "
                             "only where model.recognise draws them (counts from the instrumented run); each array has "
                             "one float32 variate per row in use"),
        "tier_schedules": res["tier_schedules"],
        "draws_audit_120_steps": res["draws_audit_120_steps"],
        "agent_steps_basis": "firm-months of the instrumented run (alive at month end) / floor time: the rate at the floor",
        "meta": m,
    }


# issue 14's views: (name, scenario, overrides); the focused views are the national population with the
# other regions thinned (every firm below the bar: strata_revenue 1e7, their ghosts in the markets)
VIEWS = (("shandong_view", "shandong", ()), ("liaocheng_view", "liaocheng", ()),
         ("shandong_focused_national", "national", ("scenario.regions.0.scale=0.02", "scenario.strata_revenue=1e7")),
         ("liaocheng_focused_national", "national", ("scenario.regions.0.scale=0.02", "scenario.regions.1.scale=0.05",
                                                     "scenario.strata_revenue=1e7")))


def bench_views(args, m: dict) -> dict:
    """One replicate (synthesis + 120 months) of each view, interleaved run by run (same hour, same
    load): today's Shandong and Liaocheng views and the national population focused on each."""
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in VIEWS}
    for r in range(args.runs):
        for name, scenario, extra in VIEWS:
            res = spawn({"kind": "model", "scale": 1.0, "driver": "vector", "steps": 120, "replicate": r,
                         "scenario": scenario, "extra": list(extra)})
            log(f"views {name} run {r + 1}/{args.runs}: synth {res['synth_s']:.2f} s, steps {res['step_s']:.2f} s")
            runs[name].append(res)
    s = {name: summarise(v) for name, v in runs.items()}
    wall = {name: v["wall_s_median"] for name, v in s.items()}
    ratio = rnd(wall["shandong_focused_national"] / wall["shandong_view"], 2)
    targets = {"shandong_focused_over_shandong_view": 1.5, "liaocheng_focused_wall_s": 0.5}
    return {"name": "views", "views": {name: {"scenario": sc, "overrides": list(ex), **s[name]} for name, sc, ex in VIEWS},
            "wall_s_median": wall, "shandong_focused_over_shandong_view": ratio, "targets": targets,
            "meets_targets": bool(ratio <= 1.5 and wall["liaocheng_focused_national"] <= 0.5),
            "wall_s_includes": "population synthesis + 120 steps, one replicate, calibration default (posterior draw not "
                               "applied: TierModel on the composed config)", "meta": m}


def bench_ensemble(args, m: dict) -> dict:
    n, runs = args.ensemble_replicates, args.ensemble_runs
    name = f"ensemble_national_{n}"
    walls, res = [], {}
    for i in range(runs):
        log(f"{name} run {i + 1}/{runs}: python -m experiments.forecast scenario=national n_replicates={n} (n_jobs=-1: all cores)")
        res = spawn({"kind": "ensemble", "n": n})
        log(f"{name}: {res['wall_s']:.1f} s (rc {res['returncode']})")
        if res["returncode"] != 0:
            break
        walls.append(res["wall_s"])
    wall = statistics.median(walls) if walls else float("nan")
    extra = {} if n == 200 else {"wall_s_extrapolated_to_200": rnd(wall * 200 / n, 1),
                                 "extrapolation_note": "linear in replicates, fixed start-up included: a rough guide, not a measurement"}
    return {"name": name, "n_firms": 500_000, "steps": 120, "replicates": n,
            "wall_s_median": rnd(wall, 1), "runs": len(walls), "wall_s_all": [rnd(w, 1) for w in walls], **extra,
            "agent_steps_per_s": None, "peak_rss_mb": rnd(res["peak_rss_mb_largest_process"], 1),
            "peak_rss_note": "largest single process of the forecast's process tree (RUSAGE_CHILDREN ru_maxrss)",
            "cmd": res["cmd"], "returncode": res["returncode"], "workers": os.cpu_count(),
            "target_wall_s": 480 if n == 200 else None,
            "meets_target": bool(res["returncode"] == 0 and wall <= 480) if n == 200 else None,
            "stdout_head": res["stdout_head"], "stderr_tail": res["stderr_tail"], "meta": m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", metavar="JSON", help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per vector benchmark and floor repetitions (default 5)")
    ap.add_argument("--agent-runs", type=int, default=3, help="runs of the per-agent driver (default 3)")
    ap.add_argument("--compare-steps", type=int, default=12, help="months stepped in the driver comparison (default 12, from 2016-01)")
    ap.add_argument("--quick", action="store_true", help="smoke run: --runs 2 --agent-runs 1, skip the 100k comparison")
    ap.add_argument("--ensemble", action="store_true", help="also run the 200-replicate national forecast, --ensemble-runs times (~8 min a run)")
    ap.add_argument("--ensemble-runs", type=int, default=5, metavar="K", help="runs of the ensemble benchmark, median reported (default 5, the issue's rule)")
    ap.add_argument("--ensemble-replicates", type=int, default=200, metavar="N",
                    help="replicates of the ensemble benchmark (default 200, the issue's figure; smaller for a smoke test)")
    ap.add_argument("--only", choices=BENCHES, action="append", help="run only this benchmark (repeatable)")
    args = ap.parse_args()
    for flag in ("runs", "agent_runs", "compare_steps", "ensemble_runs", "ensemble_replicates"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')}: {getattr(args, flag)} is not allowed (allowed: an integer >= 1)")
    if args.one:
        run_child(args.one)
        return
    if args.quick:
        args.runs, args.agent_runs = 2, 1
    selected = list(args.only) if args.only else [b for b in BENCHES if b != "ensemble_national_200"]
    if args.ensemble and "ensemble_national_200" not in selected:
        selected.append("ensemble_national_200")
    if args.quick and not args.only:
        selected = [b for b in selected if b != "driver_comparison_100k"]
    sys.path.insert(0, str(ROOT))
    m = meta()
    m["argv"] = sys.argv[1:]
    log(f"benchmarks: {', '.join(selected)} (runs={args.runs}, agent runs={args.agent_runs}, "
        f"load {m['loadavg_at_start']}, commit {str(m['git_commit'])[:10]}{' +dirty' if m['git_dirty'] else ''})")
    cache: dict = {}
    t0 = time.perf_counter()
    failed = 0
    for name in selected:
        try:
            if name == "national_full":
                out = bench_national(args, m, cache)
            elif name.startswith("driver_comparison"):
                out = bench_compare(name, args, m)
            elif name == "floor_national":
                out = bench_floor(args, m, cache)
            elif name == "views":
                out = bench_views(args, m)
            else:
                out = bench_ensemble(args, m)
        except ChildFailed as e:  # report and go on: one broken benchmark should not hide the others
            failed += 1
            log(f"{name}: FAILED: {e}")
            out = {"name": name, "error": str(e), "meta": m}
        out["meta"] = {**out["meta"], "loadavg_at_emit": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps(out), flush=True)
    log(f"done in {time.perf_counter() - t0:.0f} s" + (f", {failed} benchmark(s) failed" if failed else ""))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
