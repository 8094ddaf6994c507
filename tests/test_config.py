"""Tests for the configuration: composition of every scenario x policy, units and sources of
every parameter, and one-line ConfigErrors (compose, validate and the command line)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import pytest

from sim.config.compose import compose
from sim.config.overrides import choices
from sim.config.validate import validate
from sim.core.schema import LEVERS, TIERS, ConfigError, LeverConfig, RunConfig, describe

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = choices("scenario")
POLICIES = choices("policy")


def assert_one_line(err: ConfigError | str, field: str) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    assert msg.startswith(field + ":"), f"message does not start with {field!r}: {msg}"
    assert "allowed" in msg, msg
    return msg


# ---- composition --------------------------------------------------------------------

def test_config_groups_are_the_shipped_files():
    assert {"liaocheng", "national", "shandong"} <= set(SCENARIOS)
    assert {"baseline", "no_policy"} | {f"{lever}_plus" for lever in LEVERS} <= set(POLICIES)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_composes_with_every_policy(scenario):
    runs = {}
    for policy in POLICIES:
        run = runs[policy] = compose(scenario, policy)
        assert isinstance(run, RunConfig)
        assert run.scenario.name == scenario
        assert run.policy.name == policy
        # dates ordered, every lever well formed, every target on known tiers
        assert run.scenario.start < run.scenario.horizon
        for name, lever in run.policy.levers().items():
            assert isinstance(lever, LeverConfig)
            assert lever.start <= lever.end, name
            assert 0.0 <= lever.intensity <= 10.0
        assert set(run.scenario.tiers) <= set(TIERS)
        for t in run.scenario.targets:
            assert t.tiers and set(t.tiers) <= set(TIERS)
            assert t.threshold > 0
    base = runs["baseline"]
    assert all(lv.intensity == 1.0 for lv in base.policy.levers().values())
    assert all(lv.intensity == 0.0 for lv in runs["no_policy"].policy.levers().values())
    # '<lever>_plus' doubles exactly one lever of the baseline and leaves the others alone
    plus = [p for p in POLICIES if p.endswith("_plus")]
    for policy in plus:
        lever = policy[: -len("_plus")]
        assert lever in LEVERS
        for name in LEVERS:
            got, want = getattr(runs[policy].policy, name), getattr(base.policy, name)
            if name == lever:
                assert got.intensity == pytest.approx(2.0 * want.intensity)
                assert (got.start, got.end, got.target, got.cost) == (want.start, want.end, want.target, want.cost)
            else:
                assert got == want, (policy, name)
        # scenario, criteria and params do not depend on the policy
        assert (runs[policy].scenario, runs[policy].criteria, runs[policy].params) == (base.scenario, base.criteria, base.params)


def test_overrides_reach_the_validated_config():
    run = compose("liaocheng", "baseline", ["policy.financing.intensity=1.5", "scenario.scale=0.5",
                                           "criteria.little_giant.min_niche_share=0.08", "params.growth.drift=0.05",
                                           "n_replicates=7", "scenario.targets.0.threshold=321"])
    assert run.policy.financing.intensity == 1.5
    assert run.scenario.scale == 0.5
    assert run.criteria.little_giant.min_niche_share == 0.08
    assert run.params.growth.drift == 0.05
    assert run.n_replicates == 7
    assert run.scenario.targets[0].threshold == 321


def test_criteria_group_selects_relaxed_share():
    assert compose("liaocheng", "baseline").criteria.little_giant.min_niche_share == pytest.approx(0.10)
    assert compose("liaocheng", "baseline", ["criteria=relaxed_share"]).criteria.little_giant.min_niche_share == pytest.approx(0.05)


# ---- every parameter has a unit and a source --------------------------------------------

def test_every_parameter_has_unit_and_source():
    rows = describe()
    assert len(rows) > 150
    names = [r[0] for r in rows]
    assert len(names) == len(set(names))
    missing = [name for name, _, unit, source in rows if not str(unit).strip() or not str(source).strip()]
    assert missing == []


def _leaf_fields(cls=RunConfig, prefix=""):
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _leaf_fields(hints[f.name], prefix + f.name + ".")
        else:
            yield prefix + f.name, f


def test_defaults_lie_in_their_declared_range_and_choices():
    bad = []
    for name, f in _leaf_fields():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rng, ch = f.metadata.get("range"), f.metadata.get("choices")
        if rng is not None and not (rng[0] <= default <= rng[1]):
            bad.append(name)
        if ch is not None and default not in ch:
            bad.append(name)
    assert bad == []
    # and validate({}) gives exactly the defaults, with the government fit the default names attached
    from sim.config import rule_file

    assert validate({}) == rule_file.attach(RunConfig()) and RunConfig().government.posterior == {}


# ---- one-line errors through compose (the command-line path) ---------------------------

@pytest.mark.parametrize("scenario, policy, overrides, field, mentions", [
    ("nowhere", "baseline", [], "scenario", ["nowhere", "liaocheng", "national", "shandong"]),
    ("national", "nopolicy", [], "policy", ["nopolicy", "baseline", "no_policy"]),
    ("national", "baseline", ["policy.finance.intensity=1"], "policy.finance", ["financing", "talent"]),
    ("national", "baseline", ["policy.financing.intensty=1"], "policy.financing.intensty", ["intensity"]),
    ("national", "baseline", ["scenario.populaton.n_sme=5"], "scenario.populaton", ["population"]),
    ("national", "baseline", ["policy.financing.intensity=-1"], "policy.financing.intensity", ["-1", "0.0 to 10.0"]),
    ("national", "baseline", ["params.rd.share_with_rd=1.5"], "params.rd.share_with_rd", ["1.5", "0.0 to 1.0"]),
    ("national", "baseline", ["params.recognition.apply_prob.srdi=1.2"], "params.recognition.apply_prob.srdi", ["1.2"]),
    ("national", "baseline", ["policy.financing.start=2021-13"], "policy.financing.start", ["2021-13", "YYYY-MM"]),
    ("national", "baseline", ["scenario.horizon=2025-00"], "scenario.horizon", ["2025-00", "YYYY-MM"]),
    ("national", "baseline", ["n_replicates=2.5"], "n_replicates", ["2.5", "integer"]),
    ("national", "baseline", ["n_replicates=many"], "n_replicates", ["many", "integer"]),
    ("national", "baseline", ["policy.financing.start=2024-01", "policy.financing.end=2023-06"], "policy.financing.end",
     ["2023-06", "2024-01"]),
    ("national", "baseline", ["policy.talent.end=2020-01"], "policy.talent.end", ["2020-01", "start"]),
    ("national", "baseline", ["scenario.targets.0.tiers=[little_giant,giant]"], "scenario.targets[0].tiers", ["giant"]),
    ("national", "baseline", ["scenario.tiers.giant.enabled=false"], "scenario.tiers.giant", ["little_giant"]),
    ("national", "baseline", ["policy.financing.target=everyone"], "policy.financing.target", ["library_or_titled"]),
    ("national", "baseline", ["scenario.horizon=2015-12"], "scenario.horizon", ["2015-12", "2016-01"]),
])
def test_compose_errors_are_one_line(scenario, policy, overrides, field, mentions):
    with pytest.raises(ConfigError) as ei:
        compose(scenario, policy, overrides)
    msg = assert_one_line(ei.value, field)
    for m in mentions:
        assert m in msg


def test_sweep_values_are_each_checked():
    with pytest.raises(ConfigError) as ei:
        compose("national", "baseline", ["policy.financing.intensity=1,-2"])
    assert "-2" in assert_one_line(ei.value, "policy.financing.intensity")


def test_free_form_mappings_take_new_keys_and_check_them():
    run = compose("shandong", "baseline", ["scenario.tiers.srdi.capacity.quota_by_year.2030=5",
                                          "params.recognition.apply_prob.srdi=0.2"])
    assert run.scenario.tiers["srdi"].capacity.quota_by_year[2030] == 5.0
    assert run.scenario.tiers["srdi"].capacity.quota_by_year[2021] == 1167.0
    assert run.params.recognition.apply_prob["srdi"] == 0.2
    for ov, field in (("params.recognition.apply_prob.giant=0.5", "params.recognition.apply_prob.giant"),
                      ("params.recognition.rereview_pass.srdi=1.5", "params.recognition.rereview_pass.srdi"),
                      ("scenario.tiers.srdi.capacity.quota_by_year.2030=-5", "scenario.tiers.srdi.capacity.quota_by_year.2030"),
                      ("scenario.targets.0.deadline=2030-01", "scenario.targets[0].deadline")):
        with pytest.raises(ConfigError) as ei:
            compose("shandong", "baseline", [ov])
        assert_one_line(ei.value, field)


def test_documented_target_override_syntax_works():
    run = compose("liaocheng", "baseline", ["scenario.targets[0].threshold=300"])
    assert run.scenario.targets[0].threshold == 300


# ---- validate() directly on dicts ---------------------------------------------------

@pytest.mark.parametrize("cfg, field", [
    ({"policy": {"finance": {"intensity": 1}}}, "policy.finance"),
    ({"policy": {"financing": {"intensty": 1}}}, "policy.financing.intensty"),
    ({"scenario": {"populaton": {"n_sme": 5}}}, "scenario.populaton"),
    ({"policy": {"financing": {"intensity": -0.1}}}, "policy.financing.intensity"),
    ({"policy": {"financing": {"intensity": 10.5}}}, "policy.financing.intensity"),
    ({"policy": {"financing": {"intensity": True}}}, "policy.financing.intensity"),
    ({"policy": {"financing": {"intensity": "1"}}}, "policy.financing.intensity"),
    ({"params": {"chains": {"member_share": -0.01}}}, "params.chains.member_share"),
    ({"params": {"rd": {"share_with_rd": 1.01}}}, "params.rd.share_with_rd"),
    ({"params": {"recognition": {"rereview_pass": {"little_giant": 1.5}}}}, "params.recognition.rereview_pass.little_giant"),
    ({"params": {"recognition": {"apply_prob": {"giant": 0.5}}}}, "params.recognition.apply_prob.giant"),
    ({"scenario": {"start": "2021-13"}}, "scenario.start"),
    ({"scenario": {"origin": "2021-1"}}, "scenario.origin"),
    ({"policy": {"land": {"start": "21-01"}}}, "policy.land.start"),
    ({"n_replicates": 2.5}, "n_replicates"),
    ({"n_replicates": "20"}, "n_replicates"),
    ({"n_replicates": 0}, "n_replicates"),
    ({"seed": -1}, "seed"),
    ({"policy": {"services": {"start": "2023-01", "end": "2022-12"}}}, "policy.services.end"),
    ({"scenario": {"targets": [{"tiers": ["srdi"]}, {"tiers": ["little_giants"]}]}}, "scenario.targets[1].tiers"),
    ({"scenario": {"targets": [{"tiers": ["srdi"], "deadline": "2025-13"}]}}, "scenario.targets[0].deadline"),
    ({"scenario": {"targets": [{"metric": "flow"}]}}, "scenario.targets[0].metric"),
    ({"scenario": {"tiers": {"giant": {}}}}, "scenario.tiers.giant"),
    ({"scenario": {"tiers": {"srdi": {"capacity": {"rule": "quotas"}}}}}, "scenario.tiers.srdi.capacity.rule"),
    ({"scenario": {"tiers": {"srdi": {"capacity": {"selection_rate": 1.5}}}}}, "scenario.tiers.srdi.capacity.selection_rate"),
    ({"scenario": {"tiers": {"srdi": {"capacity": {"quota_by_year": {"y2022": 5}}}}}}, "scenario.tiers.srdi.capacity.quota_by_year.y2022"),
    ({"scenario": {"tiers": {"srdi": {"batch_month": 13}}}}, "scenario.tiers.srdi.batch_month"),
    ({"scenario": {"start": "2020-01", "horizon": "2020-01"}}, "scenario.horizon"),
    ({"scenario": 5}, "scenario"),
    ({"agents": "some"}, "agents"),
    ({"progress": True}, "progress"),
    ({"plots": 1}, "plots"),
])
def test_validate_errors_are_one_line(cfg, field):
    with pytest.raises(ConfigError) as ei:
        validate(cfg)
    assert_one_line(ei.value, field)


def test_validate_accepts_boundaries_and_converts_types():
    run = validate({"policy": {"financing": {"intensity": 10, "start": "2021-01", "end": "2021-01"}},
                    "params": {"rd": {"share_with_rd": 0}}, "n_replicates": 3.0,
                    "scenario": {"tiers": {"srdi": {"capacity": {"quota_by_year": {2022: 5}}}}}})
    assert run.policy.financing.intensity == 10.0 and isinstance(run.policy.financing.intensity, float)
    assert run.n_replicates == 3 and isinstance(run.n_replicates, int)
    assert run.params.rd.share_with_rd == 0.0
    assert run.scenario.tiers["srdi"].capacity.quota_by_year == {2022: 5}
    assert run.scenario.tiers["srdi"].capacity.rule == "criteria"  # defaults fill the rest


def test_validate_rejects_bad_quota_values():
    for q, year in ((-5, 2022), ("many", 2022)):
        with pytest.raises(ConfigError) as ei:
            validate({"scenario": {"tiers": {"srdi": {"capacity": {"rule": "quota", "quota_by_year": {year: q}}}}}})
        assert_one_line(ei.value, f"scenario.tiers.srdi.capacity.quota_by_year.{year}")


@pytest.mark.parametrize("cfg", [
    {"params": {"firms": {"hazard_by_age": [-0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}}},
    {"params": {"firms": {"hazard_by_age": [0.1, 2.0, 0.1, 0.1, 0.1, 0.1, 0.1]}}},
    {"params": {"firms": {"hazard_by_age": ["a", "b"]}}},
    {"criteria": {"innovative": {"rd_bands": [[0.05]]}}},
])
def test_validate_rejects_bad_list_values(cfg):
    with pytest.raises(ConfigError):
        validate(cfg)


# ---- the command line ---------------------------------------------------------------

def _run_cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "experiments.forecast", *args, f"hydra.run.dir={tmp_path / 'x'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_bad_override_fails_with_one_line_before_any_output(tmp_path):
    proc = _run_cli(tmp_path, "policy.financing.intensity=-1")
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "policy.financing.intensity" in lines[0] and "allowed" in lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "x").exists()


def test_cli_consistency_error_fails_before_any_output(tmp_path):
    proc = _run_cli(tmp_path, "policy.financing.end=2020-01")
    assert proc.returncode != 0
    assert len(proc.stderr.splitlines()) == 1 and "policy.financing.end" in proc.stderr
    assert not (tmp_path / "x").exists()
