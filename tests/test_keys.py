"""The one dotted-key walker (sim/config/keys.py) and the one record reducer (sim/core/record.py): keys at
every depth (fields, mappings of sub-configs, free-form mappings, list items), one-line errors,
set-and-validate; and target counts that the tidy tables, the sweep outcomes and the
calibration summaries compute identically."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import calibration, targets
from sim.analysis.tables import sum_tiers
from sim.config import keys, posterior
from sim.config.validate import validate
from sim.core import record
from sim.core.calendar import month_index
from sim.core.schema import TIERS, ConfigError, LeverConfig, RunConfig, TargetConfig, TierSchedule
from sim.pipelines import sensitivity
from sim.run import ensemble, sweep


def one_line(err: ConfigError, start: str) -> str:
    msg = str(err)
    assert "\n" not in msg and msg.startswith(start) and "allowed" in msg, msg
    return msg


# ---- leaf: what a key names ---------------------------------------------------------------

@pytest.mark.parametrize("key, typ, free_form", [
    ("seed", int, False),
    ("policy", sim.core.schema.PolicyConfig, False),
    ("policy.financing", LeverConfig, False),
    ("policy.financing.intensity", float, False),
    ("policy.financing.start", str, False),
    ("params.levers.land_cap", float, False),
    ("params.chains.owners_per_chain", int, False),
    ("params.recognition.review_needs_criteria", bool, False),
    ("scenario.tiers", dict, False),
    ("scenario.tiers.srdi", TierSchedule, False),
    ("scenario.tiers.srdi.capacity.quota_default", float, False),
    ("scenario.tiers.srdi.capacity.quota_by_year", dict, False),
    ("scenario.tiers.srdi.capacity.quota_by_year.2030", None, True),
    ("params.recognition.apply_prob.srdi", None, True),
    ("design.factors.policy.financing.intensity", None, True),
    ("scenario.targets", list, False),
    ("scenario.targets.0", TargetConfig, False),
    ("scenario.targets.0.threshold", float, False),
    ("scenario.targets[1].deadline", str, False),
    ("params.firms.hazard_by_age.3", None, False),
    ("criteria.innovative.rd_bands.0.1", None, False),
])
def test_leaf_at_every_depth(key, typ, free_form):
    leaf = keys.leaf(key)
    assert leaf.type is typ and leaf.free_form is free_form
    t, meta, ff = leaf  # unpacks as (type, metadata, free_form)
    assert isinstance(meta, dict)


def test_leaf_carries_the_fields_metadata():
    _, meta, _ = keys.leaf("policy.financing.intensity")
    assert meta["range"] == (0.0, 10.0) and meta["unit"] == "multiple of the announced level"
    assert keys.leaf("policy.financing.target").meta["choices"] == sim.core.schema.SEGMENTS
    assert keys.leaf("params.firms.hazard_by_age").meta["item_range"] == (0.0, 1.0)
    assert keys.parts("scenario.targets[0].threshold") == ["scenario", "targets", "0", "threshold"]


@pytest.mark.parametrize("key, start, mentions", [
    ("polcy.financing.intensity", "polcy: unknown key", ["scenario", "policy"]),
    ("policy.finance.intensity", "policy.finance: unknown key", ["financing", "talent"]),
    ("policy.financing.intensty", "policy.financing.intensty: unknown key", ["start, end, intensity, target, cost"]),
    ("scenario.tiers.giant.enabled", "scenario.tiers.giant: unknown key", ["little_giant"]),
    ("scenario.tiers.srdi.capacity.quota", "scenario.tiers.srdi.capacity.quota: unknown key", ["quota_by_year", "quota_default"]),
    ("params.recognition.apply_prob.giant", "params.recognition.apply_prob.giant: unknown key", ["little_giant"]),
    ("scenario.targets.first.threshold", "scenario.targets.first: unknown key", ["list index"]),
    ("scenario.targets.0.threshld", "scenario.targets[0].threshld: unknown key", ["threshold"]),
    ("params.firms.hazard_by_age.x", "params.firms.hazard_by_age.x: unknown key", ["list index"]),
    ("policy.financing.intensity.max", "policy.financing.intensity.max: unknown key", ["nothing below"]),
])
def test_unknown_keys_fail_in_one_line_at_each_depth(key, start, mentions):
    with pytest.raises(ConfigError) as e:
        keys.leaf(key)
    msg = one_line(e.value, start)
    for m in mentions:
        assert m in msg


# ---- check: a key and a value -----------------------------------------------------------

def test_check_converts_and_rejects_values_like_validate():
    assert keys.check("policy.financing.intensity", 2) == 2.0 and isinstance(keys.check("policy.financing.intensity", 2), float)
    assert keys.check("n_replicates", 3.0) == 3
    assert keys.check("scenario.targets.0.threshold", 5) == 5.0
    assert keys.check("params.recognition.apply_prob.srdi", 7) == 7  # free-form: validate() checks it in context
    assert keys.check("policy.financing", {"intensity": 1}) == LeverConfig(intensity=1.0)
    for key, value, start, mention in (
            ("policy.financing.intensity", 20, "policy.financing.intensity: 20.0 is not allowed", "0.0 to 10.0"),
            ("policy.financing.intensity", "1", "policy.financing.intensity: '1' is not allowed", "a number"),
            ("n_replicates", 2.5, "n_replicates: 2.5 is not allowed", "integer"),
            ("plots", 1, "plots: 1 is not allowed", "true or false"),
            ("policy.financing.target", "everyone", "policy.financing.target: 'everyone' is not allowed", "library_or_titled"),
            ("policy.financing.start", "2021-13", "policy.financing.start: '2021-13' is not allowed", "YYYY-MM"),
            ("scenario.targets.1.threshold", -5, "scenario.targets[1].threshold: -5.0 is not allowed", "0 to"),
            ("params.firms.hazard_by_age", [0.1, 2.0], "params.firms.hazard_by_age[1]: 2.0 is not allowed", "0.0 to 1.0"),
            ("policy.financing", {"intensity": 11}, "policy.financing.intensity: 11.0 is not allowed", "0.0 to 10.0")):
        with pytest.raises(ConfigError) as e:
            keys.check(key, value)
        assert mention in one_line(e.value, start)


# ---- get ----------------------------------------------------------------------------------

def test_get_reads_configs_and_their_mappings():
    cfg = sim.compose("shandong", "baseline")
    d = dataclasses.asdict(cfg)
    for obj in (cfg, d):
        assert keys.get(obj, "policy.financing.intensity") == 1.0
        assert keys.get(obj, "params.recognition.apply_prob.srdi") == 0.6
        assert keys.get(obj, "scenario.tiers.srdi.capacity.quota_by_year.2021") == 1167.0  # int-keyed years
        assert keys.get(obj, "scenario.targets.0.threshold") == keys.get(obj, "scenario.targets[0].threshold") == cfg.scenario.targets[0].threshold
    with pytest.raises(ConfigError) as e:
        keys.get(cfg, "scenario.targets.9.threshold")
    one_line(e.value, "scenario.targets[9]: unknown key")
    with pytest.raises(ConfigError) as e:
        keys.get(cfg, "policy.financing.intensty")
    one_line(e.value, "policy.financing.intensty: unknown key")


# ---- with_values: set and validate --------------------------------------------------------

def test_with_values_sets_every_kind_of_key_and_leaves_the_input_alone():
    cfg = sim.compose("shandong", "baseline")
    before = dataclasses.asdict(cfg)
    out = keys.with_values(cfg, {"policy.financing.intensity": 2, "params.recognition.apply_prob.srdi": 0.3,
                                 "scenario.tiers.srdi.capacity.quota_by_year.2030": 5, "scenario.targets[0].threshold": 10,
                                 "params.firms.hazard_by_age.0": 0.02, "n_replicates": 3})
    assert isinstance(out, RunConfig)
    assert out.policy.financing.intensity == 2.0 and isinstance(out.policy.financing.intensity, float)
    assert out.params.recognition.apply_prob["srdi"] == 0.3
    assert out.scenario.tiers["srdi"].capacity.quota_by_year[2030] == 5.0
    assert out.scenario.tiers["srdi"].capacity.quota_by_year[2021] == 1167.0
    assert out.scenario.targets[0].threshold == 10.0 and out.params.firms.hazard_by_age[0] == 0.02 and out.n_replicates == 3
    assert dataclasses.asdict(cfg) == before  # not modified
    # a composed mapping in, the same validated config out (designs set keys on the composed mapping)
    assert keys.with_values(before, {"policy.financing.intensity": 2}) == keys.with_values(cfg, {"policy.financing.intensity": 2})
    assert keys.with_values(cfg, {}) == cfg
    # a partial mapping: missing sections are added, defaults fill the rest
    assert keys.with_values({}, {"params.growth.drift": 0.05}).params.growth.drift == 0.05


@pytest.mark.parametrize("values, start", [
    ({"policy.financing.intensity": 20.0}, "policy.financing.intensity: 20.0 is not allowed"),
    ({"params.recognition.apply_prob.srdi": 1.5}, "params.recognition.apply_prob.srdi: 1.5 is not allowed"),
    ({"scenario.tiers.srdi.capacity.quota_by_year.2030": -5}, "scenario.tiers.srdi.capacity.quota_by_year.2030: -5.0 is not allowed"),
    ({"policy.financing.end": "2020-01"}, "policy.financing.end: '2020-01' is not allowed"),  # consistency: before start
    ({"scenario.targets.9.threshold": 1.0}, "scenario.targets[9]: unknown key"),
    ({"policy.financing.intensty": 1.0}, "policy.financing.intensty: unknown key"),
])
def test_with_values_always_validates(values, start):
    cfg = sim.compose("liaocheng", "baseline")
    with pytest.raises(ConfigError) as e:
        keys.with_values(cfg, values)
    one_line(e.value, start)


def test_with_values_adds_no_tier_a_scenario_lacks():
    """A key into a tier the scenario does not schedule is an error (it would enable the tier
    with default settings); a new entry of a free-form mapping is added."""
    base = {"scenario": {"tiers": {"srdi": {"capacity": {"rule": "quota", "quota_by_year": {2021: 10}}}}}}
    with pytest.raises(ConfigError) as e:
        keys.with_values(base, {"scenario.tiers.leading.capacity.quota_default": 5.0})
    one_line(e.value, "scenario.tiers.leading: unknown key (allowed: srdi)")
    out = keys.with_values(base, {"scenario.tiers.srdi.capacity.quota_by_year.2022": 12})
    assert out.scenario.tiers["srdi"].capacity.quota_by_year == {2021: 10.0, 2022: 12.0} and list(out.scenario.tiers) == ["srdi"]


def test_sensitivity_apply_now_rejects_what_it_used_to_set_unchecked():
    """The old sensitivity.apply set attributes without validating: intensity 20 (allowed 0 to
    10) went straight into the config.  Through sim.keys it fails in one line."""
    base = sim.compose("shandong", "baseline")
    with pytest.raises(ConfigError) as e:
        sensitivity.apply(base, {"policy.financing.intensity": 20.0})
    one_line(e.value, "policy.financing.intensity: 20.0 is not allowed (allowed: 0.0 to 10.0")
    with pytest.raises(ConfigError) as e:
        sensitivity.apply(base, {"params.recognition.apply_prob.srdi": 1.5})
    one_line(e.value, "params.recognition.apply_prob.srdi: 1.5 is not allowed")
    ok = sensitivity.apply(base, {"policy.financing.intensity": 2.5})
    assert ok == validate(dataclasses.asdict(ok)) and ok.policy.financing.intensity == 2.5


def test_the_consumers_walk_keys_the_same_way():
    cfg = sim.compose("liaocheng", "baseline")
    # calibration: a posterior column that is no config key keeps its message; integer keys are rounded
    with pytest.raises(ConfigError, match=r"^calibration: parameter 'params.growth.nope' is not a config key"):
        posterior.apply_values(cfg, {"params.growth.nope": 0.1})
    assert posterior.apply_values(cfg, {"params.chains.owners_per_chain": 4.4, "obs.champion_unit": 0.9}).params.chains.owners_per_chain == 4
    # sweeps: a --multirun parameter read back from the config, typed; not a key: its yaml value
    assert sweep.params_from_overrides(cfg, ["scenario.targets[0].threshold=12", "policies=[a]"]) == \
        {"scenario.targets[0].threshold": cfg.scenario.targets[0].threshold, "policies": ["a"]}


# ---- the reducer ----------------------------------------------------------------------------

def test_tier_sum_is_compensated_in_tier_order_and_skips_missing_tiers():
    a, b, c = 47833.333333333336, 233.33333333333334, 533.3333333333334
    x = np.array([[0.0, a, b, c], [a, b, c, np.nan], [np.nan] * 4])
    total = comp = 0.0
    for v in (a, b, c):  # Kahan, term by term
        y = v - comp
        t = total + y
        comp, total = (t - total) - y, t
    out = record.tier_sum(x)
    assert out[0] == out[1] == total and out[2] == 0.0
    assert record.tier_sum(np.zeros((3, 0))).tolist() == [0.0, 0.0, 0.0]
    assert record.tier_index(["little_giant", "srdi"]) == [1, 2]
    with pytest.raises(ValueError, match="giant_typo"):
        record.tier_index(["giant_typo"])


def test_count_of_one_record_and_of_many():
    T, K = 6, len(TIERS)
    rng = np.random.default_rng(0)
    recs = [record.RunRecord([f"2021-{m:02d}" for m in range(1, T + 1)], rng.integers(0, 9, (T, K)) / 0.3,
                             rng.integers(0, 3, (T, K, 4)) / 0.3, np.ones(T)) for _ in range(3)]
    many = record.count(recs, ["srdi", "little_giant"], "cumulative_new", 2)
    assert many.shape == (3, T)
    one = record.count(recs[1], ["srdi", "little_giant"], "cumulative_new", 2)
    assert np.array_equal(one, many[1]) and np.all(many[:, :2] == 0)
    assert np.array_equal(record.count(recs, "srdi", "stock", date=4), np.array([r.stock[4, 1] for r in recs]))
    assert np.array_equal(record.count(recs, "srdi", "recognised", date=[0, 5]), np.array([r.flows[[0, 5], 1, 0] for r in recs]))
    assert record.count(recs, [], "stock", date=0).tolist() == [0.0, 0.0, 0.0]
    assert sim.core.model.RunRecord is record.RunRecord and sim.run.ensemble.RunRecord is record.RunRecord
    with pytest.raises(ValueError, match="metric 'flow'"):
        record.count(recs, "srdi", "flow")


@pytest.fixture(scope="module")
def small_run():
    """Shandong at 2% (3 replicates) with a three-tier target: three tiers are where the order of
    a floating-point sum shows (with pandas 3 the old groupby-sum of the sorted tidy table and
    the sweep's Kahan sum differed in the last bit for 3+ tiers)."""
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.02", "n_replicates=3", "calibration=", "n_jobs=1",
                                               "scenario.targets.0.tiers=[srdi,little_giant,single_champion]"])
    return cfg, ensemble.run_ensemble(cfg, n_jobs=1, progress="off")


