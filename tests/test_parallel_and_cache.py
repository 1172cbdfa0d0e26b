"""`check --jobs N` gives the report of `--jobs 1`; `--cache DIR` re-parses only what changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.check import run_check
from checker.cli import main
from checker.engine import runner
from checker.resources import data_dir

SAMPLE = data_dir("reference_runs") / "sample_submission"


def _comparable(document) -> str:
    data = document.model_dump(mode="json")
    data.pop("timings")
    return json.dumps(data, sort_keys=True)


@pytest.mark.parametrize("round_name", ["v0.7", "v1.0"])
def test_jobs_2_gives_the_report_of_jobs_1(corpus, corpus_report, round_name):
    tree = corpus(round_name)
    assert len(list(tree.glob("*/*/results/*/*/*"))) >= runner.POOL_MIN_RESULTS  # the pool really runs
    parallel = run_check(tree, round_name=round_name, jobs=2)
    assert _comparable(parallel) == _comparable(corpus_report(round_name))


def test_cache_warm_run_reparses_only_the_changed_file(tmp_path, parser_calls):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"

    cold = run_check(tree, jobs=1, cache=cache)
    parsed_cold = list(parser_calls)
    assert parsed_cold and len(set(parsed_cold)) == len(parsed_cold)  # each file parsed once, detection included
    uncached = run_check(tree, jobs=1)
    assert _comparable(uncached) == _comparable(cold)

    parser_calls.clear()
    warm = run_check(tree, jobs=1, cache=cache)
    assert parser_calls == []
    assert _comparable(warm) == _comparable(cold)

    changed = next(rel for rel, kind in parsed_cold if kind == "loadgen_summary")
    path = tree / changed
    path.write_bytes(path.read_bytes() + b"\n")  # same content to a reader, but a different file
    parser_calls.clear()
    again = run_check(tree, jobs=1, cache=cache)
    assert parser_calls == [(changed, "loadgen_summary")]
    assert _comparable(again) == _comparable(run_check(tree, jobs=1))


def test_cache_entry_for_another_version_of_the_file_is_a_miss(tmp_path, parser_calls):
    """Same size and mtime but other bytes (e.g. `cp -p` of another file): the digest catches it."""
    import os

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    rel = next(rel for rel, kind in parser_calls if kind == "loadgen_summary")
    path = tree / rel
    data = path.read_bytes()
    stat = path.stat()
    index = data.index(b"Result is")
    path.write_bytes(data[:index] + data[index:].replace(b"VALID", b"DILAV", 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    parser_calls.clear()
    run_check(tree, jobs=1, cache=cache)
    assert parser_calls == [(rel, "loadgen_summary")]


def test_cache_inside_the_tree_is_refused(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    result = CliRunner().invoke(main, ["check", str(tree), "--cache", str(tree / "closed" / ".cache")])
    assert result.exit_code == 2
    assert "inside the checked tree" in result.output
    assert not (tree / "closed" / ".cache").exists()


def test_cli_jobs_and_cache(tmp_path):
    cache = tmp_path / "cache"
    outputs = []
    for jobs in ("1", "2"):
        result = CliRunner().invoke(main, ["check", str(SAMPLE), "--format", "json", "--jobs", jobs,
                                           "--cache", str(cache)])
        assert result.exit_code in (0, 1), result.output
        data = json.loads(result.output)
        data.pop("timings")
        outputs.append(data)
    assert outputs[0] == outputs[1]
    assert any(cache.rglob("*.grp"))  # the parse cache's group files, not only the partition entries
    assert any((cache / "partitions").rglob("*.pkl"))


# -- the partition cache: a warm run takes unchanged submitters' results from the cache ----------

def _json_bytes(document) -> str:
    """The `--format json` output, byte for byte, with the timings (the only run-dependent field) emptied."""
    from checker.report.render import render

    return render(document.model_copy(update={"timings": {}}), "json")


def _linked_copy(source: Path, target: Path) -> None:
    import os

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, symlinks=True)


@pytest.fixture
def partition_stats(monkeypatch):
    """The engine's stats of every run_checks call in this process."""
    seen: list[dict] = []
    real = runner.run_checks

    def recording(*args, **kwargs):
        outcome = real(*args, **kwargs)
        seen.append(outcome.stats)
        return outcome

    import checker.check as check_module

    monkeypatch.setattr(check_module, "run_checks", recording)
    return seen


