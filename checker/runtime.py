"""Process-wide settings of a checking run (the CLI and its worker processes apply them).

Only for processes mlperf-audit owns: importing :mod:`checker` as a library changes nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two young-generation collections (CPython's default is 700).
YOUNG_GENERATION_THRESHOLD = 50_000
_TUNED = False


def tune_for_batch() -> None:
    """Make cyclic garbage collection rare and keep it off the objects that live for the whole run.

    Parsers create millions of small objects (entries, sourced values, tuples) that never form
    reference cycles; with CPython's default thresholds the collector walks them every 700
    allocations, about 6 % of a corpus-wide parse (benchmarks/parse_corpus.py shows both). Cycles
    are still collected, only in larger batches, so memory stays bounded. ``gc.freeze`` moves what
    the imports created (pydantic schemas, numpy, rule packs) out of every later collection.
    """
    global _TUNED
    if _TUNED:  # once per process (tests invoke the CLI many times in one process)
        return
    _TUNED = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)


@contextmanager
def long_lived() -> Iterator[None]:
    """Create, inside the block, objects that live until the run ends, with no collection walking them.

    A warm ``check --cache`` run of a large tree unpickles its cached partitions and builds a report
    of tens of thousands of findings: every young-generation collection then walks some 50,000 new
    objects that can never be cyclic garbage (about 5 % of such a run). In a tuned process the block
    runs with the collector off, and what it created is then frozen like the imports' objects; they
    are still freed by reference counting when dropped. Elsewhere (a library caller) it changes
    nothing."""
    if not _TUNED or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # also starts the young generation's count again
        gc.enable()
