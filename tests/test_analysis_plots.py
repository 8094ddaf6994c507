"""Figures of comparisons, sensitivity and sweeps are drawn from tables on disk (no model run):
the heatmap's cells are the sweep's P(reached) per lever pair; the CLI fails in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments import heatmap as entry
from sim.analysis import paired, sobol
from sim.plots import charts as ap


@pytest.fixture
def sweep_table() -> pd.DataFrame:
    """A 3x2 lever grid, 4 replicates a cell: reached when replicate < financing*2 (so P = 0, 0.5, 1)."""
    rows = []
    for fin in (0.0, 1.0, 2.0):
        for tal in (0.0, 1.0):
            for r in range(4):
                rows.append({"policy.financing.intensity": fin, "policy.talent.intensity": tal, "replicate": r,
                             "job": f"{fin}-{tal}", "count__lg": 100 * fin + 10 * tal + r, "reached__lg": r < fin * 2})
    return pd.DataFrame(rows)


def test_heatmap_cells_are_p_reached(sweep_table, tmp_path):
    grid = ap.heatmap_table(sweep_table, "policy.financing.intensity", "policy.talent.intensity", "lg")
    assert grid.shape == (2, 3)
    assert grid.loc[1.0].tolist() == [0.0, 0.5, 1.0] and grid.loc[0.0].tolist() == [0.0, 0.5, 1.0]
    counts = ap.heatmap_table(sweep_table, "policy.financing.intensity", "policy.talent.intensity", "count__lg", value="count")
    assert counts.loc[1.0, 2.0] == pytest.approx(211.5)
    paths = ap.heatmap(sweep_table, "policy.financing.intensity", "policy.talent.intensity", "lg", tmp_path / "h")
    assert [p.name for p in paths] == ["h.png", "h.svg"] and all(p.stat().st_size > 0 for p in paths)


def test_heatmap_cli_reads_a_table(sweep_table, tmp_path, capsys):
    sweep_table.to_parquet(tmp_path / "table.parquet")
    assert entry.main([str(tmp_path / "table.parquet"), "x=policy.financing.intensity", "y=policy.talent.intensity",
                       "target=lg"]) == 0
    assert (tmp_path / "heatmap_lg.png").is_file() and (tmp_path / "heatmap_lg.svg").is_file()
    assert entry.main([str(tmp_path / "table.parquet"), "x=policy.land.intensity", "y=policy.talent.intensity",
                       "target=lg"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: column 'policy.land.intensity' not in the sweep table (available: ")
    assert entry.main([str(tmp_path / "table.parquet"), "x=a", "y=b", "target=lg", "colour=red"]) == 2
    assert capsys.readouterr().err.startswith("error: colour: unknown key (allowed: x, y, target, value, out)")


def test_effects_chart_and_tornado_from_tables(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for pol in ("financing_plus", "no_policy"):
        for t in ("a", "b"):
            d = rng.normal()
            rows.append({c: np.nan for c in paired.COLUMNS} | {"scenario": "s", "policy": pol, "baseline": "baseline", "target": t,
                         "diff_count": d, "ci_low": d - 1, "ci_high": d + 1, "diff_p": 0.1, "p_ci_low": -0.1,
                         "p_ci_high": 0.3, "n": 10})
    paths = ap.effects_chart(pd.DataFrame(rows), tmp_path / "effects")
    assert all(p.is_file() for p in paths)
    fs = [sobol.Factor(path=f"policy.{x}.intensity", low=0.0, high=2.0) for x in ("financing", "talent")]
    pts = sobol.design(fs, 16, seed=0)
    out = pd.DataFrame({"count__a": pts[fs[0].path].to_numpy() + 0.1 * pts[fs[1].path].to_numpy(), "count__b": 1.0},
                       index=pts["sample"])
    sob = sobol.analyse(pts, out, fs, n_bootstrap=99)
    paths = ap.tornado(sob, tmp_path / "tornado")
    assert all(p.is_file() for p in paths)
    svg = paths[1].read_text(encoding="utf-8")
    assert "count__a" in svg and "constant, not shown: count__b" in svg


def test_heatmap_table_bins_a_space_filling_design():
    """An LHS design has one value per point: the table bins it into 8 cells per axis and
    each cell's value is the mean of the points that fall in it."""
    import numpy as np
    import pandas as pd

    from sim.plots.charts import BINS, heatmap_table

    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 2, 400), rng.uniform(0, 2, 400)
    t = pd.DataFrame({"policy.financing.intensity": x, "policy.talent.intensity": y, "count__lg": 100 * x + y})
    grid = heatmap_table(t, "policy.financing.intensity", "policy.talent.intensity", "lg", value="count")
    assert grid.shape == (BINS, BINS)
    edges = np.linspace(x.min(), x.max(), BINS + 1)
    first = (x < edges[1]) & (y >= np.linspace(y.min(), y.max(), BINS + 1)[-2])
    assert np.isclose(grid.iloc[0, 0], (100 * x + y)[first].mean())
