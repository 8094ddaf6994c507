"""TierModel: reproducibility, replicate seeding, serial == parallel ensembles, flow
accounting and ladder invariants in every scenario, Mesa integration (batch_run,
DataCollector) and the agents onto the firm arrays."""

from __future__ import annotations

import dataclasses
from functools import cache

import mesa
import numpy as np
import pandas as pd
import pytest
from synthetic import snapshot

import sim
from sim.config.compose import compose
from sim.config.posterior import config_for_replicate
from sim.core.agents import SME, ChainOwner, City, Ministry, Province
from sim.core.firms import NONE, TIER_INDEX
from sim.core.model import STREAMS, TierModel
from sim.core.schema import TIERS
from sim.run import ensemble


@cache
def cfg(scenario: str = "liaocheng", policy: str = "baseline", *overrides: str):
    return compose(scenario, policy, list(overrides))


def assert_same_record(a, b) -> None:
    assert a.dates == b.dates
    np.testing.assert_array_equal(a.stock, b.stock)
    np.testing.assert_array_equal(a.flows, b.flows)
    np.testing.assert_array_equal(a.alive, b.alive)
    pd.testing.assert_frame_equal(pd.DataFrame(a.batches), pd.DataFrame(b.batches))
    assert a.cost == b.cost


# ----------------------------------------------------------------------------- reproducibility
def test_rerun_is_bit_identical():
    c = cfg()
    m1, m2 = TierModel(config=c, replicate=2), TierModel(config=c, replicate=2)
    r1, r2 = m1.run(), m2.run()
    assert_same_record(r1, r2)
    s1, s2 = snapshot(m1), snapshot(m2)
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k], err_msg=k)
    # the keyword route (what mesa.batch_run uses) builds the same model
    m3 = sim.TierModel(scenario_name="liaocheng", policy_name="baseline", seed=c.seed, replicate=2)
    assert isinstance(m3, TierModel)
    assert_same_record(m3.run(), r1)


def test_different_replicates_and_seeds_differ():
    c = cfg()
    a, b = TierModel(config=c, replicate=0), TierModel(config=c, replicate=1)
    ra, rb = a.run(), b.run()
    assert not np.array_equal(ra.stock, rb.stock)
    assert not np.array_equal(a.firms.revenue[: a.n_initial], b.firms.revenue[: b.n_initial])
    d = TierModel(config=dataclasses.replace(c, seed=c.seed + 1), replicate=0)
    assert not np.array_equal(d.firms.revenue[: d.n_initial], a.rev0[: a.n_initial])


def test_serial_equals_parallel():
    c = cfg("liaocheng", "baseline")
    reps = [0, 1, 2]
    serial = list(ensemble.iter_replicates(c, reps, n_jobs=1))
    parallel = list(ensemble.iter_replicates(c, reps, n_jobs=2))
    assert [r for r, _ in serial] == reps == [r for r, _ in parallel]
    for (_, a), (_, b) in zip(serial, parallel):
        assert_same_record(a, b)
    assert not np.array_equal(serial[0][1].stock, serial[1][1].stock)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40 + 7])
def test_replicate_is_ith_spawned_child(seed):
    n = 6
    children = np.random.SeedSequence(seed).spawn(n)
    for i in range(n):
        direct = np.random.SeedSequence(seed, spawn_key=(i,))
        np.testing.assert_array_equal(direct.generate_state(8), children[i].generate_state(8))
        assert direct.spawn_key == children[i].spawn_key


def test_model_streams_come_from_the_replicate_child():
    c = cfg()
    i = 3
    m = TierModel(config=c, replicate=i)
    child = np.random.SeedSequence(c.seed).spawn(i + 1)[i]
    assert m._seed == int(child.generate_state(1)[0])  # Mesa's own RNG seed
    fresh = dict(zip(STREAMS, (np.random.default_rng(s) for s in child.spawn(len(STREAMS)))))
    used_at_init = {"synth", "vol"}  # population synthesis and the first year's volatility
    for name in STREAMS:
        if name not in used_at_init:
            assert m.streams[name].bit_generator.state == fresh[name].bit_generator.state, name
    # and the synthesised population is the one drawn from the child's synth stream
    m2 = TierModel(config=c, replicate=i)
    np.testing.assert_array_equal(m.firms.revenue, m2.firms.revenue)
    # replicate i of an ensemble is that model, with replicate i's draw from the posterior
    # the config names (calibration: default; sim.config.posterior.config_for_replicate)
    (_, rec), = ensemble.iter_replicates(c, [i], n_jobs=1)
    assert_same_record(rec, TierModel(config=config_for_replicate(c, i), replicate=i).run())


