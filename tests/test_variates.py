"""Sparse uniform variates (sim/core/variates.py): the events they give are Bernoulli at
each row's probability, the draws depend only on the size and the bound (so decisions at
different probabilities nest: common random numbers), and the edge cases draw nothing or
everything."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.core.variates import bound_above, sparse_uniform

F32 = np.float32


def test_events_are_bernoulli_at_each_rows_probability():
    size, bound = 400_000, 1.0 / 16
    s = sparse_uniform(np.random.default_rng(3), size, bound)
    assert s.rows.dtype.kind == "i" and np.all(np.diff(s.rows) > 0) and s.rows[0] >= 0 and s.rows[-1] < size
    # the kept rows are a Bernoulli(bound) process: their count is Binomial(size, bound)
    assert abs(s.rows.size - size * bound) < 5 * np.sqrt(size * bound * (1 - bound))
    # and the kept variates are uniform below the bound
    assert stats.kstest(s.v.astype(np.float64), "uniform").pvalue > 1e-4
    groups = np.array([bound, bound / 2, bound / 8, 0.0], dtype=F32)
    p = groups[np.arange(size) % 4]
    hit = np.zeros(size, dtype=bool)
    hit[s.below(p)] = True
    for k, q in enumerate(groups):
        freq, m = hit[k::4].mean(), hit[k::4].size
        assert abs(freq - q) <= 5 * np.sqrt(q * (1 - q) / m) + 1e-12, (q, freq)
    # hits() on the kept rows' probabilities is below() on every row's
    np.testing.assert_array_equal(s.hits(p[s.rows]), s.below(p))


def test_draws_depend_on_size_and_bound_only_and_decisions_nest():
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    sa, sb = sparse_uniform(a, 100_000, 0.03), sparse_uniform(b, 100_000, 0.03)
    np.testing.assert_array_equal(sa.rows, sb.rows)
    np.testing.assert_array_equal(sa.v, sb.v)
    assert a.bit_generator.state == b.bit_generator.state
    rng = np.random.default_rng(5)
    low = rng.random(100_000).astype(F32) * F32(0.02)
    high = low + F32(0.01)  # every row's probability raised: its events are a superset
    assert set(sa.below(low)) <= set(sa.below(high))
    assert sa.below(high).size > sa.below(low).size


def test_edges_draw_nothing_or_everything():
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    none = sparse_uniform(rng, 1000, 0.0)
    assert none.rows.size == 0 and none.below(np.ones(1000, dtype=F32)).size == 0
    assert rng.bit_generator.state == before  # no event possible: nothing drawn
    assert sparse_uniform(rng, 0, 0.1).rows.size == 0
    every = sparse_uniform(rng, 1000, 1.0)
    np.testing.assert_array_equal(every.rows, np.arange(1000))
    assert every.below(np.ones(1000, dtype=F32)).size == 1000
    one = sparse_uniform(rng, 1, 0.2)  # the per-agent driver draws one row at a time
    assert one.rows.size in (0, 1)


@pytest.mark.parametrize(("p", "bound"), [(0.0353, 1 / 16), (0.0625, 1 / 16), (0.07, 1 / 8), (0.3, 0.5), (0.5, 1.0), (0.9, 1.0), (0.0, 0.0)])
def test_bound_above_is_the_next_power_of_two(p, bound):
    assert bound_above(p) == bound
