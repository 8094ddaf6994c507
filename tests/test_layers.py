"""The house: layers whose imports point one way, no import circles, a core free of the
configuration and plotting stacks, and nothing that depends on Mesa's internals.

Layers, lowest first (a module may import its own layer and those below):
core (the model: NumPy, SciPy, Mesa) <- config (validation, dotted keys, Hydra composition,
posteriors, data files) <- run (executors, ensembles, sweeps) <- analysis (tables in, tables
out) <- plots <- pipelines (compose -> run -> analyse -> write) <- the package's front door
(sim/__init__.py) <- experiments/ (Hydra entry points)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mesa
import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "config", "run", "analysis", "plots", "pipelines")
FORBIDDEN_IN_CORE = ("hydra", "omegaconf", "yaml", "pandas", "pyarrow", "matplotlib", "joblib", "dask", "tqdm")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / "sim").rglob("*.py")) + sorted((ROOT / "experiments").glob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_only(tree: ast.Module) -> set[int]:
    """Lines of imports under ``if TYPE_CHECKING:`` (never run: no circle through them)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return lines


def _imports(name: str, path: Path, run_time_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, module level or not (with
    ``run_time_only``, not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree) if run_time_only else set()
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            for a in node.names:  # `from . import rules` imports the module sim.core.rules
                if f"{mod}.{a.name}" in MODULES:
                    found.append((node.lineno, f"{mod}.{a.name}"))
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] == "experiments":
        return len(LAYERS) + 1
    if parts[0] == "sim" and len(parts) == 1:
        return len(LAYERS)
    assert parts[0] == "sim" and parts[1] in LAYERS, f"{module}: not inside a layer ({', '.join(LAYERS)})"
    return LAYERS.index(parts[1])


def _internal(target: str) -> str | None:
    """The project module an import names (``sim.core.model`` for ``sim.core.model.TierModel``)."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def test_every_module_lives_in_a_layer():
    for name in MODULES:
        _layer(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    mine = _layer(name)
    for line, target in _imports(name, MODULES[name]):
        dep = _internal(target)
        if dep is None:
            continue
        assert _layer(dep) <= mine, f"{MODULES[name].relative_to(ROOT)}:{line} imports {dep}, a layer above its own"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("sim.core")))
def test_core_imports_only_numpy_scipy_mesa_and_the_standard_library(name):
    for line, target in _imports(name, MODULES[name]):
        top = target.split(".")[0]
        assert top not in FORBIDDEN_IN_CORE, f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"
        assert top in {"sim", "numpy", "scipy", "mesa", "__future__"} or top in sys.stdlib_module_names, \
            f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"


def test_no_import_circles():
    graph = {n: {d for _, t in _imports(n, p, run_time_only=True) if (d := _internal(t)) and d != n} for n, p in MODULES.items()}
    # a package's __init__ re-exporting its modules is not a circle through the package
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if d in MODULES and MODULES[d].name == "__init__.py" and n.startswith(d + "."):
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def _mesa_private_names() -> set[str]:
    """Underscore names of Mesa's Model, Agent and AgentSet (classes and a live instance)."""
    model = mesa.Model(seed=1)
    agent = mesa.Agent(model)
    names = set()
    for obj in (mesa.Model, mesa.Agent, mesa.agent.AgentSet, model, agent, model.agents):
        names |= {n for n in dir(obj) if n.startswith("_") and not n.startswith("__")}
        names |= {n for n in getattr(obj, "__dict__", {}) if n.startswith("_") and not n.startswith("__")}
    return names


def test_no_mesa_private_attribute_is_touched():
    private = _mesa_private_names()
    assert {"_agents", "_agents_by_type", "_all_agents", "_ids"} <= private  # the check can see them
    hits = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                hits.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not hits, "Mesa internals used: " + ", ".join(hits)