@pytest.mark.parametrize("jobs", [1, 2])
def test_partition_cache_warm_equals_cold_equals_uncached(corpus, tmp_path, partition_stats, parser_calls, jobs):
    tree = tmp_path / "tree"
    _linked_copy(corpus("v0.7"), tree)
    cache = tmp_path / "cache"
    uncached = _json_bytes(run_check(tree, round_name="v0.7", jobs=jobs))
    cold = _json_bytes(run_check(tree, round_name="v0.7", jobs=jobs, cache=cache))
    partitions = partition_stats[-1]["partitions"]
    assert partition_stats[-1]["partition_cache_hits"] == 0 and partitions > 2
    parser_calls.clear()
    warm = _json_bytes(run_check(tree, round_name="v0.7", jobs=jobs, cache=cache))
    assert partition_stats[-1]["partition_cache_hits"] == partitions
    assert parser_calls == []
    assert warm == cold == uncached

    # one changed file: its submitter is checked again (parsing only that file), the others come from the cache
    changed = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
    data = changed.read_bytes()
    changed.unlink()  # never write through a hard link into the corpus
    changed.write_bytes(data.replace(b"Result is : VALID", b"Result is : INVALID", 1) + b"\n")
    parser_calls.clear()
    again = _json_bytes(run_check(tree, round_name="v0.7", jobs=jobs, cache=cache))
    assert partition_stats[-1]["partition_cache_hits"] == partitions - 1
    assert parser_calls == [(changed.relative_to(tree).as_posix(), "loadgen_summary")]
    assert again == _json_bytes(run_check(tree, round_name="v0.7", jobs=jobs))
    assert again != warm


def test_partition_cache_key_covers_the_configuration(tmp_path, partition_stats, monkeypatch):
    from checker.engine import partition_cache

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    selected = run_check(tree, jobs=1, cache=cache, select=("P",))
    assert partition_stats[-1]["partition_cache_hits"] == 0  # other rules: another entry
    assert _json_bytes(selected) == _json_bytes(run_check(tree, jobs=1, select=("P",)))
    run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 1
    ignored = run_check(tree, jobs=1, cache=cache, ignore=("S004", "S005"))
    assert partition_stats[-1]["partition_cache_hits"] == 0
    assert _json_bytes(ignored) == _json_bytes(run_check(tree, jobs=1, ignore=("S004", "S005")))
    # another checker (any source file of the package changed): a miss
    monkeypatch.setattr(partition_cache, "checker_digest", lambda: "another version")
    run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0


@pytest.mark.parametrize("settle", [2, 0])
def test_partition_cache_sees_changes_that_keep_size_and_mtime(tmp_path, partition_stats, monkeypatch, settle):
    """With ``settle`` 0 every file's fingerprint is remembered at once: the edit is seen by its stat."""
    import os

    from checker.engine import partition_cache

    monkeypatch.setattr(partition_cache, "SETTLE_S", settle)
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    path = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
    data = path.read_bytes()
    stat = path.stat()
    path.write_bytes(data.replace(b"VALID", b"DILAV", 1))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the head/tail digest sees it
    again = run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0
    assert _json_bytes(again) == _json_bytes(run_check(tree, jobs=1))
    # a new folder (discovery sees another result) is a change too
    (path.parent.parent.parent.parent / "Extra").mkdir()
    again = run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0
    assert _json_bytes(again) == _json_bytes(run_check(tree, jobs=1))


def test_partition_cache_errors_are_misses(tmp_path, partition_stats):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    expected = _json_bytes(run_check(tree, jobs=1))
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    entries = list((cache / "partitions").rglob("*.pkl"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40])  # truncated
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    assert partition_stats[-1]["partition_cache_hits"] == 0
    for entry in (cache / "partitions").rglob("*.pkl"):
        entry.write_bytes(b"not a pickle")
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    # a cache path that cannot be a folder: every write fails, the run does not
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    assert _json_bytes(run_check(tree, jobs=1, cache=blocked)) == expected


