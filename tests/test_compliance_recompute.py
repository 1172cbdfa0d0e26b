"""The compliance recomputation rules (C004-C009).

1. Real LoadGen: one SingleStream result in the v1.0 layout (results/…/performance/run_1 and
   accuracy, compliance/…/TEST01, TEST04-A, TEST04-B) made by the harness with the round's
   audit.config files, once with an honest SUT and once with dishonest ones: a SUT that returns
   garbage in performance mode (TEST01 must see its outputs differ) and one that serves repeated
   samples from a cache (TEST04-B must be much faster than TEST04-A). The inference is made
   expensive (a wide convolution, ~1 ms) so that skipping it is a large effect; the host is noisy,
   so only robust directions of the timing comparisons are asserted.
2. Synthetic edits of a real v1.0 result (Alibaba A10x1_TRT): each edit breaks one part and the
   test asserts the rule, file and line.
3. The corpus: every compliance folder of v0.5, v0.7 and v1.0 is recomputed without an internal
   error, and the outcome per result is pinned.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest
from tree_builder import copy_system, replace_in_file, set_mllog_value

from checker.check import run_check

RECOMPUTE_RULES = ("C004", "C005", "C006", "C007", "C008", "C009")

# -------------------------------------------------------------------------------------------------
# 1. Real LoadGen
# -------------------------------------------------------------------------------------------------

SUBMITTER, SYSTEM, BENCHMARK, SCENARIO = "Tester", "cpu_box", "resnet50", "SingleStream"
RESULT = f"closed/{SUBMITTER}/results/{SYSTEM}/{BENCHMARK}/{SCENARIO}"
COMPLIANCE = f"closed/{SUBMITTER}/compliance/{SYSTEM}/{BENCHMARK}/{SCENARIO}"

#: The v1.0 audit.config files (compliance/nvidia/TEST01/resnet50, TEST04-A, TEST04-B at v1.0.1).
AUDIT_CONFIGS = {
    "TEST01": "*.*.mode = 2\n*.*.accuracy_log_rng_seed = 720381539243781796\n"
              "*.*.accuracy_log_sampling_target = 4096\n",
    "TEST04-A": "*.*.mode = 2\n*.*.performance_issue_unique = 1\n*.*.performance_issue_same = 0\n",
    "TEST04-B": "*.*.mode = 2\n*.*.performance_issue_unique = 0\n*.*.performance_issue_same = 1\n"
                "*.*.performance_issue_same_index = 3\n",
}
LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")


@pytest.fixture(scope="module")
def loadgen_runs(tmp_path_factory):
    """key -> run folder: the accuracy run (shared), and per SUT the performance run, TEST01, TEST04-A/B."""
    from checker.rerun.harness import run_many
    from checker.rerun.presets import fast_spec
    from checker.rerun.tiny_model import write_tiny_assets

    base = tmp_path_factory.mktemp("compliance_runs")
    # A wide convolution: ~1 ms per sample, so that not computing it (garbage, cache) is a large effect.
    assets = write_tiny_assets(base / "assets", sample_shape=(1, 128, 128), hidden=256)
    audit = {}
    for test, text in AUDIT_CONFIGS.items():
        audit[test] = base / "assets" / f"{test}.audit.config"
        audit[test].write_text(text, encoding="utf-8")

    def spec(key: str, mode: str = "PerformanceOnly", **extra):
        return fast_spec(SCENARIO, mode, model_path=assets.model_path, samples_path=assets.samples_path,
                         output_dir=base / key, min_query_count=100, timeout_s=120.0, **extra)

    specs = {"accuracy": spec("accuracy", "AccuracyOnly")}
    for sut, perf_behaviour, test04_behaviour in (("honest", "honest", "honest"),
                                                  ("dishonest", "garbage_in_performance", "cache_repeated")):
        specs[f"{sut}-performance"] = spec(f"{sut}-performance", sut_behaviour=perf_behaviour)
        specs[f"{sut}-TEST01"] = spec(f"{sut}-TEST01", sut_behaviour=perf_behaviour, audit_config=audit["TEST01"])
        specs[f"{sut}-TEST04-A"] = spec(f"{sut}-TEST04-A", sut_behaviour=test04_behaviour,
                                        audit_config=audit["TEST04-A"])
        specs[f"{sut}-TEST04-B"] = spec(f"{sut}-TEST04-B", sut_behaviour=test04_behaviour,
                                        audit_config=audit["TEST04-B"])
    # One run at a time: each has the host to itself, which keeps the honest timings comparable.
    outcomes = dict(zip(specs, run_many(specs.values(), jobs=1), strict=True))
    # A stall of the shared host during one of the two ~1 s TEST04 runs can swamp the comparison;
    # such a pair is measured again (as the demo does), with a warning, at most twice.
    for _ in range(2):
        redo = [key for sut, noisy in (("honest", lambda r: r < 0.5), ("dishonest", lambda r: r > 0.2))
                if noisy(_p90_ratio(outcomes[f"{sut}-TEST04-B"].output_dir, outcomes[f"{sut}-TEST04-A"].output_dir))
                for key in (f"{sut}-TEST04-A", f"{sut}-TEST04-B")]
        if not redo:
            break
        warnings.warn(f"re-measuring TEST04 runs disturbed by the host: {redo}", stacklevel=2)
        outcomes.update(zip(redo, run_many([specs[key] for key in redo], jobs=1), strict=True))
    failed = {key: f"{o.failure}\n{o.stderr_tail}" for key, o in outcomes.items() if not o.ok}
    if failed:
        pytest.fail(f"LoadGen runs failed: {failed}")
    return {key: outcome.output_dir for key, outcome in outcomes.items()}


def _p90(run: Path) -> float:
    """result_90.00_percentile_latency_ns of a run, read independently of checker.parse."""
    for line in (run / "mlperf_log_detail.txt").read_text().splitlines():
        if line.startswith(":::MLLOG ") and '"result_90.00_percentile_latency_ns"' in line:
            return float(json.loads(line[len(":::MLLOG "):])["value"])
    return float("nan")


def _p90_ratio(b_run: Path, a_run: Path) -> float:
    try:
        return _p90(b_run) / _p90(a_run)
    except (OSError, ZeroDivisionError):
        return float("nan")


def _copy(source: Path, target: Path, names: tuple[str, ...]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)


def _summary_number(run: Path, label: str) -> float:
    for line in (run / "mlperf_log_summary.txt").read_text().splitlines():
        if line.strip().startswith(label):
            return float(line.split(":", 1)[1])
    raise KeyError(label)


def build_tree(root: Path, runs: dict[str, Path], sut: str) -> Path:
    """A v1.0-layout tree of one result, with verification outputs that claim TEST PASS throughout
    (what a submitter hiding a failure would ship)."""
    result = root / RESULT
    _copy(runs[f"{sut}-performance"], result / "performance" / "run_1", LOGS)
    _copy(runs["accuracy"], result / "accuracy", (*LOGS, "mlperf_log_accuracy.json"))
    compliance = root / COMPLIANCE
    for test in ("TEST01", "TEST04-A", "TEST04-B"):
        folder = compliance / test
        _copy(runs[f"{sut}-{test}"], folder / "performance" / "run_1", LOGS)
        shutil.copyfile(runs[f"{sut}-{test}"] / "audit.config", folder / "audit.config")
    _copy(runs[f"{sut}-TEST01"], compliance / "TEST01" / "accuracy", ("mlperf_log_accuracy.json",))
    sampled = json.loads((runs[f"{sut}-TEST01"] / "mlperf_log_accuracy.json").read_text())
    label = "90.00 percentile latency (ns)"
    reference = _summary_number(runs[f"{sut}-performance"], label)
    (compliance / "TEST01" / "verify_accuracy.txt").write_text(
        f"Verifying accuracy.\nnum_perf_log_entries = {len(sampled)}\nnum_perf_log_data_mismatch = 0\nTEST PASS\n")
    (compliance / "TEST01" / "verify_performance.txt").write_text(
        f"Verifying performance.\nreference score = {reference:.0f}\n"
        f"test score = {_summary_number(runs[f'{sut}-TEST01'], label):.0f}\nTEST PASS\n")
    (compliance / "TEST04-A" / "verify_performance.txt").write_text(
        f"Verifying performance.\nTEST04-A score = {_summary_number(runs[f'{sut}-TEST04-A'], label):.0f}\n"
        f"TEST04-B score = {_summary_number(runs[f'{sut}-TEST04-B'], label):.0f}\nTEST PASS\n")
    return root


def recompute_findings(root: Path) -> list:
    document = run_check(root, round_name="v1.0", select=["C"])
    return [f for r in document.results for f in r.findings if f.rule in RECOMPUTE_RULES]


def by_rule(findings: list, rule: str, severity: str | None = None) -> list:
    return [f for f in findings if f.rule == rule and (severity is None or f.severity == severity)]


def _ratio(finding) -> float:
    return float(finding.found)


@pytest.mark.loadgen
def test_honest_sut_passes(loadgen_runs, tmp_path):
    found = recompute_findings(build_tree(tmp_path / "honest", loadgen_runs, "honest"))
    # C004: the audit settings took effect in all three runs (info findings naming them).
    settings = by_rule(found, "C004")
    assert {f.severity for f in settings} == {"info"}, [f.message for f in settings]
    assert any("accuracy_log_sampling_target = 4096" in f.message for f in settings)
    assert any("performance_issue_same = true" in f.message and "performance_issue_same_index = 3" in f.message
               for f in settings)
    # C005: every sampled output equals its accuracy-mode output, byte for byte.
    (outputs,) = by_rule(found, "C005")
    assert outputs.severity == "info", outputs.message
    compared = int(re.search(r"(\d+) sampled outputs compared", outputs.message).group(1))
    assert compared > 0 and outputs.found == f"0 of {compared} differ"
    # No claim contradicts the outputs comparison.
    assert not [f for f in by_rule(found, "C009") if "TEST01 accuracy" in f.message]
    # Timing (noisy host): the figures are there; B is not dramatically faster than A.
    (test04,) = by_rule(found, "C007")
    assert "latency ratio B/A" in test04.message and _ratio(test04) > 0.5, test04.message
    (test01_performance,) = by_rule(found, "C006")
    assert "result_90.00_percentile_latency_ns" in test01_performance.message


@pytest.mark.loadgen
def test_garbage_in_performance_mode_fails_test01(loadgen_runs, tmp_path):
    root = build_tree(tmp_path / "dishonest", loadgen_runs, "dishonest")
    found = recompute_findings(root)
    (outputs,) = by_rule(found, "C005")
    assert outputs.severity == "error", outputs.message
    match = re.search(r"(\d+) sampled outputs compared byte for byte with the accuracy-mode run, (\d+) differ "
                      r"\(first differing qsl_idx (\d+)\)", outputs.message)
    assert match, outputs.message
    compared, differing, first = (int(g) for g in match.groups())
    assert compared > 0 and differing == compared  # random bytes never equal the real logits
    sampled_log = f"{COMPLIANCE}/TEST01/accuracy/mlperf_log_accuracy.json"
    assert outputs.path == sampled_log
    entries = json.loads((root / sampled_log).read_text())
    assert entries[outputs.line - 2]["qsl_idx"] == first  # line 1 is '[', entry k is on line k + 2
    # The claim of TEST PASS is contradicted by the evidence, as its own finding.
    claim = [f for f in by_rule(found, "C009", "error") if "TEST01 accuracy" in f.message]
    assert claim and claim[0].path == f"{COMPLIANCE}/TEST01/verify_accuracy.txt" and claim[0].line == 4
    assert f"{differing} of {compared} compared outputs differ" in claim[0].message
    # The settings were applied: the dishonesty is in the SUT, not in a skipped audit.config.
    assert not by_rule(found, "C004", "error")


@pytest.mark.loadgen
def test_caching_sut_fails_test04(loadgen_runs, tmp_path):
    found = recompute_findings(build_tree(tmp_path / "dishonest", loadgen_runs, "dishonest"))
    (test04,) = by_rule(found, "C007")
    assert test04.severity == "error", test04.message
    assert test04.path == f"{COMPLIANCE}/TEST04-B/performance/run_1/mlperf_log_detail.txt"
    assert _ratio(test04) < 0.2, test04.message  # cached answers skip a ~1 ms inference
    assert "caching" in test04.message and test04.expected == "B/A >= 0.900"
    claim = [f for f in by_rule(found, "C009", "error") if f.message.startswith("TEST04:")]
    assert claim and claim[0].path == f"{COMPLIANCE}/TEST04-A/verify_performance.txt"
    assert "claims TEST PASS, the logs give a latency ratio B/A of" in claim[0].message


@pytest.mark.loadgen
def test_truncated_accuracy_log_makes_test01_a_warning(loadgen_runs, tmp_path):
    """Published trees carry the truncated accuracy-mode log: the comparison is partial, said once."""
    root = build_tree(tmp_path / "honest", loadgen_runs, "honest")
    log = root / RESULT / "accuracy" / "mlperf_log_accuracy.json"
    text = log.read_text()
    log.write_text(text[:4096] + "\n\n...\n\n" + text[-4096:])
    (outputs,) = by_rule(recompute_findings(root), "C005")
    assert outputs.severity == "warning"
    assert "could not be compared in full" in outputs.message and "accuracy-mode log is truncated" in outputs.message
    assert "claim: verify_accuracy.txt claims TEST PASS" in outputs.message and "(not verified)" in outputs.message


# -------------------------------------------------------------------------------------------------
# 2. Synthetic edits of a real v1.0 result
# -------------------------------------------------------------------------------------------------

SUB = "closed/Alibaba"
A10 = "A10x1_TRT"
COMP = f"{SUB}/compliance/{A10}/resnet50/SingleStream"


@pytest.fixture
def tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", A10)


def ss_findings(root: Path) -> list:
    document = run_check(root, round_name="v1.0", select=["C"])
    result = next(r for r in document.results if r.scenario == "SingleStream")
    return [f for f in result.findings if f.rule in RECOMPUTE_RULES]


def test_real_result_recomputes_clean(tree):
    found = ss_findings(tree)
    assert {(f.rule, f.severity) for f in found} == {
        ("C004", "info"), ("C005", "warning"), ("C006", "info"), ("C007", "info"), ("C008", "info")}
    figures = {f.rule: f.found for f in found if f.rule in ("C006", "C007", "C008")}
    assert figures == {"C006": "426977 (-0.10 %)", "C007": "0.998", "C008": "432606 (+1.21 %)"}


def test_plain_rerun_in_test04b_is_an_error(tree):
    line = set_mllog_value(tree / COMP / "TEST04-B/performance/run_1/mlperf_log_detail.txt",
                           "effective_performance_issue_same", False)
    (finding,) = [f for f in ss_findings(tree) if f.rule == "C004" and f.severity == "error"]
    assert finding.line == line and "plain performance run, not TEST04-B" in finding.message


def test_test05_with_official_seeds_is_a_plain_rerun(tree):
    detail = tree / COMP / "TEST05/performance/run_1/mlperf_log_detail.txt"
    for key, value in (("effective_qsl_rng_seed", 7322528924094909334),
                       ("effective_sample_index_rng_seed", 1570999273408051088),
                       ("effective_schedule_rng_seed", 3507442325620259414)):
        set_mllog_value(detail, key, value)
    errors = [f for f in ss_findings(tree) if f.rule == "C004" and f.severity == "error"]
    assert len(errors) == 1 and "official seeds" in errors[0].message and "TEST05" in errors[0].message


def test_test05_out_of_band_contradicts_its_claim(tree):
    set_mllog_value(tree / COMP / "TEST05/performance/run_1/mlperf_log_detail.txt",
                    "result_90.00_percentile_latency_ns", 470000)
    found = ss_findings(tree)
    (test05,) = [f for f in found if f.rule == "C008"]
    assert test05.severity == "error" and test05.found == "470000 (+9.96 %)" and "allowed ±5 %" in test05.message
    claims = sorted((f.line, f.message) for f in found if f.rule == "C009")
    assert [line for line, _ in claims] == [3, 4]  # the printed test score, then the verdict
    assert "says test score = 432606, the logs give 470000" in claims[0][1]
    assert "claims TEST PASS, the logs give result_90.00_percentile_latency_ns 470000 vs 427415" in claims[1][1]


def test_test04b_served_faster_fails(tree):
    set_mllog_value(tree / COMP / "TEST04-B/performance/run_1/mlperf_log_detail.txt",
                    "result_90.00_percentile_latency_ns", 300000)
    (test04,) = [f for f in ss_findings(tree) if f.rule == "C007"]
    assert test04.severity == "error" and test04.found == "0.701"


def test_claimed_failure_that_the_logs_pass(tree):
    line = replace_in_file(tree / COMP / "TEST01/verify_performance.txt", r"TEST PASS", "TEST FAIL")
    (claim,) = [f for f in ss_findings(tree) if f.rule == "C009"]
    assert claim.line == line and "claims TEST FAIL, the logs say it passes" in claim.message


def test_test01_folder_holding_a_test05_run(tree):
    shutil.rmtree(tree / COMP / "TEST01/performance")
    shutil.copytree(tree / COMP / "TEST05/performance", tree / COMP / "TEST01/performance")
    errors = [f for f in ss_findings(tree) if f.rule == "C004" and f.severity == "error"]
    assert len(errors) == 1 and "the folder holds a TEST05 run" in errors[0].message


def test_open_division_failures_are_warnings(corpus, tmp_path):
    root = copy_system(corpus("v1.0"), tmp_path / "tree", "open", "Alibaba", A10)
    comp = f"open/Alibaba/compliance/{A10}/resnet50/SingleStream"
    set_mllog_value(root / comp / "TEST04-B/performance/run_1/mlperf_log_detail.txt",
                    "result_90.00_percentile_latency_ns", 1000)
    document = run_check(root, round_name="v1.0", select=["C"])
    found = [f for r in document.results for f in r.findings if f.rule == "C007" and f.severity != "info"]
    assert found and {f.severity for f in found} == {"warning"}


# -------------------------------------------------------------------------------------------------
# 3. The corpus
# -------------------------------------------------------------------------------------------------

#: round -> result -> its C004-C009 findings that are not notes (see outcome()); generated from the
#: corpus, then each one read (the reasons are in known_differences.md, 'Compliance recomputed').
CORPUS_OUTCOME: dict[str, dict[str, set[str]]] = {
    "v0.5": {
        "closed/Alibaba/results/alibaba_cloud_t4/ssd-large/Offline":
            {"C005:warning", "C009:warning"},
        "closed/CentaurTechnology/results/0/resnet/Offline":
            {"C005:warning", "C009:warning"},
        "closed/CentaurTechnology/results/0/resnet/SingleStream":
            {"C005:warning", "C009:warning"},
        "closed/CentaurTechnology/results/0/ssd-small/Offline":
            {"C005:warning", "C009:warning"},
        "closed/CentaurTechnology/results/0/ssd-small/SingleStream":
            {"C005:warning", "C009:warning"},
        "closed/FuriosaAI/results/furiosa-multi-fpga/mobilenet/Offline":
            {"C004:warning", "C005:warning"},
        "closed/FuriosaAI/results/furiosa-multi-fpga/ssd-small/Offline":
            {"C004:warning"},
        "closed/FuriosaAI/results/furiosa-single-fpga/mobilenet/SingleStream":
            {"C004:warning"},
        "closed/FuriosaAI/results/furiosa-single-fpga/ssd-small/SingleStream":
            {"C004:warning"},
        "closed/Habana/results/Goya_1/resnet/Offline":
            {"C005:warning", "C009:warning"},
        "closed/Qualcomm/results/SDM855/mobilenet/SingleStream":
            {"C005:warning", "C009:warning"},
        "closed/Qualcomm/results/SDM855/resnet/SingleStream":
            {"C005:warning", "C009:warning"},
        "open/Inspur/results/NF5888M5-1GPU/resnet50/Offline":
            {"C005:warning", "C006:warning"},
        "open/Qualcomm/results/SDM855/mobilenet/MultiStream":
            {"C005:warning", "C009:warning"},
    },
    "v0.7": {
        "closed/Altos/results/T4x4_TRT/3d-unet-99.9/Offline":
            {"C004:warning", "C005:warning", "C006:warning"},
        "closed/Dividiti/results/firefly-tflite-v2.2.0-ruy/resnet50/offline":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/firefly-tflite-v2.2.0-ruy/resnet50/singlestream":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/rpi4coral-armnn-v20.08-neon/resnet50/offline":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/rpi4coral-armnn-v20.08-neon/resnet50/singlestream":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/rpi4coral-tflite-v2.2.0-ruy/resnet50/offline":
            {"C005:warning", "C008:error"},
        "closed/Dividiti/results/rpi4coral-tflite-v2.2.0-ruy/resnet50/singlestream":
            {"C005:warning", "C008:error"},
        "closed/Dividiti/results/xavier-armnn-v20.08-neon/resnet50/offline":
            {"C005:warning", "C008:error"},
        "closed/Dividiti/results/xavier-armnn-v20.08-neon/resnet50/singlestream":
            {"C005:warning", "C008:error"},
        "closed/Dividiti/results/xavier-tensorrt-v6.0/resnet50/offline":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/xavier-tensorrt-v6.0/ssd-mobilenet/offline":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/Dividiti/results/xavier-tensorrt-v6.0/ssd-mobilenet/singlestream":
            {"C005:warning", "C006:error", "C008:error"},
        "closed/QCT/results/QCT_D52G_A100-PCIex10_TRT/resnet50/Server":
            {"C005:warning", "C006:error"},
        "open/Deci/results/macbook_pro_2019/resnet/Offline":
            {"C005:warning", "C007:warning"},
        "open/Deci/results/macbook_pro_2019/resnet/SingleStream":
            {"C005:warning", "C007:warning"},
        "open/Deci/results/n2-highcpu-16/resnet/Offline":
            {"C005:warning", "C007:warning"},
        "open/Deci/results/n2-highcpu-16/resnet/SingleStream":
            {"C005:warning", "C007:warning", "C008:warning", "C009:warning"},
        "open/Deci/results/n2-highcpu-2/resnet/Offline":
            {"C004:warning", "C005:warning", "C007:warning", "C009:warning"},
        "open/Deci/results/n2-highcpu-2/resnet/SingleStream":
            {"C004:warning", "C005:warning", "C007:warning", "C009:warning"},
        "open/Mobilint/results/mobilint_edgefive/ssd-small/Offline":
            {"C005:warning", "C009:warning"},
    },
    "v1.0": {
        "closed/GIGABYTE/results/GIGABYTE_G492-ZD0_A100-SXM-80GBx8/3d-unet-99.9/Offline":
            {"C005:warning", "C006:error", "C008:error", "C009:error"},
        "closed/GIGABYTE/results/GIGABYTE_G492-ZD0_A100-SXM-80GBx8/dlrm-99.9/Offline":
            {"C005:warning", "C006:error", "C008:error", "C009:error"},
        "closed/GIGABYTE/results/GIGABYTE_G492-ZD0_A100-SXM-80GBx8/dlrm-99.9/Server":
            {"C005:warning", "C006:error", "C008:error", "C009:error"},
        "closed/Krai/results/rpi4coral-fan.off-tflite-v2.4.1-ruy/resnet50/offline":
            {"C005:warning", "C008:error"},
        "closed/Krai/results/rpi4coral-fan.off-tflite-v2.4.1-ruy/resnet50/singlestream":
            {"C005:warning", "C008:error"},
        "closed/Krai/results/rpi4coral-fan.on-tflite-v2.4.1-ruy/resnet50/offline":
            {"C005:warning", "C008:error"},
        "closed/Krai/results/rpi4coral-fan.on-tflite-v2.4.1-ruy/resnet50/singlestream":
            {"C005:warning", "C008:error"},
        "closed/Krai/results/xavier-power.0-fan.cool-armnn-v21.02-neon/resnet50/offline":
            {"C005:warning", "C006:error", "C007:error", "C008:error"},
        "closed/Krai/results/xavier-power.0-fan.cool-armnn-v21.02-neon/resnet50/singlestream":
            {"C005:warning", "C006:error", "C007:error", "C008:error"},
    },
}
#: round -> (rule, severity) -> number of findings, notes included (every recomputed test yields one).
CORPUS_TALLY: dict[str, dict[tuple[str, str], int]] = {
    "v0.5": {
        ("C004", "info"): 167, ("C004", "warning"): 4, ("C005", "info"): 11, ("C005", "warning"): 24,
        ("C006", "info"): 69, ("C006", "warning"): 1, ("C007", "info"): 33, ("C008", "info"): 35,
        ("C009", "warning"): 11,
    },
    "v0.7": {
        ("C004", "info"): 278, ("C004", "warning"): 3, ("C005", "info"): 1, ("C005", "warning"): 78,
        ("C006", "error"): 8, ("C006", "info"): 70, ("C006", "warning"): 1, ("C007", "info"): 62,
        ("C007", "warning"): 6, ("C008", "error"): 11, ("C008", "info"): 66, ("C008", "warning"): 1,
        ("C009", "warning"): 5,
    },
    "v1.0": {
        ("C004", "info"): 328, ("C005", "warning"): 87, ("C006", "error"): 5, ("C006", "info"): 82,
        ("C007", "error"): 2, ("C007", "info"): 75, ("C008", "error"): 9, ("C008", "info"): 78,
        ("C009", "error"): 12,
    },
}


def outcome(doc) -> dict[str, set[str]]:
    """result -> its C004-C009 findings other than notes and the C005 'could not be compared in full'
    warning that every published (truncated) tree gets; results with none are left out."""
    out: dict[str, set[str]] = {}
    for result in doc.results:
        marks = {f"{f.rule}:{f.severity}" for f in result.findings if f.rule in RECOMPUTE_RULES and f.severity != "info"}
        if marks - {"C005:warning"}:
            out[result.path] = marks
    return out


def tally(doc) -> Counter:
    return Counter((f.rule, f.severity) for r in doc.results for f in r.findings if f.rule in RECOMPUTE_RULES)


@pytest.mark.parametrize("round_name", ["v0.5", "v0.7", "v1.0"])
def test_corpus_outcome_is_pinned(corpus_report, round_name):
    doc = corpus_report(round_name)
    assert not [f for r in doc.results for f in r.findings if f.rule == "X001"]
    assert outcome(doc) == CORPUS_OUTCOME[round_name]
    assert dict(tally(doc)) == CORPUS_TALLY[round_name]



KNOWN = Path(__file__).with_name("known_differences.md")
SECTION = "## Compliance recomputed"


def documented_contradictions() -> set[tuple[str, str, str]]:
    """(round, result, 'TESTxx/verify_….txt:line') of the C009 rows in known_differences.md."""
    rows: set[tuple[str, str, str]] = set()
    text = KNOWN.read_text(encoding="utf-8")
    round_name = None
    for line in text[text.index(SECTION):].splitlines():
        heading = re.match(r"^### (v\d+\.\d+)", line)
        if heading:
            round_name = heading.group(1)
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if round_name and len(cells) == 4 and "/results/" in cells[0]:
            rows.add((round_name, cells[0], cells[1]))
    return rows


def test_every_contradiction_is_documented(corpus_report):
    found = set()
    for round_name in ("v0.5", "v0.7", "v1.0"):
        for result in corpus_report(round_name).results:
            for f in result.findings:
                if f.rule == "C009":
                    found.add((round_name, result.path, f"{'/'.join(f.path.split('/')[-2:])}:{f.line}"))
    documented = documented_contradictions()
    assert sorted(found - documented) == [], "add these C009 findings to known_differences.md"
    assert sorted(documented - found) == [], "these documented contradictions no longer occur"
