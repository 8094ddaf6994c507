"""Government agents and batch-size rules (issue 13, part 1): each rule on hand-made gaps,
the mixture's draws (reproducible, paired across policies), the agents in the model, the
recorded history kept, and P per rule in the reachability table."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import calibration, targets
from sim.core import government as gov
from sim.core.agents import City, Ministry, Province
from sim.core.firms import TIER_INDEX
from sim.core.model import TierModel, simulate
from sim.core.schema import ConfigError, GovernmentConfig
from tests.synthetic import make_traj


def _setting(rule: str, **kw) -> gov.Setting:
    base = dict(rule=rule, over_fulfilment=1.5, floor=0.78, trend_k=3, min_growth=-0.25, max_growth=0.5,
                review_capacity=2.0, path={})
    return gov.Setting(**{**base, **kw})


# ---- the rules on hand-made gaps --------------------------------------------------------

def test_per_year_need_by_hand():
    assert gov.per_year_need(600, 4) == 150.0                      # 600 firms over 4 batches
    assert gov.per_year_need(600, 4, retention=0.8) == 187.5      # a fifth of new titles lost before the deadline
    assert gov.per_year_need(-50, 4) == 0.0 and gov.per_year_need(600, 0) == 0.0


def test_target_chasing_by_hand():
    assert gov.target_chasing(150.0, 1.5, last_batch=100.0, floor=0.78) == 225.0   # 1.5 x 150 above the floor 78
    assert gov.target_chasing(150.0, 1.5, last_batch=400.0, floor=0.78) == pytest.approx(312.0)  # the floor 0.78 x 400
    assert gov.target_chasing(0.0, 1.5, last_batch=None, floor=0.78) == 0.0          # never below 0, no floor without a batch
    gap = gov.Gap(gap=400.0, batches_left=4, share=0.25, retention=0.5)              # 100 firms of the gap, 25/batch, half survive
    assert gap.need() == 50.0


def test_trend_by_hand():
    # log growth of 100, 200, 400 is log 2 = 0.69 per batch: clipped to 0.5, or not
    assert gov.trend([100, 200, 400], 3, -0.25, 0.5) == pytest.approx(400 * math.exp(0.5))
    assert gov.trend([100, 200, 400], 3, -0.25, 1.0) == pytest.approx(800.0)
    assert gov.trend([50, 400, 200, 100], 2, -0.25, 1.0) == pytest.approx(100 * math.exp(-0.25))  # last 2: halving, clipped
    assert gov.trend([0, 250], 3, -0.25, 1.0) == 250.0 and gov.trend([], 3, -0.25, 1.0) is None


def test_fixed_and_bounds_by_hand():
    assert gov.fixed(2023, {2023: 500.0}, 300.0) == 500.0 and gov.fixed(2024, {2023: 500.0}, 300.0) == 300.0
    assert gov.bounded(700.0, 600.0) == 600.0 and gov.bounded(None, 600.0) == 600.0 and gov.bounded(-3.0, 600.0) == 0.0


def test_decide_by_hand():
    hist = [248.0, 1584.0, 2930.0]  # little-giant batches 2019-21 (data/)
    gaps = [gov.Gap(10000 - 4762, 4)]  # 5,238 missing over 4 batches: 1,309.5 per batch
    assert gov.decide(_setting("criteria_only"), 2022, hist, 2930.0, gaps) == 5860.0          # the review capacity, 2 x 2,930
    assert gov.decide(_setting("target_chasing"), 2022, hist, 2930.0, gaps) == pytest.approx(0.78 * 2930)  # the floor binds
    assert gov.decide(_setting("target_chasing", floor=0.0), 2022, hist, 2930.0, gaps) == pytest.approx(1.5 * 1309.5)
    # no open target (the plan closed): the floor alone, here a programme growing 20% a year
    assert gov.decide(_setting("target_chasing", floor=1.2), 2022, hist, 2930.0, []) == pytest.approx(1.2 * 2930)
    assert gov.decide(_setting("fixed"), 2022, hist, 2930.0, gaps) == 2930.0                  # persistence
    path = {"little_giant": {2022: 4000.0}}
    assert gov.decide(_setting("fixed", path=path), 2022, hist, 2930.0, gaps, "little_giant") == 4000.0
    assert gov.decide(_setting("fixed", path=path), 2022, hist, 2930.0, gaps, "single_champion") == 2930.0  # another tier's path
    assert gov.decide(_setting("trend"), 2022, hist, 2930.0, gaps) == pytest.approx(2930 * math.exp(0.5))  # growth clipped
    assert gov.decide(_setting("trend", review_capacity=1.1), 2022, hist, 2930.0, gaps) == pytest.approx(1.1 * 2930)


# ---- the mixture -------------------------------------------------------------------------

def test_mixture_draws_are_reproducible_and_follow_the_weights():
    g = GovernmentConfig()
    a = [gov.setting(g, 7, r) for r in range(400)]
    assert a == [gov.setting(g, 7, r) for r in range(400)]
    assert [s.as_dict() for s in a] != [gov.setting(g, 8, r).as_dict() for r in range(400)]
    share = {r: sum(s.rule == r for s in a) / len(a) for r in gov.RULES}
    for rule, w in g.weights.items():
        assert abs(share[rule] - w / sum(g.weights.values())) < 0.08, share
    for path, _shape, lo, hi, _u, _n in gov.PRIORS:
        key = path.split(".")[-1]
        vals = [s.as_dict()[key] for s in a]
        assert lo <= min(vals) and max(vals) <= hi
    single = dataclasses.replace(g, rule="trend")
    assert {gov.setting(single, 7, r).rule for r in range(5)} == {"trend"}


def test_mixture_draws_are_the_same_under_two_policies():
    base = sim.compose("liaocheng", "baseline", ["scenario.scale=0.3", "calibration="])
    other = sim.compose("liaocheng", "financing_plus", ["scenario.scale=0.3", "calibration="])
    for r in range(3):
        assert simulate(base, r).government == simulate(other, r).government


# ---- the agents in the model -------------------------------------------------------------

def test_government_agents_per_view():
    # the national view: MIIT, and Shandong's Province running its own SRDI and provincial-champion programmes
    for name, expect in (("national", {Ministry, Province}), ("shandong", {Ministry, Province}), ("liaocheng", {Ministry, Province, City})):
        m = TierModel(sim.compose(name, "baseline", ["scenario.scale=0.01" if name == "national" else "scenario.scale=0.2", "calibration="]), 0,
                      records_only=True)
        present = {t for t in (Ministry, Province, City) if t in m.agent_types and len(m.agents_by_type[t])}
        assert present == expect, name
        owner = {tier: type(g) for tier, g in m._gov_of.items()}
        if name == "shandong":
            assert owner["little_giant"] is Ministry and owner["srdi"] is Province and owner["provincial_champion"] is Province
            # the province holds both sets of targets: seed 003 (new) and its 14th-FYP stock targets
            names = {t.name for t in m._gov_of["srdi"].targets}
            assert {"srdi_new_2025", "srdi_stock_14fyp"} <= names
        if name == "national":  # the view's tiers are MIIT's; Shandong's own programmes its Province's
            assert set(owner.values()) == {Ministry}
            prov = m._prog_gov["shandong"]
            assert isinstance(prov, Province) and prov.area == "shandong" and prov.tiers == ("srdi", "provincial_champion")
            assert {t.name for t in prov.targets} == {"srdi_new_2025", "champion_new_2025", "srdi_stock_14fyp"}
            assert {t.region for t in prov.targets} == {"shandong"}
    m = TierModel(sim.compose("national", "baseline", ["scenario.scale=0.01", "calibration=", "government.province_programmes=false"]),
                  0, records_only=True)
    assert {t for t in (Ministry, Province, City) if t in m.agent_types and len(m.agents_by_type[t])} == {Ministry}


def _capacities(cfg) -> dict[tuple[str, str], float]:
    """Each batch's capacity (firms, real units; NaN: no bound), summed over the provinces'
    parts of MIIT's batches in a view of several provinces."""
    rec = simulate(cfg, 0)
    out: dict[tuple[str, str], float] = {}
    for b in rec.batches:
        key = (b["date"], b["tier"])
        out[key] = out[key] + b["capacity"] if key in out else b["capacity"]
    return out


