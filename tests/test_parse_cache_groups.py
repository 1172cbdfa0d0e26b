"""The parse cache's layout (checker/engine/cache.py): one group file per submitter folder, written in
the background; per-file entries for what changed later; twins and arrays stored compactly; each
file's fingerprint read once in a cold run; round detection's results used only while unchanged."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from checker.check import run_check
from checker.engine import cache as cache_module
from checker.parse.base import ParseProblem, ParseResult
from checker.parse.kinds import parser_for
from checker.report.render import render
from checker.resources import data_dir

SAMPLE = data_dir("reference_runs") / "sample_submission"


def _json(document) -> str:
    return render(document.model_copy(update={"timings": {}}), "json")


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(SAMPLE, root)
    return root


def _tagged(cache: Path) -> Path:
    return cache / cache_module.cache_tag()


def _groups(cache: Path) -> list[Path]:
    return sorted(_tagged(cache).rglob("*.grp"))


def _own_entries(cache: Path) -> list[Path]:
    return sorted(_tagged(cache).rglob("*.pkl"))


def _changed(path: Path) -> None:
    """Replace ``path`` by a copy one newline longer (a new file, never written through a link)."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data + b"\n")


def test_cold_run_writes_one_group_file_per_submitter(corpus, tmp_path, parser_calls):
    tree = tmp_path / "tree"
    shutil.copytree(corpus("v0.7"), tree, copy_function=os.link)
    cache = tmp_path / "cache"
    cold = _json(run_check(tree, round_name="v0.7", jobs=1, cache=cache))
    groups = {cache_module._group_name(rel) for rel, _ in parser_calls}  # <division>/<submitter>
    # complete when the run returns: one group per submitter folder, no file of its own, no temporary
    assert len(_groups(cache)) == len(groups) > 5
    assert _own_entries(cache) == [] and not list(cache.rglob("*.tmp"))
    # every parse is in them: checked again under another configuration, nothing is parsed
    parser_calls.clear()
    selected = _json(run_check(tree, round_name="v0.7", jobs=1, cache=cache, select=("S", "P")))
    assert parser_calls == []
    assert selected == _json(run_check(tree, round_name="v0.7", jobs=1, select=("S", "P")))
    assert cold == _json(run_check(tree, round_name="v0.7", jobs=1))


def test_a_changed_file_gets_an_entry_of_its_own_and_the_group_stays(tree, tmp_path, parser_calls):
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    [group] = _groups(cache)
    before = group.stat()
    summary = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
    _changed(summary)
    parser_calls.clear()
    again = _json(run_check(tree, jobs=1, cache=cache))
    assert parser_calls == [(summary.relative_to(tree).as_posix(), "loadgen_summary")]
    assert again == _json(run_check(tree, jobs=1))
    after = group.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    [own] = _own_entries(cache)
    assert own.parent == group.with_suffix("")  # in the group's own folder
    # the group and that entry together serve every file
    expected = _json(run_check(tree, jobs=1, select=("P",)))
    parser_calls.clear()
    assert _json(run_check(tree, jobs=1, cache=cache, select=("P",))) == expected
    assert parser_calls == []


def test_most_of_a_group_changed_writes_it_again(tree, tmp_path, parser_calls, monkeypatch):
    monkeypatch.setattr(cache_module, "GROUP_MIN", 2)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    parsed = sorted({rel for rel, _ in parser_calls})
    [group] = _groups(cache)
    inode = group.stat().st_ino
    for rel in parsed:  # every file changes (a regenerated submission)
        _changed(tree / rel)
    parser_calls.clear()
    again = _json(run_check(tree, jobs=1, cache=cache))
    assert sorted({rel for rel, _ in parser_calls}) == parsed
    assert again == _json(run_check(tree, jobs=1))
    assert group.stat().st_ino != inode and _own_entries(cache) == []  # one new group, no entries
    parser_calls.clear()
    run_check(tree, jobs=1, cache=cache, select=("P",))
    assert parser_calls == []


