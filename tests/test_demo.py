"""`mlperf-audit demo`: a real-LoadGen sample-round submission that passes, and a broken copy that
fails with exactly the planted rule IDs. One demo build (with --break) is shared by the module."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from tree_builder import set_mllog_value

from checker.check import run_check
from checker.cli import main
from checker.rerun.compliance_verify import verify_test01_accuracy, verify_test04
from checker.rerun.demo import (
    BROKEN_NAME,
    PLANTED,
    RUNS_NAME,
    SUBMITTER,
    SYSTEM,
    TOLERANCE,
    TREE_NAME,
    error_rules,
)

pytestmark = pytest.mark.loadgen

RESULTS = f"closed/{SUBMITTER}/results/{SYSTEM}/digits"
COMPLIANCE = f"closed/{SUBMITTER}/compliance/{SYSTEM}/digits"
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run the CLI once: demo --break into a fresh folder; returns (folder, CLI output)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--break", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    return out, result.output


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_reports_success(demo):
    _, output = demo
    assert "demo OK" in output
    assert "4 results: 4 valid, 0 invalid" in output
    for rule_id in PLANTED.values():
        assert re.search(rf"{rule_id}\s+caught", output), rule_id


def test_demo_tree_passes_check_without_writing_to_it(demo):
    out, _ = demo
    tree = out / TREE_NAME
    before = _tree_digest(tree)
    result = CliRunner().invoke(main, ["check", str(tree), "--round", "sample"])
    assert result.exit_code == 0, result.output
    assert "4 valid, 0 invalid" in result.output
    detected = CliRunner().invoke(main, ["check", str(tree)])  # the round is detected by its seeds
    assert detected.exit_code == 0 and "sample round" in detected.output
    assert _tree_digest(tree) == before


def test_broken_copy_fails_with_exactly_the_planted_rules(demo):
    out, _ = demo
    document = run_check(out / BROKEN_NAME, round_name="sample")
    assert error_rules(document) == set(PLANTED.values())
    result = CliRunner().invoke(main, ["check", str(out / BROKEN_NAME), "--round", "sample"])
    assert result.exit_code == 1


def test_tree_layout_and_compliance_files(demo):
    out, _ = demo
    tree = out / TREE_NAME
    sub = tree / "closed" / SUBMITTER
    assert json.loads((sub / "systems" / f"{SYSTEM}.json").read_text())["submitter"] == SUBMITTER
    for scenario in SCENARIOS:
        result = tree / RESULTS / scenario
        assert (result / "performance/run_1/mlperf_log_detail.txt").is_file()
        assert (result / "accuracy/accuracy.txt").is_file()
        measurements = sub / "measurements" / SYSTEM / "digits" / scenario
        assert {"README.md", "user.conf", "mlperf.conf"} <= {p.name for p in measurements.iterdir()}
        tests = ["TEST01"] if scenario in ("MultiStream", "Offline") else ["TEST01", "TEST04-A", "TEST04-B"]
        for test in tests:
            folder = tree / COMPLIANCE / scenario / test
            assert (folder / "audit.config").is_file()
            assert (folder / "performance/run_1/mlperf_log_summary.txt").is_file()
        verify = (tree / COMPLIANCE / scenario / "TEST01" / "verify_accuracy.txt").read_text()
        assert verify.rstrip().endswith("TEST PASS") and "mismatched entries = 0" in verify
        present = sorted(p.name for p in (tree / COMPLIANCE / scenario).iterdir())
        assert present == tests  # exactly the tests the sample pack requires


def test_accuracy_report_matches_the_full_log(demo):
    """accuracy.txt's hash is the SHA-256 of the run's full accuracy log, which the sample round
    publishes whole (its pack sets no truncation limit)."""
    out, _ = demo
    for scenario in SCENARIOS:
        full = (out / RUNS_NAME / f"{scenario}-accuracy" / "mlperf_log_accuracy.json").read_bytes()
        folder = out / TREE_NAME / RESULTS / scenario / "accuracy"
        text = (folder / "accuracy.txt").read_text()
        assert f"hash={hashlib.sha256(full).hexdigest()}" in text
        assert text.startswith("accuracy=97.200%, good=486, total=500")
        published = (folder / "mlperf_log_accuracy.json").read_bytes()
        assert published == full


def test_test01_verification_catches_a_changed_response(demo, tmp_path):
    """Our TEST01 check compares bytes per qsl_idx: one flipped response in the accuracy log fails it."""
    out, _ = demo
    sampled = out / RUNS_NAME / "Offline-TEST01" / "mlperf_log_accuracy.json"
    reference = json.loads((out / RUNS_NAME / "Offline-accuracy" / "mlperf_log_accuracy.json").read_text())
    target = json.loads(sampled.read_text())[0]["qsl_idx"]
    for entry in reference:
        if entry["qsl_idx"] == target:
            entry["data"] = entry["data"][8:] + entry["data"][:8]  # logits rolled by one class
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(reference))
    assert verify_test01_accuracy(sampled, out / RUNS_NAME / "Offline-accuracy" / "mlperf_log_accuracy.json").passed
    failed = verify_test01_accuracy(sampled, changed)
    assert not failed.passed and "TEST FAIL" in failed.text


def test_test04_verification_of_the_tree_decides_as_rule_c007(demo, tmp_path):
    """A TEST04-B minimum latency under half of TEST04-A's, medians alike: the lenient verdict (both
    figures must show B faster) passes, the one the demo ships fails, as C007 recomputes it from the
    logs, so that the demo re-runs the pair instead of shipping a claim C009 would contradict."""
    out, _ = demo
    runs = out / RUNS_NAME
    a = runs / "SingleStream-TEST04-A" / "mlperf_log_detail.txt"
    b = tmp_path / "mlperf_log_detail.txt"
    b.write_bytes((runs / "SingleStream-TEST04-B" / "mlperf_log_detail.txt").read_bytes())
    a_values = {}
    for line in a.read_text().splitlines():
        record = json.loads(line[len(":::MLLOG "):]) if line.startswith(":::MLLOG") else {}
        a_values.setdefault(record.get("key"), record.get("value"))
    set_mllog_value(b, "result_min_latency_ns", int(a_values["result_min_latency_ns"] * 0.4))
    set_mllog_value(b, "result_50.00_percentile_latency_ns", a_values["result_50.00_percentile_latency_ns"])
    assert verify_test04(a, b, "SingleStream", TOLERANCE).passed
    strict = verify_test04(a, b, "SingleStream", TOLERANCE, minimum_decides=True)
    assert not strict.passed and "TEST FAIL" in strict.text
    assert verify_test04(a, a, "SingleStream", TOLERANCE, minimum_decides=True).passed


def test_demo_refuses_a_non_empty_out(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_compared_runs_run_side_by_side_and_are_redone_together():
    from checker.rerun.demo import _runs_behind, pair_up

    keys = ["Server-performance", "Server-accuracy", "Server-TEST01", "Server-TEST04-A", "Offline-accuracy",
            "Server-TEST04-B", "break-wrong_seed"]
    groups = pair_up(keys)
    assert ["Server-performance", "Server-TEST01"] in groups
    assert ["Server-TEST04-A", "Server-TEST04-B"] in groups
    assert sorted(k for g in groups for k in g) == sorted(keys) and all(len(g) <= 2 for g in groups)
    assert _runs_behind("Server-TEST01-performance") == ["Server-performance", "Server-TEST01"]
    assert _runs_behind("Server-TEST04-performance") == ["Server-TEST04-A", "Server-TEST04-B"]