# ----------------------------------------------------------------------------- every scenario
SCENARIOS = [("national", 0.01), ("shandong", 0.05), ("liaocheng", 1.0)]


@pytest.mark.parametrize("policy", ["baseline", "no_policy"])
@pytest.mark.parametrize("scenario,scale", SCENARIOS)
def test_scenario_run_invariants(scenario, scale, policy):
    c = cfg(scenario, policy, f"scenario.scale={scale}")
    m = TierModel(config=c, replicate=0)
    validity = int(round(c.criteria.validity_years * 12))
    lg, srdi = TIER_INDEX["little_giant"], TIER_INDEX["srdi"]
    sme_only = [k for k, tier in enumerate(TIERS) if getattr(getattr(c.criteria, tier), "sme_only", False)]
    n_new_lg = 0
    while m.running:
        t = m.t_now
        held_before = m.firms.titles[:, : m.firms.n] != NONE
        m.step()
        f, n = m.firms, m.firms.n
        titles, alive = f.titles[:, :n], f.alive[:n]
        held = titles != NONE
        # titles belong to alive firms, were granted in the past, and are within validity
        assert not held[:, ~alive].any(), f"{m.calendar.date(t)}: an exited firm holds a title"
        assert (titles[held] <= t).all() and (t - titles[held] < validity).all()
        was = np.zeros_like(held)
        was[:, : held_before.shape[1]] = held_before
        new = (titles == t) & ~was            # recognised this month (re-review passes excluded)
        np.testing.assert_array_equal(new.sum(axis=1), m.flows[t, :, 0])
        np.testing.assert_array_equal(((titles == t) & was).sum(axis=1), m.flows[t, :, 1])
        # every little giant recognised this month held provincial SRDI at recognition
        if c.criteria.little_giant.requires_srdi:
            assert not (new[lg] & ~held[srdi]).any(), f"{m.calendar.date(t)}: little giant without SRDI"
        n_new_lg += int(new[lg].sum())
        # SME-only tiers recognise SMEs only (re-review may keep firms that outgrew the cap)
        sme = f.is_sme(c.params.firms)
        for k in sme_only:
            assert not (new[k] & ~sme).any(), f"{m.calendar.date(t)}: non-SME recognised as {TIERS[k]}"
        # model records match the arrays
        np.testing.assert_array_equal(m.stock[t], held.sum(axis=1))
        assert m.alive_count[t] == alive.sum()
    stock, flows = m.stock, m.flows
    assert (stock >= 0).all() and (flows >= 0).all()
    # flow accounting: stock(t) = stock(t-1) + recognised - revoked - exited (nothing held at start)
    prev = np.vstack([np.zeros((1, len(TIERS)), dtype=stock.dtype), stock[:-1]])
    np.testing.assert_array_equal(stock, prev + flows[..., 0] - flows[..., 2] - flows[..., 3])
    # re-reviews only happen to titles held at least one validity period
    first = np.argmax(flows[..., 0] > 0, axis=0)
    for k in range(len(TIERS)):
        if flows[:, k, 0].any():
            assert not flows[: first[k] + validity, k, 1].any()
            assert not flows[: first[k] + validity, k, 2].any()
    if scenario in ("national", "shandong"):
        assert n_new_lg > 0, "no little giant recognised: the SRDI check above was vacuous"
    # tidy trajectories: cumulative_new zero before the window, non-decreasing after
    rec = m.record_out()
    np.testing.assert_allclose(rec.stock, stock / scale)
    traj = ensemble.trajectories(c, [rec])
    # the view's tiers, and those a province runs as its own programmes (Shandong's provincial champions nationally)
    own = {t for prog in c.government.programmes.values() for t in prog["tiers"]}
    assert set(traj["tier"]) == {t for t in TIERS if (t in c.scenario.tiers and c.scenario.tiers[t].enabled) or t in own}
    assert ("provincial_champion" in set(traj["tier"])) == (scenario != "national" or "provincial_champion" in own)
    for _, g in traj.groupby("tier"):
        g = g.sort_values("date")
        before = g["date"] < c.scenario.window_start
        assert (g.loc[before, "cumulative_new"] == 0).all()
        assert (np.diff(g["cumulative_new"].to_numpy()) >= 0).all()
        after = g.loc[~before]
        np.testing.assert_allclose(after["cumulative_new"].to_numpy(), after["recognised"].cumsum().to_numpy())


