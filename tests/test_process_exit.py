"""The ``mlperf-audit`` command ends its process without the interpreter's teardown
(checker.runtime.finish), and only when nothing is left to finish: the output is whole, the exit code
is the command's, the parse cache is written, and a closed pipe is reported as Python reports it."""

import json
import subprocess
import sys
from pathlib import Path

from threads import another_thread

from checker.resources import data_dir
from checker.runtime import _nothing_left_running

SAMPLE = data_dir("reference_runs") / "sample_submission"


def _check(*extra: str, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "checker.cli", "check", str(SAMPLE), "--no-job-summary", *extra]
    return subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, timeout=300, check=False)


def _without_timings(output: bytes) -> dict:
    document = json.loads(output)
    document.pop("timings")
    return document


def test_the_whole_report_and_the_exit_code(tmp_path: Path):
    done = _check("--format", "json", "--cache", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["summary"]["results"] == 4  # every byte of the report was written
    assert any((tmp_path / "cache").rglob("*"))
    again = _check("--format", "json", "--cache", str(tmp_path / "cache"))
    assert _without_timings(again.stdout) == _without_timings(done.stdout)
    small = _check("--format", "csv")  # a report of under 2 kB, whole
    assert small.returncode == 0 and small.stdout.endswith(b"\n") and len(small.stdout.splitlines()) == 5
    failing = _check("--format", "json", "--round", "v0.0")
    assert failing.returncode == 2 and b"unknown round" in failing.stderr and b"Traceback" not in failing.stderr


def test_a_closed_pipe_is_reported():
    reader = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE)
    reader.wait(timeout=60)  # the pipe's reading end is closed before anything is written
    try:
        done = _check("--format", "json", stdout=reader.stdin)
    finally:
        reader.stdin.close()
    assert done.returncode == 2 and b"Broken pipe" in done.stderr and b"Traceback" not in done.stderr


def test_a_background_write_still_running_is_finished_first(tmp_path: Path):
    """finish() with the parse cache's writer thread still at work: the usual exit, which waits for
    it, so the entry it writes is on disk."""
    entry = tmp_path / "entry"
    script = (
        "import time, sys\n"
        "from pathlib import Path\n"
        "from checker.engine.cache import _in_background\n"
        "from checker.runtime import finish\n"
        f"_in_background(lambda: (time.sleep(0.5), Path({str(entry)!r}).write_text('written')))\n"
        "finish(SystemExit(3))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert done.returncode == 3, done.stderr[-2000:]
    assert entry.read_text() == "written"


def test_work_still_running_takes_the_usual_exit():
    assert _nothing_left_running()
    with another_thread():
        assert not _nothing_left_running()
    assert _nothing_left_running()


def test_only_the_commands_own_process_keeps_a_runs_objects_until_it_ends(monkeypatch):
    """keep_until_exit holds a run's outcome in the tuned process of the command (it ends without
    teardown), and nothing for a library caller, whose runs must not pile up."""
    from checker import runtime
    from checker.check import run_check

    monkeypatch.setattr(runtime, "_KEPT", [])
    run_check(SAMPLE)
    assert runtime._KEPT == []
    monkeypatch.setattr(runtime, "_TUNED", True)
    run_check(SAMPLE)
    assert [type(value).__name__ for value in runtime._KEPT] == ["RunOutcome"]


def test_numpy_starts_no_blas_threads_in_the_tools_processes():
    """tune_for_batch (the command's process and its workers) leaves numpy's OpenBLAS single-threaded,
    so that it starts no thread to spin against the worker processes; a user's own setting stays."""
    import os

    import pytest

    if not Path("/proc/self/task").is_dir():
        pytest.skip("counts threads through /proc")
    script = ("import os\n"
              "from checker.runtime import tune_for_batch\n"
              "tune_for_batch()\n"
              "import numpy\n"
              "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["1", "1"]
    mine = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**env, "OPENBLAS_NUM_THREADS": "2"})
    assert mine.stdout.split()[0] == "2"
