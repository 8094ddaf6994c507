"""The suite's own set-up (tests/conftest.py): tests that share a run are kept on one worker."""

from __future__ import annotations

import pytest
from conftest import shared_run_modules


def test_every_module_with_a_shared_fixture_is_run_on_one_worker(request: pytest.FixtureRequest):
    """The scheduler's source scan finds, among the modules of this session (all of them in a
    full run), exactly those whose tests use a fixture of their own wider than one test, as
    pytest itself resolves the fixtures."""
    grouped = shared_run_modules()
    present, using = set(), set()
    for item in request.session.items:
        module = item.nodeid.split("::", 1)[0]
        present.add(module)
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d and d[-1].scope in ("module", "package", "session") and d[-1].baseid for d in defs.values()):
            using.add(module)
    assert {"tests/test_forecast.py", "tests/test_dask.py", "tests/test_sweep.py"} <= grouped
    assert using == grouped & present, (f"sharing a fixture, not grouped: {sorted(using - grouped)}; "
                                        f"grouped, sharing none: {sorted((grouped & present) - using)}")
