"""Months <-> dates.  The model's clock counts months; month 0 is the scenario's start.

A step simulates one calendar month and records its state at the end of that month.
"""

from __future__ import annotations

from dataclasses import dataclass


def month_index(date: str) -> int:
    """'YYYY-MM' -> absolute month number (year*12 + month-1)."""
    year, month = date.split("-")
    return int(year) * 12 + int(month) - 1


def month_str(absolute: int) -> str:
    """Absolute month number -> 'YYYY-MM'."""
    return f"{absolute // 12:04d}-{absolute % 12 + 1:02d}"


@dataclass(frozen=True)
class Calendar:
    """The run's months from ``start`` to ``horizon`` inclusive (monthly steps)."""

    start: str
    horizon: str

    @property
    def n_steps(self) -> int:
        return month_index(self.horizon) - month_index(self.start) + 1

    def date(self, t: int) -> str:
        """Date ('YYYY-MM') simulated by step ``t`` (0-based)."""
        return month_str(month_index(self.start) + t)

    def year(self, t: int) -> int:
        return (month_index(self.start) + t) // 12

    def month(self, t: int) -> int:
        """Calendar month 1..12 of step ``t``."""
        return (month_index(self.start) + t) % 12 + 1

    def step_of(self, date: str) -> int:
        """Step index simulating ``date`` (may be outside 0..n_steps-1)."""
        return month_index(date) - month_index(self.start)

    def dates(self) -> list[str]:
        return [self.date(t) for t in range(self.n_steps)]
