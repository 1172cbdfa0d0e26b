"""The worker pool of `check --jobs N` starts before the round is known and gives the report of --jobs 1."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest
from threads import another_thread

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


def test_a_cold_cached_run_checks_while_it_stamps(corpus, corpus_report, tmp_path, monkeypatch):
    """With --cache, the workers start once two missed submitters are worth them and check while the
    rest of the tree is stamped; each task carries its files' fingerprints. The report is unchanged."""
    from checker.engine import partition_cache, runner

    events: list[str] = []
    real_stamp, real_pool = partition_cache.PartitionCache.stamp, runner.WorkerPool

    def stamping(self, submission):
        events.append("stamp")
        return real_stamp(self, submission)

    class Pool(real_pool):
        def __init__(self, workers: int) -> None:
            events.append("pool")
            super().__init__(workers)

        def submit(self, function, job, *items):
            if function is runner._partition_task:
                tree, known = items
                files = {os.fspath(p) for p in tree.submissions[0].path.rglob("*") if p.is_file()}
                assert known and {path for path, _, _ in known} == files  # every file's fingerprint
                events.append("task")
            return super().submit(function, job, *items)

    monkeypatch.setattr(partition_cache.PartitionCache, "stamp", stamping)
    monkeypatch.setattr(runner, "WorkerPool", Pool)
    report = run_check(corpus("v0.7"), round_name="v0.7", jobs=2, cache=tmp_path / "cache")
    assert _comparable(report) == _comparable(corpus_report("v0.7"))
    assert events.count("pool") == 1 and events.count("task") == events.count("stamp") > 2
    assert events.index("pool") == 2 and events[:5] == ["stamp", "stamp", "pool", "task", "task"]
    assert multiprocessing.active_children() == []


def test_a_task_remembers_its_fingerprints_only_while_it_runs(tmp_path, monkeypatch):
    """In the worker, the handed-over fingerprints serve as the parse cache's keys (no file's head and
    tail is read again) and are forgotten when the partition is done."""
    import shutil

    from checker.discover import discover
    from checker.engine import cache, runner
    from checker.engine.partition_cache import PartitionCache
    from checker.engine.rulepack import load_pack
    from checker.resources import data_dir

    tree_path = tmp_path / "tree"
    shutil.copytree(data_dir("reference_runs") / "sample_submission", tree_path)
    tree = discover(tree_path)
    pack = load_pack("sample")
    specs = [spec for spec in runner.enabled_rules(pack, (), ()) if spec.scope != "tree"]
    job = runner._Job(pack=pack, specs=specs, select=(), ignore=(), options={}, cache_dir=tmp_path / "cache")
    store = PartitionCache(job.cache_dir, job, tree)
    submission = tree.submissions[0]
    store.load(submission, store.stamp(submission))  # a miss: its fingerprints are handed over
    known = store.handoff(submission)
    cache.forget()  # as in a worker process that never saw the stamp
    read: list[str] = []
    real = cache.read_file
    monkeypatch.setattr(cache, "read_file", lambda path, follow=True: read.append(os.fspath(path)) or real(path, follow))
    seen_during: list[int] = []
    real_check = runner.check_partition

    def checking(job, part, donated=None):
        seen_during.append(sum(1 for path, _, _ in known if path in cache._KNOWN))
        return real_check(job, part, donated)

    monkeypatch.setattr(runner, "check_partition", checking)
    partition = runner._partition_task(job, runner._partition_tree(tree, submission), known)
    assert known and seen_during == [len(known)]
    assert not any(path in cache._KNOWN for path, _, _ in known)
    assert partition.parser_calls > 10 and read == []  # files parsed, none read for a fingerprint
    cache.run_done()
    read.clear()
    runner._partition_task(job, runner._partition_tree(tree, submission))  # without them: read again
    assert read


def test_fork_is_safe_once_the_parsers_idle_reading_thread_is_stopped(tmp_path):
    """A large accuracy log leaves the parser's reading thread behind; it alone does not stop a fork
    (it is stopped, and the next large file starts it again), any other thread does."""
    import threading

    from checker.engine.pool import fork_is_safe, pool_context
    from checker.parse.accuracy_log import READER_THREAD_NAME, parse_accuracy_log

    log = tmp_path / "mlperf_log_accuracy.json"
    entries = ",\n".join(f'{{ "seq_id" : {i}, "qsl_idx" : {i % 500}, "data" : "0A0B0C0D" }}' for i in range(30000))
    log.write_text(f"[\n{entries}\n]\n")
    assert log.stat().st_size > 1 << 20

    def reader_alive() -> bool:
        return any(t.name.startswith(READER_THREAD_NAME) for t in threading.enumerate())

    assert parse_accuracy_log(log).model.entry_count == 30000
    assert reader_alive()
    assert fork_is_safe() and not reader_alive()
    assert pool_context().get_start_method() == "fork"
    assert parse_accuracy_log(log).model.entry_count == 30000  # it starts again
    assert reader_alive()

    with another_thread():
        assert not fork_is_safe()
        assert pool_context().get_start_method() == "spawn"
