"""Declaring a parameter: :func:`p` gives a dataclass field with its default, unit and
source (and optionally an allowed range or choices) in ``metadata``.

A module of its own so that both ``sim/core/schema.py`` (the run configuration) and
``sim/core/levers.py`` (each lever declares its effect sizes) can use it without importing
each other; ``sim/core/schema.py`` re-exports it.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def p(default: Any, unit: str, source: str, *, range: tuple[float, float] | None = None,
      choices: tuple[str, ...] | None = None, item_range: tuple[float, float] | None = None,
      bands: bool = False) -> Any:
    """Declare a parameter: default, unit, source, and optionally an allowed range or
    choices; for lists, the range of each item or ``bands`` ([[threshold, points], ...])."""
    meta = {"unit": unit, "source": source, "range": range, "choices": choices, "item_range": item_range, "bands": bands}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)
