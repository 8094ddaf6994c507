"""Tests for sim.targets: reachability probabilities, intervals, pace and batch bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from synthetic import make_traj

from sim.analysis.targets import COLUMNS, format_reachability, reachability_table

LG_SC = ["little_giant", "single_champion"]


def target(name="lg_sc_stock", tiers=LG_SC, metric="stock", threshold=480.0, deadline="2022-12", illustrative=False,
           count="recognitions"):
    # the synthetic trajectories carry recognitions; a firm count comes from a counts table (test_counts.py)
    return {"name": name, "label": name.replace("_", " "), "tiers": list(tiers), "metric": metric, "count": count,
            "threshold": threshold, "deadline": deadline, "illustrative": illustrative}


def row(df, target_name, scenario="base"):
    sel = df[(df["target"] == target_name) & (df["scenario"] == scenario)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_columns_order_and_rows():
    ts = [target("a"), target("b", threshold=400)]
    df = reachability_table(make_traj(), ts)
    assert list(df.columns) == COLUMNS
    assert list(zip(df["scenario"], df["target"])) == [("base", "a"), ("base", "b"), ("boost", "a"), ("boost", "b")]
    r = row(df, "a")
    assert (r["tiers"], r["metric"], r["deadline"], r["n_replicates"]) == ("little_giant;single_champion", "stock", "2022-12", 10)
    assert bool(r["illustrative"]) is False


def test_stock_target_probabilities_and_counts():
    # at 2022-12 (m=23): sum = 20r + 346 -> >= 480 iff r >= 7 (base); boost: 20r + 446 -> r >= 2
    df = reachability_table(make_traj(), [target(threshold=480)])
    base, boost = row(df, "lg_sc_stock"), row(df, "lg_sc_stock", "boost")
    assert base["p_reached"] == pytest.approx(0.3)
    assert boost["p_reached"] == pytest.approx(0.8)
    assert base["count_p50"] == pytest.approx(20 * 4.5 + 346)
    assert base["count_p05"] == pytest.approx(20 * 0.45 + 346)
    assert base["count_p95"] == pytest.approx(20 * 8.55 + 346)
    ci = binomtest(3, 10).proportion_ci(confidence_level=0.95, method="exact")
    assert (base["p_low"], base["p_high"]) == pytest.approx((ci.low, ci.high))
    assert 0 < base["p_low"] < 0.3 < base["p_high"] < 1


def test_clopper_pearson_edges():
    df = reachability_table(make_traj(), [target("none", threshold=10_000), target("all", threshold=0)])
    none, every = row(df, "none"), row(df, "all")
    assert (none["p_reached"], none["p_low"]) == (0.0, 0.0)
    assert none["p_high"] == pytest.approx(binomtest(0, 10).proportion_ci(method="exact").high)
    assert (every["p_reached"], every["p_high"]) == (1.0, 1.0)
    assert none["first_reached_p50"] == "" and none["share_ever_reached"] == 0.0
    assert every["first_reached_p50"] == "2021-01" and every["share_ever_reached"] == 1.0


def test_first_reached_and_share_ever():
    # 480: first m >= 90 - 10r -> r=7: 2022-09, r=8: 2021-11, r=9: 2021-01 -> median 2021-11
    # 460: first m >= 80 - 10r -> r=6: 2022-09, r=7: 2021-11, r=8,9: 2021-01 -> lower median 2021-01
    df = reachability_table(make_traj(), [target("t480", threshold=480), target("t460", threshold=460)])
    assert row(df, "t480")["first_reached_p50"] == "2021-11"
    assert row(df, "t480")["share_ever_reached"] == pytest.approx(0.3)
    assert row(df, "t460")["first_reached_p50"] == "2021-01"
    assert row(df, "t460")["share_ever_reached"] == pytest.approx(0.4)


def test_reached_after_deadline_counts_in_share_ever_only():
    # deadline 2022-06 (m=17): 20r + 334 >= 400 iff r >= 4 (0.6); r=3 only reaches at 2022-09 (0.7 ever)
    r = row(reachability_table(make_traj(), [target(threshold=400, deadline="2022-06")]), "lg_sc_stock")
    assert r["p_reached"] == pytest.approx(0.6)
    assert r["share_ever_reached"] == pytest.approx(0.7)


def test_cumulative_new_target():
    # srdi cumulative_new at m=23 = 18r -> >= 100 iff r >= 6; first month m >= 5 + 100/r
    # r=6: 2022-11, r=7: 2022-09, r=8: 2022-07, r=9: 2022-06 -> lower median 2022-07
    t = target("srdi_new", tiers=["srdi"], metric="cumulative_new", threshold=100)
    r = row(reachability_table(make_traj(), [t]), "srdi_new")
    assert r["p_reached"] == pytest.approx(0.4)
    assert r["count_p50"] == pytest.approx(18 * 4.5)
    assert r["first_reached_p50"] == "2022-07"
    # origin 2021-12 (m=11): 6r -> median 27; 12 months to go
    assert r["count_at_origin_p50"] == pytest.approx(27)
    assert r["needed_per_year"] == pytest.approx(100 - 27)


def test_default_origin_and_needed_per_year():
    ts = [target("y1", threshold=480), target("h1", threshold=480, deadline="2022-06"),
          target("done", threshold=400), target("at_origin", threshold=480, deadline="2021-12")]
    df = reachability_table(make_traj(), ts)
    assert set(df["origin"]) == {"2021-12"}
    # origin m=11: 20*4.5 + 322 = 412
    assert row(df, "y1")["count_at_origin_p50"] == pytest.approx(412)
    assert row(df, "y1")["needed_per_year"] == pytest.approx(68)
    assert row(df, "h1")["needed_per_year"] == pytest.approx(136)
    assert row(df, "done")["needed_per_year"] == 0
    assert np.isnan(row(df, "at_origin")["needed_per_year"])


def test_explicit_origin_and_origin_fallback():
    r = row(reachability_table(make_traj(), [target(threshold=480)], origin="2021-06"), "lg_sc_stock")
    assert (r["origin"], r["count_at_origin_p50"]) == ("2021-06", pytest.approx(400))
    assert r["needed_per_year"] == pytest.approx(80 / 1.5)
    late = reachability_table(make_traj(start="2022-01"), [target(deadline="2023-06")])
    assert set(late["origin"]) == {"2022-01"}
    with pytest.raises(ValueError, match="origin 2019-01"):
        reachability_table(make_traj(), [target()], origin="2019-01")


@pytest.mark.parametrize("deadline", ["2023-06", "2020-12"])
def test_deadline_outside_range_raises(deadline):
    with pytest.raises(ValueError) as exc:
        reachability_table(make_traj(), [target("ok"), target("lg_2025", deadline=deadline)])
    msg = str(exc.value)
    assert "lg_2025" in msg and deadline in msg and "2021-01" in msg and "2022-12" in msg
    assert "\n" not in msg


def test_bad_metric_and_unknown_tier_raise():
    with pytest.raises(ValueError, match="metric"):
        reachability_table(make_traj(), [target(metric="flow")])
    with pytest.raises(ValueError, match="champion_typo"):
        reachability_table(make_traj(), [target(tiers=["champion_typo"])])


def make_batches() -> pd.DataFrame:
    r = np.arange(10)
    specs = [  # (tier, date, bound per replicate)
        ("little_giant", "2021-06", np.where(r < 9, "capacity", "pool")),  # before origin: excluded
        ("little_giant", "2022-06", np.where(r < 7, "capacity", "pool")),  # capacity 70%
        ("single_champion", "2022-06", np.where(r < 5, "capacity", "pool")),  # tie -> capacity 50%
        ("srdi", "2022-06", np.full(10, "capacity")),  # tier not in target
        ("little_giant", "2022-12", np.where(r < 2, "capacity", "pool")),  # pool 80%
        ("little_giant", "2023-06", np.full(10, "capacity")),  # after deadline
    ]
    return pd.concat([pd.DataFrame({
        "scenario": "base", "policy": "status_quo", "replicate": r, "date": d, "tier": t,
        "applicants": 100, "eligible": 50, "capacity": np.where(b == "capacity", 40.0, np.nan),
        "recognised": 40, "bound": b}) for t, d, b in specs], ignore_index=True)


def test_batches_bound_string():
    df = reachability_table(make_traj(), [target()], batches=make_batches())
    assert row(df, "lg_sc_stock")["batches_bound"] == (
        "little_giant@2022-06:capacity 70%; single_champion@2022-06:capacity 50%; little_giant@2022-12:pool 80%")
    assert row(df, "lg_sc_stock", "boost")["batches_bound"] == ""
    assert (reachability_table(make_traj(), [target()])["batches_bound"] == "").all()
    short = reachability_table(make_traj(), [target(deadline="2022-06")], batches=make_batches())
    assert row(short, "lg_sc_stock")["batches_bound"] == (
        "little_giant@2022-06:capacity 70%; single_champion@2022-06:capacity 50%")


def test_empty_targets():
    df = reachability_table(make_traj(), [])
    assert df.empty and list(df.columns) == COLUMNS


def test_format_reachability():
    ts = [target("lg_2025", threshold=480), target("champ_illustrative_target", illustrative=True, threshold=10_000)]
    df = reachability_table(make_traj(), ts)
    text = format_reachability(df)
    lines = text.splitlines()
    assert all(len(line) < 150 for line in lines)
    base = row(df, "lg_2025")
    assert f"{base['p_reached']:.2f} [{base['p_low']:.2f}, {base['p_high']:.2f}]" == "0.30 [0.07, 0.65]"
    lg_lines = [line for line in lines if line.startswith("lg 2025")]
    assert len(lg_lines) == 2  # one per scenario block
    assert "0.30 [0.07, 0.65]" in lg_lines[0] and "436 [355, 517]" in lg_lines[0]
    assert "2021-11 (0.30)" in lg_lines[0] and "(illustrative)" not in lg_lines[0]
    ill = [line for line in lines if line.startswith("champ illustrative target")]
    assert len(ill) == 2 and all("(illustrative)" in line and "never (0.00)" in line for line in ill)
    assert sum(line.startswith("== ") for line in lines) == 2
    assert format_reachability(reachability_table(make_traj(), [])) == "(no targets)"


def test_threshold_equality_counts_as_reached():
    # 426 = 20*4 + 346 exactly at 2022-12 for r=4 -> r >= 4 reached (0.6); r=4 first reaches it at the deadline
    r = row(reachability_table(make_traj(), [target(threshold=426)]), "lg_sc_stock")
    assert r["p_reached"] == pytest.approx(0.6)
    assert r["share_ever_reached"] == pytest.approx(0.6)


def test_the_pace_needed_for_a_stock_replaces_the_titles_lost_on_the_way():
    traj = make_traj()
    # replicate r loses r titles a month after the origin (2021-12) on each target tier: 12 months
    after = traj["date"] > "2021-12"
    traj.loc[after, "revoked"] = traj.loc[after, "replicate"]
    traj.loc[after & (traj["tier"] == "little_giant"), "exited"] = 1
    df = reachability_table(traj, [target("y1", threshold=480), target("new", metric="cumulative_new", threshold=10)])
    r = row(df, "y1")
    # per replicate: 12 x (2r + 1) over the two tiers; median over r = 0..9 -> 12 x (2 x 4.5 + 1) = 120
    assert r["losses_p50"] == pytest.approx(120)
    assert r["needed_per_year"] == pytest.approx(480 - 412 + 120)
    assert row(df, "new")["losses_p50"] == 0  # new recognitions are not lost


def test_variance_by_rule_decomposes_the_spread_exactly():
    from sim.analysis.targets import variance_by_rule

    traj = make_traj(n_rep=4)
    rules = pd.DataFrame({"scenario": "base", "policy": "status_quo", "replicate": [0, 1, 2, 3],
                          "rule": ["fixed", "fixed", "trend", "trend"]})
    v = variance_by_rule(traj[traj["scenario"] == "base"], [target("y1")], rules).set_index("rule")
    # at 2022-12 (m=23) the summed stock is 20r + 2*23 + 300: replicates 0..3 -> 346, 366, 386, 406
    y = np.array([346.0, 366.0, 386.0, 406.0])
    assert v.loc["between", "count_mean"] == pytest.approx(376.0)
    assert v.loc["between", "share_of_variance"] == pytest.approx(0.8)  # ((356-376)^2 + (396-376)^2) / 2 / var 500
    assert y.var() == pytest.approx(500.0)
    assert v.loc[["fixed", "trend"], "share_of_variance"].sum() == pytest.approx(1.0)
    assert v.loc["fixed", "weight"] == 0.5 and v.loc["trend", "count_sd"] == pytest.approx(10.0)
