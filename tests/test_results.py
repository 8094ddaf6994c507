"""Tests for sim.analysis.tables and sim.run.atomic: forecast quantiles, tier sums, atomic writers."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from synthetic import make_traj

from sim.analysis.tables import QUANTILES, forecast_table, sum_tiers
from sim.run import atomic
from sim.run.atomic import atomic_write_bytes, write_csv, write_json, write_parquet


# --------------------------------------------------------------------------- forecast_table
def test_forecast_table_shape_and_columns():
    ft = forecast_table(make_traj())
    assert list(ft.columns) == ["scenario", "policy", "date", "tier", "metric", "mean",
                                "p05", "p25", "p50", "p75", "p95", "n_replicates"]
    assert len(ft) == 2 * 1 * 24 * 3 * 3
    assert (ft["n_replicates"] == 10).all()
    assert list(ft["metric"].iloc[:3]) == ["stock", "new", "cumulative_new"]
    assert ft[["scenario", "policy", "date", "tier"]].drop_duplicates().shape[0] == 2 * 24 * 3


def test_forecast_table_exact_quantiles():
    ft = forecast_table(make_traj()).set_index(["scenario", "date", "tier", "metric"])
    # stock over replicates = base + {0, 10, ..., 90}; linear positions 0.45, 2.25, 4.5, 6.75, 8.55
    base = 5 + 100 * 1 + 50  # m=5 (2021-06), little_giant, boost
    row = ft.loc[("boost", "2021-06", "little_giant", "stock")]
    assert row["mean"] == pytest.approx(base + 45)
    assert [row[c] for c in ("p05", "p25", "p50", "p75", "p95")] == pytest.approx(
        [base + 4.5, base + 22.5, base + 45, base + 67.5, base + 85.5])
    # 'new' is the recognised column: r + j for j = 2
    new = ft.loc[("base", "2022-12", "single_champion", "new")]
    assert new["mean"] == pytest.approx(6.5)
    assert new["p95"] == pytest.approx(np.quantile(np.arange(10) + 2, 0.95))
    # cumulative_new at m=23, srdi: 18 * r
    cum = ft.loc[("base", "2022-12", "srdi", "cumulative_new")]
    assert [cum[c] for c in ("p05", "p25", "p50", "p75", "p95")] == pytest.approx(
        list(np.quantile(18 * np.arange(10), QUANTILES)))


# --------------------------------------------------------------------------- sum_tiers
def test_sum_tiers_values():
    s = sum_tiers(make_traj(), ["little_giant", "single_champion"])
    assert list(s.columns) == ["scenario", "policy", "replicate", "date", "stock", "recognised", "cumulative_new"]
    assert len(s) == 2 * 10 * 24
    row = s[(s.scenario == "base") & (s.replicate == 3) & (s.date == "2022-12")].iloc[0]
    assert row["stock"] == 20 * 3 + 2 * 23 + 300
    assert row["recognised"] == (3 + 1) + (3 + 2)
    assert row["cumulative_new"] == 18 * ((3 + 1) + (3 + 2))
    single = sum_tiers(make_traj(), "srdi")
    assert single["stock"].sum() == make_traj().query("tier == 'srdi'")["stock"].sum()


def test_sum_tiers_unknown_tier_raises():
    with pytest.raises(ValueError, match="giant_typo"):
        sum_tiers(make_traj(), ["srdi", "giant_typo"])


# --------------------------------------------------------------------------- atomic writes
def _listing(d):
    return sorted(p.name for p in d.iterdir())


def test_atomic_write_bytes_rewrite_replaces_completely(tmp_path):
    p = tmp_path / "a.bin"
    atomic_write_bytes(p, b"x" * 100)
    atomic_write_bytes(p, b"short")
    assert p.read_bytes() == b"short"
    assert _listing(tmp_path) == ["a.bin"]


def test_new_file_mode_and_existing_mode_kept(tmp_path):
    p = tmp_path / "a.bin"
    atomic_write_bytes(p, b"1")
    assert stat.S_IMODE(p.stat().st_mode) == 0o644  # not the 0600 of NamedTemporaryFile
    os.chmod(p, 0o640)
    atomic_write_bytes(p, b"2")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_write_csv_roundtrip_and_rewrite(tmp_path):
    p = tmp_path / "sub" / "t.csv"  # parent created
    write_csv(pd.DataFrame({"a": range(50), "b": ["x"] * 50}), p)
    small = pd.DataFrame({"a": [1, 2], "b": ["é", "z"]})
    write_csv(small, p)
    pd.testing.assert_frame_equal(pd.read_csv(p), small, check_dtype=False)
    assert p.read_text(encoding="utf-8").splitlines()[0] == "a,b"  # no index column
    assert _listing(p.parent) == ["t.csv"]


def test_write_parquet_roundtrip(tmp_path):
    p = tmp_path / "t.parquet"
    df = forecast_table(make_traj(n_rep=3, n_months=3))
    write_parquet(df, p)
    pd.testing.assert_frame_equal(pd.read_parquet(p), df, check_dtype=False)
    write_parquet(df.head(2), p)
    assert len(pd.read_parquet(p)) == 2


def test_write_json_format_and_defaults(tmp_path):
    p = tmp_path / "m.json"
    obj = {"z": np.int64(3), "a": np.float64(0.5), "arr": np.arange(2), "path": tmp_path, "flag": np.bool_(True)}
    write_json(obj, p)
    text = p.read_text()
    assert list(json.loads(text)) == ["z", "a", "arr", "path", "flag"]  # key order kept
    assert json.loads(text) == {"z": 3, "a": 0.5, "arr": [0, 1], "path": str(tmp_path), "flag": True}
    assert '\n  "z": 3' in text  # indent=2


def test_parquet_unserialisable_leaves_nothing(tmp_path):
    p = tmp_path / "bad.parquet"
    with pytest.raises(ValueError):  # pyarrow's ArrowInvalid
        write_parquet(pd.DataFrame({"a": [object(), object()]}), p)
    assert _listing(tmp_path) == []


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")


def test_json_failure_midway_keeps_old_file(tmp_path):
    p = tmp_path / "m.json"
    write_json({"old": 1}, p)
    big = {f"k{i}": "v" * 100 for i in range(200)} | {"bad": _Unprintable()}
    with pytest.raises(RuntimeError, match="boom"):
        write_json(big, p)
    assert json.loads(p.read_text()) == {"old": 1}
    assert _listing(tmp_path) == ["m.json"]


@pytest.mark.parametrize("existing", [False, True])
def test_replace_failure_leaves_no_partial_or_temp(tmp_path, monkeypatch, existing):
    p = tmp_path / "t.csv"
    if existing:
        p.write_text("old\n")

    def fail(*_a, **_k):
        raise OSError("replace failed")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="replace failed"):
        write_csv(pd.DataFrame({"a": [1]}), p)
    assert _listing(tmp_path) == (["t.csv"] if existing else [])
    if existing:
        assert p.read_text() == "old\n"
