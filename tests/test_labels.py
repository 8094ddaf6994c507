"""A what-if is labelled by what it changed, everywhere (sim/config/labels.py): the run folder,
the printed header, the chart titles and summary.json say ``baseline + financing.intensity=2``,
not ``baseline`` / ``Levers as announced (2021)``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments._schema import compose_single
from sim.config import labels
from sim.core.schema import RunConfig

SMALL = ["scenario=liaocheng", "scenario.scale=0.2", "n_replicates=2", "n_jobs=1", "progress=off"]


def test_no_overrides_is_the_policys_own_label():
    assert labels.label("baseline") == "baseline"
    assert labels.label("baseline", [*SMALL, "seed=3", "hydra.run.dir=x", "executor=serial", "policy=baseline"]) == "baseline"
    assert labels.title("baseline", "Levers as announced (2021)", SMALL) == "Levers as announced (2021)"
    assert labels.dirname("financing_plus", SMALL) == "financing_plus"


def test_one_override_is_named():
    ov = [*SMALL, "policy.financing.intensity=2"]
    assert labels.changes(ov) == ["financing.intensity=2"]
    assert labels.label("baseline", ov) == "baseline + financing.intensity=2"
    assert labels.title("baseline", "Levers as announced (2021)", ov) == "baseline + financing.intensity=2"
    assert labels.dirname("baseline", ov) == "baseline+financing.intensity=2"


def test_two_overrides_are_named_in_order_and_a_repeated_key_once():
    ov = ["policy.financing.intensity=2", "seed=2", "++params.growth.drift=0.05", "policy.financing.intensity=3"]
    assert labels.label("baseline", ov) == "baseline + params.growth.drift=0.05 + financing.intensity=3"
    assert labels.dirname("baseline", ov) == "baseline+params.growth.drift=0.05+financing.intensity=3"
    assert labels.changes(["criteria=relaxed_share", "~policy.talent", "policy.name=x", "policy.label=y"]) == [
        "criteria=relaxed_share", "~talent"]


def test_folder_names_are_safe_and_distinct():
    odd = labels.dirname("baseline", ["policy.financing.start='2023-01'", "params.x.y=a/b c"])
    assert "/" not in odd and " " not in odd and "'" not in odd
    long_a = labels.dirname("baseline", [f"params.k{i}.v=1" for i in range(40)])
    long_b = labels.dirname("baseline", [f"params.k{i}.v=2" for i in range(40)])
    assert len(long_a.encode()) <= labels.MAX_DIRNAME and long_a != long_b


@pytest.mark.parametrize("overrides, folder", [
    ([], "results/shandong/baseline"),
    (["scenario=liaocheng", "policy.financing.intensity=2"], "results/liaocheng/baseline+financing.intensity=2"),
    (["policy=financing_plus", "policy.talent.intensity=0.5", "params.growth.drift=0.05", "seed=4"],
     "results/shandong/financing_plus+talent.intensity=0.5+params.growth.drift=0.05"),
])
def test_the_default_run_folder_names_the_what_if(overrides, folder):
    _, hydra_node = compose_single("config", RunConfig, overrides)
    run_dir = Path(str(hydra_node.run.dir))
    assert str(run_dir.parent) == folder and len(run_dir.name) == len("2026-01-01_00-00-00")


def test_header_titles_summary_and_folder_of_a_what_if(tmp_path, monkeypatch, capsys):
    from experiments import forecast as entry
    from sim.plots import fan

    titles = []
    real = fan.fan_chart
    monkeypatch.setattr(fan, "fan_chart", lambda *a, **kw: titles.append(kw["title"]) or real(*a, **kw))
    monkeypatch.chdir(tmp_path)
    entry.main([*SMALL, "policy.financing.intensity=2", "policy.talent.intensity=0"])
    out = capsys.readouterr().out
    what_if = "baseline + financing.intensity=2 + talent.intensity=0"
    assert out.splitlines()[0].startswith(f"== liaocheng / {what_if}  (origin 2021-12, n=2)")
    (run_dir,) = (tmp_path / "results" / "liaocheng" / "baseline+financing.intensity=2+talent.intensity=0").iterdir()
    assert f"results: results/liaocheng/baseline+financing.intensity=2+talent.intensity=0/{run_dir.name}" in out
    assert titles and all(t.endswith(f" — {what_if}") for t in titles)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["policy"] == "baseline" and summary["policy_label"] == what_if
    assert summary["what_if"] == ["financing.intensity=2", "talent.intensity=0"]
    # no what-if: the policy's name in the header and the folder, its own label in the titles
    titles.clear()
    entry.main(SMALL)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("== liaocheng / baseline  (origin")
    (plain,) = (tmp_path / "results" / "liaocheng" / "baseline").iterdir()
    assert titles and all(t.endswith(" — Levers as announced (2021)") for t in titles)
    summary = json.loads((plain / "summary.json").read_text())
    assert summary["policy_label"] == "baseline" and summary["what_if"] == []


def test_python_api_labels_its_overrides(tmp_path):
    import sim

    sim.forecast(scenario="liaocheng", policy="no_policy", n_replicates=1, seed=1, out_dir=tmp_path,
                 overrides=["scenario.scale=0.2", "plots=false", "progress=off", "policy.financing.intensity=1"])
    assert json.loads((tmp_path / "summary.json").read_text())["policy_label"] == "no_policy + financing.intensity=1"
