"""Summary and detail log parsers: the whole corpus, fresh real-LoadGen logs, and broken input."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_cache import ROUNDS
from loadgen_runs import mllog_values

from checker.parse.loadgen_detail import parse_detail
from checker.parse.loadgen_summary import parse_summary

CANONICAL = {"SingleStream", "MultiStream", "Server", "Offline", "Interactive"}


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_summary_and_detail_parses(corpus, round_name):
    root = corpus(round_name)
    summaries = sorted(root.rglob("mlperf_log_summary.txt"))
    details = sorted(root.rglob("mlperf_log_detail.txt"))
    assert summaries and details
    for path in summaries:
        result = parse_summary(path, root)
        if result.model is None:
            assert result.problems, path  # unusable file: a structured problem, never silence
            continue
        model = result.model
        assert model.footer_only or model.scenario is None or model.scenario.value in CANONICAL
    for path in details:
        result = parse_detail(path, root)
        assert result.model is not None or result.problems, path
        if result.model is not None and result.model.format == "mllog":
            assert result.model.entries, path


def test_v05_text_detail_log_values_and_lines(corpus):
    root = corpus("v0.5")
    path = root / "closed/Alibaba/results/alibaba_HanGuang/resnet/Offline/performance/run_1/mlperf_log_detail.txt"
    model = parse_detail(path, root).model
    assert model.format == "text2019"
    assert model.loadgen_version == ".5a1 @ 71940a7a4c" and model.git_commit == "71940a7a4c"
    assert model.get("loadgen_version").line == 2
    assert model.integer("effective_qsl_rng_seed").value == 3133965575612453542
    assert model.value("effective_scenario") == "Offline"
    assert model.value("effective_test_mode") == "PerformanceOnly"
    assert model.integer("effective_samples_per_query").value == 4554000
    assert model.integer("requested_min_query_count").value == 4500000
    assert model.file_sha1["/loadgen.cc"] == "19242fc8e0f9e3eaf8bec9964ba33d760eeade96"
    assert model.error_count == 1 and model.errors[0].line == 119
    assert "Ran out of generated queries" in model.errors[0].text
    assert model.warning_count == 3
    assert len(model.value("loaded_qsl_set")) == 1600


def test_v05_multistream_summary_blocks(corpus):
    root = corpus("v0.5")
    path = next(root.glob("closed/*/results/*/*/MultiStream/performance/run_1/mlperf_log_summary.txt"))
    model = parse_summary(path, root).model
    assert model.generation == "2019" and model.scenario.value == "MultiStream"
    assert model.headline.label == "Samples per query"
    assert {"per_query", "per_sample"} <= set(model.stats)
    assert model.parameter("samples_per_query") is not None


def test_v41_early_stopping_summary(corpus):
    root = corpus("v4.1")
    path = root / "open/Krai/results/7920t-kilt-onnxruntime_gpu/resnet50/singlestream/performance/run_1/mlperf_log_summary.txt"
    model = parse_summary(path, root).model
    assert model.generation == "current"
    assert model.headline.value == 4434727 and model.headline.line == 7
    assert model.early_stopping_estimates["90.0"].value == 4435463
    assert model.satisfied["Early stopping satisfied"].value is True
    assert model.error_count.value == 0 and model.warning_count.value == 0


# -- fresh logs from the real LoadGen -------------------------------------------------------------
def test_real_loadgen_logs(loadgen_logs):
    for (scenario, mode), folder in loadgen_logs.folders.items():
        spec = loadgen_logs.specs[(scenario, mode)]
        detail = parse_detail(folder / "mlperf_log_detail.txt")
        assert detail.problems == [], detail.problems
        model = detail.model
        assert model.format == "mllog"
        assert model.value("effective_scenario") == scenario
        assert model.value("effective_test_mode") == mode
        assert model.integer("effective_qsl_rng_seed").value == spec.qsl_rng_seed
        assert model.integer("effective_sample_index_rng_seed").value == spec.sample_index_rng_seed
        assert model.integer("effective_schedule_rng_seed").value == spec.schedule_rng_seed
        assert model.loadgen_version.startswith("6.0")
        assert len(model.file_sha1) > 10
        # the parser agrees with an independent minimal reader on every key's first value
        raw = mllog_values(folder / "mlperf_log_detail.txt")
        for key in ("qsl_reported_total_count", "effective_performance_sample_count", "effective_min_duration_ms"):
            assert model.value(key) == raw[key]
        summary = parse_summary(folder / "mlperf_log_summary.txt")
        assert summary.problems == []
        if mode == "AccuracyOnly":
            assert summary.model.footer_only
            continue
        assert summary.model.scenario.value == scenario
        assert summary.model.mode.value == "PerformanceOnly"
        assert summary.model.validity.value == "VALID" == model.value("result_validity")
        assert summary.model.parameter_number("qsl_rng_seed").value == pytest.approx(spec.qsl_rng_seed)


# -- broken input --------------------------------------------------------------------------------
BROKEN = {
    "empty": b"",
    "binary": bytes(range(256)) * 40,
    "non_utf8": b":::MLLOG {\"key\": \"x\xff\xfe\", \"value\": 1}\n",
    "truncated_mllog": b':::MLLOG {"key": "result_validity", "value": "VAL',
    "huge_line": b":::MLLOG " + b"9" * (10 * 1024 * 1024) + b"\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("parser", [parse_summary, parse_detail])
def test_broken_input_is_a_problem_not_an_exception(tmp_path: Path, parser, name):
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_bytes(BROKEN[name])
    result = parser(path, tmp_path)
    assert result.problems, name
    assert all(p.path == "mlperf_log_detail.txt" for p in result.problems)


def test_huge_line_is_skipped_with_its_line_number(tmp_path):
    path = tmp_path / "mlperf_log_detail.txt"
    good = ':::MLLOG {"key": "sut_name", "value": "S", "metadata": {"is_error": false}}\n'
    path.write_bytes(good.encode() + b":::MLLOG " + b"x" * (10 * 1024 * 1024) + b"\n" + good.encode())
    result = parse_detail(path)
    assert result.model.value("sut_name") == "S"
    assert any(p.code == "line_too_long" and p.line == 2 for p in result.problems)


def test_missing_file_and_directory(tmp_path):
    assert parse_detail(tmp_path / "absent.txt").problems[0].code == "unreadable"
    assert parse_summary(tmp_path).problems
