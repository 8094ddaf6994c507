"""Property-based tests (hypothesis) over the whole config space, in-process through the entry
points' ``main(argv)`` (forecast, compare, sensitivity).

Strategies draw command lines from every declared key of the schema (``sim.core.schema.RunConfig``
walked by ``describe`` and ``sim.config.keys``, plus tier, target and per-tier entries), with valid
and invalid values (in and out of range, choices, dates, wrong types: lists, mappings, strings,
huge numbers, NaN/inf, negatives), unknown keys at every depth and valid and invalid group choices.
The function that would run the simulation is replaced, so a valid example composes and validates
only.  Each example must either end in exactly one stderr line ``error: ...`` with exit status 2
and no run folder, or reach the run with a config that validates; never a traceback and never
another exception.

The default run is derandomized and sized to stay within the suite's budget (~30 s).  Many more
examples, by hand::

    TIERSIM_LONG_PROPERTIES=1 PYTHONPATH=$PWD .venv/bin/python -m pytest -q tests/test_properties.py
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import re
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import experiments.compare as compare_entry  # noqa: E402
import experiments.forecast as forecast_entry  # noqa: E402
import experiments.sensitivity as sensitivity_entry  # noqa: E402
from sim.config import keys  # noqa: E402
from sim.config.overrides import choices  # noqa: E402
from sim.config.validate import validate  # noqa: E402
from sim.core.schema import TIERS, RunConfig, TierSchedule, describe  # noqa: E402

LONG = os.environ.get("TIERSIM_LONG_PROPERTIES", "") not in ("", "0")
settings.register_profile("default_run", derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _examples(n: int) -> settings:
    return settings(settings.get_profile("long" if LONG else "default_run"), max_examples=n * 25 if LONG else n)


# ---- the config space --------------------------------------------------------------------

KEYS = [name for name, *_ in describe(RunConfig)]
KEYS += [f"scenario.tiers.{t}.{f.name}" for t in TIERS for f in dataclasses.fields(TierSchedule) if f.name != "capacity"]
KEYS += [f"scenario.tiers.srdi.capacity.{k}" for k in ("rule", "quota_default", "quota_growth", "selection_rate")]
KEYS += [f"scenario.targets.0.{k}" for k in ("name", "threshold", "deadline", "metric", "tiers")]
KEYS += [f"params.recognition.apply_prob.{t}" for t in TIERS]
GROUPS = {g: choices(g) for g in ("scenario", "policy", "criteria", "params", "executor")}
NUMBERS = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1e300, -1e300, 2**64, -1, 0, 0.5, 1e-9]))
WRONG = st.one_of(st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
                  st.sampled_from(["abc", "yes", "", "2030-13", "null", "[1,", "{a:", "'", "1 2"]))


def _text(v) -> str:
    """A Python value as the command line writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ",".join(_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d", v):
        return f"'{v}'"
    return str(v)


def _valid(key: str) -> st.SearchStrategy:
    lf = keys.leaf(key)
    meta = lf.meta
    if meta.get("choices"):
        return st.sampled_from(list(meta["choices"]))
    if "YYYY-MM" in str(meta.get("unit", "")):
        return st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2016, 2025), st.integers(1, 12))
    if lf.type is bool:
        return st.booleans()
    if lf.type in (int, float) and meta.get("range"):
        lo, hi = meta["range"]
        if lf.type is int:
            return st.integers(int(lo), int(min(hi, 10**6)))
        return st.floats(float(lo), float(hi), allow_nan=False)
    if lf.type is float or lf.type is None:
        return st.floats(0, 1)
    if lf.type is list and meta.get("item_range"):
        lo, hi = meta["item_range"]
        return st.lists(st.floats(lo, hi, allow_nan=False), min_size=1, max_size=7)
    return st.sampled_from(["x", "srdi"])


@st.composite
def override(draw) -> str:
    key = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from(["valid", "valid", "valid", "valid", "number", "wrong", "unknown"]))
    if kind == "unknown":  # an unknown key at some depth of a declared one
        parts = key.split(".")
        depth = draw(st.integers(1, len(parts)))
        return ".".join([*parts[:depth - 1], draw(st.sampled_from(["zz", "intensty", "9", "Seed"]))]) + "=1"
    value = draw(_valid(key) if kind == "valid" else NUMBERS if kind == "number" else WRONG)
    return f"{key}={_text(value)}"