def test_partition_cache_symlinked_folder_is_never_cached(tmp_path, partition_stats):
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    result = sorted(tree.glob("*/*/results/*/*/*"))[0]
    moved = tree / "elsewhere"
    shutil.move(str(result), str(moved))
    result.symlink_to(moved, target_is_directory=True)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0


def test_round_detection_and_packs_come_from_the_cache(tmp_path, monkeypatch, parser_calls):
    from checker.engine import roundsel, rulepack

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    cold = _json_bytes(run_check(tree, jobs=1, cache=cache))  # round detected
    assert any((cache / "detection").rglob("*.pkl")) and any((cache / "packs").glob("*.pkl"))
    loaded: list[str] = []
    real = rulepack.load_pack

    def counting(name, directory=None):
        loaded.append(name)
        return real(name, directory)

    unvalidated: list[str] = []
    real_unvalidated = rulepack.load_round_markers

    def counting_unvalidated(name):
        unvalidated.append(name)
        return real_unvalidated(name)

    monkeypatch.setattr(rulepack, "load_pack", counting)
    monkeypatch.setattr(roundsel, "load_round_markers", counting_unvalidated)
    rulepack._LOADED.clear()
    parser_calls.clear()
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == cold
    assert loaded == unvalidated == [] and parser_calls == []  # no pack read or validated, no log parsed

    # a sampled log changes: detected again (from the packs' cache entries), same output as no cache
    detail = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))[0]
    detail.write_bytes(detail.read_bytes() + b"\n")
    rulepack._LOADED.clear()
    again = _json_bytes(run_check(tree, jobs=1, cache=cache))
    assert ("/".join(detail.relative_to(tree).parts), "loadgen_detail") in parser_calls
    assert loaded == [] and unvalidated  # detection compared the packs again; none was schema-checked
    assert again == _json_bytes(run_check(tree, jobs=1))

    # unusable pack entries are misses: the packs are loaded and validated again
    for entry in (cache / "packs").glob("*.pkl"):
        entry.write_bytes(b"garbage")
    for entry in (cache / "detection").rglob("*.pkl"):
        entry.write_bytes(b"garbage")
    rulepack._LOADED.clear()
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == again
    assert loaded


