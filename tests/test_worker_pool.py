"""The worker pool of `check --jobs N` starts before the round is known and gives the report of --jobs 1."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

import checker.check as check_module
from checker.check import run_check
from checker.engine.pool import WorkerPool


def _comparable(document) -> str:
    data = document.model_dump(mode="json")
    data.pop("timings")
    return json.dumps(data, sort_keys=True)


@pytest.fixture
def workers_at_detection(monkeypatch) -> list[int]:
    """How many worker processes were running each time a round was detected."""
    seen: list[int] = []
    real = check_module.detect_round

    def detecting(*args, **kwargs):
        seen.append(len(multiprocessing.active_children()))
        return real(*args, **kwargs)

    monkeypatch.setattr(check_module, "detect_round", detecting)
    return seen


def test_workers_start_before_the_round_is_detected(corpus, corpus_report, workers_at_detection):
    """Two workers are running (and warming up) while the parent detects the round; the report is
    the one of --jobs 1."""
    seen = workers_at_detection
    report = run_check(corpus("v0.7"), round_name="v0.7", jobs=2)
    assert seen == [2]
    assert _comparable(report) == _comparable(corpus_report("v0.7"))
    assert multiprocessing.active_children() == []  # the pool is closed with the run


def test_small_tree_or_one_job_starts_no_worker(corpus, workers_at_detection):
    seen = workers_at_detection
    run_check(corpus("v0.7"), jobs=1, submitter="Dividiti")
    run_check(corpus("v0.7"), jobs=2, submitter="Mobilint")  # one submitter: nothing to spread
    assert seen == [0, 0]


def _describe(job: dict, item: int) -> tuple[int, int]:
    return os.getpid(), job["base"] + item


def test_the_job_travels_with_each_task():
    with WorkerPool(2) as pool:
        job = {"base": 100, "payload": list(range(1000))}
        answers = [future.result() for future in [pool.submit(_describe, job, i) for i in range(20)]]
        assert [value for _, value in answers] == [100 + i for i in range(20)]
        assert {pid for pid, _ in answers} <= {child.pid for child in multiprocessing.active_children()}
        assert pool.submit(_describe, {"base": 7}, 1).result()[1] == 8
