"""L rules: the LoadGen fact table, real LoadGen logs, edited copies, and every log of the corpus.

* The shipped table knows the installed wheel's commit (6.0.17 @ d6147c7eb7), and fresh logs of the
  wheel verify against it file by file.
* A copy of the bundled sample submission (real LoadGen 6.0.17 logs) checked with a pack that approves
  that build is clean; with one SHA-1 edited it fails L003 naming the file; with a mode swapped it fails
  P004 (performance run) or L006 (compliance run); other edits hit L007, L008, L009, L001, L002.
* Every performance and accuracy log of the corpus gets a verdict; the counts per round are pinned.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from corpus_cache import SHARED
from tree_builder import set_mllog_value

from checker.checks.integrity import analyse, approval, result_logs
from checker.discover import discover
from checker.engine.context import Context
from checker.engine.evidence import Evidence
from checker.engine.loadgen_table import TABLE_NAME, loadgen_table
from checker.engine.rulepack import load_pack, rules_dir
from checker.engine.runner import run_checks
from checker.parse.loadgen_detail import parse_detail
from checker.resources import data_dir

WHEEL_COMMIT = "d6147c7eb760c75ac2f7f2dd379719afb090d87c"
WHEEL_TREE = "6f1f0ae556867df8079d0bb0b43d5a1ec1de677b"
SAMPLE = data_dir("reference_runs") / "sample_submission"
SUB = "closed/mlperf-audit-demo"
RESULT = f"{SUB}/results/demo_cpu/digits/Offline"
TEST01 = f"{SUB}/compliance/demo_cpu/digits/Offline/TEST01/performance/run_1"


# --------------------------------------------------------------------------------------------------
# The table


def test_table_ships_with_the_rules_and_is_small():
    path = rules_dir() / TABLE_NAME
    assert path.is_file()
    assert path.stat().st_size < 2 * 1024 * 1024


def test_table_knows_the_wheels_commit():
    table = loadgen_table()
    info = table.commit("d6147c7eb7")
    assert info is not None and info.commit == WHEEL_COMMIT and info.tree == WHEEL_TREE
    assert table.tree(WHEEL_TREE)["/loadgen.cc"]
    assert table.commit_count == 9050


def test_table_equals_the_research_table():
    source = SHARED / "reference" / "loadgen_file_sha1.json"
    if not source.is_file():
        pytest.skip("shared reference table not on this machine")
    data = json.loads(source.read_text())
    table = loadgen_table()
    assert all(table.tree(tree_id) == files for tree_id, files in data["trees"].items())
    assert table.commit_count == len(data["commits"])
    for commit, info in data["commits"].items():
        found = table.commit(commit)
        assert (found.tree, found.date, found.tags) == (info["loadgen_tree"], info["date"], tuple(info.get("tags", ())))
    versions: dict[str, set[str]] = {}
    for files in data["trees"].values():
        for path, sha in files.items():
            versions.setdefault(path, set()).add(sha)
    assert all(table.file_versions(path) == shas for path, shas in versions.items())


def test_shipped_table_is_rebuilt_byte_for_byte_from_the_research_table(tmp_path):
    from checker.engine.loadgen_table import write_compact

    source = SHARED / "reference" / "loadgen_file_sha1.json"
    if not source.is_file():
        pytest.skip("shared reference table not on this machine")
    write_compact(source, tmp_path / TABLE_NAME)
    assert (tmp_path / TABLE_NAME).read_bytes() == (rules_dir() / TABLE_NAME).read_bytes(), (
        "stale: python -m checker.engine.loadgen_table SOURCE.json rules/loadgen_sha1.json.gz")


def test_compact_table_round_trip():
    """A small research table through the compact form: commits (tags, several per tree, equal
    dates), trees, file versions; inconsistent columns are refused."""
    from checker.engine.loadgen_table import LoadgenTable, build_compact

    sha = {name: name[0] * 40 for name in ("a1", "b2", "c3", "d4")}
    source = {"source": "test", "commits": {
        "2" * 40: {"date": "2021-01-01T00:00:00+00:00", "loadgen_tree": "t1", "tags": ["v1.0"]},
        "1" * 40: {"date": "2021-01-01T00:00:00+00:00", "loadgen_tree": "t1"},
        "3" * 40: {"date": "2020-06-01", "loadgen_tree": "t2"},
        "4" * 40: {"date": "2022-01-01T00:00:00Z", "loadgen_tree": "t2", "tags": ["v2.0", "v2.0.1"]},
    }, "trees": {"t2": {"/a.cc": sha["a1"], "/b.h": sha["c3"]}, "t1": {"/a.cc": sha["b2"], "/b.h": sha["c3"]},
                 "t3": {"/z.py": sha["d4"]}}}
    compact = json.loads(json.dumps(build_compact(source)))
    table = LoadgenTable(compact)
    assert table.commit_count == 4 and table.tree_ids == ["t1", "t2", "t3"]
    tagged = table.commit("2" * 10)
    assert (tagged.tree, tagged.date, tagged.tags) == ("t1", "2021-01-01T00:00:00+00:00", ("v1.0",))
    assert table.commit("4" * 40).tags == ("v2.0", "v2.0.1") and table.commit("1" * 40).tags == ()
    assert table.commit("1" * 6) is None and [c.commit for c in table.commits_with_prefix("")] == sorted(source["commits"])
    assert table.first_commit_of_tree("t1").commit == "1" * 40  # equally old: the first in the table's order
    assert table.first_commit_of_tree("t2").commit == "3" * 40 and table.first_commit_of_tree("t3") is None
    assert table.tree("t1") == source["trees"]["t1"] and table.tree("nope") == {}
    assert table.file_versions("/a.cc") == {sha["a1"], sha["b2"]} and table.file_versions("/c.cc") == set()
    assert table.trees_matching({"/a.cc": sha["a1"], "/x.o": "9" * 40}) == ["t2"]
    assert table.trees_matching({"/b.h": sha["c3"]}) == ["t1", "t2"] and table.trees_matching({"/x.o": "9"}) == []
    broken = dict(compact, commit_dates="2021-01-01")
    with pytest.raises(ValueError):
        LoadgenTable(broken)
    with pytest.raises(ValueError):
        LoadgenTable(dict(compact, format=1))


# --------------------------------------------------------------------------------------------------
# Fresh logs of the installed wheel


@pytest.mark.loadgen
def test_wheel_logs_verify_against_the_table(loadgen_logs):
    for key in loadgen_logs:
        detail = parse_detail(loadgen_logs.detail(key)).model
        analysis = analyse(detail)
        assert analysis.commit is not None and analysis.commit.commit == WHEEL_COMMIT, key
        assert not analysis.modified, (key, analysis.changed, analysis.foreign)
        assert analysis.generated == ["/mlperf_conf.h"]
        assert len(analysis.verified) == analysis.file_count - 1 >= 30


# --------------------------------------------------------------------------------------------------
# The bundled sample submission (real LoadGen logs) under a pack that approves its build


PACK_EXTRA = """
round: audit-test
title: sample round with an approved LoadGen list (test)
extends: sample
loadgen:
  round: audit-test
  versions: ["6.0.17"]
  approved_commits: [{commits}]
  approved_source: test