def test_an_unreadable_group_is_a_miss_and_is_replaced(tree, tmp_path, parser_calls):
    cache = tmp_path / "cache"
    expected = _json(run_check(tree, jobs=1, select=("P",)))
    parsed = set(parser_calls)  # what these rules read
    run_check(tree, jobs=1, cache=cache)
    [group] = _groups(cache)
    group.write_bytes(group.read_bytes()[: group.stat().st_size // 2])  # truncated
    parser_calls.clear()
    assert _json(run_check(tree, jobs=1, cache=cache, select=("P",))) == expected
    assert set(parser_calls) == parsed  # every file parsed again
    parser_calls.clear()
    run_check(tree, jobs=1, cache=cache, select=("S",))
    assert parser_calls == []  # replaced by a whole one
    group.write_bytes(b"not a group")
    expected = _json(run_check(tree, jobs=1, select=("C",)))
    parser_calls.clear()
    assert _json(run_check(tree, jobs=1, cache=cache, select=("C",))) == expected
    assert parser_calls  # read again


def _sample_result(tree: Path, kind: str, name: str) -> tuple[Path, ParseResult]:
    path = sorted(tree.rglob(name))[0]
    return path, parser_for(kind)(path, root=tree)


def _read_back(cache: Path, tree: Path, keys: list[tuple[str, str, tuple]]) -> list[ParseResult | None]:
    disk = cache_module.ParseCache(cache)
    return [disk.load(tree, rel, kind, stamp) for rel, kind, stamp in keys]


def test_twins_are_stored_once_and_read_back_with_their_own_paths(tree, tmp_path):
    path, first = _sample_result(tree, "loadgen_summary", "mlperf_log_summary.txt")
    rel = path.relative_to(tree).as_posix()
    problem = ParseProblem(path=rel, code="odd", expected="x", found="y", message="an odd line")
    first = first.model_copy(update={"problems": [problem]})
    others = [f"{rel}.copy{number}" for number in range(3)]
    twins = [first.model_copy(update={"path": other, "problems": [problem.model_copy(update={"path": other})]})
             for other in others]
    stamp = (1, 2, "x")
    cache = tmp_path / "cache"
    disk = cache_module.ParseCache(cache)
    for key, result in zip([rel, *others], [first, *twins], strict=True):
        disk.store(tree, key, "loadgen_summary", stamp, result)
    disk.flush()
    [group] = _groups(cache)
    alone = tmp_path / "alone"
    disk = cache_module.ParseCache(alone)
    disk.store(tree, rel, "loadgen_summary", stamp, first)
    disk.flush()
    assert group.stat().st_size < 1.2 * _groups(alone)[0].stat().st_size  # the twins add only their names

    loaded = _read_back(cache, tree, [(key, "loadgen_summary", stamp) for key in [rel, *others]])
    assert loaded == [first, *twins]
    assert all(result.model is loaded[0].model for result in loaded)  # one model, as the memo shares it
    assert [result.problems[0].path for result in loaded] == [rel, *others]
    assert _read_back(cache, tree, [(rel, "loadgen_summary", (1, 2, "other"))]) == [None]  # stale: a miss


def test_arrays_come_back_equal_and_writable(tree, tmp_path):
    path, result = _sample_result(tree, "accuracy_log", "mlperf_log_accuracy.json")
    arrays = {name: value for name, value in vars(result.model).items() if isinstance(value, np.ndarray)}
    assert arrays, "the accuracy log model holds no arrays any more: this test needs another file"
    rel = path.relative_to(tree).as_posix()
    cache = tmp_path / "cache"
    disk = cache_module.ParseCache(cache)
    disk.store(tree, rel, "accuracy_log", (1, 2, "x"), result)
    disk.flush()
    [loaded] = _read_back(cache, tree, [(rel, "accuracy_log", (1, 2, "x"))])
    # parsed again later (a changed file): an entry of its own beside the group, arrays alike
    disk = cache_module.ParseCache(cache)
    disk.store(tree, rel, "accuracy_log", (1, 3, "y"), result)
    disk.flush()
    assert len(_own_entries(cache)) == 1
    [own] = _read_back(cache, tree, [(rel, "accuracy_log", (1, 3, "y"))])
    for back_result in (loaded, own):
        assert back_result is not None and back_result is not result
        for name, value in vars(result.model).items():
            back = getattr(back_result.model, name)
            if isinstance(value, np.ndarray):
                assert back.dtype == value.dtype and np.array_equal(back, value), name
                back[...] = back  # an array over the entry's bytes, still writable
            else:
                assert back == value, name


def test_a_cold_run_reads_each_fingerprint_once(tree, tmp_path, monkeypatch):
    read: Counter[Path] = Counter()
    real = cache_module.read_file

    def counting(path, follow=True):
        read[Path(path)] += 1
        return real(path, follow)

    monkeypatch.setattr(cache_module, "read_file", counting)
    probed = set()
    from checker.engine import roundsel

    real_probe = roundsel._probe

    def probe(tree_, path):
        probed.add(Path(path))
        return real_probe(tree_, path)

    monkeypatch.setattr(roundsel, "_probe", probe)
    run_check(tree, jobs=1, cache=tmp_path / "cache")
    files = [p for p in (tree / "closed").rglob("*") if p.is_file()]
    assert files and all(read[p] >= 1 for p in files)
    twice = {p for p in files if read[p] > 1} - probed  # round detection reads what it probes first
    assert not twice, sorted(twice)


def test_a_log_changed_after_round_detection_read_it_is_read_again(tree, tmp_path, parser_calls, monkeypatch):
    """Round detection parses a few logs before the partition stamps are taken and hands them on:
    one changed in between is parsed again, so that the stamp describes what the checks read."""
    from checker.engine import partition_cache

    detail = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))[0]
    rel = detail.relative_to(tree).as_posix()
    real = partition_cache.PartitionCache.stamp

    def stamp_after_a_change(self, submission):
        if detail.read_bytes().endswith(b"\n\n"):
            return real(self, submission)
        _changed(detail)
        return real(self, submission)

    monkeypatch.setattr(partition_cache.PartitionCache, "stamp", stamp_after_a_change)
    cache = tmp_path / "cache"
    cold = _json(run_check(tree, jobs=1, cache=cache))
    assert parser_calls.count((rel, "loadgen_detail")) == 2  # by round detection, then by its partition
    monkeypatch.setattr(partition_cache.PartitionCache, "stamp", real)
    expected = _json(run_check(tree, jobs=1))
    assert cold == expected
    parser_calls.clear()
    assert _json(run_check(tree, jobs=1, cache=cache)) == expected
    assert (rel, "loadgen_detail") not in parser_calls


