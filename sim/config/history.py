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
import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sim.core.errors import UserError

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


class HistoryError(UserError):
    """A history file or observation mapping is invalid (message is one line)."""


MAX_LISTED = 5  # problems of a file named in its one-line error; the rest are counted


def _error(file: str, line: int, column: str, what: str, allowed: str) -> HistoryError:
    """Build the one-line error ``<file> line <n>, column '<c>': <what> (allowed: ...)``."""
    return HistoryError(f"{file} {_problem(line, column, what, allowed)}")


def _problem(line: int, column: str, what: str, allowed: str) -> str:
    return f"line {line}, column '{column}': {what} (allowed: {allowed})"


def _raise_all(file: str, problems: list[str]) -> None:
    """Every problem of a file in one line: ``<file> line 4, ...; line 7, ...; and 3 more problems``."""
    if not problems:
        return
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    raise HistoryError(f"{file} {shown}" + (f"; and {more} more problem{'s' if more > 1 else ''}" if more > 0 else ""))


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
    """Read header and (start line, cells) records; cells are whitespace-stripped.  A file
    that is missing, not a file, unreadable, not UTF-8 text or empty fails here."""
    if path.is_dir():
        raise HistoryError(f"{path}: is a directory (allowed: a CSV file of published counts)")
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
        raise HistoryError(f"{path.name}: cannot be read as UTF-8 CSV ({exc}) (allowed: a UTF-8 text file, comma-separated)") from None
    except OSError as exc:
        raise HistoryError(f"{path.name}: cannot be read ({type(exc).__name__}: {exc.strerror}) (allowed: a readable CSV file)") from None
    if any("\x00" in c for _, cells in records for c in cells):
        raise HistoryError(f"{path.name}: holds NUL bytes, a binary file (allowed: a UTF-8 text file, comma-separated)")
    if not records:
        raise _error(path.name, 1, "year", "file is empty", "a header line with "
                     + ", ".join(REQUIRED_COLUMNS))
    (_, header), *rows = records
    return header, rows


def _header_problems(header: list[str]) -> list[str]:
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        sep = next(s for s in ";\t|" if s in header[0])
        return [_problem(1, header[0][:40], f"the header is one field, separated by {sep!r}",
                         "comma-separated columns " + ", ".join(REQUIRED_COLUMNS))]
    missing = [col for col in REQUIRED_COLUMNS if col not in header]
    allowed = "a header containing " + ", ".join(REQUIRED_COLUMNS) + "; extra columns are kept"
    out = [_problem(1, missing[0], "column is missing", allowed)] if len(missing) == 1 else \
        [f"line 1, columns {', '.join(map(repr, missing))}: columns are missing (allowed: {allowed})"] if missing else []
    out += [_problem(1, col, "header name is empty, repeated or reserved", "unique non-empty names other than 'line' and 'file'")
            for i, col in enumerate(header) if not col or col in header[:i] or col in ("line", "file")]
    return out


def load_history(path: str | Path) -> pd.DataFrame:
    """Load and validate a history CSV; every problem of the file is reported at once (one
    line: the first ``MAX_LISTED`` with their line and column, and a count of the rest).

    Returns one row per data line with columns ``year`` (int, calendar year),
    ``series`` (str), ``value`` (float, in the row's ``unit``, usually firms),
    ``unit``, ``date_announced``, ``source_url``, ``note`` (str, may be empty),
    any extra columns of the file (str), ``line`` (int, 1-based file line,
    header = 1) and ``file`` (str, file basename).
    """
    return _load(Path(path))


