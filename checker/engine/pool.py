"""Worker processes for checking partitions in parallel, started before their work is known.

A fresh worker spends about 0.15 s getting ready: numpy, the parser modules, the rule checks and the
LoadGen table. ``check`` therefore starts its pool right after discovering the tree, and the workers
get ready while the parent process detects the round and loads its pack. The job (pack, rules,
options) then travels with each task (about 60 KB pickled, a millisecond each way).

Processes are forked where that is safe (no other thread in the parent), else spawned.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from checker.runtime import only_thread


def pool_context() -> multiprocessing.context.BaseContext:
    """Fork where it is safe (no other threads: nothing to deadlock on), else spawn."""
    if fork_is_safe():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def fork_is_safe() -> bool:
    """Whether this process may fork: it can, and no other thread runs (one that holds a lock at the
    fork would hold it for ever in the child); see :func:`checker.runtime.only_thread`."""
    return "fork" in multiprocessing.get_all_start_methods() and only_thread()


def warm_up() -> None:
    """What every partition needs first, loaded while the parent is still busy (each step optional:
    a failure here only means the partition loads it later, and reports any error itself)."""
    from checker.runtime import tune_for_batch

    tune_for_batch()  # a spawned worker does not inherit the CLI's collector settings (a forked one does)

    def parsers() -> None:
        from checker.parse.kinds import PARSERS, parser_for

        for kind in PARSERS:
            parser_for(kind)

    def checks() -> None:
        from checker.engine.registry import load_all_checks

        load_all_checks()

    def table() -> None:
        from checker.engine.loadgen_table import loadgen_table

        loadgen_table()

    def numpy() -> None:
        import numpy  # noqa: F401 - the accuracy logs' parser and checks use it

    for step in (numpy, parsers, checks, table):
        with contextlib.suppress(Exception):  # warming up is an optimisation only
            step()


def _ready() -> bool:
    return True


class WorkerPool:
    """``workers`` processes, launched (and warming up) as soon as the pool is made."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=warm_up)
        # launch every worker now (forked ones all start with the first task, spawned ones one per
        # waiting task); they warm up while the caller goes on
        for _ in range(workers):
            self._executor.submit(_ready)

    def submit(self, function: Callable[..., Any], job: Any, *items: Any) -> Future:
        """``function(job, *items)`` in a worker (``function`` must be importable by name)."""
        return self._executor.submit(function, job, *items)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