# ----------------------------------------------------------------------------- Mesa integration
def test_mesa_batch_run_rows_have_stock_columns():
    rows = mesa.batch_run(sim.TierModel, parameters={"scenario_name": "liaocheng", "policy_name": ["baseline", "no_policy"], "seed": 1},
                          iterations=1, max_steps=200, number_processes=1, display_progress=False)
    assert len(rows) == 2
    assert {r["policy_name"] for r in rows} == {"baseline", "no_policy"}
    for r in rows:
        for tier in TIERS:
            assert f"stock_{tier}" in r and r[f"stock_{tier}"] >= 0
        assert r["date"] == "2025-12" and r["Step"] == 119
    direct = TierModel(config=cfg("liaocheng", "no_policy"), replicate=0)
    direct.run()
    row = next(r for r in rows if r["policy_name"] == "no_policy")
    assert [row[f"stock_{t}"] for t in TIERS] == direct.stock[-1].tolist()
    assert row["firms_alive"] == direct.alive_count[-1]


def test_datacollector_matches_model_stock():
    m = TierModel(config=cfg(), replicate=1)
    m.run()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == m.calendar.n_steps == m.steps
    assert df["date"].tolist() == m.calendar.dates()
    for k, tier in enumerate(TIERS):
        np.testing.assert_array_equal(df[f"stock_{tier}"].to_numpy(), m.stock[:, k])
    np.testing.assert_array_equal(df["firms_alive"].to_numpy(), m.alive_count)


# ----------------------------------------------------------------------------- agents
def test_chain_owners_and_materialised_smes():
    m = TierModel(config=cfg(), replicate=0)
    f = m.firms
    owners = m.agents_by_type[ChainOwner]
    assert len(owners) > 0
    assert all(isinstance(a, ChainOwner) and f.owner[a.row] for a in owners)
    assert sorted(a.row for a in owners) == sorted(np.flatnonzero(f.owner[: f.n]).tolist())
    assert all(a.chain == f.chain[a.row] for a in owners)
    assert m.materialise  # liaocheng is far below agent_limit
    exited_rows: set[int] = set()
    for _ in range(36):
        alive_before = f.alive[: f.n].copy()
        m.step()
        f = m.firms
        exited_rows |= set(np.flatnonzero(alive_before & ~f.alive[: alive_before.shape[0]]).tolist())
        smes = m.agents_by_type[SME]
        rows = {a.row for a in smes}
        expect = set(np.flatnonzero(f.alive[: f.n] & ~f.owner[: f.n]).tolist())
        assert len(smes) == len(expect) and rows == expect
    assert exited_rows and not exited_rows & rows, "exited firms keep their agents"
    # bulk registration keeps Mesa's registries consistent: ids unique, every registry agrees
    every = list(m.agents)
    govs = [a for t in (Ministry, Province, City) for a in m.agents_by_type[t]]
    assert len({a.unique_id for a in every}) == len(every) == len(smes) + len(owners) + len(govs)
    assert set(every) == set(smes) | set(m.agents_by_type[ChainOwner]) | set(govs)
    assert set(m.agent_types) == {SME, ChainOwner, Ministry, Province, City}  # Liaocheng: a city view
    one = next(iter(smes))
    one.remove()  # Mesa's own per-agent path works on a bulk-created agent
    assert one not in set(m.agents) and one not in set(m.agents_by_type[SME]) and len(m.agents) == len(every) - 1
    # the per-code counts kept alongside the lever codes equal a fresh count
    np.testing.assert_array_equal(m._per_code, np.bincount(m._codes[: f.n], minlength=m._per_code.size))
    a = next(iter(m.agents_by_type[SME]))
    assert a.revenue == pytest.approx(float(f.revenue[a.row]))
    assert a.titles == {tier: m.calendar.date(int(f.titles[k, a.row])) for k, tier in enumerate(TIERS) if f.titles[k, a.row] != NONE}


