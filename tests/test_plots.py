"""Tests for sim.plots: band computation and fan-chart files (no model runs)."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from sim.plots.fan import BAND_COLUMNS, bands_for_target, fan_chart, to_plot_dates

N_REP = 20
MONTHS = [str(p) for p in pd.period_range("2023-01", periods=36, freq="M")]  # 2023-01 .. 2025-12


def _traj(seed: int | None = 0) -> pd.DataFrame:
    """20 replicates x 36 months x 3 tiers with hand-computable values.

    srdi.stock = r, little_giant.stock = 2r + m, single_champion.stock = 1000
    (r = replicate 0..19, m = month index 0..35); cumulative_new = 10 * stock.
    Rows are shuffled so nothing can rely on the input order.
    """
    rows = []
    for r in range(N_REP):
        for m, date in enumerate(MONTHS):
            for tier, stock in (("srdi", r), ("little_giant", 2 * r + m), ("single_champion", 1000)):
                rows.append(dict(scenario="base", policy="national", replicate=r, date=date, tier=tier,
                                 stock=float(stock), recognised=0, cumulative_new=10.0 * stock))
    df = pd.DataFrame(rows)
    if seed is not None:
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return df


def _target(**kw) -> dict:
    t = dict(name="nat_lg", label="National SRDI + little giants", tiers=["srdi", "little_giant"],
             metric="stock", threshold=1234.0, deadline="2025-12", illustrative=False)
    t.update(kw)
    return t


def _bands(n: int = 36) -> pd.DataFrame:
    m = np.arange(n, dtype=float)
    med = 200 + 30 * m
    spread = 5 + 3 * m
    return pd.DataFrame({"date": MONTHS[:n], "p05": med - 2 * spread, "p25": med - spread, "p50": med,
                         "p75": med + spread, "p95": med + 2 * spread})


def _svg_texts(svg_path) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg_path.read_text())


def _min_font_px(svg_path) -> float:
    """Smallest font size in the SVG (text is kept as text: 1 px there = 1 pt)."""
    sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", svg_path.read_text())]
    assert sizes, "no text found in SVG"
    return min(sizes)


# --------------------------------------------------------------------------- bands_for_target
def test_bands_for_target_exact_quantiles_and_tier_sum():
    out = bands_for_target(_traj(), _target())
    assert list(out.columns) == ["date", *BAND_COLUMNS]
    assert list(out["date"]) == MONTHS  # one row per date, sorted
    # per (replicate, month): srdi + little_giant = 3r + m; single_champion excluded.
    # Linear quantile of 3r over r = 0..19 is 3 * 19 * q.
    m = np.arange(36)
    for col, q in zip(BAND_COLUMNS, (0.05, 0.25, 0.5, 0.75, 0.95)):
        np.testing.assert_allclose(out[col].to_numpy(), 57.0 * q + m, rtol=0, atol=1e-9, err_msg=col)
    # spot values written out by hand: month 0 -> 2.85, 14.25, 28.5, 42.75, 54.15
    np.testing.assert_allclose(out.loc[0, list(BAND_COLUMNS)].to_numpy(dtype=float),
                               [2.85, 14.25, 28.5, 42.75, 54.15], atol=1e-9)


def test_bands_for_target_uses_target_metric_and_tiers():
    traj = _traj()
    cum = bands_for_target(traj, _target(metric="cumulative_new", count="recognitions"))
    stock = bands_for_target(traj, _target())
    np.testing.assert_allclose(cum[list(BAND_COLUMNS)].to_numpy(), 10 * stock[list(BAND_COLUMNS)].to_numpy())
    # one tier only: srdi.stock = r  ->  median 9.5 at every date
    single = bands_for_target(traj, _target(tiers=["srdi"]))
    np.testing.assert_allclose(single["p50"].to_numpy(), 9.5)
    # adding the constant tier shifts every quantile by exactly 1000
    three = bands_for_target(traj, _target(tiers=["srdi", "little_giant", "single_champion"]))
    np.testing.assert_allclose(three["p95"].to_numpy(), stock["p95"].to_numpy() + 1000)


def test_bands_for_target_matches_naive_percentiles_on_random_data():
    rng = np.random.default_rng(7)
    traj = _traj(seed=None)
    traj["stock"] = rng.integers(0, 500, len(traj)).astype(float)
    out = bands_for_target(traj.sample(frac=1.0, random_state=1), _target())
    for i, date in enumerate(MONTHS[:5]):
        sub = traj[(traj["date"] == date) & traj["tier"].isin(["srdi", "little_giant"])]
        per_rep = [sub.loc[sub["replicate"] == r, "stock"].sum() for r in range(N_REP)]
        expected = np.percentile(per_rep, [5, 25, 50, 75, 95])
        np.testing.assert_allclose(out.loc[i, list(BAND_COLUMNS)].to_numpy(dtype=float), expected)


def test_bands_for_target_rejects_bad_inputs():
    traj = _traj()
    with pytest.raises(ValueError, match="tiers"):
        bands_for_target(traj, _target(tiers=["srdi", "no_such_tier"]))
    mixed = pd.concat([traj, traj.assign(scenario="high")])
    with pytest.raises(ValueError, match="scenario"):
        bands_for_target(mixed, _target())
    with pytest.raises(ValueError, match="metric"):
        bands_for_target(traj, _target(metric="recognised_rate"))


# --------------------------------------------------------------------------- dates
def test_plot_dates_are_mid_month():
    got = to_plot_dates(["2025-12", pd.Timestamp("2024-02-29"), "2023-01-01"])
    assert list(got) == [pd.Timestamp("2025-12-15"), pd.Timestamp("2024-02-15"), pd.Timestamp("2023-01-15")]


# --------------------------------------------------------------------------- fan_chart
def test_fan_chart_writes_png_and_svg_of_expected_size(tmp_path):
    out_dir = tmp_path / "figs"
    paths = fan_chart(_bands(), _target(), title="Nat. target", out_base=out_dir / "fan_nat")
    png, svg = out_dir / "fan_nat.png", out_dir / "fan_nat.svg"
    assert paths == [png, svg]
    assert png.stat().st_size > 10_000 and svg.stat().st_size > 1_000
    img = imread(png)
    assert img.shape[:2] == (900, 1400)  # 4.5 x 7 in at 200 dpi
    assert svg.read_text().lstrip().startswith("<?xml")
    # nothing but the two outputs in the directory (no temp files left behind)
    assert sorted(os.listdir(out_dir)) == ["fan_nat.png", "fan_nat.svg"]


def test_fan_chart_svg_text_content(tmp_path):
    history = pd.DataFrame({"date": ["2021-12", "2022-06", "2022-12"], "value": [120.0, 150.0, 185.0]})
    _, svg = fan_chart(
        _bands(), _target(), history=history,
        lever_starts=[("tax credit", "2023-07"), ("loan guarantee", "2023-07"), ("fast-track", "2024-01")],
        p_reached=(0.82, 0.73, 0.894), title="Nat. target", out_base=tmp_path / "fan",
    )
    texts = _svg_texts(svg)
    body = svg.read_text()
    assert "target 1,234" in texts  # threshold label with thousands separator
    assert "target (1,234)" in texts and "deadline (2025-12)" in texts
    assert "P(reached by 2025-12) = 0.82 [0.73, 0.89]" in texts
    assert "published" in texts and "median" in texts and "50% band" in texts and "90% band" in texts
    # same-month levers merged into one label; the other lever gets its own
    assert texts.count("tax credit, loan guarantee") == 1 and texts.count("fast-track") == 1
    assert not any(t in ("tax credit", "loan guarantee") for t in texts)
    assert "firms (stock)" in texts and "date" in texts
    assert {"2023", "2024", "2025"} <= set(texts)  # year ticks
    assert any("," in t and re.fullmatch(r"\d{1,3}(,\d{3})+", t) for t in texts)  # y ticks with separators
    assert "Nat. target" in texts
    assert "ILLUSTRATIVE" not in body and "illustrative" not in body
    assert _min_font_px(svg) >= 9  # legible in print


def test_fan_chart_illustrative_target_and_cumulative_label(tmp_path):
    t = _target(metric="cumulative_new", threshold=50000, illustrative=True)
    _, svg = fan_chart(_bands(), t, title="Liaocheng", out_base=tmp_path / "fan_ill")
    texts = _svg_texts(svg)
    assert "ILLUSTRATIVE TARGET" in texts
    assert "Liaocheng (illustrative target)" in texts
    assert "target 50,000" in texts
    assert "firms newly recognised since window start" in texts
    assert _min_font_px(svg) >= 9
    # title defaults to the target label when none is given
    _, svg2 = fan_chart(_bands(), _target(), out_base=tmp_path / "fan_default")
    assert "National SRDI + little giants" in _svg_texts(svg2)


def test_fan_chart_overwrites_atomically_and_cleans_up_on_failure(tmp_path, monkeypatch):
    base = tmp_path / "fan"
    fan_chart(_bands(), _target(), out_base=base)
    before = base.with_suffix(".png").read_bytes()

    real_savefig = Figure.savefig

    def broken_savefig(self, fname, *args, **kwargs):
        real_savefig(self, fname, *args, **kwargs)  # writes into the temp file ...
        raise RuntimeError("disk full")  # ... then fails before the rename

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        fan_chart(_bands(), _target(threshold=9999), out_base=base)
    assert base.with_suffix(".png").read_bytes() == before  # old file untouched
    assert sorted(os.listdir(tmp_path)) == ["fan.png", "fan.svg"]  # temp file removed

    monkeypatch.setattr(Figure, "savefig", real_savefig)
    fan_chart(_bands(), _target(threshold=9999), out_base=base)  # replaces existing files
    assert "target 9,999" in _svg_texts(base.with_suffix(".svg"))
    assert sorted(os.listdir(tmp_path)) == ["fan.png", "fan.svg"]


def test_fan_chart_rejects_incomplete_bands(tmp_path):
    with pytest.raises(ValueError, match="p95"):
        fan_chart(_bands().drop(columns="p95"), _target(), out_base=tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
