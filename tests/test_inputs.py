"""Every bad input answered in one line (issue 11 A): the error type, data files, the smallest
scale, lever windows, user errors from worker processes, and real command lines.

The subprocess cases at the end run ``python -m experiments.<x> ...`` and check the exit status,
that stderr is one line and that no folder is left; the in-process property tests over the whole
config space are in tests/test_properties.py."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sim
from sim.config import history
from sim.config.compose import compose
from sim.config.validate import lever_windows, min_scale
from sim.core.errors import InputWarning, UserError
from sim.core.schema import ConfigError
from sim.run.ensemble import run_ensemble

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("national", "shandong", "liaocheng")
POLICIES = sorted(p.stem for p in (ROOT / "configs" / "policy").glob("*.yaml"))
HEADER = ",".join(history.REQUIRED_COLUMNS)
LC_SERIES = "quality_smes_LC_provincial_plus"  # the one series Liaocheng's history maps


# ---- the error type ----------------------------------------------------------------------


def test_config_and_history_errors_are_user_errors_that_pickle_as_themselves():
    assert issubclass(ConfigError, UserError) and issubclass(history.HistoryError, UserError)
    assert issubclass(UserError, ValueError)  # callers catching ValueError keep working
    for cls in (UserError, ConfigError, history.HistoryError):
        e = pickle.loads(pickle.dumps(cls("a: 'x'\nis not allowed (allowed: y)")))
        assert type(e) is cls and str(e) == "a: 'x' is not allowed (allowed: y)"  # one line, even when built from two


def test_user_error_in_a_worker_process_arrives_as_itself():
    """A replicate whose population draws no firm fails inside a loky worker; the parent gets the
    same ConfigError with its one-line message."""
    cfg = compose("liaocheng", "no_policy", ["calibration=", "n_replicates=2", "n_jobs=2", "executor=joblib", "scenario.horizon=2016-03",
                                             "scenario.origin=2016-03", "scenario.window_start=2016-01", "scenario.targets=[]"])
    bad = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, scale=1e-5))  # past validation, as a worker could see it
    with pytest.raises(ConfigError) as exc:
        run_ensemble(bad, progress="off")
    assert type(exc.value) is ConfigError and "\n" not in str(exc.value) and str(exc.value).startswith("scenario.scale: 1e-05")


def test_user_error_in_a_dask_worker_arrives_as_itself():
    distributed = pytest.importorskip("distributed")
    cfg = compose("liaocheng", "no_policy", ["calibration=", "n_replicates=1", "scenario.horizon=2016-03", "scenario.origin=2016-03",
                                             "scenario.window_start=2016-01", "scenario.targets=[]"])
    bad = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, scale=1e-5))
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = dataclasses.replace(bad, executor=dataclasses.replace(bad.executor, name="dask", address=cluster.scheduler_address))
        with pytest.raises(ConfigError, match=r"^scenario\.scale: 1e-05 is not allowed"):
            run_ensemble(run, progress="off")


def test_the_python_api_raises_the_one_line_error_and_prints_nothing(tmp_path, capsys):
    with pytest.raises(UserError) as exc:
        sim.forecast("liaocheng", "baseline", n_replicates=2, overrides=["seed={a: 1}"], out_dir=tmp_path / "out")
    assert str(exc.value) == "seed: {'a': 1} is not allowed (allowed: an integer)"
    with pytest.raises(ConfigError, match=r"^overrides: .* \(allowed: a list of 'key=value' strings\)"):
        sim.forecast("liaocheng", overrides="seed=2")  # a string, not a list: each character would be an override
    assert not (tmp_path / "out").exists() and capsys.readouterr() == ("", "")


# ---- overrides Hydra would refuse with a traceback ---------------------------------------


@pytest.mark.parametrize("override, message", [
    ("n_replicates=[1,2]", "n_replicates: [1, 2] is not allowed (allowed: an integer)"),
    ("seed={a: 1}", "seed: {'a': 1} is not allowed (allowed: an integer)"),
    ("policy.financing=2", "policy.financing: 2 is not allowed (allowed: a mapping of LeverConfig fields)"),
    ("scenario.targets.9.threshold=3", "scenario.targets[9]: unknown key (allowed: a list index 0 to 0)"),
    ("scenario.targets=5", "scenario.targets: 5 is not allowed (allowed: a list)"),
    ("n_replicates=2.0", "n_replicates: 2.0 is not allowed (allowed: an integer)"),
    ("seed=[1,", "seed: '[1,' is not allowed (allowed: a value in Hydra's override syntax;"),
    ("seed=nan", "seed: nan is not allowed (allowed: an integer)"),
    ("params.growth.drift=nan", "params.growth.drift: nan is not allowed (allowed: a finite number)"),
    ("params.growth.drift=inf", "params.growth.drift: inf is not allowed (allowed: a finite number)"),
])
def test_overrides_of_the_wrong_kind_fail_in_one_line(override, message):
    with pytest.raises(ConfigError) as exc:
        compose("liaocheng", "baseline", [override])
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_a_float_in_scientific_notation_is_a_number_as_hydra_reads_it():
    assert compose("shandong", "baseline", ["scenario.scale=5e-2"]).scenario.scale == 0.05  # YAML 1.1 would read '5e-2' as text


# ---- data files --------------------------------------------------------------------------


def _write(tmp_path: Path, text: str | bytes, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _data_error(path: Path | str, scenario: str = "liaocheng") -> str:
    with pytest.raises(ConfigError) as exc:
        compose(scenario, "baseline", [f"data.path={path}"])
    msg = str(exc.value)
    assert msg.startswith("data.path: ") and "\n" not in msg and "allowed" in msg
    return msg


@pytest.mark.parametrize("content, fragment", [
    (None, "history file not found"),
    ("", "file is empty"),
    (HEADER + "\n", "has a header but no data rows"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00binary", "cannot be read as UTF-8 CSV"),
    (b"year,series\x00,value\n", "NUL bytes"),
    (HEADER.replace(",", ";") + f"\n2021;{LC_SERIES};99;firms;;;\n", "the header is one field, separated by ';'"),
    (HEADER.replace(",value", "") + f"\n2021,{LC_SERIES},firms,,,\n", "line 1, column 'value': column is missing"),
    (HEADER + f"\n2021,{LC_SERIES},many,firms,,,\n", "line 2, column 'value': 'many' is not a number"),
    (HEADER + f"\n2021,{LC_SERIES},-4,firms,,,\n", "line 2, column 'value': '-4' is negative"),
    (HEADER + f"\n2021,{LC_SERIES},9,firms,,,\n2021,{LC_SERIES},9,firms,,,\n", "line 3, column 'series': (year, series) = (2021,"),
    (HEADER + f"\n2021,{LC_SERIES},1e12,firms,,,\n", "line 2, column 'value': 1e+12 is more than the 1,870 firms liaocheng simulates"),
    (HEADER + "\n2021,something_else,9,firms,,,\n", f"lacks series '{LC_SERIES}'"),
], ids=["missing", "empty", "header-only", "binary", "nul", "semicolons", "missing-column", "non-numeric", "negative", "duplicate",
        "above-population", "required-series"])
def test_every_malformed_data_file_fails_in_one_line_before_the_run(tmp_path, content, fragment):
    path = tmp_path / "absent.csv" if content is None else _write(tmp_path, content)
    assert fragment in _data_error(path)


def test_a_directory_is_not_a_data_file(tmp_path):
    assert "is a directory" in _data_error(tmp_path)


def test_every_problem_of_a_file_is_reported_at_once_with_line_and_column(tmp_path):
    rows = ["20x1,a,1,firms,,,", "2021,b,-1,firms,,,", "2021,,3,firms,,,", "2022,c,abc,firms,,,"]
    msg = _data_error(_write(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    parts = msg.removeprefix("data.path: mine.csv ").split("; ")
    assert parts[:4] == ["line 2, column 'year': '20x1' is not an integer (allowed: an integer 1990..2100)",
                         "line 3, column 'value': '-1' is negative (allowed: a non-negative number)",
                         "line 4, column 'series': '' is empty (allowed: a non-empty series name)",
                         "line 5, column 'value': 'abc' is not a number (allowed: a non-negative number)"]
    assert parts[4].startswith(f"lacks series '{LC_SERIES}'")


def test_many_problems_name_the_first_few_and_count_the_rest(tmp_path):
    rows = [f"{2000 + i},{LC_SERIES},-{i + 1},firms,,," for i in range(9)]
    msg = _data_error(_write(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    assert msg.count("is negative") == history.MAX_LISTED and msg.endswith(f"; and {9 - history.MAX_LISTED} more problems")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_shipped_data_files_pass_their_scenarios_bounds(scenario):
    run = compose(scenario, "baseline")
    pop = run.scenario.population
    own = [m for m in run.scenario.history if not m.region]  # an area's series are in its own file
    h = history.check_file(history.default_history_path(scenario), pop.n_sme + pop.n_large + pop.n_small_tech,
                           tuple(m.series for m in own), scenario)
    assert {m.series for m in own} <= set(h["series"])
    for m in run.scenario.history:
        if m.region:
            assert m.series in set(history.load_history(history.default_history_path(m.region))["series"]), m.series


# ---- the smallest scale ------------------------------------------------------------------


@pytest.mark.parametrize("scenario, minimum", [("national", 0.00012), ("shandong", 0.0015), ("liaocheng", 0.025)])
def test_scale_below_the_scenarios_minimum_fails_naming_it(scenario, minimum):
    assert min_scale(compose(scenario, "baseline").scenario)[0] == minimum
    below = float(f"{minimum * 0.9:g}")
    with pytest.raises(ConfigError) as exc:
        compose(scenario, "baseline", [f"scenario.scale={below!r}"])
    assert str(exc.value).startswith(f"scenario.scale: {below!r} is not allowed (allowed: >= {minimum:g} for {scenario}: at least one")
    assert compose(scenario, "baseline", [f"scenario.scale={minimum}"]).scenario.scale == minimum  # the minimum itself runs


def test_the_minimum_scale_draws_a_firm_of_each_kind_and_enough_smes_per_tier():
    from sim.core.population import sizes

    for scenario in SCENARIOS:
        sc = compose(scenario, "baseline").scenario
        n = sizes(sc.population, min_scale(sc)[0])
        enabled = sum(t.enabled for t in sc.tiers.values())
        assert min(n.values()) >= 1 and n["sme"] + n["small"] >= 3 * enabled


# ---- lever windows -----------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("policy", POLICIES)
def test_shipped_policies_do_not_warn(scenario, policy):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        run = compose(scenario, policy)
    assert lever_windows(run) == []


@pytest.mark.parametrize("overrides, message", [
    (["policy.financing.start=2026-01", "policy.financing.end=2027-12"],
     "policy.financing.start: '2026-01' is not allowed (allowed: a month up to scenario.horizon 2025-12"),
    (["policy.financing.start=2015-01", "policy.financing.end=2015-09"],
     "policy.financing.end: '2015-09' is not allowed (allowed: a month from scenario.start 2016-01"),
    (["policy.financing.start=2030-01"], "policy.financing.end: '2025-12' is not allowed (allowed: a month not before start '2030-01')"),
])
def test_a_lever_wholly_outside_the_run_is_an_error(overrides, message):
    with pytest.raises(ConfigError) as exc:
        compose("shandong", "baseline", overrides)
    assert str(exc.value).startswith(message)


def test_a_lever_partly_outside_the_run_warns_once_in_one_line():
    with pytest.warns(InputWarning) as rec:
        run = compose("shandong", "baseline", ["policy.financing.start=2015-01"])
    assert [str(w.message) for w in rec] == ["policy.financing: window 2015-01..2025-12 starts before the run (2016-01); clipped"]
    assert run.policy.financing.start == "2015-01"  # the model clips it; the config keeps what was asked
    assert compose("shandong", "baseline", ["policy.financing.intensity=0", "policy.financing.start=2030-01",
                                            "policy.financing.end=2030-06"]).policy.financing.intensity == 0  # off: never an error


def test_a_run_that_ends_before_its_policy_begins_warns_not_fails():
    with pytest.warns(InputWarning, match=r"^policy: no lever acts in the run 2016-01..2018-12"):
        compose("liaocheng", "baseline", ["scenario.horizon=2018-12", "scenario.origin=2018-12", "scenario.window_start=2017-01",
                                          "scenario.targets=[]"])


# ---- real command lines (subprocess) -----------------------------------------------------

LC = ["scenario=liaocheng", "n_replicates=2", "n_jobs=1", "plots=false", "progress=off"]
BAD_FILE = HEADER + f"\n2021,{LC_SERIES},-1,firms,,,\n2021,x,abc,firms,,,\n"

CASES = [  # (entry point, arguments, start of the error line); {run} = the run folder, {bad} = a malformed data file
    ("forecast", [*LC, "n_replicates=[1,2]"], "error: n_replicates: [1, 2] is not allowed"),
    ("forecast", [*LC, "seed={a: 1}"], "error: seed: {'a': 1} is not allowed"),
    ("forecast", [*LC, "policy.financing=2"], "error: policy.financing: 2 is not allowed"),
    ("forecast", [*LC, "scenario.targets.9.threshold=3"], "error: scenario.targets[9]: unknown key (allowed: a list index 0 to 0)"),
    ("forecast", [*LC, "data.path={bad}"], "error: data.path: bad.csv line 2, column 'value': '-1' is negative"),
    ("forecast", [*LC, "data.path=/nonexistent/x.csv"], "error: data.path: /nonexistent/x.csv: history file not found"),
    ("forecast", [*LC, "scenario.scale=1e-06"], "error: scenario.scale: 1e-06 is not allowed (allowed: >= 0.025 for liaocheng"),
    ("forecast", [*LC, "policy.financing.start=2026-01", "policy.financing.end=2026-12"], "error: policy.financing.start: '2026-01'"),
    ("compare", [*LC, "policies=[baseline,no_policy]", "scenario.scale=1e-06"], "error: scenario.scale: 1e-06 is not allowed"),
    ("sensitivity", [*LC, "sensitivity=levers", "data.path={bad}"], "error: data.path: bad.csv line 2"),
    ("calibrate", [*LC, "abc.firms=[1]"], "error: abc.firms: [1] is not allowed (allowed: an integer)"),
    ("backtest", [*LC, "until=[2019]"], "error: abc.until: [2019] is not allowed"),
    ("sweep", [*LC, "design.n=-3", "sweep.dir={run}"], "error: design.n: -3 is not allowed"),
    ("collect", ["{run}"], "error: {run}: no job files"),
    ("heatmap", ["{run}", "x=a", "y=b", "target=t", "value=q"], "error: value: 'q' is not allowed (allowed: p, count)"),
    ("scale_check", ["scenario=liaocheng", "scales=0.5,abc"], "error: scales: 'abc' is not allowed"),
]


def _run(entry: str, args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TIERSIM_DEBUG", None)
    cmd = [sys.executable, "-m", f"experiments.{entry}", *args]
    if entry not in ("collect", "heatmap", "scale_check", "sweep"):
        cmd.append(f"hydra.run.dir={tmp / 'run'}")
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=180)


def test_command_lines_fail_in_one_line_with_exit_2_and_leave_no_folder(tmp_path):
    """Each case in its own directory; two at a time (the machine's two cores)."""
    jobs = []
    for i, (entry, args, start) in enumerate(CASES):
        tmp = tmp_path / f"c{i}"
        tmp.mkdir()
        _write(tmp, BAD_FILE, "bad.csv")
        def fill(text: str, tmp: Path = tmp) -> str:
            return text.replace("{run}", str(tmp / "run")).replace("{bad}", str(tmp / "bad.csv"))

        jobs.append((entry, [fill(a) for a in args], fill(start), tmp))
    with ThreadPoolExecutor(2) as pool:
        procs = list(pool.map(lambda j: _run(j[0], j[1], j[3]), jobs))
    for (entry, args, start, tmp), proc in zip(jobs, procs):
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (entry, args, proc.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith(start), (entry, args, proc.stderr[-2000:])
        assert not (tmp / "run").exists() and not (tmp / "results").exists() and not (tmp / "outputs").exists(), (entry, args)


def test_tiersim_debug_shows_the_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TIERSIM_DEBUG": "1"}
    proc = subprocess.run([sys.executable, "-m", "experiments.forecast", *LC, "seed={a: 1}", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode != 0 and "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("sim.core.schema.ConfigError: seed: {'a': 1} is not allowed")
