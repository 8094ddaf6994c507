"""The batch-size rules fitted to the recorded batches (issue 13; sim/analysis/rule_fit.py), the
fit's use by the mixture (sim/core/government.py), its file (sim/config/posterior.py) and its
entry point (experiments/fit_government.py)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import sim
from sim.analysis import calibration, rule_fit
from sim.config import rule_file
from sim.core import government as gov
from sim.core.errors import InputWarning
from sim.core.schema import ConfigError, GovernmentConfig


@pytest.fixture(scope="module")
def national():
    return sim.compose("national", "baseline", ["government.fit=", "government.fitting.n_prior=400"])


# ---- the helpers the model and the fit share ---------------------------------------------

def test_batches_left_by_hand():
    assert gov.batches_left("2025-12", 2022, 6) == 4       # June batches 2022..2025
    assert gov.batches_left("2025-06", 2022, 10) == 3      # the October 2025 batch is after the deadline
    assert gov.batches_left("2025-12", 2022, 0) == 4       # continuous tiers count as December
    assert gov.batches_left("2020-12", 2021, 6) == 0       # a closed plan


def test_review_base_and_retention_by_hand():
    assert gov.review_base({2019: 248.0}) == 0.0                           # one batch: no cap
    assert gov.review_base({2019: 248.0, 2020: 1584.0}) == 1584.0
    assert gov.retention(0.6, 2, 4) == pytest.approx(0.8)                  # 2 of 4 batches re-reviewed, 40% lost each
    assert gov.retention(1.0, 3, 3) == 1.0


def test_mixture_weights_by_hand():
    w = {"target_chasing": 0.4, "trend": 0.2, "fixed": 0.2, "criteria_only": 0.2}
    assert gov.mixture_weights(w, {}) == pytest.approx(w)                  # no fit: the prior
    post = {"target_chasing": {"log_evidence": math.log(3.0)}, "trend": {"log_evidence": 0.0},
            "fixed": {"log_evidence": 0.0}, "criteria_only": {"log_evidence": None}}
    got = gov.mixture_weights(w, post)
    # the scored rules share their prior mass 0.8 as 0.4*3 : 0.2 : 0.2; criteria_only keeps 0.2
    assert got["criteria_only"] == pytest.approx(0.2)
    assert got["target_chasing"] == pytest.approx(0.8 * 1.2 / 1.6) and got["trend"] == pytest.approx(0.8 * 0.2 / 1.6)
    assert sum(got.values()) == pytest.approx(1.0)


def test_setting_takes_the_fitted_draws():
    draws = [{"target_chasing.over_fulfilment": 1.11, "target_chasing.floor": 0.5, "review_capacity": 9.0},
             {"target_chasing.over_fulfilment": 2.22, "target_chasing.floor": 0.6, "review_capacity": 8.0}]
    post = {"target_chasing": {"log_evidence": 0.0, "draws": draws}, "trend": {"log_evidence": -50.0, "draws": []},
            "fixed": {"log_evidence": -50.0, "draws": []}, "criteria_only": {"log_evidence": None, "draws": []}}
    g = GovernmentConfig(posterior=post, weights={"target_chasing": 1.0, "trend": 1.0, "fixed": 1.0, "criteria_only": 0.0})
    got = [gov.setting(g, 3, r) for r in range(40)]
    assert {s.rule for s in got} == {"target_chasing"}                     # the others' evidence is e^-50 smaller
    assert {(s.over_fulfilment, s.floor, s.review_capacity) for s in got} == {(1.11, 0.5, 9.0), (2.22, 0.6, 8.0)}
    assert got == [gov.setting(g, 3, r) for r in range(40)]                 # reproducible
    single = dataclasses.replace(g, rule="target_chasing")
    assert {gov.setting(single, 3, r).over_fulfilment for r in range(40)} == {1.11, 2.22}
    # without a fit the stream is used as before: the draws of the priors
    bare = dataclasses.replace(g, posterior={})
    assert all(1.5 <= gov.setting(bare, 3, r).over_fulfilment <= 4.0 for r in range(40))


# ---- the fit ------------------------------------------------------------------------------

def test_points_are_the_recorded_batches_with_what_was_known(national):
    pts = {(p.tier, p.year): p for p in rule_fit.points(national)}
    assert sorted(pts) == [("little_giant", 2020), ("little_giant", 2021)] + [("single_champion", y) for y in range(2017, 2022)]
    lg20, lg21 = pts[("little_giant", 2020)], pts[("little_giant", 2021)]
    assert lg20.recorded == 1584 and lg20.earlier == {2019: 248.0}
    # the 2018 plan (600 in 2018-20) is open in 2020: 352 missing, one batch left
    assert [(g.gap, g.batches_left) for g in lg20.gaps] == [(352.0, 1)]
    assert lg21.gaps == []   # the plan closed in 2020; the 10,000 target was announced (2021-07) after the June batch
    ch21 = pts[("single_champion", 2021)]
    assert len(ch21.gaps) == 2  # the 2016 plan (800 by 2025) and the July 2021 stock target, before the November batch
    stock, plan = ch21.gaps
    assert plan.gap == pytest.approx(800 - 692) and plan.batches_left == 5   # 692 = 104 + 126 + 160 + 124 + 178
    lost = 1 - national.params.recognition.rereview_pass["single_champion"]  # all 692 re-reviewed by 2025
    assert stock.gap == pytest.approx(1000 - 692 + 692 * lost) and stock.retention < 1


def test_a_backtest_fit_sees_nothing_after_until(national):
    cut = calibration.truncate_quotas(national, 2019)
    assert [(p.tier, p.year) for p in rule_fit.points(cut)] == [("single_champion", y) for y in (2017, 2018, 2019)]
    changed = calibration.truncate_quotas(national, 2021)
    changed.scenario.tiers["single_champion"].capacity.quota_by_year[2021] = 9999  # a later batch
    a, b = rule_fit.fit(calibration.truncate_quotas(changed, 2019)), rule_fit.fit(cut)
    assert a["rules"] == b["rules"]


def _synthetic(national, batches: dict[int, float]):
    cfg = calibration.truncate_quotas(national, 2021)
    cfg.scenario.plan_targets = []
    cfg.scenario.targets = []
    cfg.scenario.tiers["little_giant"].capacity.quota_by_year = {}
    cfg.scenario.tiers["single_champion"].capacity.quota_by_year = batches
    return cfg


def test_the_fit_prefers_the_rule_that_made_the_batches(national):
    # batches doubling every year and no targets: trend (log growth clipped at 0.2-0.85) can follow
    # them exactly; target chasing without a target grows by its floor (at most 1.5x), persistence
    # misses each batch by log 2 = 0.69
    growing = _synthetic(national, {y: 100.0 * 2.0 ** (y - 2016) for y in range(2016, 2022)})
    fit = rule_fit.fit(growing)
    w = {r: e["posterior_weight"] for r, e in fit["rules"].items()}
    assert w["trend"] > 0.5 > w["target_chasing"] and w["fixed"] < 0.01 and w["criteria_only"] == pytest.approx(0.2)
    lo, mid, hi = fit["rules"]["trend"]["quantiles"]["trend.max_growth"]
    assert lo >= 0.2 and mid > math.log(2.0) - 0.1  # the clip must allow the growth
    # a flat record: persistence is exact, trend with its (uninformed) k-batch fit is close, both beat nothing
    flat = rule_fit.fit(_synthetic(national, {y: 150.0 for y in range(2016, 2022)}))
    assert flat["rules"]["fixed"]["log_evidence"] >= flat["rules"]["trend"]["log_evidence"] - 1e-9


def test_log_density_and_systematic_resampling():
    z = np.array([0.0, 0.3, -0.6])
    assert rule_fit.log_density(z, 0.3, 1e6) == pytest.approx(-0.5 * (z / 0.3) ** 2 - math.log(0.3 * math.sqrt(2 * math.pi)), abs=1e-4)
    assert rule_fit.log_density(np.array([3.0]), 0.3, 4.0)[0] > rule_fit.log_density(np.array([3.0]), 0.3, 1e6)[0]  # heavy tails
    idx = rule_fit._systematic(np.array([0.0, 1.0, 3.0]), 8)
    assert np.bincount(idx, minlength=3).tolist() == [0, 2, 6]


def test_the_shipped_fit_is_the_code_on_the_shipped_record():
    cfg = sim.compose("national", "baseline", ["government.fit="])
    fresh = rule_fit.fit(cfg)
    shipped = json.loads(rule_file.GOVERNMENT_FIT.read_text(encoding="utf-8"))
    assert shipped["origin"] == "2021-12" and shipped["n_points"] == fresh["n_points"] == 7
    for rule, e in fresh["rules"].items():
        assert shipped["rules"][rule]["draws"] == e["draws"]
        assert shipped["rules"][rule]["posterior_weight"] == e["posterior_weight"]


# ---- the fit in a run ---------------------------------------------------------------------

def test_runs_carry_the_shipped_fit_unless_told_otherwise():
    cfg = sim.compose("shandong", "baseline")
    assert cfg.government.fit == "default" and set(cfg.government.posterior) == set(gov.RULES)
    assert len(cfg.government.posterior["target_chasing"]["draws"]) == cfg.government.fitting.n_keep
    assert sim.compose("shandong", "baseline", ["government.fit="]).government.posterior == {}
    with pytest.warns(InputWarning, match="government.review_capacity=2.5 is not used"):
        sim.compose("shandong", "baseline", ["government.review_capacity=2.5"])


@pytest.mark.parametrize("content, message", [
    ("not json", "cannot be read as JSON"),
    ('{"kind": "other", "rules": {}}', "not a fit file"),
    (f'{{"kind": "{rule_fit.FIT_KIND}", "rules": {{"lottery": {{}}}}}}', "rule 'lottery' is not allowed"),
    (f'{{"kind": "{rule_fit.FIT_KIND}", "rules": {{"trend": {{"log_evidence": 0, "draws": [{{"trend.max_growth": -1}}]}}}}}}',
     "trend draw trend.max_growth=-1 is not allowed"),
    (f'{{"kind": "{rule_fit.FIT_KIND}", "rules": {{"trend": {{"log_evidence": 0, "draws": [{{"trend.k": 3}}]}}}}}}',
     "trend draw trend.k=3 is not allowed"),
])
def test_a_bad_fit_file_gives_one_line(tmp_path, content, message):
    f = tmp_path / "government_fit.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        sim.compose("shandong", "baseline", [f"government.fit={f}"])
    assert message in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith("government.fit:")
    with pytest.raises(ConfigError, match="government.fit: 'nowhere.json' is not allowed"):
        sim.compose("shandong", "baseline", ["government.fit=nowhere.json"])


def test_fit_government_entry_point(tmp_path, capsys, monkeypatch):
    from experiments import fit_government

    monkeypatch.chdir(tmp_path)
    fit_government.main(["until=2020", "government.fitting.n_prior=300", "hydra.run.dir=out"])
    out = capsys.readouterr().out
    assert "on 5 recorded batches of national to 2020-12" in out and "results: out" in out
    fit = json.loads((tmp_path / "out" / "government_fit.json").read_text(encoding="utf-8"))
    assert fit["n_prior"] == 300 and fit["origin"] == "2020-12"
    assert (tmp_path / "out" / "rules.csv").is_file() and (tmp_path / "out" / "points.csv").is_file()
    cfg = sim.compose("shandong", "baseline", [f"government.fit={tmp_path / 'out'}"])  # a run folder is a fit
    assert len(cfg.government.posterior["trend"]["draws"]) == 200
    with pytest.raises(SystemExit) as e:
        fit_government.main(["ship=maybe"])
    assert e.value.code != 0 and "ship: 'maybe' is not allowed (allowed: true or false)" in capsys.readouterr().err


def test_a_design_factor_the_fit_draws_turns_the_fit_off():
    from sim.run import design

    base = sim.compose("shandong", "baseline", ["government=target_chasing", "calibration="])
    assert base.government.posterior
    cfg = design.apply(dataclasses.asdict(base), {"government.target_chasing.over_fulfilment": 3.3})
    assert cfg.government.fit == "" and cfg.government.posterior == {}
    assert {gov.setting(cfg.government, 1, r).over_fulfilment for r in range(5)} == {3.3}  # the factor holds
    other = design.apply(dataclasses.asdict(base), {"policy.financing.intensity": 1.5})
    assert other.government.posterior == base.government.posterior  # any other factor keeps the fit