def test_large_groups_written_beside_the_checks_are_complete_when_the_run_returns(tree, tmp_path, parser_calls,
                                                                                  monkeypatch):
    monkeypatch.setattr(cache_module, "BACKGROUND_BYTES", 0)  # every group by the writer thread
    started: list[str] = []
    real = cache_module._in_background

    def counting(write):
        started.append("write")
        return real(write)

    monkeypatch.setattr(cache_module, "_in_background", counting)
    cache = tmp_path / "cache"
    cold = _json(run_check(tree, jobs=1, cache=cache))
    assert started and cache_module._writer is None  # joined before the run returned
    assert len(_groups(cache)) == 1 and not list(cache.rglob("*.tmp"))
    assert cold == _json(run_check(tree, jobs=1))
    expected = _json(run_check(tree, jobs=1, select=("P",)))
    parser_calls.clear()
    assert _json(run_check(tree, jobs=1, cache=cache, select=("P",))) == expected
    assert parser_calls == []


def test_a_group_that_cannot_be_opened_is_a_miss_not_a_crash(tree, tmp_path, monkeypatch):
    """Reading a group file fails with something other than OSError (out of memory, a bug): the run
    finishes with the report of an uncached run and writes no group."""
    def failing(self, root, group):
        raise MemoryError("simulated")

    monkeypatch.setattr(cache_module.ParseCache, "_group", failing)  # at lookup and at write time
    cache = tmp_path / "cache"
    report = run_check(tree, jobs=1, cache=cache)
    assert _json(report) == _json(run_check(tree, jobs=1))
    assert not any(cache.rglob("*.grp"))


