"""Tests for sim.calendar: month arithmetic, step <-> date round trips."""

from __future__ import annotations

import pytest

from sim.core.calendar import Calendar, month_index, month_str


@pytest.mark.parametrize("date, absolute", [("2016-01", 2016 * 12), ("2016-12", 2016 * 12 + 11),
                                            ("2017-01", 2017 * 12), ("2025-12", 2025 * 12 + 11), ("0001-01", 12)])
def test_month_index_and_str(date, absolute):
    assert month_index(date) == absolute
    assert month_str(absolute) == date


def test_month_index_differences_across_year_ends():
    assert month_index("2017-01") - month_index("2016-12") == 1
    assert month_index("2021-06") - month_index("2019-06") == 24
    assert month_index("2020-03") - month_index("2019-11") == 4


def test_month_str_round_trip_over_decades():
    for a in range(month_index("1990-01"), month_index("2100-12") + 1):
        s = month_str(a)
        assert len(s) == 7 and s[4] == "-"
        assert 1 <= int(s[5:]) <= 12
        assert month_index(s) == a


def test_n_steps_2016_2025_is_120():
    cal = Calendar("2016-01", "2025-12")
    assert cal.n_steps == 120
    assert Calendar("2021-01", "2021-01").n_steps == 1
    assert Calendar("2021-12", "2022-01").n_steps == 2
    dates = cal.dates()
    assert len(dates) == 120 and dates[0] == "2016-01" and dates[-1] == "2025-12"
    assert len(set(dates)) == 120


def test_step_of_and_date_round_trip():
    cal = Calendar("2016-01", "2025-12")
    for t in range(-30, cal.n_steps + 30):  # also outside the run
        assert cal.step_of(cal.date(t)) == t
    for d in cal.dates():
        assert cal.date(cal.step_of(d)) == d
    assert cal.step_of("2016-01") == 0
    assert cal.step_of("2025-12") == 119
    assert cal.step_of("2015-12") == -1
    assert cal.step_of("2021-12") == 71


def test_year_and_month_of_step():
    cal = Calendar("2016-01", "2025-12")
    assert (cal.year(0), cal.month(0)) == (2016, 1)
    assert (cal.year(11), cal.month(11)) == (2016, 12)
    assert (cal.year(12), cal.month(12)) == (2017, 1)
    assert (cal.year(119), cal.month(119)) == (2025, 12)
    for t in range(cal.n_steps):
        assert cal.date(t) == f"{cal.year(t):04d}-{cal.month(t):02d}"


def test_calendar_not_starting_in_january():
    cal = Calendar("2019-06", "2020-05")
    assert cal.n_steps == 12
    assert cal.month(0) == 6 and cal.year(0) == 2019
    assert cal.month(7) == 1 and cal.year(7) == 2020
    assert cal.step_of("2020-01") == 7
