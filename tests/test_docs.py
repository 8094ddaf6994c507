"""The documentation keeps up with the code: docs/PARAMETERS.md is what docs/gen_parameters.py
renders from sim.config.describe(), and docs/ODD.md names every lever, tier and random stream
and points only at modules and functions that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.config import LEVERS, TIERS, describe
from sim.model import STREAMS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ODD = DOCS / "ODD.md"
SIM_MODULES = sorted(p.stem for p in (ROOT / "sim").glob("*.py") if p.stem != "__init__")


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
    assert current == expected, "docs/PARAMETERS.md is out of date with sim/config.py: run `python docs/gen_parameters.py`"


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
    paths = sorted(set(re.findall(r"sim/([A-Za-z_][A-Za-z0-9_]*)\.py", odd)))
    assert paths, "docs/ODD.md references no sim/<module>.py"
    missing = [f"sim/{p}.py" for p in paths if not (ROOT / "sim" / f"{p}.py").is_file()]
    assert not missing, f"docs/ODD.md references modules that do not exist: {missing}"


def test_odd_code_references_resolve(odd):
    """Every `module.name[.attr]` in backticks whose head is a sim module resolves to an attribute."""
    bad = []
    for token in sorted(set(re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", odd))):
        head, _, rest = token.partition(".")
        if head not in SIM_MODULES or not rest or rest.split(".")[-1] in ("py", "yaml", "csv", "md"):
            continue
        obj = importlib.import_module(f"sim.{head}")
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

    from sim.model import TierModel

    tree = ast.parse(textwrap.dedent(inspect.getsource(TierModel.step)))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "self":
            calls.append((node.lineno, node.col_offset, node.func.attr))
    return [name for *_, name in sorted(calls)]


def test_step_calls_its_plan_in_order():
    from sim.model import TierModel

    assert _step_calls() == list(TierModel.STEP_PLAN)
    for name in TierModel.STEP_PLAN:
        assert callable(getattr(TierModel, name)), name


def test_odd_section_3_lists_the_step_plan_in_order(odd):
    from sim.model import TierModel

    sec = odd[odd.index("## 3. Process overview"):odd.index("## 4. Design concepts")]
    items = re.findall(r"^\s*(\d+)\. \*\*[^*]+\*\* \(`model\.TierModel\.(\w+)`", sec, flags=re.M)
    assert [int(n) for n, _ in items] == list(range(1, len(items) + 1)), "ODD §3: numbered sub-steps out of sequence"
    assert [name for _, name in items] == list(TierModel.STEP_PLAN), "ODD §3 does not follow TierModel.STEP_PLAN"
