"""Tests for sim.core.regions and the per-region records (issue 14, increment 1): the regions of
one population, their codes on the firm rows, counts per region and the exact identity
national = sum over regions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.config.compose import compose
from sim.core.firms import NONE
from sim.core.model import TierModel
from sim.core.record import RunRecord, count
from sim.core.regions import NATIONAL, Regions, by_region, sum_by_region
from sim.core.schema import TIERS, ConfigError

SCALE = 0.01  # ~5,000 national firm rows: ~0.5 s a run


@pytest.fixture(scope="module")
def national():
    """A national model run to the horizon (three regions: rest of China, Shandong outside
    Liaocheng, Liaocheng) and its record."""
    m = TierModel(compose("national", "baseline", overrides=[f"scenario.scale={SCALE}"]), replicate=0)
    return m, m.run()


# ----------------------------------------------------------------------------- the regions
def test_a_scenario_without_regions_is_one_region():
    sc = compose("shandong", "baseline", overrides=["scenario.scale=0.5"]).scenario
    reg = Regions.of(sc)
    assert reg.names == ("shandong",) and reg.provinces == ("",) and reg.scale == 0.5 and reg.rel == (1.0,) and reg.shares == (1.0,)
    assert reg.areas() == {"shandong": (0,)}
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(reg.draw(10, rng), np.zeros(10, dtype=np.int8))
    assert rng.bit_generator.state == state  # one region: nothing drawn


def test_the_national_view_has_shandong_as_a_province_of_two_regions():
    reg = Regions.of(compose("national", "baseline").scenario)
    assert reg.names == ("rest_of_china", "rest_of_shandong", "liaocheng")
    assert reg.areas() == {"rest_of_china": (0,), "rest_of_shandong": (1,), "liaocheng": (2,), "shandong": (1, 2)}
    assert sum(reg.shares) == pytest.approx(1.0, abs=1e-12)
    # Shandong's share is the regional scenario's (its share of the national niche markets)
    assert sum(reg.shares[1:]) == pytest.approx(compose("shandong", "baseline").scenario.population.region_share)


def test_region_draws_follow_the_shares_within_4_standard_errors():
    reg = Regions.of(compose("national", "baseline").scenario)
    n = 200_000
    codes = reg.draw(n, np.random.default_rng(7))
    assert codes.dtype == np.int8
    got = np.bincount(codes, minlength=reg.n) / n
    for p, q in zip(reg.shares, got):
        assert abs(q - p) < 4 * np.sqrt(p * (1 - p) / n), (p, q)


def test_by_region_and_sum_by_region():
    codes = np.array([0, 2, 2, 1, 2], dtype=np.int8)
    np.testing.assert_array_equal(by_region(codes, 3), [1, 1, 3])
    np.testing.assert_array_equal(by_region(codes, 1), [5])
    values = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 0]], dtype=bool)
    np.testing.assert_array_equal(sum_by_region(values, codes, 3), [[1, 0], [1, 0], [1, 2]])
    np.testing.assert_array_equal(sum_by_region(values, codes, 1), [[3, 2]])


def test_real_units_divide_weighted_rows_by_the_view_scale():
    reg = Regions(("a", "b"), ("a", "b"), ("", ""), (0.5, 0.5), (1.0, 0.25), scale=0.5)
    x = np.array([[[2.0], [12.0]]])  # (T=1, R=2, K=1): weighted rows (b's thinned rows weigh 4)
    np.testing.assert_array_equal(reg.real(x), [[[4.0], [24.0]]])
    assert not reg.uniform and Regions.of(compose("national", "baseline").scenario).uniform


def test_thinning_keeps_the_big_firms_and_weights_the_rest():
    reg = Regions(("a", "b"), ("a", "b"), ("", ""), (0.5, 0.5), (1.0, 0.1), strata_revenue=400.0)
    n = 100_000
    rng = np.random.default_rng(3)
    codes = np.repeat(np.array([0, 1], dtype=np.int8), n)
    rev = np.tile(np.where(np.arange(n) % 10 == 0, 500.0, 50.0), 2)  # every tenth firm above the bar
    keep, w = reg.thin(codes, rev, rng)
    assert keep[:n].all() and (w[:n] == 1.0).all()  # region a: scale 1
    kb = keep[n:]
    assert kb[rev[n:] >= 400].all()  # at or above the bar (every large firm: large_min is 400 M CNY)
    thinned = rev[n:] < 400
    p = kb[thinned].mean()
    assert abs(p - 0.1) < 4 * np.sqrt(0.1 * 0.9 / thinned.sum())
    wb = w[int(keep[:n].sum()):]
    assert set(np.unique(wb)) == {np.float32(1.0), np.float32(10.0)}
    # the weights restore the region's firm count, within 4 standard errors
    assert abs(wb.sum() - n) < 4 * np.sqrt(thinned.sum() * 0.9 / 0.1)
    # a bar above every firm thins them all; a scale whose inverse is not whole gets whole weights of that mean
    keep, w = Regions(("b",), ("b",), ("",), (1.0,), (0.3,), strata_revenue=1e9).thin(np.zeros(n, dtype=np.int8), rev[n:], rng)
    assert set(np.unique(w)) == {np.float32(3.0), np.float32(4.0)}
    assert abs(w.mean() - 1 / 0.3) < 4 * np.sqrt(0.25 / w.size)


def test_take_top_takes_the_best_until_the_weight_reaches_the_amount():
    from sim.core.regions import take_top
    score = np.array([5.0, 1.0, 4.0, 3.0, 2.0])
    w = np.array([1.0, 1.0, 2.0, 10.0, 1.0])
    np.testing.assert_array_equal(take_top(score, w, 3.0, 0.99), [0, 2])  # 1 + 2 = 3: exactly
    np.testing.assert_array_equal(take_top(score, w, 4.0, 0.05), [0, 2, 3])  # 1 of 10 left: u * 10 = 0.5 < 1
    np.testing.assert_array_equal(take_top(score, w, 4.0, 0.2), [0, 2])
    np.testing.assert_array_equal(take_top(score, w, 100.0, 0.5), [0, 2, 3, 4, 1])
    # the expected weight taken is the amount (random rounding)
    u = np.random.default_rng(0).random(20_000)
    taken = [w[take_top(score, w, 7.5, x)].sum() for x in u[:2000]]
    assert abs(np.mean(taken) - 7.5) < 4 * np.std(taken) / np.sqrt(len(taken))


@pytest.mark.parametrize("override, field", [
    ("scenario.regions=[{name: a, share: 0.5}, {name: b, share: 0.4}]", "scenario.regions: "),
    ("scenario.regions=[{name: a, share: 0.5}, {name: a, share: 0.5}]", "scenario.regions[1].name: "),
    ("scenario.regions=[{name: a, share: 1.0, province: a}]", "scenario.regions[0].province: "),
    ("scenario.regions=[{name: a, share: 0.5}, {name: b, share: 0.5, scale: 0.0}]", "scenario.regions[1].scale: "),
    ("scenario.regions=[{name: a, share: 0.0}, {name: b, share: 1.0}]", "scenario.regions[0].share: "),
    ("scenario.regions=[{name: a, share: 1.0, size: 3}]", "scenario.regions[0].size: "),
])
def test_bad_regions_fail_with_one_line_naming_the_field(override, field):
    with pytest.raises(ConfigError) as e:
        compose("national", "baseline", overrides=[override])
    msg = str(e.value)
    assert msg.startswith(field) and "\n" not in msg, msg


# ----------------------------------------------------------------------------- per-region records
def test_region_counts_match_the_firm_rows(national):
    m, rec = national
    f, n, R = m.firms, m.firms.n, m.regions.n
    code = f.region[:n]
    np.testing.assert_array_equal(m.region_alive[-1], np.bincount(code[f.alive[:n]], minlength=R))
    for k in range(len(TIERS)):
        np.testing.assert_array_equal(m.region_stock[-1, :, k], np.bincount(code[f.titles[k, :n] != NONE], minlength=R))
    # every tier's recognitions per region, by the rows' recognition months (a title's clock)
    assert m.region_flows[..., 0].sum() >= m.region_stock[-1].sum()


def test_national_counts_are_the_sum_over_regions_exactly(national):
    m, rec = national
    np.testing.assert_array_equal(rec.stock, rec.region_stock.sum(axis=1))
    np.testing.assert_array_equal(rec.flows, rec.region_flows.sum(axis=1))
    np.testing.assert_array_equal(rec.alive, rec.region_alive.sum(axis=1))
    np.testing.assert_array_equal(rec.firsts, rec.region_firsts.sum(axis=1))
    # in simulated rows: the regions partition the nation's integer counts
    np.testing.assert_array_equal(m.stock, m.region_stock.sum(axis=1))
    assert rec.stock[-1, TIERS.index("little_giant")] > 0


def test_an_area_is_the_sum_of_its_regions(national):
    _, rec = national
    sd, lc, rest = rec.area("shandong"), rec.area("liaocheng"), rec.area("rest_of_shandong")
    assert isinstance(sd, RunRecord) and sd.regions == ("rest_of_shandong", "liaocheng")
    np.testing.assert_array_equal(sd.stock, rest.stock + lc.stock)
    np.testing.assert_array_equal(sd.firsts, rest.firsts + lc.firsts)
    assert rec.area(NATIONAL) is rec
    # the count functions work on an area's record as on the nation's
    w0 = 60  # 2021-01
    total = count(rec, ["little_giant"], "cumulative_new", w0, date=-1)
    parts = sum(count(rec.area(a), ["little_giant"], "cumulative_new", w0, date=-1) for a in ("rest_of_china", "shandong"))
    assert total == pytest.approx(parts, rel=1e-12)
    with pytest.raises(KeyError, match="allowed: national, rest_of_china"):
        rec.area("zhejiang")


def test_regions_are_spread_as_their_shares_over_the_synthesis_and_the_entrants(national):
    m, _ = national
    f, n0, n = m.firms, m.n_initial, m.firms.n
    for rows in (slice(0, n0), slice(n0, n)):  # initial firms; entrants
        codes = f.region[rows]
        got = np.bincount(codes, minlength=m.regions.n) / codes.size
        for p, q in zip(m.regions.shares, got):
            assert abs(q - p) < 4 * np.sqrt(p * (1 - p) / codes.size) + 1e-12, (rows, p, q)


def test_regions_leave_every_other_draw_unchanged():
    """The nation's counts with regions are those without them (the region codes come from
    their own stream), in simulated rows and — up to the rounding of a sum — in real firms.
    (The regions here form one province: several provinces split MIIT's batches.)"""
    one_province = "scenario.regions=[{name: a, share: 0.9, province: china}, {name: b, share: 0.06, province: china}, " \
                   "{name: c, share: 0.04, province: china}]"
    # (without the areas the national view's Shandong and Liaocheng series and targets count on: neither is simulated)
    drop = ["scenario.history=[]", "scenario.targets=[]"]
    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE}", one_province, *drop])
    one = compose("national", "baseline", overrides=[f"scenario.scale={SCALE}", "scenario.regions=[]", *drop])
    a, b = TierModel(cfg, replicate=1), TierModel(one, replicate=1)
    ra, rb = a.run(), b.run()
    assert a.regions.n == 3 and b.regions.n == 1
    np.testing.assert_array_equal(a.stock, b.stock)
    np.testing.assert_array_equal(a.flows, b.flows)
    np.testing.assert_array_equal(a.firsts, b.firsts)
    np.testing.assert_allclose(ra.stock, rb.stock, rtol=1e-12)
    # (NaN capacities equal as pandas compares; the batches name their area: the province, the scenario)
    assert {b["region"] for b in ra.batches} == {"china"} and {b["region"] for b in rb.batches} == {"national"}
    assert pd.DataFrame(ra.batches).drop(columns="region").equals(pd.DataFrame(rb.batches).drop(columns="region"))