def test_results_nearly_as_large_as_their_file_are_not_kept(corpus, tmp_path):
    """A detail log with a megabyte-long sample set parses into a result about its own size: cheaper
    to parse again than to keep (cache.worth_keeping). Small results and ones that condense their
    file are kept, in the group file and in per-file entries alike."""
    root = corpus("v1.0")

    def share(path: Path) -> float:  # of the file, taken by its result's pickle
        encoded = cache_module._encode(parser_for("loadgen_detail")(path, root=root))
        return sum(len(chunk) for chunk in encoded) / path.stat().st_size

    large = sorted(p for p in root.rglob("mlperf_log_detail.txt") if p.stat().st_size > 1 << 20)
    big = max(large[:12], key=share)
    small = next(big.parent.glob("mlperf_log_summary.txt"))
    keys = []
    for path, kind in ((big, "loadgen_detail"), (small, "loadgen_summary")):
        result = parser_for(kind)(path, root=root)
        stamp = (path.stat().st_size, 0, "x")
        size = sum(len(chunk) for chunk in cache_module._encode(result))
        keys.append((path.relative_to(root).as_posix(), kind, stamp, result, size))
    assert keys[0][4] > cache_module.LARGE_RESULT_BYTES and keys[0][4] > cache_module.CONDENSED * big.stat().st_size
    cache = tmp_path / "cache"
    disk = cache_module.ParseCache(cache)
    for rel, kind, stamp, result, _ in keys:
        disk.store(root, rel, kind, stamp, result)
    disk.flush()
    back = _read_back(cache, root, [(rel, kind, stamp) for rel, kind, stamp, _, _ in keys])
    assert back[0] is None and back[1] == keys[1][3]
    # later, each parsed again on its own (per-file entries beside the group): the same choice
    disk = cache_module.ParseCache(cache)
    for rel, kind, stamp, result, _ in keys:
        disk.store(root, rel, kind, (stamp[0], 1, "y"), result)
    disk.flush()
    assert len(_groups(cache)) == 1 and len(_own_entries(cache)) == 1
    back = _read_back(cache, root, [(rel, kind, (stamp[0], 1, "y")) for rel, kind, stamp, _, _ in keys])
    assert back[0] is None and back[1] == keys[1][3]


def test_worth_keeping_weighs_size_against_the_file():
    small, large = [b"x" * 1000], [b"x" * (cache_module.LARGE_RESULT_BYTES + 1)]
    assert cache_module.worth_keeping(small, (10, 0, ""))  # small: always kept
    assert not cache_module.worth_keeping(large, (len(large[0]) + 100, 0, ""))  # about the file's size
    assert cache_module.worth_keeping(large, (8 * len(large[0]), 0, ""))  # condenses its file
    with_arrays = [b"x" * 1000, memoryview(large[0])]  # an accuracy log's arrays, out of band
    assert cache_module.worth_keeping(with_arrays, (len(large[0]), 0, ""))


def test_a_run_removes_the_parse_results_of_other_tags_it_marked(tmp_path):
    """After a run, the cache folder holds this version's parse results (marked as the tool's) and no
    other marked tag folder; a folder named like a tag but unmarked, a link to a marked folder and
    anything else are left alone."""
    import os

    from checker.check import run_check
    from checker.engine import cache as cache_module
    from checker.resources import data_dir

    cache = tmp_path / "cache"
    old = cache / "0123456789abcdef"
    (old / "ab").mkdir(parents=True)
    (old / "ab" / "x.grp").write_bytes(b"old results")
    (old / cache_module.TAG_MARKER).write_text("x")
    foreign = cache / "fedcba9876543210"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / cache_module.TAG_MARKER).write_text("x")
    os.symlink(elsewhere, cache / "aaaaaaaaaaaaaaaa")
    (cache / "notes.txt").write_text("mine")

    run_check(data_dir("reference_runs") / "sample_submission", cache=cache)
    own = cache / cache_module.cache_tag()
    assert (own / cache_module.TAG_MARKER).is_file() and any(own.rglob("*.grp"))
    assert not old.exists()
    assert (foreign / "keep.txt").read_text() == "not ours"
    assert (elsewhere / cache_module.TAG_MARKER).is_file() and (cache / "aaaaaaaaaaaaaaaa").is_symlink()
    assert (cache / "notes.txt").read_text() == "mine"
