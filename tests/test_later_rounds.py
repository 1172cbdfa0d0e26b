"""Rules of the rounds after v1.0 on small trees cut from the v4.1 corpus and the v6 sample tree:
one defect planted per test, the rule that must catch it, its file and line.

(Real LoadGen runs against the v6.1 seed/early-stopping/equal-issue rules: test_v61_loadgen_rules.py;
the corpora as a whole: test_corpus_verdicts.py, test_corpus_metrics.py, test_v6_sample.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tree_builder import copy_system, replace_in_file, set_mllog_value

from checker.check import run_check
from checker.discover import discover
from checker.engine.roundsel import detect_round
from checker.engine.rulepack import load_pack

V6_SYSTEM = ("closed", "AMD", "8xMI300X_2xEPYC_9575F")
V6_RESULTS = "closed/AMD/results/8xMI300X_2xEPYC_9575F"


def findings(doc, rule: str, path_part: str = "") -> list:
    return [f for r in doc.results if path_part in r.path for f in r.findings if f.rule == rule]


@pytest.fixture
def v6_tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v6-sample"), tmp_path / "tree", *V6_SYSTEM)


@pytest.fixture
def v41_cisco(corpus, tmp_path) -> Path:
    return copy_system(corpus("v4.1"), tmp_path / "tree", "closed", "Cisco", "C240M7_L40Sx2_TRT")


@pytest.fixture
def v41_power(corpus, tmp_path) -> Path:
    return copy_system(corpus("v4.1"), tmp_path / "tree", "closed", "UntetherAI", "h13_u3_slim")


# -- packs -------------------------------------------------------------------------------------------

def test_every_round_from_v0_5_to_v6_1_has_a_pack():
    for name in ("v1.1", "v2.0", "v2.1", "v3.0", "v3.1", "v4.0", "v4.1", "v5.0", "v5.1", "v6.0", "v6.1"):
        pack = load_pack(name)
        assert pack.round == name and pack.extends is not None
    assert load_pack("v6.1").layout.code_dirs == ["src"]
    assert load_pack("v6.1").seeds["qsl_rng_seed"] == 2085463073848966840
    assert load_pack("v2.0").early_stopping is not None and load_pack("v1.1").early_stopping is None


def test_round_detection_by_loadgen_version_and_layout(corpus, tmp_path):
    """Without a round's seeds, the LoadGen version decides (6.0.16+ is v6.1, earlier 6.0.x v6.0)."""
    root = copy_system(corpus("v6-sample"), tmp_path / "tree", *V6_SYSTEM)
    logs = list(root.glob("closed/AMD/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))
    for version, expected in (("6.0.17 @ d6147c7eb7", "v6.1"), ("6.0.5 @ 0123456789", "v6.0"),
                              ("4.1 @ 379ee5345a", "v4.1")):
        for log in logs:
            set_mllog_value(log, "effective_qsl_rng_seed", 1)
            set_mllog_value(log, "loadgen_version", version)
        detection = detect_round(discover(root))
        assert detection.round == expected, (version, detection.reasons)
        assert "LoadGen version" in detection.reasons[0]
    for log in logs:
        set_mllog_value(log, "loadgen_version", "custom")
    detection = detect_round(discover(root))
    assert detection.round == "v6.1" and "src" in detection.reasons[0]  # the v6 layout, newest round of it


# -- early stopping, latency targets, LLM token latencies ------------------------------------------

def test_p022_server_target_above_the_bound(v41_cisco):
    log = v41_cisco / "closed/Cisco/results/C240M7_L40Sx2_TRT/resnet50/Server/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(log, "effective_target_latency_ns", 20_000_000)
    doc = run_check(v41_cisco, round_name="v4.1", select=["P022"])
    found = findings(doc, "P022")
    assert [(f.line, f.expected) for f in found] == [(line, "<= 15000000 ns")]


def test_p020_early_stopping_not_met(v41_cisco):
    log = v41_cisco / "closed/Cisco/results/C240M7_L40Sx2_TRT/resnet50/Server/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(log, "early_stopping_met", False)
    doc = run_check(v41_cisco, round_name="v4.1", select=["P020"])
    assert [f.line for f in findings(doc, "P020")] == [line]


def test_p025_interactive_is_judged_by_its_own_limits(v6_tree):
    """A TTFT of 500 ms is within Llama2-70B's Server limit (2000 ms) but not its Interactive one
    (450 ms): the official modular checker looks the limit up by LoadGen's scenario (Server) and
    passes it; we look it up by the folder."""
    log = v6_tree / f"{V6_RESULTS}/llama2-70b-99.9/Interactive/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(log, "result_first_token_99.00_percentile_latency_ns", 500_000_000)
    doc = run_check(v6_tree, round_name="v6.0", select=["P025", "P026"])
    found = findings(doc, "P025")
    assert [(f.line, f.expected, f.severity) for f in found] == [(line, "< 450000000 ns", "error")]
    assert "Interactive limit" in found[0].message
    server = v6_tree / f"{V6_RESULTS}/llama2-70b-99.9/Server/performance/run_1/mlperf_log_detail.txt"
    set_mllog_value(server, "result_first_token_99.00_percentile_latency_ns", 500_000_000)
    assert not findings(run_check(v6_tree, round_name="v6.0", select=["P025"]), "P025", "/Server")


def test_p026_and_p024(v6_tree):
    log = v6_tree / f"{V6_RESULTS}/llama2-70b-99/Server/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(log, "result_time_per_output_token_99.00_percentile_ns", 200_000_000)
    offline = v6_tree / f"{V6_RESULTS}/llama2-70b-99/Offline/performance/run_1/mlperf_log_detail.txt"
    off_line = set_mllog_value(offline, "requested_use_token_latencies", False)
    doc = run_check(v6_tree, round_name="v6.0", select=["P024", "P026"])
    assert [f.line for f in findings(doc, "P026")] == [line]  # strictly below 200 ms
    assert [f.line for f in findings(doc, "P024")] == [off_line]


def test_p023_equal_issue_off_is_an_error_from_v5_0(v6_tree):
    log = v6_tree / f"{V6_RESULTS}/mixtral-8x7b/Offline/performance/run_1/mlperf_log_detail.txt"
    line = set_mllog_value(log, "effective_sample_concatenate_permutation", False)
    doc = run_check(v6_tree, round_name="v6.0", select=["P023"])
    assert [(f.line, f.severity) for f in findings(doc, "P023")] == [(line, "error")]


# -- scenarios, accuracy -----------------------------------------------------------------------------

def test_s017_one_of_server_or_interactive(v6_tree):
    for scenario in ("Server", "Interactive"):
        shutil.rmtree(v6_tree / f"{V6_RESULTS}/llama2-70b-99.9/{scenario}")
    doc = run_check(v6_tree, round_name="v6.0", select=["S017"])
    found = [f for f in doc.findings if f.rule == "S017"]
    assert len(found) == 1 and found[0].expected == "one of Server, Interactive"
    assert "llama2-70b-99.9" in found[0].message


def test_a002_tokens_per_sample_upper_limit(v6_tree):
    path = v6_tree / f"{V6_RESULTS}/llama2-70b-99/Offline/accuracy/accuracy.txt"
    line = replace_in_file(path, r"'tokens_per_sample': [\d.]+", "'tokens_per_sample': 330.0")
    doc = run_check(v6_tree, round_name="v6.0", select=["A002"])
    found = findings(doc, "A002", "llama2-70b-99/Offline")
    assert [(f.line, f.expected) for f in found] == [(line, "<= 323.895")]


def test_a002_scenario_specific_targets():
    targets = load_pack("v6.1").benchmarks["qwen3-vl-235b-a22b"].accuracy
    assert {(t.target, tuple(t.scenarios or ())) for t in targets} == {
        (0.782397, ("Offline", "Server")), (0.779922, ("Interactive",))}


# -- compliance --------------------------------------------------------------------------------------

def test_c021_test06_recomputed(v6_tree):
    log = v6_tree / f"{V6_RESULTS}/llama2-70b-99/Server/TEST06/accuracy/mlperf_log_accuracy.json"
    entries = json.loads(log.read_text())
    entries[3]["token_count"] += 1                              # length check
    entries[5]["data"] = entries[5]["data"] + "02000000"        # a second EOS
    entries[7]["token_data"] = "FFFFFFFF"                       # first token not the output's
    log.write_text("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")
    doc = run_check(v6_tree, round_name="v6.0", select=["C021"])
    errors = [f for f in findings(doc, "C021", "llama2-70b-99/Server") if f.severity == "error"]
    texts = " | ".join(f.message for f in errors)
    assert len(errors) == 3, texts
    assert "token_count differs" in texts and "end-of-sequence" in texts and "first token" in texts
    assert "verify_accuracy.txt says" in texts  # the claim is quoted next to the recomputation
    clean = findings(doc, "C021", "llama2-70b-99/Offline")
    assert [f.severity for f in clean] == ["info"]


def test_c020_test04_faster_than_the_submission_run(v41_cisco):
    folder = v41_cisco / "closed/Cisco/compliance/C240M7_L40Sx2_TRT/resnet50/Offline/TEST04/performance/run_1"
    reference = v41_cisco / "closed/Cisco/results/C240M7_L40Sx2_TRT/resnet50/Offline/performance/run_1"
    ref_value = next(json.loads(line[9:])["value"] for line in (reference / "mlperf_log_detail.txt").open()
                     if '"result_samples_per_second"' in line)
    line = set_mllog_value(folder / "mlperf_log_detail.txt", "result_samples_per_second", ref_value * 1.25)
    doc = run_check(v41_cisco, round_name="v4.1", select=["C020"])
    found = [f for f in findings(doc, "C020", "resnet50/Offline") if f.severity == "error"]
    assert [f.line for f in found] == [line] and "+25.0 % faster" in found[0].message
    assert [f.severity for f in findings(doc, "C020", "resnet50/Server")] == ["info"]


def test_c020_plain_rerun_in_the_test04_folder(v41_cisco):
    log = (v41_cisco / "closed/Cisco/compliance/C240M7_L40Sx2_TRT/resnet50/Server/TEST04/performance/run_1/"
           "mlperf_log_detail.txt")
    line = set_mllog_value(log, "effective_performance_issue_same", False)
    doc = run_check(v41_cisco, round_name="v4.1", select=["C020"])
    found = [f for f in findings(doc, "C020", "resnet50/Server") if f.severity == "error"]
    assert [f.line for f in found] == [line] and "plain performance run" in found[0].message


def test_c022_test09_output_length(v6_tree):
    """A gpt-oss-120b result (a Llama2 result renamed, enough for the rule) with a TEST09 run."""
    bench = v6_tree / f"{V6_RESULTS}/gpt-oss-120b"
    shutil.copytree(v6_tree / f"{V6_RESULTS}/llama2-70b-99", bench)
    test09 = bench / "Offline/TEST09"
    (test09 / "accuracy").mkdir(parents=True)
    entries = [{"seq_id": i, "qsl_idx": i, "data": "01000000" * 4, "token_count": 1000 + i} for i in range(10)]
    (test09 / "accuracy/mlperf_log_accuracy.json").write_text(json.dumps(entries))
    (test09 / "verify_output_len.txt").write_text("Mean output tokens: 1004.5\nTEST PASS\n")
    doc = run_check(v6_tree, round_name="v6.0", select=["C022"])
    found = findings(doc, "C022", "gpt-oss-120b/Offline")
    errors = [f for f in found if f.severity == "error"]
    recomputed = [f for f in errors if "1004.50" in f.message]
    assert [f.expected for f in recomputed] == ["1150.38 <= mean <= 1406.02"]
    assert any("contradicts" in f.message for f in errors)  # it claims TEST PASS


# -- power ---------------------------------------------------------------------------------------

POWER = "closed/UntetherAI/results/h13_u3_slim/resnet50/singlestream/performance"


def test_power_files_and_energy_metric(v41_power):
    doc = run_check(v41_power, round_name="v4.1", select=["S030", "P027", "P028"])
    energy = findings(doc, "P027", "singlestream")
    assert [f.severity for f in energy] == ["info"] and energy[0].found == "29.239 mJ/query"
    assert not [f for r in doc.results for f in r.findings if f.severity != "info"]
    (v41_power / POWER / "power/server.log").unlink()
    doc = run_check(v41_power, round_name="v4.1", select=["S030"])
    assert [f.path for f in findings(doc, "S030", "singlestream")] == [f"{POWER}/power/server.log"]


def test_power_samples_outside_the_window(v41_power):
    spl = v41_power / POWER / "run_1/spl.txt"
    spl.write_text(spl.read_text().replace("07-23-2024", "07-22-2024"))  # a day before the run
    doc = run_check(v41_power, round_name="v4.1", select=["P027"])
    found = findings(doc, "P027", "singlestream")
    assert [f.severity for f in found] == ["error"] and "no positive power sample" in found[0].message


def test_power_gap_in_the_samples(v41_power):
    spl = v41_power / POWER / "run_1/spl.txt"
    lines = spl.read_text().splitlines(keepends=True)
    spl.write_text("".join(lines[:200] + lines[260:]))  # about a minute without samples
    doc = run_check(v41_power, round_name="v4.1", select=["P028"])
    found = findings(doc, "P028", "singlestream")
    assert [f.severity for f in found] == ["warning"] and "gap" in found[0].message


# -- the endpoints harness ---------------------------------------------------------------------------

def _endpoints_result(root: Path, audit_passed: bool = True) -> Path:
    """Turn the v6 sample's llama2-70b-99.9 Offline result into an endpoints result of llama3.1-8b."""
    result = root / f"{V6_RESULTS}/llama3.1-8b/Offline"
    result.mkdir(parents=True)
    (result / "README.md").write_text("how to run\n")
    (root / f"{V6_RESULTS}/llama3.1-8b/Offline/measurements.json").write_text(
        (root / f"{V6_RESULTS}/llama2-70b-99.9/Offline/measurements.json").read_text())
    (result / "config.yaml").write_text("model: llama3.1-8b\nscenario: Offline\nsettings:\n  load: 100\n")
    (result / "performance").mkdir()
    (result / "performance/result_summary.json").write_text(json.dumps({"qps": 12.5, "latency": {"p99": 3.1}}))
    (result / "accuracy").mkdir()
    (result / "accuracy/accuracy_results.json").write_text(
        json.dumps({"accuracy_scores": [{"score": 38.9, "dataset_type": "accuracy", "total_samples": 13368}]}))
    (result / "audit").mkdir()
    (result / "audit/audit_consistency_output_test.json").write_text(
        json.dumps({"test": "consistency_output_test", "passed": audit_passed}, indent=2))
    return result


def test_endpoints_result_is_checked_by_its_own_rules(v6_tree):
    result = _endpoints_result(v6_tree, audit_passed=False)
    doc = run_check(v6_tree, round_name="v6.1")
    (report,) = [r for r in doc.results if r.path.endswith("llama3.1-8b/Offline")]
    rules = {f.rule for f in report.findings if f.severity == "error"}
    # no LoadGen logs, no user.conf, no TEST06 folder: not reported by the LoadGen-log rules
    assert not rules & {"S006", "S011", "S013", "C001", "P012"}, rules
    c023 = [f for f in report.findings if f.rule == "C023"]
    assert [(f.path, f.line) for f in c023] == [
        (f"{V6_RESULTS}/llama3.1-8b/Offline/audit/audit_consistency_output_test.json", 3)]
    (result / "performance/result_summary.json").unlink()
    doc = run_check(v6_tree, round_name="v6.1", select=["S031", "A021"])
    assert [f.path for f in findings(doc, "S031", "llama3.1-8b")] == [
        f"{V6_RESULTS}/llama3.1-8b/Offline/performance/result_summary.json"]
    assert not findings(doc, "A021", "llama3.1-8b")  # 38.9 is a score, and above the first target


def test_endpoints_accuracy_score_missing(v6_tree):
    result = _endpoints_result(v6_tree)
    (result / "accuracy/accuracy_results.json").write_text(json.dumps({"accuracy_scores": []}))
    doc = run_check(v6_tree, round_name="v6.1", select=["A021"])
    assert [f.message for f in findings(doc, "A021", "llama3.1-8b")] == ["no accuracy score in the harness' results"]


def test_rules_command_lists_every_round():
    from click.testing import CliRunner

    from checker.cli import main
    from checker.engine.rulepack import known_rounds

    rounds = [r for r in known_rounds() if r != "sample"]
    assert rounds[0] == "v0.5" and rounds[-1] == "v6.1" and len(rounds) == 14
    for name in rounds:
        result = CliRunner().invoke(main, ["rules", "--round", name], catch_exceptions=False)
        assert result.exit_code == 0, name
        assert ("P020" in result.output) == (name >= "v2.0"), name
        assert ("P023" in result.output) == (name >= "v4.1"), name


def test_broken_endpoints_and_power_files_are_findings(v6_tree, v41_power):
    result = _endpoints_result(v6_tree)
    (result / "config.yaml").write_text("model: [unclosed\n")
    (result / "accuracy/accuracy_results.json").write_text('{"accuracy_scores": [')
    doc = run_check(v6_tree, round_name="v6.1")
    rules = {(f.rule, f.path) for r in doc.results for f in r.findings}
    assert ("S004", f"{V6_RESULTS}/llama3.1-8b/Offline/config.yaml") in rules
    assert ("S004", f"{V6_RESULTS}/llama3.1-8b/Offline/accuracy/accuracy_results.json") in rules
    assert not [rule for rule, _ in rules if rule == "X001"]
    (v41_power / POWER / "run_1/spl.txt").write_bytes(b"\x00\x01garbage" * 100)
    doc = run_check(v41_power, round_name="v4.1")
    assert not [f for r in doc.results for f in r.findings if f.rule == "X001"]
    assert findings(doc, "S004", "singlestream")
