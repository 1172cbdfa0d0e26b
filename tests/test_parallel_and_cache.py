"""`check --jobs N` gives the report of `--jobs 1`; `--cache DIR` re-parses only what changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import checker.engine.evidence as evidence_module
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


@pytest.fixture
def parser_calls(monkeypatch):
    """Every parser call made in this process, as (tree-relative path, kind)."""
    calls: list[tuple[str, str]] = []
    real = evidence_module.parser_for

    def counting(kind):
        parse = real(kind)

        def wrapped(path, root=None):
            calls.append((Path(path).relative_to(root).as_posix(), kind))
            return parse(path, root=root)

        return wrapped

    monkeypatch.setattr(evidence_module, "parser_for", counting)
    return calls


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
    assert any(cache.rglob("*.pkl"))
