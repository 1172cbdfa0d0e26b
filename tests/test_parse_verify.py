"""Compliance verification outputs: verdicts, figures, TEST06/TEST09 checks, broken files."""

from __future__ import annotations

from pathlib import Path

from corpus_cache import ROUNDS

from checker.parse.verify import figure_key, parse_verify

VERIFY_NAMES = ("verify_accuracy.txt", "verify_performance.txt", "verify_test4_performance.txt",
                "performance-verify-result.txt", "verify_output_len.txt")


def write(tmp_path: Path, text: str | bytes, name: str = "verify_performance.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def codes(result) -> list[str]:
    return [p.code for p in result.problems]


# --------------------------------------------------------------------------------------------------
# Synthetic outputs


def test_performance_output(tmp_path):
    text = (
        "Verifying performance.\n"
        "WARNING: 1 ERROR reported in reference results\n"
        "reference score = 2367.65\n"
        "test score = 2372.71\n"
        "TEST PASS\n"
    )
    res = parse_verify(write(tmp_path, text), root=tmp_path)
    assert res.kind == "verify" and res.path == "verify_performance.txt"
    assert res.ok, res.problems
    m = res.model
    assert (m.verdict.value, m.verdict.line) == ("PASS", 5) and not m.conflicting_verdicts
    (v,) = m.verdicts
    assert (v.passed, v.text, v.line, v.at_line_start, v.fused, v.reason, v.section) == (
        True, "TEST PASS", 5, True, False, None, "performance")
    assert m.figure("reference score").value == 2367.65 and m.figure("reference_score").line == 3
    assert m.figure("Test Score").value == 2372.71
    assert [(f.key, f.section) for f in m.figures] == [("reference_score", "performance"),
                                                       ("test_score", "performance")]
    assert [(w.value, w.line) for w in m.warnings] == [("WARNING: 1 ERROR reported in reference results", 2)]
    assert [(s.value, s.line) for s in m.sections] == [("Verifying performance.", 1)]
    assert m.line_count == 5


def test_fused_steps_and_fail_reason(tmp_path):
    """Two steps' outputs concatenated without a newline; a failing performance step with a reason."""
    text = (
        "Verifying accuracy. This might take a while...\n"
        "num_perf_log_data_mismatch = 0\n"
        "TEST PASSVerifying performance.\n"
        "reference score = 100\n"
        "test score = 80\n"
        "TEST FAIL: Test score invalid\n"
    )
    m = parse_verify(write(tmp_path, text)).model
    assert (m.verdict.value, m.verdict.line) == ("FAIL", 6) and m.conflicting_verdicts
    assert [(v.passed, v.line, v.fused, v.reason, v.section) for v in m.verdicts] == [
        (True, 3, True, None, "accuracy"),
        (False, 6, False, "Test score invalid", "performance"),
    ]
    assert m.figure("num_perf_log_data_mismatch", section="accuracy").value == 0
    assert m.figure("num_perf_log_data_mismatch", section="performance") is None
    assert m.figure("test score", section="performance").value == 80
    assert [(s.value, s.line) for s in m.sections] == [
        ("Verifying accuracy. This might take a while...", 1),
        ("Verifying performance.", 3),
    ]


def test_test06_checks(tmp_path):
    text = "First token check pass: Skipped\nEOS check pass: True\nSample length check pass: True\n" \
           "TEST06 verification complete\n"
    res = parse_verify(write(tmp_path, text, "verify_accuracy.txt"))
    assert res.ok, res.problems  # TEST06 prints no verdict line, so none is required
    m = res.model
    assert m.verdict is None and m.checks_pass is True
    assert [(c.key, c.status, c.passed, c.line) for c in m.checks] == [
        ("first_token_check", "Skipped", None, 1),
        ("eos_check", "True", True, 2),
        ("sample_length_check", "True", True, 3),
    ]
    assert m.completion.value == "TEST06" and m.completion.line == 4
    failed = parse_verify(write(tmp_path, text.replace("EOS check pass: True", "EOS check pass: False"))).model
    assert failed.checks_pass is False
    skipped = parse_verify(write(tmp_path, "First token check pass: Skipped\n")).model
    assert skipped.checks_pass is None


def test_test09_output_len(tmp_path):
    text = "\n".join([
        "=" * 80, "TEST09: Verify Output Token Length in Performance Mode", "=" * 80, "",
        "Output Token Length Statistics", "-" * 40,
        "Total samples: 6396", "Mean output tokens: 1302.17", "Min output tokens: 3", "Max output tokens: 10000",
        "Std deviation: 88.10", "", "=" * 80, "Verification Results", "=" * 80,
        "Mean output tokens: 1302.17", "Min threshold: 1150.38", "Max threshold: 1406.02",
        "Min check pass: True", "Max check pass: True", "", "TEST PASS", "",
    ])
    res = parse_verify(write(tmp_path, text, "verify_output_len.txt"))
    assert res.ok, res.problems
    m = res.model
    assert (m.verdict.value, m.verdict.line) == ("PASS", 22)
    assert m.figure("total samples").value == 6396
    assert [s.value for s in m.figure_values("mean output tokens")] == [1302.17, 1302.17]
    assert m.figure("min threshold").value == 1150.38 and m.figure("max threshold").line == 18
    assert [(c.key, c.passed) for c in m.checks] == [("min_check", True), ("max_check", True)]
    assert m.checks_pass is True


def test_figures_with_units_and_flags(tmp_path):
    m = parse_verify(write(tmp_path, "Latency: 12.5 ms\nMin threshold: 3 -> FAIL\nTEST04-A score = 1e3\n"
                                      "line 184, in <module>\nTEST FAIL\n")).model
    assert [(f.name, f.key, f.value, f.unit, f.flag) for f in m.figures] == [
        ("Latency", "latency", 12.5, "ms", None),
        ("Min threshold", "min_threshold", 3.0, None, "FAIL"),
        ("TEST04-A score", "test04_a_score", 1000.0, None, None),
    ]
    assert figure_key("TEST04-B  score") == "test04_b_score"


def test_no_verdict_is_a_problem(tmp_path):
    text = (
        "Verifying accuracy. This might take a while...\n"
        "Traceback (most recent call last):\n"
        '  File "verify_accuracy.py", line 184, in <module>\n'
        "json.decoder.JSONDecodeError: Invalid control character at: line 288 column 9 (char 4096)\n"
    )
    res = parse_verify(write(tmp_path, text, "verify_accuracy.txt"))
    m = res.model
    assert m is not None and m.verdict is None and m.verdicts == []
    assert [(p.code, p.line) for p in res.problems] == [("no_verdict", 2)]
    assert "exception" in res.problems[0].message
    assert [e.line for e in m.errors] == [2, 4]
    assert m.figures == []  # "line 288 column 9" is not a figure


def test_empty_binary_missing_directory(tmp_path):
    res = parse_verify(write(tmp_path, ""))
    assert codes(res) == ["empty", "no_verdict"] and res.model.verdict is None
    res = parse_verify(write(tmp_path, bytes(range(32)) * 100, "bin.txt"))
    assert codes(res) == ["binary"] and res.model is None
    res = parse_verify(tmp_path / "absent.txt")
    assert codes(res) == ["missing"] and res.model is None
    res = parse_verify(tmp_path)
    assert codes(res) == ["not_a_file"] and res.model is None


def test_non_utf8_and_huge_line(tmp_path):
    res = parse_verify(write(tmp_path, b"\xff\xfe garbage\nTEST PASS\n"))
    assert [(p.code, p.line) for p in res.problems] == [("encoding", 1)]
    assert (res.model.verdict.value, res.model.verdict.line) == ("PASS", 2)
    res = parse_verify(write(tmp_path, "y" * (10 << 20) + "\ntest score = 5\nTEST FAIL\n"))
    assert [(p.code, p.line) for p in res.problems] == [("line_too_long", 1)]
    assert res.model.verdict.value == "FAIL" and res.model.figure("test score").line == 2


# --------------------------------------------------------------------------------------------------
# The real corpus


def test_every_corpus_verify_file_parses(corpus):
    """Every verification output of every round parses; the files without a verdict are exactly the
    ones whose script crashed, printed nothing, or stopped before its verdict."""
    seen = 0
    outcome = {"PASS": 0, "FAIL": 0, "test06": 0}
    no_verdict = []
    for round_name in ROUNDS:
        root = corpus(round_name)
        for path in sorted(p for p in root.rglob("*.txt") if p.name in VERIFY_NAMES):
            res = parse_verify(path, root)
            m = res.model
            assert m is not None, path
            seen += 1
            assert set(codes(res)) <= {"no_verdict", "empty"}, (path, res.problems)
            if m.verdict:
                outcome[m.verdict.value] += 1
                assert not m.conflicting_verdicts, path
            elif m.checks:
                outcome["test06"] += 1
                assert m.checks_pass is True and m.completion.value == "TEST06", path
            else:
                no_verdict.append((round_name, res.path))
                assert "no_verdict" in codes(res)
    assert seen == 1081
    assert outcome == {"PASS": 1007, "FAIL": 25, "test06": 34}
    assert len(no_verdict) == 15
    assert ("v0.7", "closed/QCT/compliance/QCT_D52G_A100-PCIex10_TRT/resnet50/Server/TEST01/verify_performance.txt"
            ) in no_verdict


def test_v05_alibaba_resnet_server_test01(corpus):
    root = corpus("v0.5")
    res = parse_verify(root / "closed/Alibaba/audit/alibaba_HanGuang/resnet/Server/TEST01/verify_accuracy.txt", root)
    assert res.ok
    m = res.model
    assert (m.verdict.value, m.verdict.line) == ("PASS", 11)
    assert [(v.line, v.section) for v in m.verdicts] == [(11, "accuracy")]
    mismatch = m.figure("num_perf_log_data_mismatch")
    assert (mismatch.value, mismatch.line) == (0, 9)
    assert m.figure("num_acc_log_entries").value == 50000
    assert m.figure("num_perf_log_entries").value == 271915
    assert m.figure("num_perf_log_qsl_idx_match").value == 271915
    assert m.figure("num_missing_qsl_idxs").value == 0


def test_v07_altos_bert_test01_fails(corpus):
    root = corpus("v0.7")
    m = parse_verify(root / "closed/Altos/compliance/T4x4_TRT/bert-99/Offline/TEST01/verify_accuracy.txt").model
    assert (m.verdict.value, m.verdict.line) == ("FAIL", 11)
    assert m.figure("num_perf_log_data_mismatch").value == 32


def test_v07_dividiti_traceback(corpus):
    root = corpus("v0.7")
    res = parse_verify(root / "closed/Dividiti/compliance/firefly-tflite-v2.2.0-ruy/resnet50/singlestream/TEST01/"
                       "verify_accuracy.txt")
    assert res.model.verdict is None and codes(res) == ["no_verdict"]
    assert res.model.errors[0].value.startswith("Traceback") and res.model.errors[0].line == 2
    assert res.model.errors[-1].value.startswith("json.decoder.JSONDecodeError")


def test_v05_test04_and_furiosa_result(corpus):
    root = corpus("v0.5")
    m = parse_verify(root / "closed/Alibaba/audit/alibaba_HanGuang/resnet/Server/TEST04-A/"
                     "verify_test4_performance.txt").model
    assert m.verdict.value == "PASS"
    assert m.figure("TEST04-A score").value == m.figure("TEST04-B score").value == 46258.81
    m = parse_verify(root / "closed/FuriosaAI/audit/furiosa-multi-fpga/mobilenet/Offline/TEST03/"
                     "performance-verify-result.txt").model
    assert (m.figure("reference score").value, m.figure("test score").value) == (2367.65, 2372.71)
    assert (m.verdict.value, m.verdict.line) == ("PASS", 6) and len(m.warnings) == 2


def test_v6_capitalised_scores_and_test06(corpus):
    root = corpus("v6-sample")
    m = parse_verify(root / "closed/AMD/results/8xMI325x_2xEPYC-9655/stable-diffusion-xl/Offline/TEST01/"
                     "verify_performance.txt").model
    assert m.figure("reference_score").value == 18.5856 and m.figure("test_score").value == 17.3997
    assert m.verdict.value == "PASS"
    res = parse_verify(root / "closed/AMD/results/8xMI300X_2xEPYC_9575F/llama2-70b-99/Offline/TEST06/"
                       "verify_accuracy.txt")
    assert res.ok and res.model.verdict is None and res.model.checks_pass is True
    assert [c.status for c in res.model.checks] == ["Skipped", "True", "True"]
