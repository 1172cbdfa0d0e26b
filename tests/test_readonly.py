"""The checked tree is evidence: `check` never writes into it, never follows a symlink out of it,
and never imports or runs anything from it.

Three independent proofs, none of them strace:

* **checksums**: every file's content, every entry's type, mode, owner and mtime (symlinks
  unfollowed, folders included) are recorded before and after `check` runs through the command
  line in every output format the tool has (``render.FORMATS``: text, json, sarif, junit, csv,
  markdown) and with every option that changes what is read or written (verbose, quiet, strict,
  rule selection, tree waivers on and off, a waivers file, extra ``--report`` files, ``--output``,
  the GitHub job summary, path prefix, CSV columns), and after `parse` on every file; nothing may
  differ;
* **audit hooks** (:mod:`tree_guard`): during those runs no open of a tree path has a write flag,
  no rename/remove/chmod/utime/mkdir touches the tree, no open of a tree path resolves outside it,
  the targets of the tree's outgoing symlinks are never opened, and no file of the tree is imported
  or compiled, no subprocess is started, no pickle is loaded;
* **the kernel**: the tree is given to ``nobody`` and made read-only (``chmod -R a-w``), and `check`
  runs as root *without* the capabilities that let root ignore permissions (``setpriv`` drops
  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_CHOWN, CAP_FSETID); any attempt to write
  would fail with a permission error and show as a traceback. In that process ``chmod 000`` does
  make a file and a folder unreadable, so the real "unreadable file" case is checked there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tree_guard
from click.testing import CliRunner
from tree_builder import copy_system

from checker.cli import main
from checker.report.render import FORMATS

ROUND = "v0.7"
DIVISION, SUBMITTER, SYSTEM = "closed", "IVATech", "iva-fpga-1"
RESULT = f"{DIVISION}/{SUBMITTER}/results/{SYSTEM}/resnet/Offline"


@pytest.fixture(scope="module")
def tree(corpus, tmp_path_factory) -> tuple[Path, Path]:
    """A corpus system with links out of the tree, a tree waiver file and a data-set copy; returns
    (tree, folder of the link targets)."""
    base = tmp_path_factory.mktemp("readonly")
    root = base / "tree"
    outside = base / "outside"
    outside.mkdir()
    copy_system(corpus(ROUND), root, DIVISION, SUBMITTER, SYSTEM)
    # a log replaced by a link to a valid copy outside: following it would look fine
    log = root / RESULT / "performance" / "run_1" / "mlperf_log_summary.txt"
    shutil.copyfile(log, outside / "summary.txt")
    log.unlink()
    os.symlink(outside / "summary.txt", log)
    # a folder linked out, and the annotation file the accuracy recomputation would read from the tree
    shutil.copytree(root / RESULT / "accuracy", outside / "accuracy")
    os.symlink(outside / "accuracy", root / RESULT / "performance" / "run_9")
    val_map = root / DIVISION / SUBMITTER / "data_maps" / "imagenet" / "val_map.txt"
    val_map.parent.mkdir(parents=True)
    (outside / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 65\n")
    os.symlink(outside / "val_map.txt", val_map)
    # a waiver file at the root (read unless --no-tree-waivers) and a python file that must not run
    (root / "mlperf-audit.toml").write_text(
        '[[waiver]]\nrule = "S007"\npath = "closed/**"\nreason = "extra files kept on purpose"\n')
    (root / DIVISION / SUBMITTER / "code" / "conftest.py").write_text("raise SystemExit('executed!')\n")
    return root, outside


def _check_options() -> set[str]:
    command = main.get_command(None, "check")  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _options(tmp: Path) -> list[list[str]]:
    """Option sets that change what `check` reads or writes (those of this version of the tool)."""
    waivers = tmp / "waivers.toml"
    waivers.write_text('[[waiver]]\nrule = "C005"\npath = "**"\nreason = "known"\n')
    sets = [[], ["--verbose"], ["--strict", "--select", "S", "--select", "C", "--ignore", "S002"],
            ["--no-tree-waivers", "--waivers", str(waivers)], ["--path-prefix", "sub/dir", "--csv-columns", "ours"]]
    known = _check_options()
    if "--cache" in known:  # a parse cache outside the tree, cold then warm
        sets += [["--cache", str(tmp / "cache")], ["--cache", str(tmp / "cache")]]
    if "--jobs" in known:
        sets.append(["--jobs", "2"])
    return sets


def test_check_and_parse_write_nothing_and_follow_no_link(tree, tmp_path):
    root, outside = tree
    before = tree_guard.snapshot(root)
    runner = CliRunner()
    summary = tmp_path / "job-summary.md"
    runs = 0
    with tree_guard.watching(root, forbidden=[outside]) as watch:
        for fmt in FORMATS:
            for options in _options(tmp_path) if fmt in ("text", "json") else [[]]:
                args = ["check", str(root), "--round", ROUND, "--format", fmt, *options]
                result = runner.invoke(main, args, env={"GITHUB_STEP_SUMMARY": str(summary)})
                assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
                assert result.exit_code in (0, 1), (args, result.output[-1000:])
                runs += 1
        reports = [f"{fmt}={tmp_path / ('report.' + fmt)}" for fmt in FORMATS]
        args = ["check", str(root), "--round", ROUND, "--quiet", "--output", str(tmp_path / "out.txt")]
        for report in reports:
            args += ["--report", report]
        result = runner.invoke(main, args)
        assert result.exit_code in (0, 1), result.output
        for fmt in FORMATS:
            assert (tmp_path / f"report.{fmt}").stat().st_size > 0, fmt
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and "code" not in path.parts:
                parsed = runner.invoke(main, ["parse", str(path), "--format", "json"])
                assert parsed.exit_code in (0, 1), (path, parsed.output[-500:])
    assert runs >= len(FORMATS) + 8
    assert watch.opens_in_tree > 100, "the hook saw no reads: it is not watching"
    assert watch.clean, watch.report()
    assert tree_guard.changes(before, tree_guard.snapshot(root)) == []
    assert summary.stat().st_size > 0  # the job summary went where GitHub said, outside the tree


def test_links_out_of_the_tree_are_reported_not_followed(tree):
    root, outside = tree
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(root), "--round", ROUND, "--format", "json"])
    import json

    document = json.loads(result.output)
    findings = [f for f in document["findings"]] + [f for r in document["results"] for f in r["findings"]]
    for link in (f"{RESULT}/performance/run_1/mlperf_log_summary.txt", f"{RESULT}/performance/run_9",
                 f"{DIVISION}/{SUBMITTER}/data_maps/imagenet/val_map.txt"):
        said = [f for f in findings if f["path"] == link and "not followed" in f["message"]]
        assert said, f"no finding says {link} was not followed"


def test_writes_are_refused_into_the_tree(tree, tmp_path):
    """`--output`, `--report` and the job summary are refused inside the tree (exit 2), before any check."""
    root, _ = tree
    runner = CliRunner()
    before = tree_guard.snapshot(root)
    for args, env in (
        (["--output", str(root / "report.txt")], {}),
        (["--report", f"sarif={root / DIVISION / 'x.sarif'}"], {}),
        ([], {"GITHUB_STEP_SUMMARY": str(root / "summary.md")}),
    ):
        result = runner.invoke(main, ["check", str(root), "--round", ROUND, *args], env=env)
        assert result.exit_code == 2, (args, env, result.output)
    assert tree_guard.changes(before, tree_guard.snapshot(root)) == []


# ------------------------------------------------------------------------------------------------
# The kernel's word: a process that cannot write to the tree, and really unreadable entries

_DROP = "-dac_override,-dac_read_search,-fowner,-chown,-fsetid,-linux_immutable"


def _setpriv_works() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(["setpriv", f"--bounding-set={_DROP}", "--inh-caps=-all", "true"],
                           capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _setpriv_works(), reason="needs root and setpriv (to drop root's file capabilities)")
def test_check_without_write_permission(tree, tmp_path):
    source, _ = tree
    root = tmp_path / "tree"
    shutil.copytree(source, root, symlinks=True)
    result_dir = root / RESULT
    unreadable_file = result_dir / "accuracy" / "accuracy.txt"
    unreadable_dir = root / DIVISION / SUBMITTER / "compliance" / SYSTEM / "resnet" / "Offline" / "TEST05"
    subprocess.run(["chown", "-R", "-h", "nobody", str(root)], check=True)
    subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    os.chmod(unreadable_file, 0)
    os.chmod(unreadable_dir, 0)
    before = tree_guard.snapshot(root)
    out = tmp_path / "out"
    out.mkdir()
    try:
        for fmt in FORMATS:
            command = ["setpriv", f"--bounding-set={_DROP}", "--inh-caps=-all", "--",
                       sys.executable, "-m", "checker.cli", "check", str(root), "--round", ROUND, "--format", fmt,
                       "--output", str(out / f"report.{fmt}"), "--no-job-summary"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode in (0, 1), (fmt, done.returncode, done.stderr[-3000:])
            assert "Traceback" not in done.stderr, done.stderr[-3000:]
            assert (out / f"report.{fmt}").stat().st_size > 0
        report = (out / "report.json").read_text()
        assert "accuracy/accuracy.txt" in report and "Permission denied" in report
        assert "TEST05" in report
        assert tree_guard.changes(before, tree_guard.snapshot(root)) == []
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(root)], check=False)
