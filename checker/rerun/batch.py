"""Running a batch of LoadGen tests: pairs side by side, progress on a terminal.

Shared by ``demo`` and ``rerun``. Two runs whose figures are compared with each other (a result
and its TEST01 run, TEST04-A and TEST04-B, the reference and the given model) run at the same
time, so that they see the same load on a small shared host.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TextIO

from checker.rerun.harness import RunOutcome, run_loadgen
from checker.rerun.settings import RunSpec


class Progress:
    """One self-overwriting status line on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = 0

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        padded = text.ljust(self.width)
        self.width = len(text)
        self.stream.write("\r" + padded)
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def pair_up(keys: Sequence[str]) -> list[list[str]]:
    """Group runs so that the two runs each compliance check compares run side by side.

    Timing on a small shared host drifts by 2x within seconds; two runs compared with each other
    (a result and its TEST01, TEST04-A and TEST04-B) are only comparable when they share the
    machine's conditions, so they run at the same time. Other runs are paired in plan order.
    """
    remaining = list(keys)
    groups: list[list[str]] = []
    for key in list(remaining):
        if key not in remaining:
            continue
        partner = _partner(key)
        if partner in remaining and partner != key:
            remaining.remove(key)
            remaining.remove(partner)
            groups.append([key, partner])
    while remaining:
        groups.append(remaining[:2])
        del remaining[:2]
    return groups


def _partner(key: str) -> str | None:
    """The run compared with ``key``: keys are ``<prefix>-performance``, ``<prefix>-TEST01``,
    ``<prefix>-TEST04-A``/``-B``, ``reference-accuracy``/``model-accuracy``."""
    prefix, _, rest = key.partition("-")
    pairs = {"performance": f"{prefix}-TEST01", "TEST01": f"{prefix}-performance",
             "TEST04-A": f"{prefix}-TEST04-B", "TEST04-B": f"{prefix}-TEST04-A"}
    if key in ("reference-accuracy", "model-accuracy"):
        return "model-accuracy" if key == "reference-accuracy" else "reference-accuracy"
    return pairs.get(rest)


def run_all(specs: dict[str, RunSpec], jobs: int, progress: Progress, label: str) -> dict[str, RunOutcome]:
    """Run the specs in subprocesses, pairs side by side (:func:`pair_up`), reporting each completion.

    ``jobs`` bounds the LoadGen processes alive at once; with 2 jobs one pair runs at a time.
    """
    outcomes: dict[str, RunOutcome] = {}
    total = len(specs)
    started = time.perf_counter()
    progress.update(f"{label}: 0/{total} LoadGen tests")
    groups = pair_up(list(specs)) if jobs >= 2 else [[key] for key in specs]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as runner, \
            ThreadPoolExecutor(max_workers=max(1, jobs // 2)) as grouper:

        def run_group(group: list[str]) -> list[tuple[str, RunOutcome]]:
            futures = {runner.submit(run_loadgen, specs[key]): key for key in group}
            return [(futures[f], f.result()) for f in as_completed(futures)]

        for finished in as_completed([grouper.submit(run_group, group) for group in groups]):
            for key, outcome in finished.result():
                outcomes[key] = outcome
            elapsed = time.perf_counter() - started
            done = ", ".join(key for key, _ in finished.result())
            progress.update(f"{label}: {len(outcomes)}/{total} LoadGen tests, {elapsed:4.1f} s (done: {done})")
    return outcomes