# ----------------------------------------------------------------------------- thinned regions
@pytest.fixture(scope="module")
def thinned():
    """A national view with China outside Shandong thinned to a tenth (below the strata bar)."""
    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE * 2}", "scenario.regions.0.scale=0.1"])
    m = TierModel(cfg, replicate=0)
    return m, m.run()


def test_a_thinned_region_keeps_its_large_and_big_firms_and_weighs_the_rest():
    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE * 2}", "scenario.regions.0.scale=0.1"])
    m = TierModel(cfg, replicate=0)  # not run: revenues as synthesised
    f, n0 = m.firms, m.n_initial
    w, code, rev = f.weight[:n0], f.region[:n0], f.revenue[:n0]
    large = m.kinds[:n0] == 1  # population.KINDS: sme, large, small
    assert m.weighted and set(np.unique(w[code != 0])) == {1.0}  # Shandong's regions: scale 1
    heavy = w > 1
    assert heavy.any() and (code[heavy] == 0).all() and not large[heavy].any()  # large firms: above the bar
    assert (rev[heavy] < cfg.scenario.strata_revenue).all()
    assert large[code == 0].sum() > 0 and (w[large] == 1).all()
    assert set(np.unique(w[heavy])) == {10.0}  # 1 / 0.1: the row and 9 ghosts
    assert m.ghosts.n == int((w - 1).sum())
    # the weights restore the size of the region, within 4 standard errors (region draw and thinning)
    pop = cfg.scenario.population
    full = 0.924 * (pop.n_sme + pop.n_large + pop.n_small_tech) * cfg.scenario.scale
    sd = np.sqrt(full * 0.076) + np.sqrt(90 * heavy.sum())
    assert abs(w[code == 0].sum() - full) < 4 * sd