def test_agents_on_demand():
    m = TierModel(config=cfg("liaocheng", "baseline", "agents=on_demand"), replicate=0)
    assert not m.materialise
    assert len(m.agents_by_type.get(SME, [])) == 0
    for _ in range(12):
        m.step()
    f, n = m.firms, m.firms.n
    row = int(np.flatnonzero(f.alive[:n] & ~f.owner[:n])[5])
    agent = m.sme(row)
    assert isinstance(agent, SME) and agent.row == row and m.sme(row) is agent
    assert len(m.agents_by_type[SME]) == 1
    dead = np.flatnonzero(~f.alive[:n])
    assert dead.size
    with pytest.raises(KeyError):
        m.sme(int(dead[0]))
    mask = f.revenue[:n] > np.median(f.revenue[:n][f.alive[:n]])
    sel = m.select_firms(mask)
    expect = np.flatnonzero(mask & f.alive[:n] & ~f.owner[:n])
    assert isinstance(sel, mesa.agent.AgentSet) and len(sel) == expect.size
    assert sorted(a.row for a in sel) == expect.tolist()
    np.testing.assert_array_equal(np.array(sel.get("revenue"), dtype=np.float32), f.revenue[[a.row for a in sel]])
    assert m.sme(row) is agent and (agent in sel) == bool(mask[row])
    # the views follow the arrays as the model steps; exited firms' agents go away
    chosen = list(sel)
    m.step()
    np.testing.assert_array_equal(np.array([a.revenue for a in chosen[:20]], dtype=np.float32),
                                  m.firms.revenue[[a.row for a in chosen[:20]]])
    for _ in range(36):
        m.step()
    gone = [a for a in chosen if not m.firms.alive[a.row]]
    assert gone, "no selected firm exited in 3 years (test needs one)"
    live = set(m.agents_by_type[SME])
    assert not any(a in live for a in gone), "exited firms keep their on-demand agents"
    assert all(m.firms.alive[a.row] for a in live)


def test_sme_refuses_chain_owner_rows():
    m = TierModel(config=cfg(), replicate=0)
    owner_row = int(m.owner_rows[0])
    n_before = len(m.agents_by_type[SME])
    with pytest.raises(KeyError):
        m.sme(owner_row)
    assert len(m.agents_by_type[SME]) == n_before


def test_finished_models_hold_no_memory():
    """Ensembles run many replicates in one worker: after ``simulate`` a replicate leaves
    (almost) nothing behind.  (Mesa 3.3's ``Agent`` keeps a per-model id counter keyed by the
    model, so a model object itself may outlive its replicate; released, it holds only its
    records, a few kB.)"""
    import gc
    import tracemalloc

    from sim.core.model import simulate

    simulate(cfg(), 0)  # warm caches (imports, compiled configs)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for r in range(1, 5):
            simulate(cfg(), r)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, f"4 finished Liaocheng replicates left {grown / 1e6:.1f} MB behind"


def test_released_model_frees_its_arrays_without_a_collection():
    """A finished replicate's firm arrays are freed by reference counting alone (the model
    itself sits in cycles): workers running replicate after replicate do not grow.
    ``simulate`` (what ensembles and calibration run) releases; the records stay."""
    import gc
    import weakref

    from sim.core.model import simulate

    m = TierModel(config=cfg(), replicate=0)
    rec = m.run()
    refs = [weakref.ref(a) for a in (m.firms.revenue, m.firms.titles, m.rev0, m._codes)]
    agent = weakref.ref(next(iter(m.agents_by_type[SME])))
    gc.disable()
    try:
        m.release()
        assert [r() is None for r in refs] == [True] * len(refs)
        assert agent() is None and len(m.agents) == 0
    finally:
        gc.enable()
    assert_same_record(m.record_out(), rec)
    assert_same_record(simulate(cfg(), 0), rec)


def test_bulk_agent_creation_restores_the_garbage_collector():
    """Agents are created and removed in bulk with the cyclic GC paused; it is back on
    afterwards (and stays off if the caller had turned it off)."""
    import gc

    from sim.core.agents import _gc_paused

    m = TierModel(config=cfg(), replicate=0)
    assert gc.isenabled() and m.materialise and len(m.agents_by_type[SME]) > 0
    m.step()
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError):
        with _gc_paused():
            raise RuntimeError("boom")
    assert gc.isenabled()
