"""Bounded memory: the peak RSS of `check` does not grow with the size of the logs it reads.

The small version of benchmarks/memory.py (which checks a 1 GB detail log and a 2 GB accuracy log
against a 300 MB limit): the sample submission's Offline result with a detail log and an accuracy
log of 40 MB, then of 120 MB, each checked in a fresh process whose peak RSS is its own high-water
mark (``VmHWM``; ``ru_maxrss`` from ``os.wait4`` would count the test runner's own size, which a
forked child carries over its exec, see ``memory.peak_rss_of``). The detail log is *hostile* (every record a new key with a large value, or an error
with a long message), the case where a parser that keeps "the first value of each key" would keep
everything. The peak must stay under a constant bound, and tripling the files must not move it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import memory  # noqa: E402

#: the checker's own footprint (~75 MB of imports) plus the parsers' budgets, whatever the file sizes
PEAK_BOUND_MB = 220
#: how much tripling the logs may move the peak (noise of the allocator and the page cache accounting)
GROWTH_BOUND_MB = 24


@pytest.mark.parametrize("payload_bytes", [16384])
def test_peak_rss_is_independent_of_log_size(tmp_path, payload_bytes):
    small = memory.measure(40, 40, payload_bytes, workdir=tmp_path, hostile=True)
    large = memory.measure(120, 120, payload_bytes, workdir=tmp_path, hostile=True)
    for figures in (small, large):
        assert figures["exit_code"] in (0, 1), figures
        assert figures["peak_rss_mb"] < PEAK_BOUND_MB, repr(figures)
    assert large["detail_bytes"] >= 3 * small["detail_bytes"] - 1024 * 1024
    assert abs(large["peak_rss_mb"] - small["peak_rss_mb"]) < GROWTH_BOUND_MB, (small, large)
    assert not list(tmp_path.iterdir()), "the generated trees were not deleted"


def test_long_lived_block_pauses_and_freezes_only_in_a_tuned_process(monkeypatch):
    """checker.runtime.long_lived: in the CLI's tuned process the block runs without collections and
    what it made is frozen afterwards (no later collection walks it); a library caller's collector is
    left exactly as it was."""
    import gc

    from checker import runtime

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with runtime.long_lived():
        assert gc.isenabled()
        kept = [[index] for index in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # not tuned: nothing changed

    monkeypatch.setattr(runtime, "_TUNED", True)
    try:
        with runtime.long_lived():
            assert not gc.isenabled()
            kept = [[index] for index in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert gc.get_count()[0] < 100  # the young generation starts again after the freeze
        gc.disable()  # a collector the caller switched off stays off
        with runtime.long_lived():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()  # give the test session's objects back to the collector


def test_a_tuned_process_freezes_what_its_imports_made():
    """tune_for_batch moves the objects of the imports out of every later collection and makes
    young-generation collections rare (in a fresh process: it acts once per process)."""
    import subprocess

    script = ("import gc, checker.cli\n"
              "from checker.runtime import YOUNG_GENERATION_THRESHOLD, tune_for_batch\n"
              "before = gc.get_freeze_count()\n"
              "tune_for_batch()\n"
              "print(before, gc.get_freeze_count() > 10_000, gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["0", "True", "True"]