def test_a_thinned_views_counts_are_weighted_rows(thinned):
    m, rec = thinned
    f, n = m.firms, m.firms.n
    alive = f.alive[:n]
    for r in range(m.regions.n):
        sel = alive & (f.region[:n] == r)
        assert m.region_alive[-1, r] == pytest.approx(float(f.weight[:n][sel].sum()), abs=1e-6)
        for k in range(len(TIERS)):
            held = sel & (f.titles[k, :n] != NONE)
            assert m.region_stock[-1, r, k] == pytest.approx(float(f.weight[:n][held].sum()), abs=1e-6)
    np.testing.assert_array_equal(rec.stock, rec.region_stock.sum(axis=1))
    np.testing.assert_allclose(rec.stock, m.stock / m.scenario.scale)


def test_ghosts_stand_in_the_markets_and_ranks():
    from sim.core import tiers
    from sim.core.firms import FirmArrays
    from sim.core.population import Niches
    from sim.core.regions import Ghosts
    f = FirmArrays.empty(4)
    f.n, f.alive[:4] = 4, True
    f.revenue[:4] = [10.0, 30.0, 20.0, 5.0]
    f.niche[:4] = [0, 0, 1, 1]
    f.weight[:4] = [1.0, 1.0, 3.0, 1.0]
    niches = Niches(np.full(2, 0.5, np.float32), np.zeros((2, 3), np.float32), np.zeros((2, 5), np.float32),
                    np.array([0.5, 0.5], np.float32), 1.0)
    g = Ghosts()
    g.add(np.array([2]), np.array([3.0]), np.array([0, 1], dtype=np.int32))  # row 2's two ghosts: niches 0 and 1
    assert g.n == 2
    np.testing.assert_array_equal(tiers.region_ranks(f), [2, 1, 1, 2])
    # with ghosts: row 0 (10) ranks below row 1 (30) and row 2's ghost (20) in niche 0; row 2 ties its ghost
    np.testing.assert_array_equal(tiers.region_ranks(f, ghosts=g), [3, 1, 1, 3])
    np.testing.assert_array_equal(tiers.region_ranks(f, np.array([0, 3]), cap=1, ghosts=g) > 1, [True, True])
    plain = tiers.niche_markets(f, niches, 1.0)
    ghosted = tiers.niche_markets(f, niches, 1.0, g)
    assert ghosted.sum() > plain.sum()
    # niche 0: 10 + 30 + a ghost of 20 (the expected-market floor is below it)
    assert ghosted[0] == pytest.approx(max(60.0, 0.5 * (65.0 + 40.0)))


