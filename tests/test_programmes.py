"""A province's own programmes inside a view of several provinces (issue 14, docs/NESTED.md):
Shandong's SRDI and provincial-champion batches in the national view follow Shandong's schedules,
record and targets (``government.programmes``), sized by its Province agent on Shandong's firms."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import sim
from sim.analysis.calibration import truncate_quotas
from sim.config.national_record import _programmes_of, programme
from sim.core import tiers
from sim.core.agents import Province
from sim.core.calendar import month_index
from sim.core.model import TierModel
from sim.core.schema import TIERS, ConfigError
from sim.core.tiers import enabled_tiers

FAST = ["scenario.scale=0.02", "calibration="]


@pytest.fixture(scope="module")
def national():
    """A national model at scale 0.02, run to the horizon."""
    m = TierModel(sim.compose("national", "baseline", FAST), 0, records_only=True)
    m.run()
    return m


def test_programmes_are_loaded_from_the_provinces_scenario_file():
    cfg = sim.compose("national", "baseline", FAST)
    prog = cfg.government.programmes
    assert list(prog) == ["shandong"]  # the rest of China has no file of its own
    own = sim.compose("shandong", "baseline", ["calibration="]).scenario.tiers
    assert set(prog["shandong"]["tiers"]) == set(Province.PROGRAMME_TIERS)
    for tier in Province.PROGRAMME_TIERS:  # the schedules are Shandong's, as its own view runs them
        s = prog["shandong"]["tiers"][tier]
        assert s["batch_month"] == own[tier].batch_month and s["first_year"] == own[tier].first_year
        assert s["capacity"]["quota_by_year"] == {int(y): float(q) for y, q in own[tier].capacity.quota_by_year.items()}
    assert prog["shandong"]["records"]["little_giant"] == {2019: 19.0, 2020: 122.0, 2021: 221.0}
    # its targets on those tiers, counted on Shandong (region), the little-giant and leading ones not (MIIT's, national)
    assert {t["name"] for t in prog["shandong"]["targets"]} == {"srdi_new_2025", "champion_new_2025", "srdi_stock_14fyp"}
    assert {t["region"] for t in prog["shandong"]["targets"]} == {"shandong"}
    assert programme("shandong") == prog["shandong"] and programme("shandong") is not programme("shandong")
    assert sim.compose("national", "baseline", FAST + ["government.province_programmes=false"]).government.programmes == {}
    assert sim.compose("shandong", "baseline", ["calibration="]).government.programmes == {}  # one province: its view's own


def test_programmes_survive_a_run_folders_json():
    cfg = sim.compose("national", "baseline", FAST)
    carried = json.loads(json.dumps(cfg.government.programmes))  # string year keys, as a folder's config.json
    assert _programmes_of(carried) == cfg.government.programmes
    with pytest.raises(ConfigError, match="government.programmes"):
        _programmes_of({"shandong": {"tiers": 3}})


def test_a_programme_batch_month_must_be_the_views():
    with pytest.raises(ConfigError) as e:
        sim.compose("national", "baseline", FAST + ["scenario.tiers.srdi.batch_month=9"])
    msg = str(e.value)
    assert "government.programmes.shandong.tiers.srdi.batch_month: 10" in msg and "allowed: 9" in msg and "\n" not in msg


def test_enabled_tiers_count_the_programmes():
    cfg = sim.compose("national", "baseline", FAST)
    assert enabled_tiers(cfg) == list(TIERS)  # provincial champions: Shandong's own, although the view has none
    off = sim.compose("national", "baseline", FAST + ["government.province_programmes=false"])
    assert "provincial_champion" not in enabled_tiers(off)


def test_shandong_runs_its_recorded_batches_and_the_rest_the_views(national):
    m = national
    s = m.scenario.scale
    batches = [b for b in m.batches if b["tier"] in ("srdi", "provincial_champion")]  # simulated rows
    assert {b["region"] for b in batches} == {"rest_of_china", "shandong"}
    quota = m.config.government.programmes["shandong"]["tiers"]
    for b in batches:
        year = int(b["date"][:4])
        if b["tier"] == "srdi" and b["region"] == "rest_of_china":
            assert np.isinf(b["capacity"])  # the view's SRDI tier: criteria only
            continue
        assert b["region"] == "shandong"
        rec = quota[b["tier"]]["capacity"]["quota_by_year"]
        if year in rec:  # a recorded year: the recorded batch (real firms; the model's rows at scale s)
            assert b["capacity"] / s == pytest.approx(rec[year])
        assert b["recognised"] <= b["capacity"] + 1.0  # random rounding of a quota: at most one row over
    # every recognition of the programme tiers lands in the right regions
    codes = m.regions.areas()
    for tier in ("srdi", "provincial_champion"):
        k = TIERS.index(tier)
        in_sd = m.region_flows[:, list(codes["shandong"]), k, 0].sum()
        assert in_sd > 0
        if tier == "provincial_champion":
            assert m.region_flows[:, list(codes["rest_of_china"]), k, 0].sum() == 0
    # after the record the Province decides Shandong's batches by its rule; MIIT decides no SRDI batch
    prov = m._prog_gov["shandong"]
    assert sorted(prov.decided["srdi"]) == [2022, 2023, 2024, 2025]
    assert sorted(prov.decided["provincial_champion"]) == [2021, 2022, 2023, 2024, 2025]
    assert m._gov_of["srdi"].decided["srdi"] == {}


def test_a_provinces_gaps_count_its_own_firms(national):
    """The Province's gap to its 'new SRDI SMEs since 2021' target counts Shandong's first titles only."""
    m = national
    t = m.calendar.n_steps - 13  # 2024-12: the horizon's targets still open
    year = m.calendar.year(t)
    s, start = m.scenario.scale, month_index(m.scenario.start)
    g = m._groups.index(("srdi",))
    w0 = month_index(m.scenario.window_start) - start
    sd = list(m.regions.areas()["shandong"])
    gaps = {tg.name: gap for tg, gap in zip([x for x in m._prog_gov["shandong"].targets if "srdi" in x.tiers],
                                           m._gaps("srdi", year, t, "shandong"))}
    own = m.region_firsts[w0:t + 1, sd, g].sum() / s
    nation = m.firsts[w0:t + 1, g].sum() / s
    assert gaps["srdi_new_2025"].gap == pytest.approx(1500 - own)
    assert nation > 5 * own  # the nation's count would be a different gap
    # the champion target spans MIIT's champions and the Province's: its share is the Province's last batch over both
    champ = m._gaps("provincial_champion", year, t, "shandong")
    last_pc, last_sc = m._last_batch("provincial_champion", year, "shandong"), m._last_batch("single_champion", year, "shandong")
    assert last_sc == pytest.approx(m._gov_of["single_champion"].allocated["single_champion"]["shandong"][year - 1])
    assert champ[0].share == pytest.approx(last_pc / (last_pc + last_sc))


def test_a_back_test_cuts_the_programmes_record():
    cfg = truncate_quotas(sim.compose("national", "baseline", FAST), 2019)
    prog = cfg.government.programmes["shandong"]
    assert max(prog["tiers"]["srdi"]["capacity"]["quota_by_year"]) == 2019
    assert max(prog["records"]["single_champion"]) == 2019
    m = TierModel(cfg, 0, records_only=True)
    m.run()
    sd = [b for b in m.batches if b["tier"] == "srdi" and b["region"] == "shandong"]
    assert sorted(m._prog_gov["shandong"].decided["srdi"]) == [2020, 2021, 2022, 2023, 2024, 2025]
    assert len(sd) == 10 and tiers.recorded_batches(m._sched("srdi", "shandong").capacity, cfg.scenario.origin)[2019] == 900


def test_the_national_forecast_reports_shandongs_targets_on_shandong(tmp_path):
    """One national run gives the national verdicts and Shandong's (counted on Shandong's firms),
    and a Shandong target's chart shows Shandong's published points, not the nation's."""
    import pandas as pd

    from sim.pipelines.forecast import history_for_target, observed

    cfg = sim.compose("national", "baseline", FAST)
    sd = [t for t in cfg.scenario.targets if t.region == "shandong"]
    assert {t.name for t in sd} == {"sd_srdi_new_2025", "sd_little_giant_new_2025", "sd_champion_new_2025"}
    assert all(t.label.startswith("Shandong:") for t in sd)  # the tables and figures say which area
    from sim.config.national_record import national_record
    # MIIT's record (what it chases in a regional view) holds the nation's targets, not an area's
    assert not {t.name for t in sd} & {t["name"] for t in national_record()["targets"]}
    assert "little_giant_stock_2025" in {t["name"] for t in national_record()["targets"]}
    tables = sim.forecast(scenario="national", policy="baseline", n_replicates=2, seed=1,
                          overrides=FAST + ["plots=false", "progress=off", "n_jobs=1"], out_dir=tmp_path / "run")
    reach = tables["reachability"]
    reach = reach[reach["rule"] == "all"].set_index("target")
    traj = pd.read_parquet(tmp_path / "run" / "trajectories.parquet")
    end = traj[(traj["date"] == "2025-12") & (traj["tier"] == "little_giant")].groupby("region")["new_firms"].median()
    lg = reach.loc["sd_little_giant_new_2025", "count_p50"]
    assert lg == pytest.approx(end["shandong"]) and lg < 0.2 * end["national"]
    obs = observed(cfg)
    t = next(dataclasses.asdict(x) for x in sd if x.name == "sd_little_giant_new_2025")
    pts = history_for_target(obs, t, cfg.scenario.window_start)
    assert list(pts["value"]) == [221.0]  # Shandong's 2021 batch (data: little_giant_SD_new), not the nation's 2,930
    nat = next(dataclasses.asdict(x) for x in cfg.scenario.targets if x.name == "little_giant_stock_2025")
    assert 4762.0 in set(history_for_target(obs, nat, cfg.scenario.window_start)["value"])
