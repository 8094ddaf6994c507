"""P(target | batch size): the grid, the split among tiers, the crossing (sim/analysis/batch_curve.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis import batch_curve as bc


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
