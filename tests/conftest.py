"""Suite-wide pytest set-up: how the tests are spread over pytest-xdist workers.

The suite runs with ``-n auto --dist loadgroup`` (pyproject.toml): single tests go to whichever
worker is free, except that every test of a module that defines a module-scoped fixture (one
ensemble run, a sweep, a Dask cluster read by several tests) goes to one worker, so that run is
made once and not once per worker.  The rule lives here, not as ``xdist_group`` marks in each
module, so a new shared fixture is grouped without anyone remembering to mark it; and xdist
3.8's own loadgroup cannot read marks under pytest 9 (it renames ``item._nodeid``, which pytest
9 no longer uses for the node id), so this file supplies the scheduler loadgroup uses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.scheduler import LoadScopeScheduling

TESTS = Path(__file__).resolve().parent
SHARED_FIXTURE = re.compile(r"@pytest\.fixture\([^)]*scope=[\"'](?:module|package|session)[\"']")


def shared_run_modules(tests: Path = TESTS) -> set[str]:
    """Test files (relative to the rootdir, as in node ids) that define a fixture shared by
    several tests (module, package or session scope)."""
    return {f"{tests.name}/{p.name}" for p in sorted(tests.glob("test_*.py"))
            if SHARED_FIXTURE.search(p.read_text(encoding="utf-8"))}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling | None:
    """``--dist loadgroup``: one work unit per test, or per module for the modules above."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    grouped = shared_run_modules()

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in grouped else nodeid

    return SharedRunScheduling(config, log)
