"""Published tier counts (history) and their mapping onto model quantities.

The shipped files in ``sim/data/`` hold published figures up to end-2021 (a few
files also carry 2022 context rows).  Every file has the columns
``REQUIRED_COLUMNS``; ``value`` is in the unit given by the row's ``unit`` column
(mostly ``firms``, a count of enterprises), ``year`` is the calendar year the
figure refers to.  Users may append rows or point to their own file with the
same columns; extra columns are kept.

Every validation failure raises :class:`HistoryError` with a one-line message
naming the file, the line (header = line 1), the column, the bad value and what
is allowed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = (
    "year", "series", "value", "unit", "date_announced", "source_url", "note",
)
YEAR_MIN, YEAR_MAX = 1990, 2100
DATA_DIR: Path = Path(__file__).resolve().parents[1] / "data"
SHIPPED_FILES: dict[str, str] = {
    "national": "national_to_2021.csv",
    "shandong": "shandong_to_2021.csv",
    "liaocheng": "liaocheng_to_2021.csv",
}
MAPPING_REQUIRED_KEYS: tuple[str, ...] = ("series", "tier", "metric")
DEFAULT_MONTH = 12  # month of the year a mapped observation is dated to when not given
POINT_COLUMNS: tuple[str, ...] = (
    "series", "tier", "metric", "year", "month", "date", "value", "value_alt",
    "unit", "source_url", "unit_note",
)


class HistoryError(ValueError):
    """A history file or observation mapping is invalid (message is one line)."""


def _error(file: str, line: int, column: str, what: str, allowed: str) -> HistoryError:
    """Build the one-line error ``<file> line <n>, column '<c>': <what> (allowed: ...)``."""
    msg = f"{file} line {line}, column '{column}': {what} (allowed: {allowed})"
    return HistoryError(" ".join(msg.splitlines()))


# --- one checker per column kind: return the parsed value or raise ValueError(problem)

def _check_year(raw: str) -> int:
    """Calendar year, integer in YEAR_MIN..YEAR_MAX."""
    try:
        year = int(raw)
    except ValueError:
        raise ValueError("is not an integer") from None
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise ValueError("is out of range")
    return year


def _check_count(raw: str) -> float:
    """Published value in the row's unit: a finite number >= 0."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("is not a number") from None
    if not math.isfinite(value):
        raise ValueError("is not finite")
    if value < 0:
        raise ValueError("is negative")
    return value


def _check_name(raw: str) -> str:
    """Series identifier: non-empty text."""
    if not raw:
        raise ValueError("is empty")
    return raw


_CHECKS: dict[str, tuple[Callable[[str], Any], str]] = {
    "year": (_check_year, f"an integer {YEAR_MIN}..{YEAR_MAX}"),
    "value": (_check_count, "a non-negative number"),
    "series": (_check_name, "a non-empty series name"),
}


