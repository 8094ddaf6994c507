"""Regression baseline: a small Shandong run (every tier, a few dates, 3 replicates) must
reproduce tests/baseline/summary.json value for value.  A failure means the model now
computes something else: if that is intended, refresh the baseline
(``python tests/baseline/refresh.py``) and record the change in CHANGELOG.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BASELINE = Path(__file__).resolve().parent / "baseline"


def _refresh_module():
    spec = importlib.util.spec_from_file_location("baseline_refresh", BASELINE / "refresh.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(scope="module")
def fresh_and_stored():
    mod = _refresh_module()
    return mod.summarise(), json.loads((BASELINE / "summary.json").read_text(encoding="utf-8"))


def test_baseline_covers_every_tier_and_date(fresh_and_stored):
    _, stored = fresh_and_stored
    assert set(stored["tiers"]) == {"innovative", "srdi", "little_giant", "single_champion", "provincial_champion", "leading"}
    dates = {k.split("|")[1] for k in stored["counts [stock, cumulative_new, recognised, revoked]"]}
    assert dates == set(stored["run"]["dates"])
    assert any(v[0] > 0 for v in stored["counts [stock, cumulative_new, recognised, revoked]"].values())


@pytest.mark.parametrize("section", ["run", "tiers", "counts [stock, cumulative_new, recognised, revoked]",
                                     "reachability [p_reached, count_p50]", "batches [eligible, recognised]"])
def test_model_reproduces_the_baseline(fresh_and_stored, section):
    fresh, stored = fresh_and_stored
    a, b = fresh[section], stored[section]
    if isinstance(b, dict):
        assert a.keys() == b.keys(), f"{section}: rows differ (added {sorted(set(a) - set(b))[:3]}, gone {sorted(set(b) - set(a))[:3]})"
        diff = [k for k in b if a[k] != b[k]]
        assert not diff, f"{section}: {len(diff)} rows differ, first {diff[0]}: now {a[diff[0]]}, baseline {b[diff[0]]}"
    else:
        assert a == b