@st.composite
def group(draw) -> list[str]:
    out = []
    for g, opts in GROUPS.items():
        if draw(st.integers(0, 3)) == 0:  # a group in a quarter of the examples, a bad choice in a fifth of those
            bad = draw(st.integers(0, 4)) == 0
            out.append(f"{g}={draw(st.sampled_from(['hebei', '', 'base line']) if bad else st.sampled_from(opts))}")
    return out


def command_line(extra: st.SearchStrategy | None = None) -> st.SearchStrategy:
    small = st.just(["scenario=liaocheng", "n_replicates=1"])
    parts = [small, group(), st.lists(override(), min_size=1, max_size=3)] + ([extra] if extra is not None else [])
    return st.tuples(*parts).map(lambda ps: [a for p in ps for a in p])


# ---- running an example ------------------------------------------------------------------


class Reached(Exception):
    """Raised by the stand-in for the simulation: the example composed and validated."""


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """The functions that would run the simulation, replaced: each checks its config validates
    again and stops the example (nothing is simulated)."""
    def forecast(run, out, **_):
        validate(dataclasses.asdict(run))
        raise Reached(out)

    def compare(checked, arms, out, plots, stop=None):  # run_and_report(checked, arms, folder, plots, stop)
        assert len(arms) >= 2
        for arm in arms.values():
            validate(dataclasses.asdict(arm))
        raise Reached(out)

    def sobol(base, spec, opts, out, *_, **__):  # run_sobol(base, spec, opts, folder, plots=..., ...)
        validate(dataclasses.asdict(base))
        assert spec["factors"]
        raise Reached(out)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(forecast_entry, "forecast", forecast)
        mp.setattr(compare_entry, "run_and_report", compare)
        mp.setattr(sensitivity_entry, "run_and_report", sobol)
        yield tmp_path_factory.mktemp("props")


def check_example(main, argv: list[str], root: Path) -> None:
    """One command line: one ``error:`` line, exit 2 and no folder; or the run reached."""
    run_dir = root / f"run{len(list(root.iterdir()))}"
    err = io.StringIO()
    reached = False
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main([*argv, f"hydra.run.dir={run_dir}"])
    except Reached:
        reached = True
    except SystemExit as e:
        lines = [ln for ln in err.getvalue().splitlines() if not ln.startswith("warning: ")]
        assert e.code == 2, (argv, err.getvalue())
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err.getvalue())
        assert not run_dir.exists(), argv
        return
    assert reached, argv  # main returned without running: it must not
    assert all(ln.startswith("warning: ") for ln in err.getvalue().splitlines()), (argv, err.getvalue())


@_examples(60)
@given(argv=command_line())
def test_forecast_command_lines(stand_ins, argv):
    check_example(forecast_entry.main, argv, stand_ins)


POLICIES = st.lists(st.sampled_from([*GROUPS["policy"], "nope"]), min_size=0, max_size=3).map(lambda ps: f"policies=[{','.join(ps)}]")


@_examples(12)
@given(argv=command_line(st.lists(st.one_of(POLICIES, st.sampled_from(["confidence=0.9", "confidence=2", "policy=baseline"])),
                                  min_size=1, max_size=2)))
def test_compare_command_lines(stand_ins, argv):
    check_example(compare_entry.main, argv, stand_ins)


SOBOL = st.sampled_from(["sensitivity=levers", "sensitivity=params", "sensitivity=nope", "n_base=8", "n_base=7", "n_base=[8]",
                         "replicates_per_point=0", "outputs=[nope]", "policies=[baseline]"])


@_examples(12)
@given(argv=command_line(st.lists(SOBOL, min_size=1, max_size=2)))
def test_sensitivity_command_lines(stand_ins, argv):
    check_example(sensitivity_entry.main, argv, stand_ins)


def test_the_check_can_fail(stand_ins):
    """Valid and refused command lines pass the check; a traceback, two error lines or a run
    that is never reached fail it."""
    check_example(forecast_entry.main, ["scenario=liaocheng", "seed=3"], stand_ins)
    check_example(forecast_entry.main, ["scenario=liaocheng", "seed=[3]"], stand_ins)

    def two_lines(argv):
        print("error: a", file=__import__("sys").stderr)
        print("error: b", file=__import__("sys").stderr)
        raise SystemExit(2)

    with pytest.raises(KeyError):
        check_example(lambda argv: {}["x"], [], stand_ins)
    with pytest.raises(AssertionError):
        check_example(two_lines, [], stand_ins)
    with pytest.raises(AssertionError):
        check_example(lambda argv: None, [], stand_ins)
