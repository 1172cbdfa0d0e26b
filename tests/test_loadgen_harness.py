"""The LoadGen harness against the real LoadGen: logs, settings, accuracy payloads, failures, audits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from loadgen_runs import (
    MODES,
    LoadgenLogs,
    decode_payload,
    mllog_errors,
    mllog_values,
    read_accuracy_log,
    read_mllog,
)

from checker.rerun.harness import RunOutcome, run_many
from checker.rerun.inference import reference_outputs
from checker.rerun.presets import SCENARIOS, fast_spec
from checker.rerun.settings import SEEDS_V6_0, RunSpec
from checker.rerun.tiny_model import TinyAssets, write_tiny_assets

pytestmark = pytest.mark.loadgen

MATRIX = [(scenario, mode) for mode in MODES for scenario in SCENARIOS]
PERFORMANCE = [key for key in MATRIX if key[1] == "PerformanceOnly"]
ACCURACY = [key for key in MATRIX if key[1] == "AccuracyOnly"]

TEST04_AUDIT = (
    "# TEST04-style: issue one sample over and over\n"
    "*.*.mode = 2\n"
    "*.*.performance_issue_unique = 0\n"
    "*.*.performance_issue_same = 1\n"
    "*.*.performance_issue_same_index = 3\n"
)
AUDIT_WARNING = "Found Audit Config file"


# ------------------------------------------------------------------------------------------------
# The session matrix
# ------------------------------------------------------------------------------------------------

def test_matrix_has_every_run(loadgen_logs: LoadgenLogs) -> None:
    assert sorted(loadgen_logs) == sorted(MATRIX)


@pytest.mark.parametrize("key", MATRIX, ids=lambda k: f"{k[0]}-{k[1]}")
def test_run_wrote_the_three_logs(loadgen_logs: LoadgenLogs, key: tuple[str, str]) -> None:
    folder = loadgen_logs[key]
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json"):
        assert (folder / name).is_file(), name
    outcome = loadgen_logs.outcomes[key]
    assert outcome.ok and outcome.returncode == 0 and outcome.signal_name is None
    assert outcome.run_info is not None and outcome.run_info["status"] == "completed"
    assert outcome.run_info["exception_count"] == 0
    # enable_trace=False: LoadGen still creates the trace file, but empty.
    assert (folder / "mlperf_log_trace.json").stat().st_size == 0


@pytest.mark.parametrize("key", MATRIX, ids=lambda k: f"{k[0]}-{k[1]}")
def test_detail_log_shows_the_requested_settings(loadgen_logs: LoadgenLogs, key: tuple[str, str]) -> None:
    scenario, mode = key
    spec = loadgen_logs.specs[key]
    values = mllog_values(loadgen_logs.detail(key))
    assert values["effective_scenario"] == scenario
    assert values["effective_test_mode"] == mode
    for seed in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed", "accuracy_log_rng_seed"):
        assert values[f"requested_{seed}"] == getattr(spec, seed), seed
        assert values[f"effective_{seed}"] == getattr(spec, seed), seed
    assert values["qsl_reported_total_count"] == loadgen_logs.assets.sample_count
    assert values["qsl_reported_performance_count"] == loadgen_logs.assets.sample_count
    assert values["requested_min_duration_ms"] == spec.min_duration_ms
    assert values["sut_name"] == "PySUT"
    assert AUDIT_WARNING not in str(values.get("warning_generic_message", ""))
    assert mllog_errors(loadgen_logs.detail(key)) == []


@pytest.mark.parametrize("key", PERFORMANCE, ids=lambda k: k[0])
def test_performance_runs_are_valid(loadgen_logs: LoadgenLogs, key: tuple[str, str]) -> None:
    values = mllog_values(loadgen_logs.detail(key))
    assert values["result_validity"] == "VALID", values.get("result_invalid_reason")
    assert values["num_errors"] == 0
    assert "Result is : VALID" in loadgen_logs.summary(key).read_text()
    # accuracy_log_probability is 0: a performance run logs no payloads.
    assert read_accuracy_log(loadgen_logs.accuracy(key)) == []


@pytest.mark.parametrize("key", ACCURACY, ids=lambda k: k[0])
def test_accuracy_log_holds_the_reference_logits(loadgen_logs: LoadgenLogs, key: tuple[str, str]) -> None:
    entries = read_accuracy_log(loadgen_logs.accuracy(key))
    total = loadgen_logs.assets.sample_count
    indices = [entry["qsl_idx"] for entry in entries]
    assert sorted(indices) == list(range(total)), "every qsl_idx exactly once"
    assert sorted(entry["seq_id"] for entry in entries) == list(range(total))
    returned = np.stack([decode_payload(entry) for entry in entries])
    expected = loadgen_logs.reference[indices]
    assert returned.dtype == np.float32 and returned.shape == expected.shape
    assert float(np.max(np.abs(returned - expected))) == 0.0
    assert np.array_equal(returned, expected)


def test_reference_is_reproducible(loadgen_logs: LoadgenLogs, tmp_path: Path) -> None:
    """Rebuilding the assets elsewhere gives byte-identical files (the logs are comparable across hosts)."""
    again = write_tiny_assets(tmp_path)
    assert again.model_path.read_bytes() == loadgen_logs.assets.model_path.read_bytes()
    assert again.samples_path.read_bytes() == loadgen_logs.assets.samples_path.read_bytes()


# ------------------------------------------------------------------------------------------------
# Failure modes, audit.config, user.conf, SUT behaviours (one parallel batch for the module)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpecialRuns:
    """Outcomes by name, plus the assets they ran on and the reference logits."""

    outcomes: dict[str, RunOutcome]
    assets: TinyAssets
    reference: np.ndarray

    def __getitem__(self, name: str) -> RunOutcome:
        return self.outcomes[name]


@pytest.fixture(scope="module")
def special_runs(tmp_path_factory: pytest.TempPathFactory) -> SpecialRuns:
    base = tmp_path_factory.mktemp("loadgen_special")
    assets = write_tiny_assets(base / "assets")
    audit = base / "test04_audit.config"
    audit.write_text(TEST04_AUDIT)
    user_conf = base / "user.conf"
    user_conf.write_text("*.Offline.target_qps = 12345\n*.*.performance_sample_count_override = 128\n")
    stray_dir = base / "stray"
    stray_dir.mkdir()
    (stray_dir / "audit.config").write_text(TEST04_AUDIT)  # in the child's cwd, must be ignored

    def spec(name: str, scenario: str, mode: str, **kw: object) -> RunSpec:
        kw.setdefault("timeout_s", 60.0)
        return fast_spec(scenario, mode, model_path=assets.model_path, samples_path=assets.samples_path,
                         output_dir=base / name, **kw)

    specs = {
        # The hang is first so its timeout overlaps the other runs.
        "hang": spec("hang", "Offline", "AccuracyOnly", sut_behaviour="hang", timeout_s=2.0),
        "raise": spec("raise", "Offline", "AccuracyOnly", sut_behaviour="raise_in_issue"),
        "audit": spec("audit", "Offline", "AccuracyOnly", audit_config=audit, sut_behaviour="cache_repeated"),
        "stray": spec("stray", "Offline", "PerformanceOnly", qsl_rng_seed=SEEDS_V6_0[0],
                      sample_index_rng_seed=SEEDS_V6_0[1], schedule_rng_seed=SEEDS_V6_0[2]),
        "user_conf": RunSpec(scenario="Offline", mode="AccuracyOnly", model_path=assets.model_path,
                             samples_path=assets.samples_path, output_dir=base / "user_conf",
                             user_conf=user_conf, model_name="resnet50", timeout_s=60.0),
        "garbage": spec("garbage", "Offline", "PerformanceOnly", sut_behaviour="garbage_in_performance",
                        min_duration_ms=10, accuracy_log_probability=0.01, accuracy_log_rng_seed=7),
        "corrupt": spec("corrupt", "Offline", "AccuracyOnly", sut_behaviour="corrupt_fraction",
                        corrupt_fraction=0.25, behaviour_seed=3),
    }
    outcomes = dict(zip(specs, run_many(specs.values(), jobs=2), strict=True))
    return SpecialRuns(outcomes, assets, reference_outputs(assets.model_path, assets.samples_path))


def test_raise_in_issue_is_a_structured_failure(special_runs: SpecialRuns) -> None:
    outcome = special_runs["raise"]
    assert not outcome.ok and not outcome.timed_out
    assert outcome.returncode != 0
    # LoadGen 6.0.17: the exception escapes StartTest and the process then dies with SIGSEGV;
    # under load it sometimes dies while unwinding, before Python's handler writes run_info.
    assert outcome.signal_name in {"SIGSEGV", "SIGABRT", None}
    assert outcome.failure
    assert "injected failure in issue_query" in outcome.stderr_tail
    assert outcome.run_info is not None and outcome.run_info["status"] in {"error", "running"}


def test_hang_is_killed_at_the_timeout(special_runs: SpecialRuns) -> None:
    outcome = special_runs["hang"]
    assert not outcome.ok and outcome.timed_out
    assert outcome.signal_name == "SIGKILL"
    assert outcome.failure and "timed out" in outcome.failure
    assert 2.0 <= outcome.wall_s < 10.0
    # The provisional run_info shows the child reached StartTest before hanging.
    assert outcome.run_info is not None and outcome.run_info["status"] == "running"


def test_explicit_test04_audit_config_is_applied(special_runs: SpecialRuns) -> None:
    outcome = special_runs["audit"]
    assert outcome.ok, outcome.failure
    assert (outcome.output_dir / "audit.config").read_text() == TEST04_AUDIT
    values = mllog_values(outcome.spec.log_file("detail"))
    assert values["requested_performance_issue_same"] is True
    assert values["effective_performance_issue_same"] is True
    assert values["requested_performance_issue_same_index"] == 3
    # mode = 2 in the audit.config turns the requested AccuracyOnly run into a performance run.
    assert outcome.spec.mode == "AccuracyOnly"
    assert values["requested_test_mode"] == values["effective_test_mode"] == "PerformanceOnly"
    warnings = [r["value"] for r in read_mllog(outcome.spec.log_file("detail")) if r["key"] == "warning_generic_message"]
    assert any(AUDIT_WARNING in w for w in warnings)
    # The SUT saw a single sample: loaded_qsl_set[3]; the caching SUT inferred it once.
    info = outcome.run_info
    assert info is not None
    assert info["distinct_index_list"] == [values["loaded_qsl_set"][3]]
    assert info["counts"]["samples_inferred"] == 1
    assert info["counts"]["cache_hits"] == info["counts"]["samples_issued"] - 1


def test_stray_audit_config_in_cwd_is_ignored(special_runs: SpecialRuns) -> None:
    outcome = special_runs["stray"]
    assert outcome.ok, outcome.failure
    assert outcome.spec.audit_config is None
    assert (outcome.output_dir / "audit.config").is_file()  # it was there, in the child's cwd
    records = read_mllog(outcome.spec.log_file("detail"))
    values = mllog_values(outcome.spec.log_file("detail"))
    assert values["requested_performance_issue_same"] is False
    assert values["requested_test_mode"] == "PerformanceOnly"
    assert not any(AUDIT_WARNING in str(r["value"]) for r in records if r["key"] == "warning_generic_message")
    assert outcome.run_info is not None and outcome.run_info["distinct_indices_issued"] > 1
    # Seeds set on TestSettings win over the v6.1 seeds compiled into the wheel.
    assert (values["effective_qsl_rng_seed"], values["effective_sample_index_rng_seed"],
            values["effective_schedule_rng_seed"]) == SEEDS_V6_0


def test_user_conf_is_applied_without_multiple_conf_error(special_runs: SpecialRuns) -> None:
    outcome = special_runs["user_conf"]
    assert outcome.ok, outcome.failure
    detail = outcome.spec.log_file("detail")
    values = mllog_values(detail)
    assert mllog_errors(detail) == []  # no "Multiple conf files are used"
    assert values["requested_offline_expected_qps"] == 12345
    assert values["effective_performance_sample_count"] == 128
    assert values["effective_qsl_rng_seed"] == outcome.spec.qsl_rng_seed
    assert outcome.run_info is not None
    assert outcome.run_info["fromconfig_rcs"] == [0, 0]
    assert outcome.run_info["load_set_sizes"] == [128, 128]
    entries = read_accuracy_log(outcome.spec.log_file("accuracy"))
    assert sorted(e["qsl_idx"] for e in entries) == list(range(256))


def test_garbage_sut_is_visible_in_the_sampled_accuracy_log(special_runs: SpecialRuns) -> None:
    outcome = special_runs["garbage"]
    assert outcome.ok, outcome.failure
    reference = special_runs.reference
    entries = read_accuracy_log(outcome.spec.log_file("accuracy"))
    assert len(entries) > 50
    mismatched = sum(not np.array_equal(decode_payload(e), reference[e["qsl_idx"]]) for e in entries)
    assert mismatched == len(entries)
    assert outcome.run_info is not None
    assert outcome.run_info["counts"]["samples_inferred"] == 0


def test_corrupting_sut_rolls_exactly_the_chosen_samples(special_runs: SpecialRuns) -> None:
    outcome = special_runs["corrupt"]
    assert outcome.ok, outcome.failure
    reference = special_runs.reference
    assert outcome.run_info is not None
    corrupted = set(outcome.run_info["corrupted_indices"])
    assert len(corrupted) == 64
    for entry in read_accuracy_log(outcome.spec.log_file("accuracy")):
        index = entry["qsl_idx"]
        expected = np.roll(reference[index], 1) if index in corrupted else reference[index]
        assert np.array_equal(decode_payload(entry), expected), index
