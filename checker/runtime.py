"""Process-wide settings of a checking run (the CLI and its worker processes apply them).

Only for processes mlperf-audit owns: importing :mod:`checker` as a library changes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

#: Allocations between two young-generation collections (CPython's default is 700).
YOUNG_GENERATION_THRESHOLD = 50_000
_TUNED = False


def tune_for_batch() -> None:
    """Make cyclic garbage collection rare and keep it off the objects that live for the whole run.

    Parsers create millions of small objects (entries, sourced values, tuples) that never form
    reference cycles; with CPython's default thresholds the collector walks them every 700
    allocations, about 6 % of a corpus-wide parse (benchmarks/parse_corpus.py shows both). Cycles
    are still collected, only in larger batches, so memory stays bounded. ``gc.freeze`` moves what
    the imports created (pydantic schemas, numpy, rule packs) out of every later collection. It is
    not preceded by a full collection: that took 7 ms of every run to free some 150 objects the
    imports left in cycles, which are kept instead.
    """
    global _TUNED
    if _TUNED:  # once per process (tests invoke the CLI many times in one process)
        return
    _TUNED = True
    single_threaded_blas()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)


def single_threaded_blas() -> None:
    """Have numpy's OpenBLAS start no threads of its own in this process and its children (unless
    the user set ``OPENBLAS_NUM_THREADS``); effective before numpy's first import.

    The checks multiply no matrices, and the work is spread over processes already: OpenBLAS's
    threads only spin against the other processes for the cores. A worker importing numpy while
    its parent works took 80-110 ms instead of 40, and a corpus round's ``check --jobs 2`` was
    45-80 ms faster with them gone (v0.7 641 -> 594 ms, v1.0 734 -> 651 ms, medians of 8)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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


#: what :func:`keep_until_exit` holds
_KEPT: list[object] = []


def keep_until_exit(value: object) -> None:
    """In a tuned process (see :func:`tune_for_batch`), hold ``value`` until the process ends: a run's
    findings and partitions, no longer needed once the report is built, are then never freed one by
    one (about 15 ms for the 17,000 findings of a whole repository) since :func:`finish` skips the
    teardown. A library caller's objects are left alone, freed as usual."""
    if _TUNED:
        _KEPT.append(value)


def finish(done: SystemExit) -> NoReturn:
    """End the tool's own process as ``done`` asks, without the interpreter's teardown when nothing
    is left to finish: freeing every object of a large run one by one (a report of 16,000 findings,
    the parsed trees, the imported modules) takes 20-40 ms that no one waits for. The output streams
    are flushed first. With a child process or another thread still running (a parse-cache write in
    the background, say), an exit code that is not a number, or a stream that cannot be flushed (a
    closed pipe), the usual exit is taken: it waits for them and reports what it reports."""
    code = done.code
    if not (code is None or isinstance(code, int)) or not _nothing_left_running():
        raise done
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the usual exit reports it
            raise done from None
    os._exit(code or 0)


def _nothing_left_running() -> bool:
    processes = sys.modules.get("multiprocessing")
    return only_thread() and not (processes is not None and processes.active_children())


def only_thread() -> bool:
    """Whether no other thread runs in this process (before it forks, or ends without teardown). The
    accuracy-log parser's reading thread, left idle by a large file parsed earlier, is stopped first
    when it is the only other one: then nothing can be using it (the caller is not parsing), and
    the next large file starts it again."""
    others = [thread for thread in threading.enumerate() if thread is not threading.current_thread()]
    accuracy_log = sys.modules.get("checker.parse.accuracy_log")  # not loaded: no such thread
    if others and accuracy_log is not None and all(
            thread.name.startswith(accuracy_log.READER_THREAD_NAME) for thread in others):
        with contextlib.suppress(Exception):
            accuracy_log.stop_reader_thread()
    return threading.active_count() == 1