def test_recorded_batches_stay_and_quota_default_is_not_read_after_the_origin():
    ov = ["scenario.scale=0.2", "calibration=", "government=target_chasing"]
    cfg = sim.compose("shandong", "baseline", ov)
    cap = _capacities(cfg)
    assert [cap[(f"{y}-06", "little_giant")] for y in (2019, 2020, 2021)] == pytest.approx([19, 122, 221], abs=0.01)
    odd = _capacities(sim.compose("shandong", "baseline", ov + ["scenario.tiers.little_giant.capacity.quota_default=9999",
                                                                  "scenario.tiers.srdi.capacity.quota_default=1"]))
    assert cap == odd  # the rule sizes 2022-25 from the record, not from quota_default
    after = [cap[(f"{y}-06", "little_giant")] for y in range(2022, 2026)]
    assert all(a >= 0.78 * 221 - 1e-6 for a in after[:1])  # the floor: 0.78 x the last recorded batch


def test_backtest_truncation_hands_the_later_batches_to_the_rule():
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.2", "calibration=", "government=fixed"])
    cut = calibration.truncate_quotas(cfg, 2019)
    assert cut.scenario.tiers["little_giant"].capacity.quota_by_year == {2019: 19}
    cap = _capacities(cut)
    assert cap[("2020-06", "little_giant")] == pytest.approx(19) and cap[("2021-06", "little_giant")] == pytest.approx(19)


