"""Set operations on arrays of small non-negative integers in linear time, by a table indexed by value.

Sample indices (``qsl_idx``) and class ids, the arrays the accuracy checks match and deduplicate,
are integers below a few times their count. For them a table with one slot per possible value
answers what numpy's sorting functions answer (``np.unique``, ``np.searchsorted``) in one pass
instead of a sort: for the 50,000-entry logs of ImageNet, about 0.1 ms instead of 8 ms per call,
which a check of a v0.5 tree makes hundreds of times. Any other array (negative, huge or not
integer) takes numpy's sorting path, so the result never depends on the values' range.
"""

from __future__ import annotations

import numpy as np

#: A table is used when the largest value is below this many slots per value of the array (or
#: below MIN_TABLE): its memory then stays within a small multiple of the array's own.
SLOTS_PER_VALUE = 4
MIN_TABLE = 1 << 16


def table_size(values: np.ndarray) -> int | None:
    """Slots of a table indexed by ``values`` (their maximum + 1), or None when they are not
    integers in ``[0, max(SLOTS_PER_VALUE * len(values), MIN_TABLE))``."""
    if values.dtype.kind not in "ui" or values.size == 0:
        return None
    if int(values.min()) < 0:
        return None
    high = int(values.max())
    return high + 1 if high < max(SLOTS_PER_VALUE * values.size, MIN_TABLE) else None


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-d array: the sorted distinct values (same
    dtype) and each value's index among them."""
    size = table_size(values)
    if size is None:
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, inverse.ravel()
    present = np.zeros(size, dtype=bool)
    present[values] = True
    rank = np.cumsum(present, dtype=np.intp) - 1
    return np.flatnonzero(present).astype(values.dtype), rank[values]


def first_positions(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, whether it occurs in ``keys`` and the index of its first occurrence there
    (meaningless where it does not occur)."""
    size = table_size(keys)
    if size is None or queries.dtype.kind not in "ui":
        unique, first = np.unique(keys, return_index=True)
        if unique.size == 0:
            return np.zeros(queries.shape, dtype=bool), np.zeros(queries.shape, dtype=np.intp)
        position = np.minimum(np.searchsorted(unique, queries), unique.size - 1)
        return unique[position] == queries, first[position]
    table = np.full(size, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(table, keys, np.arange(keys.size, dtype=np.intp))
    inside = (queries >= 0) & (queries < size)
    where = table[np.where(inside, queries, 0)]
    found = inside & (where != np.iinfo(np.intp).max)
    return found, np.where(found, where, 0)