# ----------------------------------------------------------------------------- MIIT's batches across provinces
def test_split_batch_by_record_then_past_share_and_the_rest_by_pool():
    from sim.core.government import split_batch
    nation = {2019: 248.0, 2020: 1584.0, 2021: 2930.0}
    records = {"shandong": {2019: 19.0, 2020: 122.0, 2021: 221.0}}
    provs = ("rest_of_china", "shandong")
    pools = {"rest_of_china": 900.0, "shandong": 100.0}
    got = split_batch(1584.0, 2020, nation, records, provs, pools)
    assert got == {"rest_of_china": 1584.0 - 122.0, "shandong": 122.0}  # a recorded year: the record
    got = split_batch(3000.0, 2022, nation, records, provs, pools)
    assert got["shandong"] == pytest.approx(3000.0 * 362 / 4762)  # after: the past share
    assert sum(got.values()) == pytest.approx(3000.0)
    # two provinces without a record share the rest by their pools; pool allocation ignores records
    got = split_batch(100.0, 2022, nation, {}, ("a", "b"), {"a": 3.0, "b": 1.0})
    assert got == {"a": 75.0, "b": 25.0}
    assert split_batch(100.0, 2019, nation, records, provs, pools, by_pool=True) == {"rest_of_china": 90.0, "shandong": 10.0}
    assert split_batch(10.0, 2019, nation, records, provs, {}, by_pool=True) == {"rest_of_china": 5.0, "shandong": 5.0}