def test_declared_priors_are_the_government_parameters():
    cfg = sim.compose("shandong", "baseline", ["calibration="])
    paths = [p.path for p in calibration.declare_priors(cfg)]
    assert not [p for p in paths if "quota_default" in p or "quota_growth" in p]
    assert {f"government.{row[0]}" for row in gov.PRIORS} <= set(paths)
    assert all(not p.informed for p in calibration.declare_priors(cfg, until=2019) if p.path.startswith("government."))


# ---- P per rule --------------------------------------------------------------------------

def test_reachability_per_rule_on_a_small_ensemble():
    traj = make_traj(n_rep=6)
    traj = traj[traj["scenario"] == "base"]
    # little-giant stock at the deadline: 123 + 10 r (tests/synthetic.py), >= 150 for r >= 3
    t = {"name": "lg", "label": "lg", "tiers": ["little_giant"], "metric": "stock", "threshold": 150.0, "deadline": "2022-12",
         "illustrative": False, "count": "firms"}
    rules = pd.DataFrame({"scenario": "base", "policy": "status_quo", "replicate": np.arange(6),
                          "rule": ["trend", "trend", "fixed", "trend", "fixed", "fixed"]})
    reach = targets.reachability_table(traj, [t], rules=rules).set_index("rule")
    assert reach.loc["all", "p_reached"] == pytest.approx(3 / 6)       # replicates 3, 4, 5
    assert reach.loc["trend", "p_reached"] == pytest.approx(1 / 3)     # 0, 1, 3 -> only 3
    assert reach.loc["fixed", "p_reached"] == pytest.approx(2 / 3)     # 2, 4, 5 -> 4, 5
    assert reach.loc["trend", "n_replicates"] == 3
    assert "trend" not in targets.format_reachability(reach.reset_index())  # the printed table: every replicate


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("scenario, override, message", [
    ("shandong", "government.rule=foo", "government.rule: 'foo' is not allowed (allowed: mixture, target_chasing, trend, fixed, criteria_only)"),
    ("shandong", "government.review_capacity=-1", "government.review_capacity: -1.0 is not allowed"),
    ("shandong", "government.target_chasing.floor=3", "government.target_chasing.floor: 3.0 is not allowed"),
    ("shandong", "government.trend.min_growth=0.9", "government.trend.min_growth: 0.9 is not allowed (allowed: at most government.trend.max_growth"),
    ("shandong", "government.weights.nope=1", "government.weights.nope"),
    # what a government knows: the targets' dates
    ("national", "scenario.targets.0.announced=2021", "scenario.targets[0].announced: '2021' is not allowed"),
    ("national", "scenario.targets.0.announced=2030-01", "scenario.targets[0].announced: '2030-01' is not allowed (allowed: '' or a month up to scenario.horizon"),
    ("national", "+scenario.targets.0.counted_from=2021-01", "scenario.targets[0].counted_from: '2021-01' is not allowed (allowed: '' (a reported target"),
    ("national", "scenario.plan_targets.0.counted_from=2010-01", "scenario.plan_targets[0].counted_from: '2010-01' is not allowed"),
])
def test_bad_government_values_give_one_line(scenario, override, message):
    with pytest.raises(ConfigError) as e:
        sim.compose(scenario, "baseline", [override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_fixed_path_per_tier_from_the_command_line():
    cfg = sim.compose("shandong", "baseline", ["calibration=", "scenario.scale=0.2", "government=fixed",
                                               "+government.fixed.path.little_giant.2023=300"])
    cap = _capacities(cfg)
    # 2022: no path year: MIIT's last national batch repeated (2,930), Shandong's past share of it (362 / 4,762)
    assert cap[("2023-06", "little_giant")] == pytest.approx(300) and cap[("2022-06", "little_giant")] == pytest.approx(2930 * 362 / 4762)
    assert cap[("2024-06", "little_giant")] == pytest.approx(300)  # the last batch repeated (the path's, in the region's units)
    own = _capacities(sim.compose("shandong", "baseline", ["calibration=", "scenario.scale=0.2", "government=fixed",
                                                           "government.allocation=own_record", "+government.fixed.path.little_giant.2023=300"]))
    assert own[("2022-06", "little_giant")] == pytest.approx(221) and own[("2024-06", "little_giant")] == pytest.approx(300)
    with pytest.raises(ConfigError, match="government.fixed.path: 'nope' is not allowed"):
        sim.compose("shandong", "baseline", ["government=fixed", "+government.fixed.path.nope.2023=300"])


def test_all_zero_weights_are_refused():
    with pytest.raises(ConfigError, match="government.weights"):
        sim.compose("shandong", "baseline", [f"government.weights.{r}=0" for r in gov.RULES])


# ---- what a government knows: targets announced by the end of the record ----------------

def _gaps_at(cfg, tier: str, date: str):
    """Step a model to the month of ``date`` and return the gaps its government sees there."""
    m = TierModel(cfg, 0, records_only=True)
    while m.calendar.date(m.t_now) < date:
        m.step()
    return m, m._gaps(tier, int(date[:4]), m.t_now)


def test_a_backtest_from_2019_chases_the_2018_plan_and_not_the_2021_targets():
    cfg = calibration.truncate_quotas(sim.compose("national", "baseline", ["scenario.scale=0.02", "calibration="]), 2019)
    assert cfg.scenario.origin == "2019-12"
    m, gaps = _gaps_at(cfg, "little_giant", "2020-06")
    # only the 2018 plan (600 in 2018-20, announced 2018-11): No. 70 (2021-07) is unknown at end-2019
    assert len(gaps) == 1
    g = gaps[0]
    recognised = m.flows[:, TIER_INDEX["little_giant"], 0].sum() / cfg.scenario.scale  # batch 1 (2019), real units
    assert recognised == pytest.approx(248, abs=1 / cfg.scenario.scale)
    assert g.gap == pytest.approx(600 - recognised) and g.batches_left == 1


def test_a_forecast_from_2021_chases_the_2025_targets_and_not_the_closed_2018_plan():
    cfg = sim.compose("national", "baseline", ["scenario.scale=0.02", "calibration="])
    _, gaps = _gaps_at(cfg, "little_giant", "2022-06")
    assert len(gaps) == 1 and gaps[0].batches_left == 4  # 10,000 by 2025-12: batches 2022..2025
    assert gaps[0].gap > 10_000 - 4_762 - 1 / cfg.scenario.scale  # stock gap plus the expected review losses


def test_a_programme_with_one_recorded_batch_has_no_review_cap():
    cfg = sim.compose("national", "baseline", ["scenario.scale=0.02", "calibration=", "government=criteria_only"])
    cut = calibration.truncate_quotas(cfg, 2019)  # little giants: one recorded batch (248)
    cap = _capacities(cut)
    assert math.isnan(cap[("2020-06", "little_giant")])  # no bound (batches.csv records it as NaN)
    assert cap[("2020-11", "single_champion")] == pytest.approx(2.0 * 160)  # four recorded: 2 x the largest (real units)



def test_an_imposed_batch_overrides_every_rule_and_the_review_cap():
    for rule in ("target_chasing", "trend", "criteria_only"):
        cfg = sim.compose("shandong", "baseline", ["calibration=", "scenario.scale=0.2", f"government={rule}",
                                                   "+government.imposed.little_giant.2023=1500"])
        cap = _capacities(cfg)
        assert cap[("2023-06", "little_giant")] == pytest.approx(1500), rule  # above 2 x 221, the review cap
    with pytest.raises(ConfigError, match=r"government.imposed.little_giant.2023: -5 is not allowed \(allowed: 0 to 1e7"):
        sim.compose("shandong", "baseline", ["+government.imposed.little_giant.2023=-5"])


def test_an_imposed_batch_caps_a_tier_without_a_quota_after_the_origin():
    # Liaocheng's SRDI batches are a selection rate of the eligible (no quota): the batch curve
    # caps them; before the origin the record's rule holds, and recognitions never exceed the cap
    ov = ["scenario.scale=0.5", "calibration=", "n_jobs=1"]
    free = simulate(sim.compose("liaocheng", "baseline", ov), 0)
    capped = simulate(sim.compose("liaocheng", "baseline", ov + ["+government.imposed.srdi.2023=4"]), 0)
    b = {(x["date"], x["tier"]): x for x in capped.batches}
    f = {(x["date"], x["tier"]): x for x in free.batches}
    assert b[("2023-10", "srdi")]["capacity"] == pytest.approx(4.0)           # firms, real units
    assert math.isnan(b[("2022-10", "srdi")]["capacity"]) and math.isnan(f[("2023-10", "srdi")]["capacity"])  # no bound
    assert b[("2023-10", "srdi")]["recognised"] <= 4 < f[("2023-10", "srdi")]["recognised"]
    # a criteria-only tier (national SRDI) capped the same way: it then draws its selection variates
    nat = sim.compose("national", "baseline", ["scenario.scale=0.02", "calibration=", "n_jobs=1", "+government.imposed.srdi.2023=500"])
    rec = {(x["date"], x["tier"]): x for x in simulate(nat, 0).batches}
    assert rec[("2023-10", "srdi")]["capacity"] == pytest.approx(500.0) and rec[("2023-10", "srdi")]["recognised"] <= 500.0 + 1e-9
    assert math.isnan(rec[("2024-10", "srdi")]["capacity"])  # 2024 not imposed: no bound


def test_a_programme_without_a_record_starts_at_its_targets_pace():
    # Shandong's leading enterprises (no batch before 2022; 150 by 2025-12): under `fixed` the
    # first batch, and every later one, is the plan's pace 150 / 4 batches; without a target
    # (the target removed) the scenario's quota_default (40) is the only base left
    ov = ["scenario.scale=0.5", "calibration=", "government=fixed", "government.fit=", "n_jobs=1"]
    cap = _capacities(sim.compose("shandong", "baseline", ov))
    assert [cap[(f"{y}-12", "leading")] for y in (2022, 2023, 2024, 2025)] == pytest.approx([37.5] * 4)
    no_target = sim.compose("shandong", "baseline", ov)
    no_target.scenario.targets = [t for t in no_target.scenario.targets if "leading" not in t.tiers]
    assert _capacities(no_target)[("2022-12", "leading")] == pytest.approx(40.0)


# ---- MIIT's allocation to a region (government.allocation) ----------------------------

def test_allocation_share_by_hand():
    nation = {2019: 248, 2020: 1584, 2021: 2930}
    assert gov.allocation_share({2019: 19, 2020: 122, 2021: 221}, nation) == pytest.approx(362 / 4762)
    assert gov.allocation_share({2021: 221}, nation) == pytest.approx(221 / 2930)  # the years the region records
    assert gov.allocation_share({}, nation) is None and gov.allocation_share({2018: 5}, nation) is None


def test_record_gap_by_hand():
    stock = gov.TargetConfig(name="s", tiers=["little_giant"], metric="stock", threshold=10_000, deadline="2025-12")
    g = gov.record_gap(stock, 2022, 6, {2019: 248, 2020: 1584, 2021: 2930}, 0.8, 36, "2021-01")
    # batches 2022..2025 left; all three recorded batches are re-reviewed by 2025-12 (losses 20% of 4,762);
    # of the four new batches only 2022's (re-reviewed 2025-06) is due: retention 1 - 0.2 x 1/4
    assert (g.batches_left, g.share) == (4, 1.0)
    assert g.gap == pytest.approx(10_000 - 4762 + 0.2 * 4762) and g.retention == pytest.approx(0.95)
    new = gov.TargetConfig(name="n", tiers=["little_giant"], metric="cumulative_new", threshold=600, deadline="2020-12",
                           counted_from="2018-01")
    g = gov.record_gap(new, 2020, 6, {2019: 248}, 0.8, 36, "2021-01")
    assert (g.gap, g.batches_left, g.retention) == (600 - 248, 1, 1.0)
    assert gov.record_gap(new, 2021, 6, {2019: 248, 2020: 1584}, 0.8, 36, "2021-01") is None  # the plan has closed


def _ministry(cfg) -> Ministry:
    m = TierModel(cfg, 0, records_only=True)
    for _ in range(len(m.calendar.dates())):
        m.step()
    return next(a for a in m.agents if isinstance(a, Ministry))


def test_the_ministry_sizes_the_national_batch_and_allocates_the_past_share():
    ov = ["calibration=", "scenario.scale=0.2", "government=target_chasing"]
    cfg = sim.compose("shandong", "baseline", ov)
    assert sorted(cfg.government.national["tiers"]) == ["little_giant", "single_champion"]
    mi = _ministry(cfg)
    assert mi.shares == pytest.approx({"little_giant": 362 / 4762, "single_champion": 146 / 951})
    from sim.pipelines.forecast import government_record
    rec = government_record(cfg)  # what summary.json records
    assert rec["allocation"] == "past_share" and rec["region_shares"] == {"little_giant": 0.076, "single_champion": 0.1535}
    nat = mi.national_decided["little_giant"]
    s = mi.model.gov_setting
    # 2022's national batch from the national record and No. 70's 10,000 by 2025 alone, by hand
    need = gov.record_gap(next(t for t in mi._targets if t.name == "little_giant_stock_2025"), 2022, 6,
                          {2019: 248, 2020: 1584, 2021: 2930}, cfg.params.recognition.rereview_pass["little_giant"], 36, "2021-01").need()
    expect = gov.bounded(gov.target_chasing(need, s.over_fulfilment, 2930, s.floor), s.review_capacity * 2930)
    assert nat[2022] == pytest.approx(expect)
    for y in range(2022, 2026):
        assert mi.decided["little_giant"][y] == pytest.approx(mi.shares["little_giant"] * nat[y])
    cap = _capacities(cfg)
    assert cap[("2023-06", "little_giant")] == pytest.approx(mi.decided["little_giant"][2023])
    # the region's own target does not size MIIT's batches under past_share; under own_record it does
    i = next(k for k, t in enumerate(cfg.scenario.targets) if t.name == "little_giant_new_2025")
    more = [f"scenario.targets.{i}.threshold=3000"]
    assert _capacities(sim.compose("shandong", "baseline", ov + more)) == cap
    own = _capacities(sim.compose("shandong", "baseline", ov + ["government.allocation=own_record"]))
    own_more = _capacities(sim.compose("shandong", "baseline", ov + ["government.allocation=own_record"] + more))
    assert own_more[("2023-06", "little_giant")] > own[("2023-06", "little_giant")] != pytest.approx(cap[("2023-06", "little_giant")])


def test_a_backtest_cuts_the_national_record_at_its_origin_too():
    cfg = calibration.truncate_quotas(sim.compose("shandong", "baseline", ["calibration=", "scenario.scale=0.2"]), 2020)
    mi = _ministry(cfg)
    assert mi.nation["little_giant"] == {2019: 248, 2020: 1584}
    assert mi.shares["little_giant"] == pytest.approx(141 / 1832)
    assert 2021 in mi.national_decided["little_giant"]  # the rule sizes 2021 from the record to 2020


def test_allocation_views_and_fallbacks():
    # the nation sizes its own batches; own_record attaches nothing; Liaocheng's champions have no record: own rule
    assert sim.compose("national", "baseline", ["calibration=", "scenario.scale=0.02"]).government.national == {}
    assert sim.compose("shandong", "baseline", ["government.allocation=own_record"]).government.national == {}
    lc = sim.compose("liaocheng", "baseline", ["calibration=", "scenario.scale=0.5", "government=target_chasing"])
    assert lc.government.national  # regional: the record is attached
    assert _ministry(lc).shares == {}  # but no tier has a recorded batch to take a share from
    with pytest.raises(ConfigError, match=r"^government.allocation: 'pool' is not allowed \(allowed: past_share or own_record in a view of one province"):
        sim.compose("shandong", "baseline", ["government.allocation=pool"])


def test_a_hand_set_national_record_gives_one_line():
    from sim.config import national_record

    cfg = sim.compose("shandong", "baseline", [])
    cfg.government.national = {"tiers": 5}
    with pytest.raises(ConfigError) as e:
        national_record.attach(cfg)
    assert str(e.value).startswith("government.national: ") and "\n" not in str(e.value)
    again = sim.compose("shandong", "baseline", [])
    again.government.national = {**again.government.national, "tiers": {t: {"batch_month": str(v["batch_month"]),
                                 "quota_by_year": {str(y): q for y, q in v["quota_by_year"].items()}}
                                 for t, v in again.government.national["tiers"].items()}}
    assert national_record.attach(again).government.national == sim.compose("shandong", "baseline", []).government.national
