"""Counts as the targets mean them (issue 12): distinct firms newly cultivated over a group of
tiers (``count: firms``, the default), or every recognition (``count: recognitions``); the
batch table's columns; the validation of ``count`` and ``rereview_file``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis import targets
from sim.config.compose import compose_dict
from sim.config.validate import validate
from sim.core import record
from sim.core.calendar import month_index
from sim.core.firms import NONE, TIER_INDEX
from sim.core.model import TierModel
from sim.core.schema import TIERS, ConfigError, TargetConfig
from sim.run import ensemble, sweep

K = len(TIERS)
CHAMPS = ("single_champion", "provincial_champion")
CHAMP_TARGET = {"name": "champ", "label": "champions", "tiers": list(CHAMPS), "metric": "cumulative_new",
                "threshold": 2.0, "deadline": "2021-12", "illustrative": False}


# --------------------------------------------------------------------------- the rule
def test_groups_are_each_tier_then_the_cumulative_targets_tier_sets():
    tgts = [CHAMP_TARGET, {**CHAMP_TARGET, "tiers": ["provincial_champion", "single_champion"]},  # same set: once
            {**CHAMP_TARGET, "tiers": ["srdi", "little_giant"], "metric": "stock"}]  # stocks need no group
    assert record.count_groups(tgts) == (*((t,) for t in TIERS), CHAMPS)
    assert record.group_mask(CHAMPS) == (1 << TIER_INDEX["single_champion"]) | (1 << TIER_INDEX["provincial_champion"])


def test_first_title_of_a_group_counts_once():
    groups = record.count_groups([CHAMP_TARGET])
    masks = np.array([record.group_mask(g) for g in groups], dtype=np.uint8)
    j_sc, j_pc, j_grp = groups.index(("single_champion",)), groups.index(("provincial_champion",)), groups.index(CHAMPS)
    ever = np.zeros(3, dtype=np.uint8)
    pc, sc = TIER_INDEX["provincial_champion"], TIER_INDEX["single_champion"]
    # firms 0 and 1 become provincial champions: two first titles of the group and of the tier
    got = record.note_recognised(ever, np.array([0, 1]), pc, masks)[0]  # (R = 1, G)
    assert (got[j_pc], got[j_grp], got[j_sc]) == (2, 2, 0)
    # firm 0 then becomes a national champion, firm 2 too: the group gains only firm 2
    got = record.note_recognised(ever, np.array([0, 2]), sc, masks)[0]
    assert (got[j_sc], got[j_grp], got[j_pc]) == (2, 1, 0)
    # firm 1 loses its provincial title (titles cleared, ever kept) and is recognised again: no first
    got = record.note_recognised(ever, np.array([1]), pc, masks)[0]
    assert got.sum() == 0
    assert ever.tolist() == [(1 << pc) | (1 << sc), 1 << pc, 1 << sc]


def test_first_titles_are_counted_per_region_of_the_rows():
    groups = record.count_groups([CHAMP_TARGET])
    masks = np.array([record.group_mask(g) for g in groups], dtype=np.uint8)
    j_pc, j_grp = groups.index(("provincial_champion",)), groups.index(CHAMPS)
    ever = np.zeros(4, dtype=np.uint8)
    ever[3] = 1 << TIER_INDEX["single_champion"]  # firm 3 holds a national title already
    rows, codes = np.array([0, 1, 3]), np.array([2, 0, 2], dtype=np.int8)
    got = record.note_recognised(ever, rows, TIER_INDEX["provincial_champion"], masks, codes, 3)
    assert got.shape == (3, len(groups))
    assert got[:, j_pc].tolist() == [1, 0, 2]   # a first provincial title for each
    assert got[:, j_grp].tolist() == [1, 0, 1]  # firm 3 is no new champion of the group


def _hand_record() -> record.RunRecord:
    """Six months; firm A: provincial champion in month 1, national champion in month 3; firm B:
    provincial champion in month 2, lapses, re-recognised in month 5.  Recognitions: 4; firms: 2."""
    T, groups = 6, record.count_groups([CHAMP_TARGET])
    masks = np.array([record.group_mask(g) for g in groups], dtype=np.uint8)
    flows, firsts, ever = np.zeros((T, K, 4)), np.zeros((T, len(groups))), np.zeros(2, dtype=np.uint8)
    for t, row, tier in ((1, 0, "provincial_champion"), (2, 1, "provincial_champion"), (3, 0, "single_champion"),
                         (5, 1, "provincial_champion")):
        flows[t, TIER_INDEX[tier], 0] += 1
        firsts[t] += record.note_recognised(ever, np.array([row]), TIER_INDEX[tier], masks)[0]
    stock = np.cumsum(flows[..., 0], axis=0)
    return record.RunRecord([f"2021-{m:02d}" for m in range(1, T + 1)], stock, flows, np.full(T, 2.0), firsts=firsts, groups=groups)


def test_hand_built_target_counts_firms_once_and_recognitions_restore_the_old_count():
    rec = _hand_record()
    firms = record.target_count(rec, CHAMP_TARGET, 0)
    assert firms.tolist() == [0, 1, 2, 2, 2, 2]  # A once (two titles), B once (re-recognised after a lapse)
    old = record.target_count(rec, {**CHAMP_TARGET, "count": "recognitions"}, 0)
    assert old.tolist() == [0, 1, 2, 3, 3, 4]
    assert np.array_equal(old, record.count(rec, CHAMPS, "cumulative_new", 0))
    # one tier: the lapse and re-recognition counts once, as a first provincial title
    assert record.count(rec, "provincial_champion", "cumulative_new", 0, unit="firms").tolist() == [0, 1, 2, 2, 2, 2]
    # a window from month 3: A's national title is a recognition, not a new firm of the group
    assert record.target_count(rec, CHAMP_TARGET, 3).tolist() == [0, 0, 0, 0, 0, 0]
    assert record.target_count(rec, {**CHAMP_TARGET, "count": "recognitions"}, 3).tolist() == [0, 0, 0, 1, 1, 2]
    # stocks are titles either way
    assert np.array_equal(record.count(rec, CHAMPS, "stock", unit="firms"), record.count(rec, CHAMPS, "stock"))


def test_reachability_uses_the_targets_count_table():
    rec = _hand_record()
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.05", "calibration="])  # window from 2021-01: the record's start
    tc = [TargetConfig(**{**CHAMP_TARGET, "deadline": "2021-06"}),
          TargetConfig(**{**CHAMP_TARGET, "name": "champ_rec", "deadline": "2021-06", "count": "recognitions"})]
    cfg = dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, targets=tc))
    recs = [rec, rec]
    traj = ensemble.trajectories(cfg, recs)
    counts = ensemble.target_counts(cfg, recs)
    tgts = [dataclasses.asdict(t) for t in cfg.scenario.targets]
    reach = targets.reachability_table(traj, tgts, counts=counts).set_index("target")
    assert reach.loc["champ", "count_p50"] == 2 and reach.loc["champ", "p_reached"] == 1.0
    assert reach.loc["champ_rec", "count_p50"] == 4
    # the tidy table's per-tier new firms: provincial 2 (A, B), national 1 (A)
    last = traj[(traj["date"] == "2021-06") & (traj["replicate"] == 0)].set_index("tier")
    assert (last.loc["provincial_champion", "new_firms"], last.loc["single_champion", "new_firms"]) == (2, 1)
    assert (last.loc["provincial_champion", "cumulative_new"], last.loc["single_champion", "cumulative_new"]) == (3, 1)
    # without the counts table a firm count cannot come from the per-tier trajectories: one line
    with pytest.raises(ValueError, match="count: firms") as e:
        targets.reachability_table(traj, tgts)
    assert "\n" not in str(e.value)
    from sim.plots.fan import bands_for_target

    assert bands_for_target(traj, tgts[0], counts)["p50"].iloc[-1] == 2
    with pytest.raises(ValueError, match="count: firms"):
        bands_for_target(traj, tgts[0])


def test_records_without_the_group_fail_in_one_line():
    rec = record.RunRecord(["2021-01"], np.zeros((1, K)), np.zeros((1, K, 4)), np.zeros(1))
    with pytest.raises(ValueError, match="single_champion\\+provincial_champion") as e:
        record.target_count(rec, CHAMP_TARGET)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unit 'titles' is not allowed"):
        record.count(rec, "srdi", "cumulative_new", unit="titles")


# --------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def shandong():
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.05", "n_replicates=2", "n_jobs=1", "calibration=", "progress=off"])
    return cfg, ensemble.run_ensemble(cfg, n_jobs=1, progress="off")


def test_shandong_firm_counts_are_at_most_the_recognitions(shandong):
    cfg, recs = shandong
    w0 = month_index(cfg.scenario.window_start) - month_index(cfg.scenario.start)
    out = sweep.outcomes(cfg, recs)
    champ = None
    for t in cfg.scenario.targets:
        assert t.count == "firms"  # the default (seed 003: firms newly cultivated)
        firms = record.target_count(recs, t, w0)
        recognitions = record.count(recs, t.tiers, t.metric, w0)
        assert (firms <= recognitions).all() and (firms >= 0).all(), t.name
        assert np.array_equal(out[f"count__{t.name}"], firms[:, recs[0].dates.index(t.deadline)])
        if t.name == "champion_new_2025":
            champ = (firms[:, -1], recognitions[:, -1])
    # SRDI titles lapse after 3 years and are re-won: strictly fewer firms than recognitions
    srdi = next(t for t in cfg.scenario.targets if t.tiers == ["srdi"])
    assert (record.target_count(recs, srdi, w0)[:, -1] < record.count(recs, "srdi", "cumulative_new", w0)[:, -1]).all()
    assert champ is not None and (champ[0] <= champ[1]).all()


def test_model_ever_bits_hold_every_title_and_firsts_add_up():
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.05", "calibration="])
    m = TierModel(cfg, 0)
    m.run()
    f, n = m.firms, m.firms.n
    for k in range(K):  # every title held has its bit; firms with the bit are the tier's first titles
        held = f.titles[k, :n] != NONE
        bit = (f.ever[:n] >> k) & 1 == 1
        assert not (held & ~bit).any()
        j = m._groups.index((TIERS[k],))
        assert m.firsts[:, j].sum() == bit.sum()  # no title is held at the start in Shandong (start 2016)
        assert m.firsts[:, j].sum() <= m.flows[:, k, 0].sum()
    j = m._groups.index(CHAMPS)
    either = (f.ever[:n] & record.group_mask(CHAMPS)) != 0
    assert m.firsts[:, j].sum() == either.sum()


def test_firsts_are_identical_serial_and_parallel():
    cfg = sim.compose("shandong", "baseline", ["scenario.scale=0.02", "calibration="])
    serial = [rec for _, rec in ensemble.iter_replicates(cfg, [0, 1], n_jobs=1)]
    parallel = [rec for _, rec in ensemble.iter_replicates(cfg, [0, 1], n_jobs=2)]
    for a, b in zip(serial, parallel):
        assert a.groups == b.groups and a.firsts.tobytes() == b.firsts.tobytes()
    pd.testing.assert_frame_equal(ensemble.target_counts(cfg, serial), ensemble.target_counts(cfg, parallel))


# --------------------------------------------------------------------------- batches.csv
def test_batches_table_has_pool_failed_and_lapsed(shandong):
    cfg, recs = shandong
    b = ensemble.batches(cfg, recs)
    for c in ("applicants", "pool", "eligible", "capacity", "recognised", "rereviewed", "revoked", "failed", "lapsed", "bound"):
        assert c in b.columns
    assert not b[["pool", "rereviewed", "revoked", "failed", "lapsed"]].isna().any().any()
    np.testing.assert_allclose(b["failed"] + b["lapsed"], b["revoked"])
    assert (b["pool"] >= b["eligible"] - 1e-9).all()  # the eligible applicants are part of the pool
    assert b["revoked"].sum() > 0 and b["rereviewed"].sum() > 0
    # per replicate and batch tier the rows add up to the record's flows in batch months
    for r, rec in enumerate(recs):
        for tier, g in b[b["replicate"] == r].groupby("tier"):
            k = TIERS.index(tier)
            months = [rec.dates.index(d) for d in g["date"]]
            np.testing.assert_allclose(g["recognised"].sum(), rec.flows[months, k, 0].sum())
            np.testing.assert_allclose(g["revoked"].sum(), rec.flows[months, k, 2].sum())
            np.testing.assert_allclose(g["rereviewed"].sum(), rec.flows[months, k, 1].sum())


# --------------------------------------------------------------------------- validation
def _cfg(*overrides: str) -> dict:
    return compose_dict("shandong", "baseline", list(overrides))


def test_target_count_key_is_validated_in_one_line():
    with pytest.raises(ConfigError) as e:
        validate(_cfg("+scenario.targets.2.count=titles"))
    msg = str(e.value)
    assert "\n" not in msg and "scenario.targets[2].count" in msg and "'titles'" in msg and "firms, recognitions" in msg
    ok = validate(_cfg("+scenario.targets.2.count=recognitions"))
    assert ok.scenario.targets[2].count == "recognitions" and ok.scenario.targets[0].count == "firms"
    with pytest.raises(ConfigError) as e:  # distinct holders of several titles are not recorded
        validate(_cfg("scenario.targets.2.metric=stock"))
    assert "\n" not in str(e.value) and "scenario.targets[2].count" in str(e.value) and "recognitions" in str(e.value)
    assert validate(_cfg("scenario.targets.2.metric=stock", "+scenario.targets.2.count=recognitions")).scenario.targets[2].metric == "stock"


def test_count_recognitions_restores_the_old_outcome(shandong):
    cfg, recs = shandong
    old = dataclasses.replace(cfg, scenario=dataclasses.replace(
        cfg.scenario, targets=[dataclasses.replace(t, count="recognitions") for t in cfg.scenario.targets]))
    out = sweep.outcomes(old, recs)
    w0 = month_index(cfg.scenario.window_start) - month_index(cfg.scenario.start)
    for t in cfg.scenario.targets:
        want = record.count(recs, t.tiers, t.metric, w0, recs[0].dates.index(t.deadline))
        assert np.array_equal(out[f"count__{t.name}"], want)


def test_rereview_file_unknown_tier_is_one_line():
    d = _cfg()
    d.setdefault("params", {}).setdefault("recognition", {})["rereview_file"] = {"srdi": 0.9, "champion_typo": 0.9}
    with pytest.raises(ConfigError) as e:
        validate(d)
    msg = str(e.value)
    assert "\n" not in msg and "params.recognition.rereview_file.champion_typo" in msg and "unknown key" in msg and "srdi" in msg
    assert validate(_cfg("params.recognition.rereview_file.srdi=0.9")).params.recognition.rereview_file["srdi"] == 0.9
