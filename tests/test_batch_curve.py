"""P(target | batch size): the grid, the split among tiers, the crossing (sim/analysis/batch_curve.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis import batch_curve as bc
from sim.core.government import setting


def test_the_grid_spans_zero_to_three_times_the_pace_in_whole_firms():
    g = bc.grid(120.0)
    assert g == [0.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 360.0]
    assert len(bc.grid(1.0)) >= 3 and bc.grid(1.0) == sorted(set(bc.grid(1.0)))  # rounding merges equal sizes


def test_the_pace_is_the_need_or_else_the_last_batch():
    assert bc.base_pace(250.0, 100.0) == 250.0
    assert bc.base_pace(0.0, 100.0) == 100.0           # reached at the origin: the last batch sets the scale
    assert bc.base_pace(float("nan"), 0.0) == 1.0


def test_a_batch_is_split_among_the_targets_tiers_by_their_last_batches():
    s = bc.split(100.0, ["single_champion", "provincial_champion"], {"single_champion": 39.0, "provincial_champion": 117.0})
    assert s == pytest.approx({"single_champion": 25.0, "provincial_champion": 75.0})
    assert bc.split(10.0, ["a", "b"], {}) == {"a": 5.0, "b": 5.0}


def test_the_crossing_interpolates_between_grid_points():
    t = pd.DataFrame({"batch_per_year": [0, 100, 200, 300], "p_reached": [0.0, 0.2, 0.6, 1.0]})
    assert bc.crossing(t, 0.5) == pytest.approx(175.0)
    assert bc.crossing(t, 0.0) == 0.0
    assert math.isnan(bc.crossing(t.assign(p_reached=[0, 0.1, 0.2, 0.3]), 0.5))


def test_a_curve_below_p_high_at_its_largest_batch_is_extended():
    assert bc.needs_extension(0.9) and not bc.needs_extension(0.97)


def test_a_forecast_with_batch_curve_writes_the_curve_for_every_target(tmp_path):
    import json

    import sim
    from sim.pipelines.forecast import curve_targets

    out = tmp_path / "run"
    tabs = sim.forecast(scenario="shandong", policy="baseline", n_replicates=2, seed=7, out_dir=out,
                        overrides=["scenario.scale=0.01", "batch_curve=true", "n_jobs=1", "calibration="])
    curve = pd.read_csv(out / "reachability_by_batch.csv")
    assert list(curve.columns) == bc.COLUMNS
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.02", "calibration="])
    names = [t.name for t in curve_targets(cfg)]
    assert names == [t.name for t in cfg.scenario.targets] and list(dict.fromkeys(curve["target"])) == names  # every target
    for name, g in curve.groupby("target"):
        g = g.sort_values("batch_per_year")
        assert len(g) >= 6 and g["batch_per_year"].iloc[0] == 0.0
        assert g["n_replicates"].eq(2).all() and g["p_low"].le(g["p_reached"]).all() and g["p_reached"].le(g["p_high"]).all()
        # more recognitions a year, a larger count at the deadline (the same replicates at every point)
        assert g["count_p50"].iloc[-1] > g["count_p50"].iloc[0], name
        assert g["p_reached"].iloc[-1] >= g["p_reached"].iloc[0]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["batch_curve"]) >= set(names) and any(p.endswith("batch_curve.png") for p in summary["figures"])
    assert (out / "batch_curve.png").stat().st_size > 10_000
    # the mixture's per-rule variance shares: between-rule share of each target in [0, 1]
    var = tabs["variance_by_rule"]
    between = var[var["rule"] == "between"]
    assert set(between["target"]) == {t.name for t in cfg.scenario.targets}
    assert setting(cfg.government, 7, 0).rule != setting(cfg.government, 7, 1).rule  # seed 7: two rules drawn
    shares = between["share_of_variance"]  # NaN where both replicates give the same count (no variance)
    assert shares.notna().any() and shares.dropna().between(0, 1).all()
