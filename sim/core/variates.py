"""Sparse uniform variates: rare Bernoulli events without a variate for every firm row.

A monthly Bernoulli decision ``u_i < p_i`` whose probabilities never exceed a known
``bound`` (e.g. founding an R&D institution: 0 or 1.3% a month) needs the uniform ``u_i``
only where it falls below ``bound``.  ``sparse_uniform(rng, size, bound)`` draws exactly
those: the rows of a Bernoulli(``bound``) process over rows 0..size-1, from geometric gaps
between them, and for each such row a uniform ``v`` with ``u = bound * v``.  Every row's
``u`` is then uniform on [0, 1) and independent, as if drawn for every row, and the decision
``u_i < p_i`` is the same function of ``u_i``; only about ``bound * size`` variates are drawn
instead of ``size``.  The calls on ``rng`` depend only on ``size`` and ``bound`` (never on
the firms), so a process stays paired across policies (common random numbers).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


class Sparse:
    """The rows (ascending, of 0..size-1) whose uniform variate is below ``bound``, and each
    one's variate over ``bound`` (``v``, uniform on [0, 1): the variate is ``bound * v``)."""

    __slots__ = ("size", "bound", "rows", "v")

    def __init__(self, size: int, bound: float, rows: np.ndarray, v: np.ndarray) -> None:
        self.size, self.bound, self.rows, self.v = size, bound, rows, v

    def below(self, p: np.ndarray) -> np.ndarray:
        """Rows (ascending) whose variate is below their probability ``p`` (aligned with rows
        0..size-1; every ``p <= bound``, which the caller guarantees): ``bound * v < p``,
        compared as ``v < p / bound`` so that ``p == bound`` is always an event."""
        return self.hits(p.take(self.rows, mode="clip")) if self.rows.size else self.rows

    def hits(self, p_rows: np.ndarray) -> np.ndarray:
        """:meth:`below` with the probabilities of ``rows`` only (aligned with ``rows``)."""
        return self.rows[self.v < p_rows / F32(self.bound)]


def bound_above(p: float) -> float:
    """A bound for sparse variates at probabilities up to ``p``: the next power of 2 (1/32,
    1/16, ...), so that policies whose highest probabilities differ a little share the bound
    and hence the variates (common random numbers)."""
    return 1.0 if p >= 0.5 else 2.0 ** np.ceil(np.log2(p)) if p > 0 else 0.0


def sparse_uniform(rng: np.random.Generator, size: int, bound: float) -> Sparse:
    """``size`` rows' uniform variates, kept where below ``bound`` (see the module docstring):
    geometric gaps in blocks of about the expected count, then one float32 uniform per kept
    row.  ``bound <= 0``: no row (no draw); ``bound >= 1``: every row."""
    rows = np.zeros(0, dtype=np.int64)
    if bound >= 1.0:
        bound, rows = 1.0, np.arange(size, dtype=np.int64)
    elif size > 0 and bound > 0.0:
        mean = size * bound
        block = int(mean + 4.0 * np.sqrt(mean) + 1)  # one block nearly always covers the rows
        last, parts = -1, []
        while last < size - 1:
            pos = last + np.cumsum(rng.geometric(bound, block))
            parts.append(pos)
            last = int(pos[-1])
        pos = parts[0] if len(parts) == 1 else np.concatenate(parts)
        rows = pos[: np.searchsorted(pos, size)]
    return Sparse(size, bound, rows, rng.random(rows.size, dtype=F32))
