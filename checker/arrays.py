"""Set operations on arrays of non-negative integers, in linear time by a table indexed by value
when the values are dense enough, else by sorting.

Sample indices (``qsl_idx``, ``seq_id``) and class ids, the arrays the accuracy-log parser counts and
the accuracy checks match and deduplicate, span a range of a few times their count. For them a table
with one slot per possible value answers what numpy's sorting functions answer (``np.unique``,
``np.searchsorted``) in one pass instead of a sort: for the 50,000-entry logs of ImageNet, about
0.1 ms instead of 8 ms per call, which a check of a v0.5 tree makes hundreds of times. Any other
array (sparse, negative or not integer) is sorted, so the result never depends on the values' range.
"""

from __future__ import annotations

import numpy as np

#: A table is used when the values span fewer slots than this many per value, plus TABLE_SLACK: its
#: memory then stays within a small multiple of the array's own.
SLOTS_PER_VALUE = 4
TABLE_SLACK = 1024


def value_span(values: np.ndarray, bounds: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """(lowest value, slots) of a table indexed by ``value - lowest``, or None when ``values`` are
    not non-negative integers spanning fewer than ``SLOTS_PER_VALUE * len + TABLE_SLACK`` slots.
    ``bounds``: their (min, max), when the caller has them."""
    if values.dtype.kind not in "ui" or values.size == 0:
        return None
    low, high = bounds if bounds is not None else (int(values.min()), int(values.max()))
    if low < 0 or high - low >= SLOTS_PER_VALUE * values.size + TABLE_SLACK:
        return None
    return low, high - low + 1


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array, by sorting (for int64 much faster than
    ``np.unique``'s hashing)."""
    if values.size == 0:
        return values
    ordered = np.sort(values)
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def count_distinct(values: np.ndarray, bounds: tuple[int, int] | None = None) -> int:
    """How many distinct values a 1-d array holds (``bounds``: see :func:`value_span`)."""
    span = value_span(values, bounds)
    if span is None:
        return int(distinct_sorted(values).size)
    low, slots = span
    seen = np.zeros(slots, dtype=bool)
    seen[values - low] = True
    return int(np.count_nonzero(seen))


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-d array: the sorted distinct values (same
    dtype) and each value's index among them."""
    span = value_span(values)
    if span is None:
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, inverse.ravel()
    low, slots = span
    offsets = values - low
    present = np.zeros(slots, dtype=bool)
    present[offsets] = True
    rank = np.cumsum(present, dtype=np.intp) - 1
    return (np.flatnonzero(present) + low).astype(values.dtype), rank[offsets]


def first_positions(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, whether it occurs in ``keys`` and the index of its first occurrence there
    (meaningless where it does not occur)."""
    span = value_span(keys)
    if span is None or queries.dtype.kind not in "ui":
        unique, first = np.unique(keys, return_index=True)
        if unique.size == 0:
            return np.zeros(queries.shape, dtype=bool), np.zeros(queries.shape, dtype=np.intp)
        position = np.minimum(np.searchsorted(unique, queries), unique.size - 1)
        return unique[position] == queries, first[position]
    low, slots = span
    absent = np.iinfo(np.intp).max
    table = np.full(slots, absent, dtype=np.intp)
    np.minimum.at(table, keys - low, np.arange(keys.size, dtype=np.intp))
    inside = (queries >= low) & (queries < low + slots)
    where = table[np.where(inside, queries - low, 0)]
    found = inside & (where != absent)
    return found, np.where(found, where, 0)
