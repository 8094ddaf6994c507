"""The documentation keeps up with the code: docs/PARAMETERS.md is what docs/gen_parameters.py
renders from sim.core.schema.describe(), and docs/ODD.md names every lever, tier and random stream
and points only at modules and functions that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.core.model import STREAMS
from sim.core.schema import LEVERS, TIERS, describe

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ODD = DOCS / "ODD.md"
# module basename -> dotted module (basenames are unique across the layers: a test holds that)
SIM_MODULES = {p.stem: ".".join(p.relative_to(ROOT).with_suffix("").parts)
               for p in sorted((ROOT / "sim").rglob("*.py")) if p.stem != "__init__"}


def test_module_basenames_are_unique():
    stems = [p.stem for p in (ROOT / "sim").rglob("*.py") if p.stem != "__init__"]
    assert len(stems) == len(set(stems)), sorted(s for s in stems if stems.count(s) > 1)


def _generator():
    spec = importlib.util.spec_from_file_location("gen_parameters", DOCS / "gen_parameters.py")
    mod = importlib.util.module_from_spec(spec)
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no docs/__pycache__
    try:
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    finally:
        sys.dont_write_bytecode = dont_write
    return mod


@pytest.fixture(scope="module")
def odd() -> str:
    return ODD.read_text(encoding="utf-8")


# ---- PARAMETERS.md --------------------------------------------------------------------

def test_parameters_md_is_up_to_date():
    expected = _generator().render()
    current = (DOCS / "PARAMETERS.md").read_text(encoding="utf-8") if (DOCS / "PARAMETERS.md").exists() else ""
    assert current == expected, "docs/PARAMETERS.md is out of date with sim/core/schema.py: run `python docs/gen_parameters.py`"


def test_parameters_md_lists_every_parameter():
    text = _generator().render()
    missing = [name for name, *_ in describe() if f"| `{name}` |" not in text]
    assert not missing, f"parameters missing from the rendered table: {missing}"


def test_generator_check_mode_runs_from_the_repo_root():
    res = subprocess.run([sys.executable, "docs/gen_parameters.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + "\nrun `python docs/gen_parameters.py`"


def test_generator_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    gen = _generator()
    stale = tmp_path / "PARAMETERS.md"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(gen, "OUT", stale)
    assert gen.main(["--check"]) == 1
    assert "python docs/gen_parameters.py" in capsys.readouterr().err
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0


# ---- ODD.md ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,names", [("lever", LEVERS), ("tier", TIERS), ("stream", STREAMS)])
def test_odd_names_every_lever_tier_and_stream(odd, kind, names):
    missing = [n for n in names if f"`{n}`" not in odd]
    assert not missing, f"docs/ODD.md does not name these {kind}s (as `code`): {missing}"


def test_odd_module_paths_exist(odd):
    paths = sorted(set(re.findall(r"sim/([A-Za-z_][A-Za-z0-9_/]*)\.py", odd)))
    assert paths, "docs/ODD.md references no sim/<layer>/<module>.py"
    missing = [f"sim/{p}.py" for p in paths if not (ROOT / "sim" / f"{p}.py").is_file()]
    assert not missing, f"docs/ODD.md references modules that do not exist: {missing}"


def test_odd_code_references_resolve(odd):
    """Every `module.name[.attr]` in backticks whose head is a sim module resolves to an attribute."""
    bad = []
    for token in sorted(set(re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", odd))):
        head, _, rest = token.partition(".")
        if head not in SIM_MODULES or not rest or rest.split(".")[-1] in ("py", "yaml", "csv", "md"):
            continue
        obj = importlib.import_module(SIM_MODULES[head])
        for part in rest.split("."):
            if not hasattr(obj, part):
                bad.append(token)
                break
            obj = getattr(obj, part)
    assert not bad, f"docs/ODD.md points at code that does not exist: {bad}"


def test_odd_has_the_protocol_sections(odd):
    for heading in ("## 1. Purpose and patterns", "## 2. Entities, state variables and scales",
                    "## 3. Process overview and scheduling", "## 4. Design concepts", "## 5. Initialization",
                    "## 6. Input data", "## 7. Submodels", "## 8. Known limitations"):
        assert heading in odd, f"docs/ODD.md lacks the section {heading!r}"


# ---- ODD §3 against TierModel.step ------------------------------------------------------

def _step_calls() -> list[str]:
    """The model methods ``TierModel.step`` calls on ``self``, in source order (the
    vectorised branch; the agent driver's ``shuffle_do`` is Mesa's)."""
    import ast
    import inspect
    import textwrap

    from sim.core.model import TierModel

    tree = ast.parse(textwrap.dedent(inspect.getsource(TierModel.step)))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "self":
            calls.append((node.lineno, node.col_offset, node.func.attr))
    return [name for *_, name in sorted(calls)]


def test_step_calls_its_plan_in_order():
    from sim.core.model import TierModel

    assert _step_calls() == list(TierModel.STEP_PLAN)
    for name in TierModel.STEP_PLAN:
        assert callable(getattr(TierModel, name)), name


def test_odd_section_3_lists_the_step_plan_in_order(odd):
    from sim.core.model import TierModel

    sec = odd[odd.index("## 3. Process overview"):odd.index("## 4. Design concepts")]
    items = re.findall(r"^\s*(\d+)\. \*\*[^*]+\*\* \(`model\.TierModel\.(\w+)`", sec, flags=re.M)
    assert [int(n) for n, _ in items] == list(range(1, len(items) + 1)), "ODD §3: numbered sub-steps out of sequence"
    assert [name for _, name in items] == list(TierModel.STEP_PLAN), "ODD §3 does not follow TierModel.STEP_PLAN"


# ---- README.md as a short guide, and the guides in docs/ ---------------------------------
# README.md is the user guide (issue 10): at most README_MAX_LINES lines, the two quick-start
# commands, a key to every printed column; measured figures and longer guides live in docs/.

README = ROOT / "README.md"
README_MAX_LINES = 250
GUIDES = ["BENCHMARKS.md", "VALIDATION.md", "FORECASTS.md", "SWEEPS.md", "CALIBRATION.md", "COMPARE.md", "MODEL.md"]
QUICK_START = {"make forecast": "forecast", "make test": "test"}


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def _backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def _header_cells(line: str) -> list[str]:
    """The cells of a fixed-width header line (columns are separated by two or more spaces)."""
    return [c for c in re.split(r"\s{2,}", line.strip()) if c]


def test_readme_is_at_most_250_lines(readme):
    n = len(readme.splitlines())
    assert n <= README_MAX_LINES, (f"README.md has {n} lines (at most {README_MAX_LINES}): move detail to a page "
                                   "in docs/ and link it")


def test_readme_quick_start_commands_are_makefile_targets(readme):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rules = set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", makefile, re.M))
    for cmd, target in QUICK_START.items():
        assert re.search(rf"^{re.escape(cmd)}(\s|$)", readme, re.M), f"README.md lacks the quick-start command line {cmd!r}"
        assert target in rules, f"README.md's {cmd!r}: the Makefile has no rule {target!r}"


def test_readme_quick_start_matches_what_make_runs(readme):
    """`make -n` (print, run nothing): `make forecast` runs experiments.forecast with the defaults
    the README states, `make test` runs pytest."""
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = {t: subprocess.run(["make", "-n", t], cwd=ROOT, capture_output=True, text=True, check=True).stdout
           for t in QUICK_START.values()}
    run = re.search(r"-m experiments\.forecast (.*)$", out["forecast"], re.M)
    assert run, f"`make -n forecast` does not run experiments.forecast:\n{out['forecast']}"
    args = dict(a.split("=", 1) for a in run.group(1).split())
    stated = f"**{args['scenario'].capitalize()}, {args['policy']} policy, {args['n_replicates']} replicates, seed {args['seed']}**"
    assert stated in readme, f"README.md should state the default forecast as {stated}"
    assert re.search(r"-m pytest\b", out["test"]), f"`make -n test` does not run pytest:\n{out['test']}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # code blocks hold no links
    links = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [u for u in links if not re.match(r"[a-z][a-z0-9+.-]*:", u)]  # http:, https:, mailto: ...


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{g}" for g in GUIDES)])
def test_relative_links_point_at_files_that_exist(page):
    path = ROOT / page
    assert path.is_file(), f"{page} is missing"
    bad = []
    for link in _relative_links(path):
        target, _, anchor = link.partition("#")
        dest = (path.parent / target).resolve() if target else path
        if not dest.exists():
            bad.append(f"{link} (no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{link} (no heading #{anchor} in {dest.name})")
    assert not bad, f"{page} has broken links: {bad}"


def test_readme_links_every_guide(readme):
    missing = [g for g in GUIDES if f"(docs/{g})" not in readme]
    assert not missing, f"README.md does not link these docs pages: {missing}"


def test_readme_keys_every_printed_reachability_column(readme):
    """A column that format_reachability prints without a key in the README fails here."""
    from synthetic import make_traj

    from sim.analysis.targets import format_reachability, reachability_table

    t = {"name": "lg", "label": "little giants", "tiers": ["little_giant"], "metric": "stock", "threshold": 300.0,
         "deadline": "2022-12", "illustrative": False}
    lines = format_reachability(reachability_table(make_traj(n_rep=4), [t])).splitlines()
    assert lines[0].startswith("== ")
    head = _header_cells(lines[1])
    assert "target" in head and len(head) >= 5, f"unexpected header line: {lines[1]!r}"
    keyed = _backticked(readme)
    missing = [h for h in head if h not in keyed]
    assert not missing, f"README.md's column key does not name these printed columns (as `code`): {missing}"


def test_readme_keys_every_reachability_csv_column(readme):
    from sim.analysis.targets import COLUMNS

    keyed = _backticked(readme)
    missing = [c for c in COLUMNS if c not in keyed]
    assert not missing, f"README.md does not explain these reachability.csv columns (as `code`): {missing}"


def test_readme_keys_every_printed_compare_column(readme):
    import pandas as pd

    from sim.analysis.paired import COLUMNS, format_effects

    row = {c: 0.5 for c in COLUMNS}
    row.update(scenario="s", policy="p", baseline="b", target="t", n=4)
    lines = format_effects(pd.DataFrame([row], columns=COLUMNS)).splitlines()
    head = _header_cells(lines[1])
    assert "target" in head and len(head) >= 4, f"unexpected header line: {lines[1]!r}"
    missing = [h for h in head if h not in _backticked(readme)]
    assert not missing, f"README.md's compare key does not name these printed columns (as `code`): {missing}"


def test_forecast_csv_columns_are_in_the_readme(readme):
    from synthetic import make_traj

    from sim.analysis.tables import forecast_table

    cols = list(forecast_table(make_traj(n_rep=2, n_months=3)).columns)
    missing = [c for c in cols if c not in _backticked(readme)]
    assert not missing, f"README.md's run-folder table does not name these forecast.csv columns: {missing}"


@pytest.mark.parametrize("page,module", [("COMPARE.md", "sim.analysis.paired"), ("COMPARE.md", "sim.analysis.sobol"),
                                         ("CALIBRATION.md", "sim.analysis.scoring")])
def test_guides_key_every_table_column(page, module):
    """compare.csv, sobol.csv and backtest.csv: every column is named on its docs page."""
    mod = importlib.import_module(module)
    cols = getattr(mod, "CSV_COLUMNS", None) or mod.COLUMNS
    missing = [c for c in cols if c not in _backticked((DOCS / page).read_text(encoding="utf-8"))]
    assert not missing, f"docs/{page} does not name these {module} table columns (as `code`): {missing}"


def test_sweeps_page_names_the_outcome_columns():
    from sim.run.sweep import OUTCOME_KEYS

    text = _backticked((DOCS / "SWEEPS.md").read_text(encoding="utf-8"))
    missing = [c for c in [*OUTCOME_KEYS, "job", "count__<target>", "reached__<target>", "fiscal_cost_m_cny"] if c not in text]
    assert not missing, f"docs/SWEEPS.md does not name these sweep-table columns: {missing}"


# ---- CRITERIA.md ------------------------------------------------------------------------

CRITERIA = DOCS / "CRITERIA.md"


def _criteria_rows() -> list[tuple[str, str, str, str]]:
    """(tier section, criterion, code, status) of every table row of docs/CRITERIA.md."""
    rows, section = [], ""
    for line in CRITERIA.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line
        elif line.startswith("| ") and not line.startswith("| criterion") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 3, line
            rows.append((section, *cells))
    return rows


def test_criteria_table_covers_every_tier_with_a_status_per_row():
    """No silent gaps: a section per tier, every row coded or approximated with a reason."""
    rows = _criteria_rows()
    sections = {s for s, *_ in rows}
    missing = [t for t in TIERS if not any(f"(`{t}`" in s for s in sections)]
    assert not missing, f"docs/CRITERIA.md has no table for {missing}"
    bad = [r for r in rows if not (r[3].startswith("coded") or re.match(r"approximated: \S", r[3]))]
    assert not bad, f"rows without a status ('coded' or 'approximated: reason'): {bad}"
    uncoded = [r for r in rows if r[2] == "—" and not r[3].startswith("approximated")]
    assert not uncoded, f"rows naming no code must say why: {uncoded}"


def test_criteria_table_names_code_that_exists():
    """Every `tiers.*` / `firms.*` name resolves, every `f.<column>` is a firm column and
    every `criteria.*` / `params.*` / `scenario.*` key is a parameter (PARAMETERS.md)."""
    from sim.core.firms import SCHEMA

    keys = {k for k, *_ in describe()}
    bad = []
    for _, criterion, code, _ in _criteria_rows():
        tokens = re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", code)
        if code != "—" and not tokens:
            bad.append((criterion, code))
        for token in tokens:
            head, _, rest = token.partition(".")
            if head == "f":
                ok = rest in SCHEMA
            elif head in ("criteria", "params", "scenario"):
                ok = token in keys
            elif head in SIM_MODULES:
                obj, ok = importlib.import_module(SIM_MODULES[head]), True
                for part in rest.split("."):
                    ok = ok and hasattr(obj, part)
                    obj = getattr(obj, part, None)
            else:
                ok = False
            if not ok:
                bad.append((criterion, token))
    assert not bad, f"docs/CRITERIA.md names code that does not exist: {bad}"