def test_the_national_view_splits_miits_batches_among_its_provinces(national):
    m, rec = national
    assert m.regions.province_names == ("rest_of_china", "shandong")
    assert set(m.config.government.provinces) == {"shandong"}
    s = m.scenario.scale
    by = {}
    for b in rec.batches:
        by.setdefault((b["tier"], b["date"]), {})[b["region"]] = b
    lg = by[("little_giant", "2019-06")]
    assert set(lg) == {"rest_of_china", "shandong"}
    assert lg["shandong"]["capacity"] == pytest.approx(19.0)  # Shandong's published batch 1 (real units)
    assert lg["shandong"]["capacity"] + lg["rest_of_china"]["capacity"] == pytest.approx(248.0)
    for parts in by.values():
        for b in parts.values():  # each province within its quota (random rounding: one row over at most)
            if np.isfinite(b["capacity"]):
                assert b["recognised"] <= b["capacity"] + 1 / s + 1e-9
    # the batch table's rows of a tier and date add up to the national recognitions of that month
    k = TIERS.index("single_champion")
    dates = rec.dates
    for (tier, date), parts in by.items():
        if tier == "single_champion":
            assert sum(b["recognised"] for b in parts.values()) == pytest.approx(rec.flows[dates.index(date), k, 0])
    # the province's record holds its part of MIIT's batches; a city has none of its own
    assert {b["region"] for b in rec.area("shandong").batches} == {"shandong"}
    assert rec.area("liaocheng").batches == []


def test_a_view_of_several_provinces_refuses_own_record_allocation():
    with pytest.raises(ConfigError) as e:
        compose("national", "baseline", overrides=["government.allocation=own_record"])
    assert str(e.value).startswith("government.allocation: 'own_record' is not allowed") and "\n" not in str(e.value)
    assert compose("national", "baseline", overrides=["government.allocation=pool"]).government.provinces == {}


def test_the_national_forecast_writes_every_area_and_the_view_is_their_sum(tmp_path):
    import sim

    tables = sim.forecast(scenario="national", policy="baseline", n_replicates=2, seed=1,
                          overrides=[f"scenario.scale={SCALE}", "plots=false", "progress=off", "n_jobs=1"], out_dir=tmp_path / "run")
    traj = pd.read_parquet(tmp_path / "run" / "trajectories.parquet")
    assert list(traj["region"].unique()) == [NATIONAL, "rest_of_china", "rest_of_shandong", "liaocheng", "shandong"]
    key = ["replicate", "date", "tier"]
    nat = traj[traj["region"] == NATIONAL].set_index(key)["stock"]
    parts = traj[traj["region"].isin(["rest_of_china", "shandong"])].groupby(key)["stock"].sum()
    np.testing.assert_allclose(nat.sort_index().to_numpy(), parts.sort_index().to_numpy(), rtol=1e-12)
    fc = pd.read_csv(tmp_path / "run" / "forecast.csv")
    assert set(fc["region"]) == set(traj["region"])
    batches = pd.read_csv(tmp_path / "run" / "batches.csv")
    assert set(batches.loc[batches["tier"] == "little_giant", "region"]) == {"rest_of_china", "shandong"}
    # Shandong runs its own SRDI and provincial-champion programmes (government.programmes); the rest of China the view's
    assert set(batches.loc[batches["tier"] == "srdi", "region"]) == {"rest_of_china", "shandong"}
    assert set(batches.loc[batches["tier"] == "provincial_champion", "region"]) == {"shandong"}
    pc = traj[traj["tier"] == "provincial_champion"].groupby("region")["stock"].max()
    assert pc["rest_of_china"] == 0 and pc["shandong"] > 0 and pc[NATIONAL] == pc["shandong"]
    # the targets are the nation's: counted on the national rows
    reach = tables["reachability"]
    lg = reach[(reach["target"] == "little_giant_stock_2025") & (reach["rule"] == "all")]["count_p50"].iloc[0]
    assert lg == pytest.approx(nat.xs(("2025-12", "little_giant"), level=("date", "tier")).median())


