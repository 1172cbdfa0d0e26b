"""checker.arrays: the table path gives exactly what numpy's sorting functions give, on every shape of
input the checks meet (repeats, gaps, empty arrays, queries outside the keys' range, values too large
or negative for a table, unsigned and signed types)."""

import numpy as np
import pytest

from checker.arrays import MIN_TABLE, first_positions, table_size, unique_inverse

CASES = [
    np.array([], dtype=np.int64),
    np.array([0], dtype=np.int64),
    np.array([5, 5, 5], dtype=np.int64),
    np.array([3, 1, 2, 1, 3, 0], dtype=np.int64),
    np.arange(1000, dtype=np.int64)[::-1].copy(),
    np.array([7, 10**12, 7], dtype=np.int64),  # too large for a table
    np.array([-1, 4, 4], dtype=np.int64),  # negative: no table
    np.array([2, 9, 2], dtype=np.uint64),
    np.random.default_rng(1).integers(0, 50_000, 50_000),
]


@pytest.mark.parametrize("values", CASES, ids=range(len(CASES)))
def test_unique_inverse_is_numpys(values):
    distinct, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert distinct.dtype == values.dtype
    assert distinct.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()


@pytest.mark.parametrize("keys", CASES, ids=range(len(CASES)))
def test_first_positions_find_each_querys_first_occurrence(keys):
    rng = np.random.default_rng(2)
    queries = np.concatenate([keys, rng.integers(-3, 60_000, 200), np.array([10**12, MIN_TABLE * 8])]).astype(np.int64)
    found, first = first_positions(keys, queries)
    first_seen: dict[int, int] = {}
    for index, key in enumerate(keys.tolist()):
        first_seen.setdefault(key, index)
    for query, was_found, at in zip(queries.tolist(), found.tolist(), first.tolist(), strict=True):
        assert was_found == (query in first_seen)
        if was_found:
            assert at == first_seen[query]


def test_a_table_only_for_small_non_negative_integers():
    assert table_size(np.array([0, 3], dtype=np.int64)) == 4
    assert table_size(np.array([MIN_TABLE], dtype=np.int64)) is None  # above both bounds
    assert table_size(np.arange(100_000, dtype=np.int64)) == 100_000  # within 4 slots per value
    assert table_size(np.array([-1, 2], dtype=np.int64)) is None
    assert table_size(np.array([1.0, 2.0])) is None
    assert table_size(np.array([], dtype=np.int64)) is None
