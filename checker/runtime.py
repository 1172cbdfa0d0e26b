"""Process-wide settings of a checking run (the CLI and its worker processes apply them).

Only for processes mlperf-audit owns: importing :mod:`checker` as a library changes nothing.
"""

from __future__ import annotations

import gc

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