def test_partition_cache_reads_settled_files_once(tmp_path, partition_stats, monkeypatch):
    import os

    from checker.engine import cache as cache_module
    from checker.engine import partition_cache

    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)
    read: list[Path] = []
    real = cache_module.read_file

    def counting(path, follow=True):
        read.append(Path(path))
        return real(path, follow)

    monkeypatch.setattr(cache_module, "read_file", counting)  # every file read for a fingerprint
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    expected = _json_bytes(run_check(tree, jobs=1, cache=cache))
    files = [p for p in (tree / "closed").rglob("*") if p.is_file()]
    assert set(files) <= set(read)
    read.clear()
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    assert partition_stats[-1]["partition_cache_hits"] == 1
    probed = set(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))  # round detection's
    assert set(files) & set(read) <= probed and probed
    # a file replaced by another one (new inode) with the old size and mtime is read again
    path = sorted(tree.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
    info = path.stat()
    data = path.read_bytes().replace(b"VALID", b"DILAV", 1)
    path.unlink()
    path.write_bytes(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    again = run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0
    assert _json_bytes(again) == _json_bytes(run_check(tree, jobs=1))


def test_partition_stamps_reuse_the_listings_of_discovery(tmp_path, partition_stats, monkeypatch):
    """Discovery's link sweep lists every folder below a submitter folder; the partition stamps use
    those listings instead of listing the tree a second time (and still match: a warm run hits)."""
    import os

    from checker.engine import partition_cache

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    expected = _json_bytes(run_check(tree, jobs=1, cache=cache))
    stamping: list[bool] = []
    listed: list[str] = []
    real_digest, real_scandir = partition_cache.files_digest, os.scandir

    def digest(*args, **kwargs):
        stamping.append(True)
        try:
            return real_digest(*args, **kwargs)
        finally:
            stamping.pop()

    def scandir(path="."):
        if stamping:
            listed.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(partition_cache, "files_digest", digest)
    monkeypatch.setattr(os, "scandir", scandir)
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    assert partition_stats[-1]["partition_cache_hits"] == 1
    assert listed == []
    assert digest(tree / "closed" / "mlperf-audit-demo") is not None  # without listings it lists: the spy sees it
    assert listed


# -- a warm run of a large tree sweeps and stamps half of the submitter folders in a forked child --

def _tree_with_links(corpus, tmp_path) -> Path:
    """v0.7 (hard-linked) with a broken link in every submitter folder (so that both halves find
    oddities) and a link out of the tree."""
    import os

    tree = tmp_path / "tree"
    _linked_copy(corpus("v0.7"), tree)
    submitters = sorted(p for p in tree.glob("*/*") if p.is_dir())
    for submitter in submitters:  # below the scenario folders: found by the sweep, not the layout walk
        for run in sorted(submitter.glob("results/*/*/*/performance"))[:1]:
            os.symlink("nowhere.txt", run / "broken_link.txt")
    os.symlink(tmp_path, next(submitters[-1].glob("results/*/*/*/performance")) / "outside")
    return tree


def test_stamps_taken_in_two_processes_equal_those_taken_in_one(corpus, tmp_path, monkeypatch):
    from checker.discover import discover
    from checker.engine import cache as parse_cache
    from checker.engine import partition_cache, prestamp
    from checker.engine.partition_cache import partitions_folder, stamp_files

    monkeypatch.setattr(prestamp, "MIN_RESULTS", 0)
    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)  # the links just made count as settled
    tree = _tree_with_links(corpus, tmp_path)
    cache = tmp_path / "cache"
    run_check(tree, round_name="v0.7", jobs=1, cache=cache)  # remembers every folder's fingerprints
    parse_cache.wait_for_writes()  # no writer thread left: the process may fork
    serial = discover(tree)
    assert {o.kind for o in serial.oddities} >= {"broken_symlink", "symlink_outside"}
    assert len({o.scope.submitter for o in serial.oddities if "/performance/" in o.path}) > 4
    folder = partitions_folder(cache)
    expected = [stamp_files(folder, str(tree), submission).files for submission in serial.submissions]
    assert all(expected)  # a link out of the tree is stamped by its target text, never followed

    for child in ("works", "sends_none", "dies"):
        if child == "sends_none":
            monkeypatch.setattr(prestamp, "_sweep_one", _failing_in_child(prestamp._sweep_one))
        if child == "dies":
            monkeypatch.setattr(prestamp, "_child", _dying_child)
        split = discover(tree, keep_listings=True, sweep=False)
        assert prestamp.worth_splitting(split, cache, jobs=2)
        stamps = prestamp.sweep_and_stamp(split, cache, jobs=2)
        assert split.oddities == serial.oddities, child
        assert [stamps[s.rel].files for s in split.submissions] == expected, child
        assert all(stamps[s.rel].read is not None for s in split.submissions if stamps[s.rel].changed)


def _failing_in_child(real):
    import os

    parent = os.getpid()

    def sweep_one(*args):
        if os.getpid() != parent:
            raise MemoryError("in the child")
        return real(*args)

    return sweep_one


def _dying_child(writer, *args) -> None:
    import os

    os._exit(3)  # no message at all: the parent sees the pipe close


def test_split_stamping_run_equals_one_process_run(corpus, tmp_path, monkeypatch, partition_stats, parser_calls):
    """End to end: with the split (forced on the small tree), a warm run hits every partition and a
    run after one changed file checks only that submitter; both reports equal an uncached run's."""
    from checker.engine import cache as parse_cache
    from checker.engine import partition_cache, prestamp

    monkeypatch.setattr(prestamp, "MIN_RESULTS", 0)
    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)  # the links just made count as settled
    splits: list[bool] = []
    real_worth = prestamp.worth_splitting
    monkeypatch.setattr(prestamp, "worth_splitting", lambda *a: splits.append(real_worth(*a)) or splits[-1])
    tree = _tree_with_links(corpus, tmp_path)
    cache = tmp_path / "cache"
    uncached = _json_bytes(run_check(tree, round_name="v0.7", jobs=2))
    cold = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache))
    assert splits == [False] and cold == uncached  # nothing remembered yet: stamped while checking
    partitions = partition_stats[-1]["partitions"]
    parse_cache.wait_for_writes()  # no writer thread left: the process may fork
    warm = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache))
    assert splits[-1] is True and warm == uncached
    assert partition_stats[-1]["partition_cache_hits"] == partitions

    changed = sorted(tree.glob("closed/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
    data = changed.read_bytes()
    changed.unlink()  # never write through a hard link into the corpus
    changed.write_bytes(data.replace(b"Result is : VALID", b"Result is : INVALID", 1) + b"\n")
    parse_cache.wait_for_writes()
    parser_calls.clear()
    again = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache))
    assert splits[-1] is True
    assert partition_stats[-1]["partition_cache_hits"] == partitions - 1
    assert again == _json_bytes(run_check(tree, round_name="v0.7", jobs=2)) != warm
    assert (changed.relative_to(tree).as_posix(), "loadgen_summary") in parser_calls