# ----------------------------------------------------------------------------- targets of an area
def test_a_target_of_an_area_is_counted_on_its_records_and_chased_by_no_government():
    from dataclasses import replace

    from sim.core.record import target_count
    from sim.run.ensemble import run_ensemble, target_counts

    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE}", "n_jobs=1", "progress=off"])
    own = cfg.scenario.targets[0]  # little giants (stock) >= 10,000, the nation's
    sd = replace(own, name="sd_little_giant_new", label="Shandong: new little giants since 2021 >= 600", metric="cumulative_new",
                 threshold=600, region="shandong", tiers=["little_giant"])
    cfg.scenario.targets = [own, sd]
    m = TierModel(cfg, 0)
    assert all(not t.region for g in m._gov_of.values() for t in g.targets)  # the Ministry chases the nation's only
    recs = run_ensemble(cfg, 2)
    counts = target_counts(cfg, recs)
    w0 = 60  # 2021-01
    got = counts[(counts["target"] == "sd_little_giant_new") & (counts["date"] == "2025-12")]["count"].to_numpy()
    want = [count(r.area("shandong"), ["little_giant"], "cumulative_new", w0, date=-1, unit="firms") for r in recs]
    np.testing.assert_allclose([target_count(r, sd, w0, -1) for r in recs], want)
    np.testing.assert_allclose(got, want)
    nat = counts[(counts["target"] == own.name) & (counts["date"] == "2025-12")]["count"].to_numpy()
    assert (got < 0.2 * nat).all() and (got > 0).all()  # Shandong's new little giants: a part of the nation's stock


def test_a_target_of_an_unknown_area_fails_in_one_line():
    with pytest.raises(ConfigError) as e:
        compose("national", "baseline", overrides=["+scenario.targets.0.region=zhejiang"])
    msg = str(e.value)
    assert msg.startswith("scenario.targets[0].region: 'zhejiang' is not allowed (allowed: '' (the view's own area) or an area")
    assert "shandong" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match=r"^scenario.targets\[0\].region: 'shandong' is not allowed \(allowed: '' \(the view's own area\)\)$"):
        compose("shandong", "baseline", overrides=["+scenario.targets.0.region=shandong"])


# ----------------------------------------------------------------------------- levers of an area
def test_a_lever_with_regions_reaches_only_their_firms():
    ov = [f"scenario.scale={SCALE}", "policy.financing.start=2016-01", "policy.financing.target=all"]
    m = TierModel(compose("national", "financing_plus", overrides=[*ov, "+policy.financing.regions=[shandong]"]), 0)
    everywhere = TierModel(compose("national", "financing_plus", overrides=ov), 0)
    m.step()
    everywhere.step()  # one month: the same firms, the levers applied to the same state
    n = m.firms.n
    relief, relief_all = m.effects.fin_relief[:n], everywhere.effects.fin_relief[:n]
    code = m.firms.region[:n]
    in_sd = np.isin(code, m.regions.areas()["shandong"])
    assert (relief_all[in_sd] > 0).any()
    np.testing.assert_array_equal(relief[in_sd], relief_all[in_sd])  # Shandong's firms: as if everywhere
    assert (relief[~in_sd] == 0).all() and (relief_all[~in_sd] > 0).any()  # outside: not reached
    reached = (relief_all > 0) & m.firms.alive[:n]
    share = m.cost["financing"] / everywhere.cost["financing"]
    assert share == pytest.approx((reached & in_sd).sum() / reached.sum(), rel=0.02)  # the firms reached (costed before the exits)


