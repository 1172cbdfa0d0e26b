"""checker.arrays: the table path gives exactly what numpy's sorting functions give, on every shape of
input the parser and the checks meet (repeats, gaps, empty arrays, an offset range, queries outside
the keys' range, values too sparse or negative for a table, unsigned and signed types)."""

import numpy as np
import pytest

from checker.arrays import TABLE_SLACK, count_distinct, first_positions, unique_inverse, value_span

CASES = [
    np.array([], dtype=np.int64),
    np.array([0], dtype=np.int64),
    np.array([5, 5, 5], dtype=np.int64),
    np.array([3, 1, 2, 1, 3, 0], dtype=np.int64),
    np.arange(1000, dtype=np.int64)[::-1].copy(),
    np.array([10**9 + 7, 10**9 + 3, 10**9 + 7], dtype=np.int64),  # a dense range far from 0
    np.array([7, 10**12, 7], dtype=np.int64),  # too sparse for a table
    np.array([-1, 4, 4], dtype=np.int64),  # negative: no table
    np.array([2, 9, 2], dtype=np.uint64),
    np.random.default_rng(1).integers(0, 50_000, 50_000),
]


@pytest.mark.parametrize("values", CASES, ids=range(len(CASES)))
def test_unique_inverse_and_count_are_numpys(values):
    distinct, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert distinct.dtype == values.dtype
    assert distinct.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()
    assert count_distinct(values) == expected.size


@pytest.mark.parametrize("keys", CASES, ids=range(len(CASES)))
def test_first_positions_find_each_querys_first_occurrence(keys):
    rng = np.random.default_rng(2)
    queries = np.concatenate([keys, rng.integers(-3, 60_000, 200), np.array([10**12, 10**9 + 5, 10**9 + 8])])
    found, first = first_positions(keys, queries.astype(np.int64))
    first_seen: dict[int, int] = {}
    for index, key in enumerate(keys.tolist()):
        first_seen.setdefault(key, index)
    for query, was_found, at in zip(queries.tolist(), found.tolist(), first.tolist(), strict=True):
        assert was_found == (query in first_seen)
        if was_found:
            assert at == first_seen[query]


def test_a_table_only_for_dense_non_negative_integers():
    assert value_span(np.array([0, 3], dtype=np.int64)) == (0, 4)
    assert value_span(np.array([100, 103], dtype=np.int64)) == (100, 4)
    assert value_span(np.array([0, 8 + TABLE_SLACK], dtype=np.int64)) is None  # too sparse
    assert value_span(np.arange(100_000, dtype=np.int64)) == (0, 100_000)
    assert value_span(np.array([-1, 2], dtype=np.int64)) is None
    assert value_span(np.array([1.0, 2.0])) is None
    assert value_span(np.array([], dtype=np.int64)) is None