# -- a submitter folder whose folders and files all kept their stat identities is stamped without a walk --

def _stamps(tree: Path):
    """The quick stamp of the sample's submitter folder (None: walk it), then the walk's stamp (which
    remembers the folder's snapshot for the next quick stamp)."""
    from checker.discover import discover
    from checker.engine.partition_cache import partitions_folder, quick_stamp, stamp_files

    folder = partitions_folder(tree.parent / "cache")
    submission = discover(tree).submissions[0]
    quick = quick_stamp(folder, str(tree), submission)
    return quick, stamp_files(folder, str(tree), submission, listed_since_ns=0)


def _change(tree: Path, how: str) -> None:
    import os
    import time

    time.sleep(0.02)  # past the file system's timestamp tick of the copy
    run = sorted(tree.glob("closed/*/results/*/*/*/performance/run_1"))[0]
    summary = run / "mlperf_log_summary.txt"
    if how == "edited, same size and mtime":
        info = summary.stat()
        summary.write_bytes(summary.read_bytes().replace(b"VALID", b"DILAV", 1))
        os.utime(summary, ns=(info.st_atime_ns, info.st_mtime_ns))
    elif how == "file added":
        (run / "notes.txt").write_text("new\n")
    elif how == "file removed":
        (run / "mlperf_log_trace.json").unlink(missing_ok=True)
        (run / "mlperf_log_detail.txt").unlink()
    elif how == "folder renamed":
        run.rename(run.parent / "run_2")
    elif how == "empty folder added":
        (run / "empty").mkdir()
    elif how == "mode changed":
        summary.chmod(0o600)
    elif how == "symlink added":
        os.symlink("nowhere.txt", run / "broken_link.txt")


@pytest.mark.parametrize("how", ["edited, same size and mtime", "file added", "file removed", "folder renamed",
                                 "empty folder added", "mode changed", "symlink added"])
def test_quick_stamp_is_the_walks_until_anything_changes(tmp_path, monkeypatch, how):
    from checker.engine import partition_cache

    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)  # the copy just made counts as settled
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    assert _stamps(tree)[0] is None  # nothing remembered yet
    quick, walked = _stamps(tree)
    assert walked.files and quick is not None and not quick.changed
    assert quick.files == walked.files and sorted(quick.read) == sorted(walked.read)
    _change(tree, how)
    quick, walked_again = _stamps(tree)
    assert quick is None  # the change shows in an identity: the folder is walked
    assert walked_again.files != walked.files
    quick, _ = _stamps(tree)  # remembered again after that walk, unless a link is there now
    assert (quick is None) == (how == "symlink added")
    if quick is not None:
        assert quick.files == walked_again.files


def test_quick_stamp_needs_settled_folders(tmp_path):
    """A copy made just now has not settled (SETTLE_S): nothing is remembered for a quick stamp."""
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    _stamps(tree)
    quick, walked = _stamps(tree)
    assert walked.files and quick is None


