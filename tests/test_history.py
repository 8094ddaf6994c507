"""Tests for sim.history: shipped published counts, validation, mapping, cut-off."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim.config.history import REQUIRED_COLUMNS, HistoryError, default_history_path, load_history, observed_points, until

HEADER = ",".join(REQUIRED_COLUMNS)
GOOD = [
    "2019,little_giant_new,248,firms,2019-06-05,http://x,batch 1",
    "2020,little_giant_new,1584,firms,,,",
    "2020,little_giant_new_listcount,1744,firms,,,",
    "2021,little_giant_cumulative,4762,firms,2021-11-23,,",
]


def write(tmp_path: Path, lines: list[str], name: str = "hist.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def value(h, year: int, series: str) -> float:
    (v,) = h.loc[(h["year"] == year) & (h["series"] == series), "value"]
    return v


@pytest.mark.parametrize("scenario", ["national", "shandong", "liaocheng"])
def test_shipped_files_load(scenario):
    h = load_history(default_history_path(scenario))
    assert len(h) > 0
    assert list(h.columns) == [*REQUIRED_COLUMNS, "line", "file"]
    assert h["year"].dtype.kind == "i" and h["value"].dtype.kind == "f"
    assert h["line"].iloc[0] == 2
    assert set(h["file"]) == {f"{scenario}_to_2021.csv"}


def test_shipped_known_values():
    nat = load_history(default_history_path("national"))
    assert value(nat, 2019, "little_giant_new") == 248
    assert value(nat, 2020, "little_giant_new") == 1584
    assert value(nat, 2021, "little_giant_new") == 2930
    assert value(nat, 2021, "little_giant_cumulative") == 4762
    assert value(nat, 2021, "champion_cumulative") == 848
    sd = load_history(default_history_path("shandong"))
    assert value(sd, 2021, "little_giant_SD_cumulative") == 362
    lc = load_history(default_history_path("liaocheng"))
    assert value(lc, 2021, "quality_smes_LC_provincial_plus") == 99


def test_unknown_scenario_lists_allowed():
    with pytest.raises(HistoryError) as exc:
        default_history_path("beijing")
    msg = str(exc.value)
    assert "\n" not in msg and "beijing" in msg
    assert all(name in msg for name in ("national", "shandong", "liaocheng"))


@pytest.mark.parametrize(
    "lines, line, column, fragment",
    [
        ([HEADER.replace(",unit", ""), *GOOD], 1, "unit", "missing"),
        ([HEADER, *GOOD[:2], "2021,little_giant_new,abc,firms,,,"], 4, "value", "'abc' is not a number"),
        ([HEADER, "2021,little_giant_new,-5,firms,,,"], 2, "value", "negative"),
        ([HEADER, "2021,little_giant_new,nan,firms,,,"], 2, "value", "not finite"),
        ([HEADER, *GOOD, "2019,little_giant_new,250,firms,,,"], 6, "series", "line 2"),
        ([HEADER, "1890,little_giant_new,1,firms,,,"], 2, "year", "out of range"),
        ([HEADER, "20x1,little_giant_new,1,firms,,,"], 2, "year", "not an integer"),
        ([HEADER, "2021,,1,firms,,,"], 2, "series", "empty"),
        ([HEADER, '2021,a,"1,000",firms,,,'], 2, "value", "not a number"),
        ([HEADER, "2021,a,1,firms,,,,surplus"], 2, "#8", "surplus"),
    ],
    ids=["missing-column", "non-numeric", "negative", "nan", "duplicate", "year-range",
         "year-text", "empty-series", "thousands-comma", "extra-field"],
)
def test_malformed_rows(tmp_path, lines, line, column, fragment):
    path = write(tmp_path, lines, "bad_history.csv")
    with pytest.raises(HistoryError) as exc:
        load_history(path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"bad_history.csv line {line}, column '{column}'" in msg
    assert fragment in msg and "allowed" in msg


def test_line_numbers_count_multiline_quoted_notes(tmp_path):
    path = write(tmp_path, [HEADER, '2019,a,1,firms,,,"two\nlines"', "2020,a,-1,firms,,,"])
    with pytest.raises(HistoryError, match="line 4, column 'value'"):
        load_history(path)


def test_missing_file(tmp_path):
    with pytest.raises(HistoryError) as exc:
        load_history(tmp_path / "nope.csv")
    msg = str(exc.value)
    assert "\n" not in msg and "nope.csv" in msg and "not found" in msg


def test_extra_rows_and_columns_kept_until_drops_later_years(tmp_path):
    shipped = default_history_path("national").read_text(encoding="utf-8").rstrip("\n")
    path = write(tmp_path, [shipped, "2022,little_giant_new,4357,firms,2022-08,,batch 4"])
    h = load_history(path)
    assert value(h, 2022, "little_giant_new") == 4357
    cut = until(h, 2021)
    assert cut["year"].max() == 2021 and len(cut) == len(h) - 1
    assert len(until(h, 2019)) == (h["year"] <= 2019).sum()

    extra = load_history(write(tmp_path, [HEADER + ",confidence", GOOD[0] + ",solid"], "x.csv"))
    assert list(extra.columns)[-3:] == ["confidence", "line", "file"]
    assert extra["confidence"].iloc[0] == "solid"


def test_observed_points(tmp_path):
    h = load_history(write(tmp_path, [HEADER, *GOOD]))
    mapping = [
        {"series": "little_giant_new", "tier": "little_giant", "metric": "batch_new", "month": 6,
         "alt_series": "little_giant_new_listcount", "unit_note": "firms per batch"},
        {"series": "little_giant_cumulative", "tier": "little_giant", "metric": "stock", "month": 11},
        {"series": "not_in_file", "tier": "champion", "metric": "stock", "month": 12},
    ]
    pts = observed_points(h, mapping)
    assert list(pts.columns[:10]) == ["series", "tier", "metric", "year", "month", "date",
                                      "value", "value_alt", "unit", "source_url"]
    assert list(pts["date"]) == ["2019-06", "2020-06", "2021-11"]
    assert list(pts["value"]) == [248, 1584, 4762]
    assert math.isnan(pts["value_alt"].iloc[0]) and pts["value_alt"].iloc[1] == 1744
    assert pts["value_alt"].iloc[2:].isna().all()
    assert list(pts["metric"]) == ["batch_new", "batch_new", "stock"]
    assert pts["unit_note"].iloc[0] == "firms per batch"
    assert observed_points(until(h, 2020), mapping[1:]).empty


@pytest.mark.parametrize("entry", [{"tier": "x", "metric": "stock"}, {"series": "a", "metric": "stock"},
                                   {"series": "a", "tier": "x"}, {"series": "a", "tier": "x",
                                                                  "metric": "stock", "month": 13}])
def test_observed_points_bad_mapping(tmp_path, entry):
    h = load_history(write(tmp_path, [HEADER, *GOOD]))
    with pytest.raises(HistoryError) as exc:
        observed_points(h, [entry])
    assert "\n" not in str(exc.value)