def test_targets_sweep_outcomes_and_calibration_summaries_agree_exactly(small_run):
    cfg, recs = small_run
    traj = ensemble.trajectories(cfg, recs)
    out = sweep.outcomes(cfg, recs)
    dates = recs[0].dates
    w0 = month_index(cfg.scenario.window_start) - month_index(dates[0])
    assert len(cfg.scenario.targets[0].tiers) == 3
    counts = ensemble.target_counts(cfg, recs)
    for t in cfg.scenario.targets:
        s = sum_tiers(traj, t.tiers)                 # per-date sums of the tidy table: recognitions
        want = record.count(recs, t.tiers, t.metric, w0)  # (R, T)
        got = s.sort_values(["replicate", "date"])[t.metric].to_numpy().reshape(len(recs), len(dates))
        assert np.array_equal(got, want), t.name
        # the target's own count (firms by default, issue 12): sim.targets' series and the sweep outcome
        want = record.target_count(recs, t, w0)
        got = targets.target_series(traj, dataclasses.asdict(t), counts)[t.metric].to_numpy().reshape(len(recs), len(dates))
        assert np.array_equal(got, want), t.name
        assert np.array_equal(out[f"count__{t.name}"].to_numpy(), want[:, dates.index(t.deadline)]), t.name
    # calibration summaries: observations at the deadline of a one-tier target, any metric
    rows = [{"tier": tier, "date": d, "year": int(d[:4]), "metric": m}
            for tier in ("srdi", "little_giant") for d in ("2019-12", "2021-12", "2021-06") for m in ("stock", "cumulative_new", "batch_new", "cumulative_all")]
    obs = pd.DataFrame(rows)
    for r, rec in enumerate(recs):
        summ = calibration.summaries(cfg, rec, obs)
        for i, o in enumerate(obs.itertuples()):
            t = dates.index(o.date)
            s = sum_tiers(traj[traj["replicate"] == r], [o.tier]).set_index("date")
            if o.metric in ("stock", "cumulative_new"):  # what the tidy table holds
                want = s.loc[o.date, o.metric]
            elif o.metric == "batch_new":  # the same reducer from another window: January to December
                want = record.count(rec, o.tier, "cumulative_new", dates.index(f"{o.year}-01"), dates.index(f"{o.year}-12"))
                assert want == pytest.approx(s.loc[f"{o.year}-01":f"{o.year}-12", "recognised"].sum())
            else:  # cumulative_all: from the start
                want = record.count(rec, o.tier, "cumulative_new", 0, t)
                assert want == pytest.approx(s.loc[:o.date, "recognised"].sum())
            assert summ[i] == want, (r, o)
