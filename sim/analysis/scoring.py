"""Back-test: calibrate on the observations up to a year, forecast the later years from that
posterior, and score every later observation against the model's bands and against two
naive forecasts (the last observed batch size persisted; a linear trend of the observed
batch sizes).

Nothing after ``until`` reaches the calibration: the observations are filtered by year
before the ABC sees them, and the batch sizes the scenario copies from the data for later
years (``quota_by_year``) are dropped (``sim.analysis.calibration.truncate_quotas``); later batches
continue from the last known one at an uncertain growth rate.

Scores (per observation, counts in firms): ``inside_50`` / ``inside_90`` — the band
reaches the observation's interval (both figures of an uncertain batch; [bound, inf) for a
lower bound); ``ape`` — the median's distance to that interval over the published value
(0 inside it).  Skill against a naive forecast = 1 - median APE(model) / median APE(naive)
over the observations both score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis import calibration
from sim.core.schema import ConfigError, RunConfig

CSV_COLUMNS = ("series", "year", "observed", "p05", "p25", "p50", "p75", "p95", "inside_90", "ape", "ape_persistence", "ape_trend")


def ape(pred: np.ndarray, lo: np.ndarray, hi: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Absolute percentage error of ``pred`` against the interval [lo, hi] (0 inside it), as a
    fraction of the published ``value``; NaN where ``pred`` is NaN."""
    pred, lo, hi, value = (np.asarray(a, dtype=float) for a in (pred, lo, hi, value))
    gap = np.maximum(0.0, np.maximum(lo - pred, pred - hi))
    return np.where(np.isnan(pred), np.nan, gap / np.maximum(value, 1e-12))


def _line(years: np.ndarray, values: np.ndarray, at: float) -> float:
    """Linear trend of (years, values) at ``at`` (least squares; the last value if one point)."""
    if len(years) >= 2 and len(set(years.tolist())) >= 2:
        slope, icpt = np.polyfit(years.astype(float), values.astype(float), 1)
        return float(max(0.0, slope * at + icpt))
    return float(values[-1])


def naive_forecasts(obs: pd.DataFrame, until: int) -> pd.DataFrame:
    """For each observation with year > ``until``: ``persistence`` (a batch series: its last
    observed batch size; a stock series: its last stock plus that batch size per later year)
    and ``trend`` (the same with a linear trend of the observed batch sizes).  A stock
    series without an earlier stock starts from the sum of the tier's observed batches;
    a tier without batch observations keeps its stock flat (persistence) or follows the
    trend of its stock points.  NaN where nothing earlier is observed.  Series of different
    areas (``region``: the national view's Shandong series beside the nation's) do not mix."""
    past_all = obs[obs["year"] <= until]
    later = obs[obs["year"] > until].copy()
    pers, trend = [], []
    for o in later.itertuples():
        past = past_all[past_all["region"] == o.region] if "region" in past_all else past_all
        tier_batches = past[(past["tier"] == o.tier) & (past["metric"] == "batch_new")]
        # one batch figure per year (the first mapped series of the tier)
        tb = tier_batches.drop_duplicates("year").sort_values("year")
        if o.metric == "batch_new":
            own = past[past["series"] == o.series].sort_values("year")
            src = own if len(own) else tb
            if len(src) == 0:
                pers.append(np.nan), trend.append(np.nan)
                continue
            pers.append(float(src["value"].iloc[-1]))
            trend.append(_line(src["year"].to_numpy(), src["value"].to_numpy(), o.year))
            continue
        stocks = past[(past["tier"] == o.tier) & (past["metric"] == o.metric)].sort_values(["year", "month"])
        own = stocks[stocks["series"] == o.series]
        base_src = own if len(own) else stocks
        if len(base_src):
            base, y0 = float(base_src["value"].iloc[-1]), int(base_src["year"].iloc[-1])
        elif len(tb) and o.metric in ("stock", "cumulative_all"):
            base, y0 = float(tb["value"].sum()), int(tb["year"].iloc[-1])
        else:
            pers.append(np.nan), trend.append(np.nan)
            continue
        years_ahead = range(y0 + 1, int(o.year) + 1)
        if len(tb):
            last = float(tb["value"].iloc[-1])
            pers.append(base + last * len(years_ahead))
            trend.append(base + sum(_line(tb["year"].to_numpy(), tb["value"].to_numpy(), y) for y in years_ahead))
        else:
            pers.append(base)
            trend.append(_line(base_src["year"].to_numpy(), base_src["value"].to_numpy(), o.year))
    later["persistence"] = pers
    later["trend"] = trend
    return later


def score(obs_later: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
    """The back-test table: one row per later observation (``obs_later`` from
    :func:`naive_forecasts`), predictive quantiles from ``pred`` (n_runs, n_obs), band hits
    and APEs of the model's median and the two naive forecasts."""
    fit = calibration.fit_table(obs_later, pred)
    fit["observed"] = obs_later["value"].to_numpy()
    fit["persistence"] = obs_later["persistence"].to_numpy()
    fit["trend"] = obs_later["trend"].to_numpy()
    lo, hi, v = fit["lo"].to_numpy(), fit["hi"].to_numpy(), fit["observed"].to_numpy()
    fit["ape"] = ape(fit["p50"].to_numpy(), lo, hi, v)
    fit["ape_persistence"] = ape(fit["persistence"].to_numpy(), lo, hi, v)
    fit["ape_trend"] = ape(fit["trend"].to_numpy(), lo, hi, v)
    extra = [c for c in fit.columns if c not in CSV_COLUMNS]
    return fit[[*CSV_COLUMNS, *extra]]


def summarise(table: pd.DataFrame) -> dict:
    """Coverage of the 50% / 90% bands, median APEs, and skill against each naive forecast
    (1 - median APE(model) / median APE(naive) on the observations the naive forecast scores)."""
    out: dict = {"n_observations": int(len(table)),
                 "coverage_50": float(table["inside_50"].mean()) if len(table) else None,
                 "coverage_90": float(table["inside_90"].mean()) if len(table) else None,
                 "median_ape": float(table["ape"].median()) if len(table) else None}
    for name in ("persistence", "trend"):
        sub = table[table[f"ape_{name}"].notna()]
        m_model, m_naive = (float(sub[c].median()) if len(sub) else float("nan") for c in ("ape", f"ape_{name}"))
        out[f"median_ape_{name}"] = m_naive
        out[f"median_ape_model_where_{name}"] = m_model
        out[f"skill_vs_{name}"] = (1.0 - m_model / m_naive) if len(sub) and m_naive > 0 else None
        out[f"n_scored_{name}"] = int(len(sub))
    return out


def check_until(config: RunConfig, until: int) -> pd.DataFrame:
    """All observations of the scenario's history; ConfigError (one line) unless some fall
    up to ``until`` and some after it."""
    obs_all = calibration.observations(config, until=9999)
    if obs_all.empty:
        raise ConfigError(f"data: no mapped observations in {calibration.history_path(config)} (allowed: a history with the scenario's series)")
    first, last = int(obs_all["year"].min()), int(obs_all["year"].max())
    if not first <= until < last:
        raise ConfigError(f"until: {until!r} is not allowed (allowed: a year from {first} to {last - 1}, so that later observations remain to score)")
    return obs_all