"""


def _pack(tmp_path: Path, commits: list[str]):
    folder = tmp_path / "packs"
    folder.mkdir(exist_ok=True)
    for path in rules_dir().glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "audit-test.yaml").write_text(PACK_EXTRA.format(commits=", ".join(commits)))
    load_pack.cache_clear()
    return load_pack("audit-test", str(folder))


@pytest.fixture
def sample(tmp_path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(SAMPLE, root)
    return root


def _findings(root: Path, pack, select=("L", "P003", "P004")):
    outcome = run_checks(discover(root), pack, select=list(select))
    return [f for r in outcome.results for f in r.findings]


def _errors(found, rule):
    return [f for f in found if f.rule == rule and f.severity == "error"]


def test_sample_submission_is_clean_and_verified(sample, tmp_path):
    found = _findings(sample, _pack(tmp_path, [WHEEL_COMMIT]))
    assert [f for f in found if f.severity != "info"] == []
    verified = [f for f in found if f.rule == "L003" and f.scope.scenario == "Offline"]
    assert len(verified) == 1 and "verified; 40 of 41 logged files" in verified[0].message
    approved = [f for f in found if f.rule == "L001" and f.scope.scenario == "Offline"]
    assert len(approved) == 1 and "approved for audit-test" in approved[0].message


def _edit_sha1(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if '"loadgen_file_sha1"' in line:
            table = json.loads(line[len(":::MLLOG "):])["value"]
            break
    table[name] = "0" * 40
    return set_mllog_value(path, "loadgen_file_sha1", table)


def test_edited_sha1_fails_l003_naming_the_file(sample, tmp_path):
    line = _edit_sha1(sample / RESULT / "performance/run_1/mlperf_log_detail.txt", "/loadgen.cc")
    found = _findings(sample, _pack(tmp_path, [WHEEL_COMMIT]))
    errors = [f for f in _errors(found, "L003") if f.scope.scenario == "Offline"]
    assert len(errors) == 1
    assert errors[0].path == f"{RESULT}/performance/run_1/mlperf_log_detail.txt" and errors[0].line == line
    assert "/loadgen.cc" in errors[0].message and "differ from commit d6147c7eb7" in errors[0].message
    assert errors[0].found == "/loadgen.cc " + "0" * 40
    # the other logs of the result still have the official sources: L008 says which file differs
    l008 = [f for f in found if f.rule == "L008" and f.scope.scenario == "Offline"]
    assert len(l008) == 1 and "/loadgen.cc" in l008[0].message
    assert {f.scope.scenario for f in found if f.severity == "error"} == {"Offline"}


def test_swapped_mode_fails_p004_and_l006(sample, tmp_path):
    set_mllog_value(sample / RESULT / "performance/run_1/mlperf_log_detail.txt", "effective_test_mode", "AccuracyOnly")
    line = set_mllog_value(sample / TEST01 / "mlperf_log_detail.txt", "effective_test_mode", "AccuracyOnly")
    found = _findings(sample, _pack(tmp_path, [WHEEL_COMMIT]))
    assert [f.path for f in _errors(found, "P004")] == [f"{RESULT}/performance/run_1/mlperf_log_detail.txt"]
    l006 = _errors(found, "L006")
    assert [(f.path, f.line) for f in l006] == [(f"{TEST01}/mlperf_log_detail.txt", line)]
    assert {f.rule for f in found if f.severity == "error"} == {"P004", "L006"}


def test_accuracy_log_of_another_scenario_fails_l007(sample, tmp_path):
    line = set_mllog_value(sample / RESULT / "accuracy/mlperf_log_detail.txt", "effective_scenario", "Server")
    found = _findings(sample, _pack(tmp_path, [WHEEL_COMMIT]))
    assert [(f.path, f.line) for f in _errors(found, "L007")] == [(f"{RESULT}/accuracy/mlperf_log_detail.txt", line)]


def test_other_sut_name_is_l009(sample, tmp_path):
    set_mllog_value(sample / TEST01 / "mlperf_log_detail.txt", "sut_name", "someone-else")
    found = _findings(sample, _pack(tmp_path, [WHEEL_COMMIT]))
    warnings = [f for f in found if f.rule == "L009" and f.scope.scenario == "Offline"]
    assert len(warnings) == 1 and "someone-else" in warnings[0].message and warnings[0].severity == "warning"


def test_first_commit_of_every_tree_is_its_oldest_commit():
    """Each tree's first commit (parsed lazily, tree by tree) is the oldest of all the table's commits
    with that tree, the first in the table's order among equally old ones; a tree the table does not
    know has none."""
    from checker.engine.loadgen_table import LoadgenTable, parse_date

    table = loadgen_table()
    fresh = LoadgenTable(json.loads(__import__("gzip").decompress((rules_dir() / TABLE_NAME).read_bytes())))
    oldest: dict[str, tuple] = {}
    every = fresh.commits_with_prefix("")
    assert len(every) == fresh.commit_count and [info.commit for info in every] == sorted(info.commit for info in every)
    for info in every:
        if info.tree not in oldest or parse_date(info.date) < oldest[info.tree][0]:
            oldest[info.tree] = (parse_date(info.date), info.commit)
    assert len(oldest) > 500
    for tree, (_, commit) in oldest.items():
        assert table.first_commit_of_tree(tree).commit == commit
    assert table.first_commit_of_tree("0" * 40) is None


def test_build_older_than_the_approved_revisions_is_l001(sample, tmp_path):
    table = loadgen_table()
    later = table.commit("e31f57bbb4")  # 2026-08-22, loadgen/ sources newer than the wheel's
    assert later is not None and later.tree != WHEEL_TREE
    assert table.first_commit_of_tree(later.tree).when > table.commit(WHEEL_COMMIT).when
    found = _findings(sample, _pack(tmp_path, [later.commit]))
    errors = [f for f in _errors(found, "L001") if f.scope.scenario == "Offline"]
    assert len(errors) == 1 and "before every LoadGen revision approved" in errors[0].message


def test_build_newer_than_the_approved_revisions_is_l002(sample, tmp_path):
    found = _findings(sample, _pack(tmp_path, ["6776245e99"]))  # v5.1.1
    warnings = [f for f in found if f.rule == "L002" and f.scope.scenario == "Offline"]
    assert len(warnings) == 1 and "after the newest revision approved" in warnings[0].message
    assert _errors(found, "L001") == []


# --------------------------------------------------------------------------------------------------
# The analysis on hand-made tables


def _detail(version: str, files: dict[str, str]):
    return SimpleNamespace(loadgen_version=version, file_sha1=files, file_sha1_line=3,
                           get=lambda key: None, value=lambda key, default=None: default)


def test_unknown_commit_with_official_files_is_matched_to_its_tree():
    table = loadgen_table()
    files = {path: sha for path, sha in table.tree(WHEEL_TREE).items() if path.endswith((".cc", ".h"))}
    analysis = analyse(_detail("6.0.17 @ 0123456789", files))
    assert analysis.commit is None and not analysis.modified
    assert WHEEL_TREE in analysis.matching_trees


def test_source_archive_build_with_a_foreign_file_is_modified():
    table = loadgen_table()
    files = {path: sha for path, sha in table.tree(WHEEL_TREE).items() if path.endswith((".cc", ".h"))}
    files["/logging.cc"] = "f" * 40
    files["/.loadgen.cc.swp"] = "e" * 40
    files["/libmlperf_loadgen.a"] = "d" * 40
    analysis = analyse(_detail(".5a1 @ NA", files))
    assert analysis.foreign == [("/logging.cc", "f" * 40)]
    assert analysis.extra_source == ["/.loadgen.cc.swp"] and analysis.extra_other == ["/libmlperf_loadgen.a"]


# --------------------------------------------------------------------------------------------------
# The corpus: every performance and accuracy log gets a verdict

#: (kind, verdict) -> logs, per round; plus the approval of each log's build.
CORPUS_VERDICTS = {
    "v0.5": ({("accuracy", "modified"): 1, ("accuracy", "unknown-commit"): 11, ("accuracy", "verified"): 23,
              ("performance", "modified"): 15, ("performance", "unknown-commit"): 15,
              ("performance", "verified"): 28},
             {"approved": 67, "unknown": 26}),
    "v0.7": ({("accuracy", "unknown-commit"): 4, ("accuracy", "verified"): 80,
              ("performance", "unknown-commit"): 4, ("performance", "verified"): 136},
             {"approved": 214, "older": 10}),
    "v1.0": ({("accuracy", "modified"): 4, ("accuracy", "unknown-commit"): 4, ("accuracy", "verified"): 79,
              ("performance", "modified"): 12, ("performance", "unknown-commit"): 4,
              ("performance", "verified"): 99},
             {"approved": 166, "older": 20, "unknown": 16}),
}


@pytest.mark.parametrize("round_name", sorted(CORPUS_VERDICTS))
def test_every_corpus_log_gets_an_integrity_verdict(corpus, round_name):
    root = corpus(round_name)
    tree, pack, evidence = discover(root), load_pack(round_name), Evidence(root)
    verdicts: Counter = Counter()
    approvals: Counter = Counter()
    seen = set()
    for unit in tree.units:
        ctx = Context(pack=pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system,
                      unit=unit)
        for ref in result_logs(ctx, compliance=False):
            if ref.folder in seen:
                continue
            seen.add(ref.folder)
            detail = ctx.detail(ref.folder)
            assert detail is not None, ref.folder
            analysis = analyse(detail)
            assert analysis.file_count, ref.folder  # every corpus log carries its SHA-1 table
            verdict = "modified" if analysis.modified else "verified" if analysis.commit else "unknown-commit"
            verdicts[(ref.kind, verdict)] += 1
            approvals[approval(ctx, analysis).status] += 1
    assert (dict(verdicts), dict(approvals)) == CORPUS_VERDICTS[round_name]


def test_build_grouping_is_worked_out_once_per_result(sample, tmp_path, monkeypatch):
    """L001-L005 share one grouping per result (Context.memo); the findings are those of a run that
    derives it afresh for every rule."""
    import checker.checks.integrity as integrity

    pack = _pack(tmp_path, [WHEEL_COMMIT])
    calls: list[str] = []
    original = integrity._grouped_by_build

    def counting(ctx):
        calls.append(ctx.unit.rel)
        return original(ctx)

    monkeypatch.setattr(integrity, "_grouped_by_build", counting)
    shared = _findings(sample, pack)
    units = [unit.rel for unit in discover(sample).units]
    assert sorted(calls) == sorted(units) and len(units) == 4
    calls.clear()
    monkeypatch.setattr(Context, "memo", lambda self, key, compute: compute())
    fresh = _findings(sample, pack)
    assert len(calls) > 3 * len(units)  # every L rule asked again
    assert [f.model_dump() for f in fresh] == [f.model_dump() for f in shared]


def _walked_detail_folders(top: Path, depth_limit: int) -> list[Path]:
    """The plain definition: os.walk top-down, subfolders by name, no links followed, bounded depth."""
    import os

    found = []
    base = len(top.parts)
    for folder, dirs, files in os.walk(top, followlinks=False):
        if "mlperf_log_detail.txt" in files:
            found.append(Path(folder))
        if len(Path(folder).parts) - base >= depth_limit:
            dirs[:] = []
        dirs.sort()
    return found


def test_detail_folders_are_those_a_bounded_walk_finds(tmp_path, corpus):
    """Every compliance test folder of the v1.0 corpus, and a tree of links (to a folder, to a log, a
    broken one), a locked folder and folders nested deeper than the walk goes."""
    import os

    from checker.checks import integrity

    folders = sorted(corpus("v1.0").glob("*/*/compliance/*/*/*/*"))
    assert len(folders) > 100
    for folder in folders:
        assert integrity._detail_folders(folder) == _walked_detail_folders(folder, integrity._MAX_WALK_DEPTH)
    top = tmp_path / "TEST01"
    deep = top / "a" / "b" / "c" / "d" / "e" / "f"
    deep.mkdir(parents=True)
    for folder in (top, top / "a", top / "a" / "b" / "c" / "d", deep, top / "a" / "b" / "c" / "d" / "e"):
        (folder / "mlperf_log_detail.txt").write_text("x")
    (top / "z").mkdir()
    (top / "z" / "mlperf_log_detail.txt").symlink_to(top / "a" / "mlperf_log_detail.txt")
    (top / "linked").symlink_to(top / "a", target_is_directory=True)
    (top / "broken").mkdir()
    (top / "broken" / "mlperf_log_detail.txt").symlink_to(tmp_path / "nowhere")
    (top / "locked").mkdir()
    (top / "locked" / "inner").mkdir()
    (top / "locked" / "inner" / "mlperf_log_detail.txt").write_text("x")
    (top / "locked").chmod(0)
    try:
        found = integrity._detail_folders(top)
        assert found == _walked_detail_folders(top, integrity._MAX_WALK_DEPTH)
        names = [p.relative_to(top).as_posix() for p in found]
        assert "a/b/c/d" in names and "a/b/c/d/e" not in names and "z" in names and "broken" in names
        assert not any(name.startswith("linked") for name in names)
        if os.geteuid() != 0:
            assert not any(name.startswith("locked") for name in names)
    finally:
        (top / "locked").chmod(0o755)
