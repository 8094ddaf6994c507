"""The benchmark scripts run (structure only: no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_profile_script_times_every_part_once_per_step():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile.py"), "--scenario", "liaocheng", "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT, timeout=120)
    prof = json.loads(out.stdout)
    steps = prof["steps"]
    assert steps == 120 and prof["n_firms"] > 0
    for part in ("apply_levers", "move_firms", "draw (firm-rule variates)", "entry", "recognise", "record"):
        assert prof["calls"][part] == steps, part
    assert prof["calls"]["rd_decision (January)"] == steps // 12
    assert sum(v["months"] for v in prof["recognise_by_due_tiers_s"].values()) == steps
    assert prof["parts_s"]["move_firms"] >= prof["parts_s"]["draw (firm-rule variates)"]