def test_warm_run_with_quick_stamps_lists_nothing_and_still_sees_new_links(tmp_path, monkeypatch, partition_stats):
    """End to end, one process: an unchanged submitter folder is neither swept for links nor listed;
    a link added below a result folder is then still reported as by a run without the cache."""
    import os

    from checker import discover as discover_module
    from checker.engine import partition_cache, prestamp

    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    expected = _json_bytes(run_check(tree, jobs=1, cache=cache))
    swept: list[str] = []
    real_sweep = discover_module.sweep_submission
    monkeypatch.setattr(prestamp, "sweep_submission", lambda t, s: swept.append(s.rel) or real_sweep(t, s))
    assert _json_bytes(run_check(tree, jobs=1, cache=cache)) == expected
    assert swept == [] and partition_stats[-1]["partition_cache_hits"] == 1

    _change(tree, "symlink added")
    os.symlink(tmp_path, sorted(tree.glob("closed/*/results/*/*/*/performance"))[0] / "outside")
    again = run_check(tree, jobs=1, cache=cache)
    assert swept and partition_stats[-1]["partition_cache_hits"] == 0
    assert _json_bytes(again) == _json_bytes(run_check(tree, jobs=1)) != expected
    messages = [f.message for _, f in again.distinct_findings() if f.rule == "S002"]
    assert any(m.startswith("broken symlink") for m in messages)
    assert any(m.startswith("symlink pointing outside the tree") for m in messages)


def test_a_partitions_findings_share_their_scope_objects(corpus):
    """Equal scopes are one object in a partition's findings (pickled and loaded once), and the report
    built from them is the one built from unshared copies."""
    from checker.discover import discover
    from checker.engine.rulepack import load_pack
    from checker.engine.runner import _Job, _partition_tree, check_partition, enabled_rules
    from checker.report.document import finding_out

    tree = discover(corpus("v0.7"))
    pack = load_pack("v0.7")
    job = _Job(pack=pack, specs=[s for s in enabled_rules(pack) if s.scope != "tree"], select=(), ignore=(),
               options={}, cache_dir=None)
    submission = max(tree.submissions, key=lambda s: len(s.units))
    findings = check_partition(job, _partition_tree(tree, submission)).findings
    assert len(findings) > 2 * len({f.scope for f in findings})  # many findings per scope
    assert len({id(f.scope) for f in findings}) == len({f.scope for f in findings})
    scopes: dict = {}
    shared = [finding_out(f, scopes).model_dump() for f in findings]
    assert shared == [finding_out(f.model_copy(update={"scope": f.scope.model_copy()})).model_dump() for f in findings]


# -- a changed submitter of a large tree is checked by one worker while the others are loaded --