@pytest.mark.parametrize("scenario, area, allowed", [("national", "zhejiang", "an area of the view: liaocheng, rest_of_china"),
                                                     ("shandong", "shandong", "[] in a view of one region")])
def test_a_lever_region_outside_the_view_fails_in_one_line(scenario, area, allowed):
    with pytest.raises(ConfigError) as e:
        compose(scenario, "financing_plus", overrides=[f"+policy.financing.regions=[{area}]"])
    msg = str(e.value)
    assert msg.startswith(f"policy.financing.regions: {area!r} is not allowed (allowed: {allowed}") and "\n" not in msg


# ----------------------------------------------------------------------------- weighted library, costs, pool split
def test_a_thinned_view_weighs_the_library_and_the_lever_costs():
    from sim.core.firms import sme_mask

    ov = [f"scenario.scale={SCALE * 2}", "scenario.regions.0.scale=0.1", "policy.library.start=2016-01",
          "policy.financing.start=2016-01", "policy.financing.target=all"]
    m = TierModel(compose("national", "baseline", overrides=ov), 0)
    m.step()  # January 2016: the library is chosen, financing reaches every alive firm
    f, n = m.firms, m.firms.n
    sme = sme_mask(f.employees[:n], f.revenue[:n], m.params.firms) & f.alive[:n]
    lib, w = f.library[:n], f.weight[:n]
    assert lib.any() and not (lib & ~sme).any()
    share = m._table.library_share
    assert abs(w[lib].sum() - share * w[sme].sum()) <= w.max()  # the top SMEs by weight, to one row
    assert (w[lib] > 1).any()  # thinned rows are in it, for the firms they stand for
    lv = next(x for x in m.levers if x.name == "financing")
    # costed on the weighted firms alive at the month's start (the synthesised rows)
    want = lv.intensity * lv.cost * float(w[: m.n_initial].sum()) / 12.0 / m.scenario.scale
    assert m.cost["financing"] == pytest.approx(want, rel=1e-9)


def test_pool_allocation_splits_miits_batches_by_the_provinces_pools():
    cfg = compose("national", "baseline", overrides=[f"scenario.scale={SCALE}", "government.allocation=pool"])
    rec = TierModel(cfg, 0).run()
    lg = {b["region"]: b for b in rec.batches if b["tier"] == "little_giant" and b["date"] == "2019-06"}
    total_cap = sum(b["capacity"] for b in lg.values())
    total_pool = sum(b["pool"] for b in lg.values())
    assert total_cap == pytest.approx(248.0)  # the national batch, split
    for b in lg.values():
        assert b["capacity"] / total_cap == pytest.approx(b["pool"] / total_pool, rel=1e-9)
    assert lg["shandong"]["capacity"] != pytest.approx(19.0)  # not Shandong's published batch


def test_the_ghosts_market_is_the_sum_over_ghosts_as_they_are_added():
    """Ghosts.market (a sparse matrix for the ghosts up to its last build, a bincount for the
    newer) equals the plain sum of each ghost's row revenue per niche, before and after a rebuild."""
    from sim.core.regions import Ghosts

    rng = np.random.default_rng(3)
    g, k, n = Ghosts(), 50, 0
    for chunk in range(8):  # the initial rows' ghosts, then entrants': 1 000 then 100 rows a chunk
        m = 1000 if chunk == 0 else 100
        w = rng.integers(1, 6, m).astype(np.float32)
        g.add(np.arange(n, n + m), w, rng.integers(0, k, Ghosts.count(w)).astype(np.int32))
        n += m
        rev = rng.random(n).astype(np.float32)
        rows, niches = g.arrays()
        want = np.bincount(niches, weights=rev.take(rows), minlength=k)
        np.testing.assert_allclose(g.market(rev, k), want, rtol=1e-12)
        if chunk == 1:
            assert g._sealed[0] == 1  # 10% more ghosts: the matrix is kept, the new ones summed apart
    assert g._sealed[0] > 1  # past RESEAL: rebuilt