def _load(path: Path, population: int | None = None, required: tuple[str, ...] = (), scenario: str = "") -> pd.DataFrame:
    name = path.name
    header, rows = _read_rows(path)
    problems = _header_problems(header)
    if problems and header[0] not in REQUIRED_COLUMNS and len(header) == 1:
        _raise_all(name, problems)  # one field: the rows cannot be read against it
    if not rows:
        _raise_all(name, [*problems, "has a header but no data rows (allowed: a header and at least one row of published counts)"])

    records, seen, named = [], {}, set()
    for line, cells in rows:
        if len(cells) > len(header):
            problems.append(_problem(line, f"#{len(header) + 1}", f"{cells[len(header)]!r} has no header",
                                     f"{len(header)} fields; quote values that contain commas"))
            continue
        rec: dict[str, Any] = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        ok = True
        for col, (check, allowed) in _CHECKS.items():
            if col not in rec:
                continue  # a missing column: reported once, on the header
            try:
                rec[col] = check(rec[col])
            except ValueError as exc:
                problems.append(_problem(line, col, f"{rec[col]!r} {exc}", allowed))
                ok = False
        if isinstance(rec.get("series"), str) and rec["series"]:
            named.add(rec["series"])  # a required series present on a bad line is reported for the line only
        if not ok or "year" not in rec or "series" not in rec:
            continue
        key = (rec["year"], rec["series"])
        if key in seen:
            problems.append(_problem(line, "series", f"(year, series) = {key!r} repeats line {seen[key]}", "one row per (year, series)"))
            continue
        seen[key] = line
        records.append({**rec, "line": line, "file": name})
    if population is not None and "value" in header:
        who = f"the {population:,} firms {scenario or 'the scenario'} simulates"
        problems += [_problem(r["line"], "value", f"{r['value']:g} is more than {who}", f"0 to {population:,} for a mapped series")
                     for r in records if r["series"] in required and r["value"] > population]
    missing = [s for s in required if s not in named]
    if missing and "series" in header:
        problems.append(f"lacks series {', '.join(map(repr, missing))} (allowed: a file with every series the history mapping of "
                        f"{scenario or 'the scenario'} names: {', '.join(required)})")
    _raise_all(name, problems)

    columns = [*REQUIRED_COLUMNS, *(c for c in header if c not in REQUIRED_COLUMNS), "line", "file"]
    df = pd.DataFrame.from_records(records, columns=columns)
    return df.astype({"year": "int64", "value": "float64", "line": "int64"})


def check_file(path: str | Path, population: int, required: tuple[str, ...], scenario: str = "") -> pd.DataFrame:
    """:func:`load_history` plus the plausibility bounds of a scenario: the values of the series
    it maps (``required``) at most its ``population`` (firms at the start, real units), and each
    of those series present.  Every problem at once, one line.  Cached on the file's path, size
    and modification time, so checking the same file for many configurations reads it once."""
    p = Path(path)
    try:
        st = p.stat()
        stamp = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:  # missing or unreadable: _load says which, uncached
        return _load(p, population, required, scenario)
    return _checked(str(p), stamp, int(population), tuple(required), scenario).copy()


@functools.lru_cache(maxsize=32)
def _checked(path: str, stamp: tuple[str, int, int], population: int, required: tuple[str, ...], scenario: str) -> pd.DataFrame:
    return _load(Path(path), population, required, scenario)


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


def points_by_area(view_path: str | Path, mapping: list[dict], year: int) -> pd.DataFrame:
    """:func:`observed_points` of a view's history ``mapping`` (entries with a ``region``) up to
    ``year``, with the area each counts (``region``): the view's own series ('') from
    ``view_path``, an area's from its shipped file (:func:`default_history_path`)."""
    parts = []
    for area in dict.fromkeys([""] + [m.get("region", "") for m in mapping]):
        h = until(load_history(view_path if not area else default_history_path(area)), year)
        entries = [{k: v for k, v in m.items() if k != "region"} for m in mapping if m.get("region", "") == area]
        parts.append(observed_points(h, entries).assign(region=area))
    return pd.concat(parts, ignore_index=True)


def until(history: pd.DataFrame, year: int) -> pd.DataFrame:
    """Rows of ``history`` whose ``year`` (calendar year) is <= ``year``, index reset."""
    return history.loc[history["year"] <= int(year)].reset_index(drop=True)