def _replace_summary(path: Path) -> None:
    """One byte more, through a new file (never through a hard link into the corpus)."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data + b"\n")


def test_changed_submitters_go_to_a_worker_while_the_rest_is_loaded(corpus, tmp_path, monkeypatch, partition_stats):
    from checker.engine import cache as parse_cache
    from checker.engine import partition_cache

    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)
    monkeypatch.setattr(runner, "OVERLAP_MIN_PARTITIONS", 4)  # v0.7 has a dozen submitters, not hundreds
    started: list[tuple[int, int]] = []
    real_start = runner._Dispatch.start_if_worth

    def start_if_worth(self, unstamped):
        had = self.pool
        real_start(self, unstamped)
        if had is None and self.pool is not None:
            started.append((unstamped, self.workers))

    monkeypatch.setattr(runner._Dispatch, "start_if_worth", start_if_worth)
    import checker.check

    early: list[bool] = []  # whether the lone changed submitter's worker started with the stamps
    real_lone = checker.check.lone_worker_for
    monkeypatch.setattr(checker.check, "lone_worker_for",
                        lambda *a: (pool := real_lone(*a), early.append(pool is not None))[0])
    tree = tmp_path / "tree"
    _linked_copy(corpus("v0.7"), tree)
    cache = tmp_path / "cache"
    run_check(tree, round_name="v0.7", jobs=2, cache=cache)
    partitions = partition_stats[-1]["partitions"]
    started.clear()
    summaries = sorted(tree.glob("closed/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))
    _replace_summary(summaries[-1])  # the last submitter in tree order: taken first all the same
    parse_cache.wait_for_writes()  # no writer thread left: the process may fork
    one = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache))
    assert started == [(partitions - 1, 1)]  # at the first partition taken, one worker
    assert early[-1]  # started right after the stamps showed the one changed submitter
    assert partition_stats[-1]["partition_cache_hits"] == partitions - 1
    assert one == _json_bytes(run_check(tree, round_name="v0.7", jobs=2))

    # several changed submitters: no single worker (the pool's usual rule decides); same report
    submitters = {p.relative_to(tree).parts[1]: p for p in summaries}
    for path in list(submitters.values())[:3]:
        _replace_summary(path)
    parse_cache.wait_for_writes()
    started.clear()
    several = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache))
    assert all(workers > 1 for _, workers in started) and not early[-1]
    assert partition_stats[-1]["partition_cache_hits"] == partitions - 3
    assert several == _json_bytes(run_check(tree, round_name="v0.7", jobs=2))

    # one changed submitter, but every partition misses (another configuration): the one worker
    # takes them from the first, this process from the last
    _replace_summary(summaries[-1])
    parse_cache.wait_for_writes()
    started.clear()
    here: list[str] = []
    real_check = runner.check_partition
    monkeypatch.setattr(runner, "check_partition",
                        lambda job, part, *a: here.append(part.submissions[0].rel) or real_check(job, part, *a))
    ignoring = _json_bytes(run_check(tree, round_name="v0.7", jobs=2, cache=cache, ignore=("C0",)))
    assert started == [(partitions - 1, 1)] and partition_stats[-1]["partition_cache_hits"] == 0 and early[-1]
    assert 1 <= len(here) < partitions and len(set(here)) == len(here)
    monkeypatch.setattr(runner, "check_partition", real_check)
    assert ignoring == _json_bytes(run_check(tree, round_name="v0.7", jobs=2, ignore=("C0",)))


def test_prepared_findings_are_made_again_when_the_engine_replaced_them():
    from checker.findings import Finding, Scope, Severity
    from checker.report.document import PreparedFindings, finding_out

    finding = Finding(rule="A001", severity=Severity.ERROR, message="m", scope=Scope(division="closed"))
    prepared = PreparedFindings()
    prepared.add_partition(runner.Partition(findings=[finding], metrics=[], facts=[], systems={}))
    assert prepared.get(finding) is prepared.get(finding)
    waived = finding.model_copy(update={"waived": True, "waiver_reason": "known"})
    assert prepared.get(waived).waived and prepared.get(waived) == finding_out(waived)
    assert prepared.get(finding) == finding_out(finding)


def test_runs_import_no_yaml_and_no_schema_validator(tmp_path):
    """A fresh process reads no YAML and validates no schema, both imported only when needed: without
    a cache the shipped packs come from the record of parsed packs and are recorded as checked; a
    warm run of an unchanged tree takes packs and round detection from the cache."""
    import subprocess
    import sys

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    for cache_arg in ("None", f"Path({str(cache)!r})"):
        probe = ("import sys; from pathlib import Path; from checker.check import run_check; "
                 f"run_check(Path({str(tree)!r}), jobs=1, cache={cache_arg}); "
                 "print(sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
        assert out.stdout.strip() == "[]", cache_arg


def test_work_done_while_waiting_may_fail_without_failing_the_run(corpus, corpus_report, monkeypatch):
    """What run_check does while the workers check (findings put in report form) is done again at its
    usual place when it fails: the report is the same."""
    from checker.report import document

    calls: list[bool] = []

    def failing(self, partition):
        calls.append(True)
        raise RuntimeError("planted")

    monkeypatch.setattr(document.PreparedFindings, "add_partition", failing)
    report = run_check(corpus("v0.7"), round_name="v0.7", jobs=2)
    assert calls  # the pool ran, and the work was tried
    assert _comparable(report) == _comparable(corpus_report("v0.7"))


def test_a_changed_folders_memo_is_read_once(tmp_path, monkeypatch, partition_stats):
    """The quick stamp and the walk after it share one read of the folder's memo."""
    from checker.engine import cache as cache_module
    from checker.engine import partition_cache

    monkeypatch.setattr(partition_cache, "SETTLE_S", 0)
    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    cache = tmp_path / "cache"
    run_check(tree, jobs=1, cache=cache)
    _change(tree, "file added")
    reads: list[str] = []
    real = cache_module.read_entry
    monkeypatch.setattr(cache_module, "read_entry", lambda entry: reads.append(str(entry)) or real(entry))
    again = run_check(tree, jobs=1, cache=cache)
    assert partition_stats[-1]["partition_cache_hits"] == 0
    memos = [entry for entry in reads if entry.endswith(".files")]
    assert len(memos) == 1, memos
    assert _json_bytes(again) == _json_bytes(run_check(tree, jobs=1))
