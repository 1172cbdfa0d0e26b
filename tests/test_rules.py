"""Per-rule fixtures: a real corpus result (good) and the same with the one change that breaks a rule.

The good tree is Alibaba's A10x1_TRT system of the v1.0 results (resnet50 SingleStream and Offline,
edge), copied unchanged; each bad tree changes one file and the test asserts the exact rule ID,
file and line of the finding it causes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tree_builder import (
    append_mllog_error,
    copy_system,
    edit_json,
    json_key_line,
    replace_in_file,
    set_mllog_value,
)

from checker.check import run_check

SUB = "closed/Alibaba"
SYSTEM = "A10x1_TRT"
RESULT = f"{SUB}/results/{SYSTEM}/resnet50/Offline"
PERF = f"{RESULT}/performance/run_1"
ACC = f"{RESULT}/accuracy"
MEAS = f"{SUB}/measurements/{SYSTEM}/resnet50/Offline"
COMP = f"{SUB}/compliance/{SYSTEM}/resnet50/Offline"
SYSJSON = f"{SUB}/systems/{SYSTEM}.json"


@pytest.fixture
def tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", SYSTEM)


def findings(root: Path, round_name: str = "v1.0", **options):
    doc = run_check(root, round_name=round_name, **options)
    return doc, [f for r in doc.results for f in r.findings] + list(doc.findings)


def errors_by_rule(root: Path, round_name: str = "v1.0") -> dict[str, list]:
    _, found = findings(root, round_name)
    out: dict[str, list] = {}
    for finding in found:
        if finding.severity == "error":
            out.setdefault(finding.rule, []).append(finding)
    return out


def assert_finding(root: Path, rule: str, path: str, line: int | None = None, round_name: str = "v1.0"):
    _, found = findings(root, round_name)
    matches = [f for f in found if f.rule == rule and f.path == path]
    assert matches, f"no {rule} finding on {path}; got {[(f.rule, f.path, f.line) for f in found]}"
    if line is not None:
        assert any(f.line == line for f in matches), [(f.rule, f.path, f.line) for f in matches]
    return matches[0]


def test_good_tree_is_valid(tree):
    doc, found = findings(tree)
    assert [r.verdict for r in doc.results] == ["valid", "valid"], [
        (f.rule, f.path, f.message) for f in found if f.severity == "error"
    ]
    assert doc.summary.errors == 0
    offline = next(r for r in doc.results if r.scenario == "Offline")
    assert offline.metric is not None and offline.metric.unit == "samples/s"
    assert offline.metric.value == pytest.approx(13478.3, rel=1e-5)


# -- structure ------------------------------------------------------------------------------------
def test_s006_missing_log(tree):
    (tree / ACC / "mlperf_log_detail.txt").unlink()
    assert_finding(tree, "S006", f"{ACC}/mlperf_log_detail.txt")


def test_s008_missing_system_json(tree):
    (tree / SYSJSON).unlink()
    assert_finding(tree, "S008", SYSJSON)


def test_s011_missing_run(tree):
    shutil.rmtree(tree / PERF)
    assert_finding(tree, "S011", f"{RESULT}/performance")


def test_s012_missing_measurements(tree):
    shutil.rmtree(tree / MEAS)
    assert_finding(tree, "S012", MEAS)


def test_s013_missing_user_conf(tree):
    (tree / MEAS / "user.conf").unlink()
    assert_finding(tree, "S013", f"{MEAS}/user.conf")


def test_s014_missing_code(tree):
    shutil.rmtree(tree / SUB / "code")
    assert_finding(tree, "S014", f"{SUB}/code")


def test_s009_unknown_benchmark(tree):
    os.rename(tree / SUB / "results" / SYSTEM / "resnet50", tree / SUB / "results" / SYSTEM / "foo")
    assert_finding(tree, "S009", f"{SUB}/results/{SYSTEM}/foo")


def test_s010_unknown_scenario(tree):
    os.rename(tree / RESULT, tree / RESULT.replace("Offline", "Offfline"))
    assert_finding(tree, "S010", RESULT.replace("Offline", "Offfline"))


def test_s017_required_scenario_missing(tree):
    shutil.rmtree(tree / RESULT)
    finding = assert_finding(tree, "S017", f"{SUB}/results/{SYSTEM}/resnet50")
    assert finding.expected == "SingleStream, Offline"


def test_s018_scenario_not_in_suite(tree):
    shutil.copytree(tree / RESULT, tree / RESULT.replace("Offline", "Server"))
    assert_finding(tree, "S018", RESULT.replace("Offline", "Server"))


def test_s002_symlink_outside_not_followed(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "closed" / "Elsewhere").symlink_to(outside, target_is_directory=True)
    _, found = findings(tree)
    assert any(f.rule == "S002" and f.path == "closed/Elsewhere" for f in found)


def test_s004_empty_summary(tree):
    (tree / PERF / "mlperf_log_summary.txt").write_bytes(b"")
    assert_finding(tree, "S004", f"{PERF}/mlperf_log_summary.txt")


def test_s005_garbage_line_in_detail(tree):
    path = tree / PERF / "mlperf_log_detail.txt"
    count = len(path.read_text().splitlines())
    with open(path, "a") as handle:
        handle.write("this is not a LoadGen record\n")
    assert_finding(tree, "S005", f"{PERF}/mlperf_log_detail.txt", line=count + 1)


# -- system description and measurements ----------------------------------------------------------
def test_y001_required_field(tree):
    edit_json(tree / SYSJSON, host_processor_core_count=None)
    finding = assert_finding(tree, "Y001", SYSJSON)
    assert finding.expected == "host_processor_core_count"


def test_y002_unknown_field_is_a_warning_with_line(tree):
    edit_json(tree / SYSJSON, sumitter="Alibaba")
    line = json_key_line(tree / SYSJSON, "sumitter")
    _, found = findings(tree)
    hit = [f for f in found if f.rule == "Y002"]
    assert hit and hit[0].line == line and hit[0].severity == "warning"


def test_y003_submitter(tree):
    edit_json(tree / SYSJSON, submitter="Someone")
    assert_finding(tree, "Y003", SYSJSON, line=json_key_line(tree / SYSJSON, "submitter"))


def test_y004_division(tree):
    edit_json(tree / SYSJSON, division="open")
    assert_finding(tree, "Y004", SYSJSON, line=json_key_line(tree / SYSJSON, "division"))


def test_y005_status(tree):
    edit_json(tree / SYSJSON, status="soon")
    assert_finding(tree, "Y005", SYSJSON, line=json_key_line(tree / SYSJSON, "status"))


def test_y006_system_type(tree):
    edit_json(tree / SYSJSON, system_type="cloud")
    assert_finding(tree, "Y006", SYSJSON, line=json_key_line(tree / SYSJSON, "system_type"))


def test_y007_implementation_json_missing(tree):
    (tree / MEAS / f"{SYSTEM}_Offline.json").unlink()
    assert_finding(tree, "Y007", MEAS)


def test_y008_implementation_field(tree):
    edit_json(tree / MEAS / f"{SYSTEM}_Offline.json", retraining=None)
    assert_finding(tree, "Y008", f"{MEAS}/{SYSTEM}_Offline.json")


# -- performance -------------------------------------------------------------------------------------
DETAIL = f"{PERF}/mlperf_log_detail.txt"


@pytest.mark.parametrize(
    ("rule", "key", "value"),
    [
        ("P001", "result_validity", "INVALID"),
        ("P003", "effective_scenario", "MultiStream"),
        ("P004", "effective_test_mode", "AccuracyOnly"),
        ("P005", "effective_samples_per_query", 1000),
        ("P006", "effective_min_duration_ms", 60000),
        ("P008", "effective_qsl_rng_seed", 12345),
        ("P009", "effective_performance_sample_count", 512),
    ],
)
def test_performance_rules(tree, rule, key, value):
    line = set_mllog_value(tree / DETAIL, key, value)
    assert_finding(tree, rule, DETAIL, line=line)


def test_p002_loadgen_error(tree):
    line = append_mllog_error(tree / DETAIL, "Ending early: Ran out of generated queries")
    assert_finding(tree, "P002", DETAIL, line=line)


def test_p012_metric_missing(tree):
    set_mllog_value(tree / DETAIL, "result_samples_per_second", "n/a")
    assert_finding(tree, "P012", PERF)


def test_p007_latency_bound_server(corpus, tmp_path):
    root = copy_system(corpus("v1.0"), tmp_path / "t", "closed", "Alibaba", "DGX-A100_A100-SXM4-40GBx8_TRT")
    detail = root / "closed/Alibaba/results/DGX-A100_A100-SXM4-40GBx8_TRT/resnet50/Server/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(detail, "result_99.00_percentile_latency_ns", 16_000_000)
    assert_finding(root, "P007", str(detail.relative_to(root)), line=line)


# -- accuracy ------------------------------------------------------------------------------------------
def test_a002_below_target(tree):
    line = replace_in_file(tree / ACC / "accuracy.txt", r"accuracy=[\d.]+%", "accuracy=75.000%")
    finding = assert_finding(tree, "A002", f"{ACC}/accuracy.txt", line=line)
    assert finding.expected == ">= 75.6954" and finding.found == "75"


def test_a001_no_value(tree):
    (tree / ACC / "accuracy.txt").write_text("hash=" + "0" * 64 + "\n")
    assert_finding(tree, "A001", f"{ACC}/accuracy.txt")


def test_a004_no_hash(tree):
    (tree / ACC / "accuracy.txt").write_text("accuracy=76.028%, good=38014, total=50000\n")
    assert_finding(tree, "A004", f"{ACC}/accuracy.txt")


def test_a006_fused_hash(tree):
    (tree / ACC / "accuracy.txt").write_text("accuracy=76.028%, good=38014, total=50000hash=" + "a" * 64 + "\n")
    assert_finding(tree, "A006", f"{ACC}/accuracy.txt")


def test_a005_untruncated_log(tree):
    path = tree / ACC / "mlperf_log_accuracy.json"
    entries = ",\n".join(f'{{ "seq_id" : {i}, "qsl_idx" : {i}, "data" : "{"AB" * 8}" }}' for i in range(400))
    path.write_text("[\n" + entries + "\n]\n")
    assert_finding(tree, "A005", f"{ACC}/mlperf_log_accuracy.json")


def test_a007_accuracy_log_error(tree):
    line = append_mllog_error(tree / ACC / "mlperf_log_detail.txt", "Received completion for an old sample.")
    assert_finding(tree, "A007", f"{ACC}/mlperf_log_detail.txt", line=line)


# -- compliance ---------------------------------------------------------------------------------------
def test_c001_missing_test(tree):
    shutil.rmtree(tree / COMP / "TEST01")
    assert_finding(tree, "C001", f"{COMP}/TEST01")


def test_c002_missing_verify(tree):
    (tree / COMP / "TEST05" / "verify_performance.txt").unlink()
    assert_finding(tree, "C002", f"{COMP}/TEST05/verify_performance.txt")


def test_c003_claimed_failure(tree):
    line = replace_in_file(tree / COMP / "TEST05" / "verify_performance.txt", r"TEST PASS", "TEST FAIL")
    assert_finding(tree, "C003", f"{COMP}/TEST05/verify_performance.txt", line=line)


# -- engine behaviour -------------------------------------------------------------------------------
def test_x001_isolates_a_crashing_check(tree, monkeypatch):
    from checker.engine.registry import REGISTRY

    def explode(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(REGISTRY["P008"], "check", explode)
    set_mllog_value(tree / DETAIL, "effective_min_duration_ms", 60000)
    _, found = findings(tree)
    rules = {f.rule for f in found}
    assert "X001" in rules and "P006" in rules  # the crash is a finding; the other checks still ran
    assert any("boom" in f.message for f in found if f.rule == "X001")


def test_all_problems_reported_at_once(tree):
    set_mllog_value(tree / DETAIL, "effective_min_duration_ms", 60000)
    set_mllog_value(tree / DETAIL, "effective_qsl_rng_seed", 1)
    edit_json(tree / SYSJSON, status="soon")
    by_rule = errors_by_rule(tree)
    assert {"P006", "P008", "Y005"} <= set(by_rule)


def test_select_and_ignore(tree):
    set_mllog_value(tree / DETAIL, "effective_min_duration_ms", 60000)
    set_mllog_value(tree / DETAIL, "effective_qsl_rng_seed", 1)
    doc = run_check(tree, round_name="v1.0", select=["P"], ignore=["P008"])
    rules = {f.rule for r in doc.results for f in r.findings}
    assert "P006" in rules and "P008" not in rules and not any(r.startswith("Y") for r in rules)
    assert all(rule.startswith("P") and rule != "P008" for rule in doc.rules_run)


def test_system_finding_invalidates_each_result_once(tree):
    edit_json(tree / SYSJSON, status="soon")
    doc = run_check(tree, round_name="v1.0")
    assert [r.verdict for r in doc.results] == ["invalid", "invalid"]
    assert sum(1 for f in doc.findings if f.rule == "Y005") == 1
