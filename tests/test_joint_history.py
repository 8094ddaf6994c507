"""One distance over the national, Shandong and Liaocheng history (issue 14, increment 5): the
national view's ``history`` names the areas' own series (``region``), read from each area's
shipped file and counted on that area's firms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import calibration
from sim.analysis.scoring import naive_forecasts
from sim.core import record
from sim.core.model import simulate
from sim.core.schema import ConfigError

FAST = ["calibration="]


def test_the_national_view_reads_each_areas_series_from_its_own_file():
    obs = calibration.observations(sim.compose("national", "baseline", FAST))
    assert list(dict.fromkeys(obs["region"])) == ["", "shandong", "liaocheng"]
    own = calibration.observations(sim.compose("shandong", "baseline", FAST))
    sd = obs[obs["region"] == "shandong"].set_index(["series", "year"])
    for row in own.itertuples():  # the same published points as the Shandong view's own calibration
        got = sd.loc[(row.series, row.year)]
        assert (got["value"], got["tier"], got["metric"], got["lo"], got["hi"], got["unit_param"]) == \
               (row.value, row.tier, row.metric, row.lo, row.hi, row.unit_param)
    lc = obs[obs["region"] == "liaocheng"]
    assert list(lc["series"]) == ["quality_smes_LC_provincial_plus"] and lc["value"].iloc[0] == 99
    # a back-test until 2020 keeps the areas' points up to 2020 only
    assert calibration.observations(sim.compose("national", "baseline", FAST), until=2020).query("region == 'shandong'")["year"].max() == 2020


def test_an_areas_series_is_counted_on_its_firms():
    cfg = sim.compose("national", "baseline", FAST)
    obs = calibration.observations(cfg)
    sc = calibration.simulation_config(cfg, obs, scale=0.01)
    rec = simulate(sc, 0)
    got = calibration.summaries(sc, rec, obs)
    start = 2016 * 12
    for i, o in enumerate(obs.itertuples()):
        r = record.for_area(rec, o.region)
        t = int(o.date[:4]) * 12 + int(o.date[5:]) - 1 - start
        if o.metric == "stock":
            assert got[i] == pytest.approx(record.count(r, o.tier, "stock", date=t))
    sd = obs.index[(obs["series"] == "srdi_SD_valid")][0]
    nat = obs.index[(obs["series"] == "srdi_provincial_cumulative")][0]
    assert 0 < got[sd] < 0.2 * got[nat]  # Shandong's SRDI, not the nation's


def test_an_areas_series_needs_an_area_with_a_file():
    with pytest.raises(ConfigError) as e:
        sim.compose("national", "baseline", FAST + ["scenario.history.6.region=hubei"])
    assert "scenario.history[6].region: 'hubei'" in str(e.value) and "liaocheng, shandong" in str(e.value)
    with pytest.raises(ConfigError, match=r"scenario.history\[6\].region"):  # an area, but no file of its own
        sim.compose("national", "baseline", FAST + ["scenario.history.6.region=rest_of_shandong"])
    with pytest.raises(ConfigError, match=r"scenario.history\[0\].region"):  # a view of one area has none
        sim.compose("shandong", "baseline", FAST + ["scenario.history.0.region=shandong"])


def test_the_noise_of_a_thinned_areas_point_counts_its_simulated_firms():
    cfg = sim.compose("national", "baseline", FAST + ["scenario.regions.0.scale=0.1"])
    assert calibration.area_fraction(cfg, "shandong") == 1.0
    assert calibration.area_fraction(cfg, "rest_of_china") == pytest.approx(0.1)
    assert calibration.area_fraction(cfg, "") == pytest.approx(0.924 * 0.1 + 0.076)
    obs = calibration.observations(cfg)
    sd = calibration.noise_sd(obs, 0.05, 0.1)
    lo = obs["lo"].to_numpy()
    want = np.sqrt(0.01 + 1 / np.maximum(lo * 0.05 * obs["rel"].to_numpy(), 1))
    np.testing.assert_allclose(sd, want)
    nat = (obs["region"] == "").to_numpy()
    assert (obs["rel"][nat] < 1).all() and (obs["rel"][~nat] == 1).all()


def test_naive_forecasts_do_not_mix_areas():
    """A Shandong stock carried forward adds Shandong's last batch, not the nation's."""
    obs = pd.DataFrame({"series": ["a", "b", "s", "s"], "tier": ["srdi"] * 4,
                        "metric": ["batch_new", "batch_new", "stock", "stock"],
                        "year": [2020, 2020, 2020, 2021], "month": [10] * 4, "value": [100.0, 10.0, 50.0, 0.0],
                        "region": ["", "shandong", "shandong", "shandong"]})
    later = naive_forecasts(obs, 2020)
    assert list(later["persistence"]) == [60.0]