def default_history_path(scenario: str) -> Path:
    """Path of the shipped history CSV for ``scenario`` ('national' | 'shandong' | 'liaocheng')."""
    if scenario not in SHIPPED_FILES:
        raise HistoryError(
            f"unknown history scenario {scenario!r} (allowed: {', '.join(SHIPPED_FILES)})"
        )
    return DATA_DIR / SHIPPED_FILES[scenario]


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Read header and (start line, cells) records; cells are whitespace-stripped."""
    if not path.is_file():
        raise HistoryError(f"{path}: history file not found (allowed: an existing CSV file)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            records, prev = [], 0
            for cells in reader:
                if any(c.strip() for c in cells):
                    records.append((prev + 1, [c.strip() for c in cells]))
                prev = reader.line_num
    except (UnicodeDecodeError, csv.Error) as exc:
        raise HistoryError(f"{path.name}: cannot be read as UTF-8 CSV ({exc})") from None
    if not records:
        raise _error(path.name, 1, "year", "file is empty", "a header line with "
                     + ", ".join(REQUIRED_COLUMNS))
    (_, header), *rows = records
    return header, rows


def load_history(path: str | Path) -> pd.DataFrame:
    """Load and validate a history CSV.

    Returns one row per data line with columns ``year`` (int, calendar year),
    ``series`` (str), ``value`` (float, in the row's ``unit``, usually firms),
    ``unit``, ``date_announced``, ``source_url``, ``note`` (str, may be empty),
    any extra columns of the file (str), ``line`` (int, 1-based file line,
    header = 1) and ``file`` (str, file basename).
    """
    path = Path(path)
    name = path.name
    header, rows = _read_rows(path)
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise _error(name, 1, col, "column is missing",
                         "a header containing " + ", ".join(REQUIRED_COLUMNS)
                         + "; extra columns are kept")
    for i, col in enumerate(header):
        if not col or col in header[:i] or col in ("line", "file"):
            raise _error(name, 1, col, "header name is empty, repeated or reserved",
                         "unique non-empty names other than 'line' and 'file'")

    records, seen = [], {}
    for line, cells in rows:
        if len(cells) > len(header):
            raise _error(name, line, f"#{len(header) + 1}", f"{cells[len(header)]!r} has no header",
                         f"{len(header)} fields; quote values that contain commas")
        rec: dict[str, Any] = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        for col, (check, allowed) in _CHECKS.items():
            try:
                rec[col] = check(rec[col])
            except ValueError as exc:
                raise _error(name, line, col, f"{rec[col]!r} {exc}", allowed) from None
        key = (rec["year"], rec["series"])
        if key in seen:
            raise _error(name, line, "series", f"(year, series) = {key!r} repeats line {seen[key]}",
                         "one row per (year, series)")
        seen[key] = line
        records.append({**rec, "line": line, "file": name})

    columns = [*REQUIRED_COLUMNS, *(c for c in header if c not in REQUIRED_COLUMNS), "line", "file"]
    df = pd.DataFrame.from_records(records, columns=columns)
    return df.astype({"year": "int64", "value": "float64", "line": "int64"})


def _mapping_entry(i: int, entry: Any) -> tuple[str, str, str, int, str | None, str]:
    """Validate mapping entry ``i``; return (series, tier, metric, month, alt_series, unit_note)."""
    where = f"observation mapping entry {i}"
    if not isinstance(entry, Mapping):
        raise HistoryError(f"{where}: {entry!r} is not a dict (allowed: a dict with keys "
                           f"{', '.join(MAPPING_REQUIRED_KEYS)})")
    for key in MAPPING_REQUIRED_KEYS:
        if not entry.get(key):
            raise HistoryError(f"{where} {dict(entry)!r}: key {key!r} is missing or empty "
                               f"(required: {', '.join(MAPPING_REQUIRED_KEYS)}; optional: "
                               "month, alt_series, unit_note)")
    month = entry.get("month", DEFAULT_MONTH)
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise HistoryError(f"{where} {dict(entry)!r}: month {month!r} is invalid "
                           "(allowed: an integer 1..12)")
    return (str(entry["series"]), str(entry["tier"]), str(entry["metric"]), month,
            entry.get("alt_series"), str(entry.get("unit_note", "")))


def observed_points(history: pd.DataFrame, mapping: list[dict]) -> pd.DataFrame:
    """Map published series onto model quantities.

    Each mapping entry ``{"series", "tier", "metric", "month"?, "alt_series"?,
    "unit_note"?}`` turns every history row of ``series`` into an observation of
    ``metric`` (e.g. 'stock' or 'batch_new') for ``tier``, dated ``YYYY-MM``
    (``month`` defaults to 12).  ``value`` and ``value_alt`` (value of
    ``alt_series`` in the same year, NaN when absent) are in the row's ``unit``
    (usually firms).  Series absent from ``history`` yield no rows.  Columns:
    ``POINT_COLUMNS``.
    """
    entries = [_mapping_entry(i, e) for i, e in enumerate(mapping)]
    out = []
    for series, tier, metric, month, alt_series, unit_note in entries:
        alt = history.loc[history["series"] == alt_series]
        alt_by_year = dict(zip(alt["year"], alt["value"]))
        for row in history.loc[history["series"] == series].sort_values("year").itertuples():
            out.append({
                "series": series, "tier": tier, "metric": metric,
                "year": int(row.year), "month": month, "date": f"{int(row.year):04d}-{month:02d}",
                "value": float(row.value), "value_alt": float(alt_by_year.get(row.year, math.nan)),
                "unit": row.unit, "source_url": row.source_url, "unit_note": unit_note,
            })
    df = pd.DataFrame.from_records(out, columns=list(POINT_COLUMNS))
    return df.astype({"year": "int64", "month": "int64", "value": "float64", "value_alt": "float64"})


def until(history: pd.DataFrame, year: int) -> pd.DataFrame:
    """Rows of ``history`` whose ``year`` (calendar year) is <= ``year``, index reset."""
    return history.loc[history["year"] <= int(year)].reset_index(drop=True)
