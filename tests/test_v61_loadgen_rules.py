"""Real LoadGen runs (the installed 6.0.17, which embeds the v6.1 mlperf.conf and seeds) against the
v6.1 rules of the early-stopping era: seeds (P008), early stopping (P020, P021), equal issue (P023),
MultiStream's 8 samples per query (P029), validity (P001), LoadGen errors (P002), query minimums
(P005) and duration (P006).

Each scenario is run once with the v6.1 settings the harness can give a tiny model: the compiled-in
mlperf.conf of a benchmark that requires equal-issue mode (``3d-unet``: the child applies it with
``FromConfig(.., 0)``), its seeds, and a user.conf that restates ``sample_concatenate_permutation = 1``;
only the durations are short (1 s, the harness' calibrated presets), so P006 is the one rule these
runs must break. The runs are placed in a minimal v6.1-layout tree (``results/<system>/3d-unet-99/
<scenario>/performance/run_1``) and checked with ``--round v6.1`` restricted to those rules. Then the
same logs with an edited seed or with equal-issue mode turned off, a real run with equal issue
disabled in its user.conf, and a real SingleStream run stopped after 20 queries (too short for early
stopping) must fail with exactly the expected rule IDs. LoadGen wall time: about 8 s.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tree_builder import set_mllog_value

from checker.check import run_check
from checker.rerun.harness import run_many
from checker.rerun.presets import SCENARIOS, fast_spec
from checker.rerun.settings import SEEDS_V6_1
from checker.rerun.tiny_model import write_tiny_assets

RULES = ["P001", "P002", "P005", "P006", "P008", "P020", "P021", "P023", "P029"]
BENCHMARK = "3d-unet-99"
SYSTEM = "tiny_cpu"


def _result_dir(root: Path, scenario: str) -> Path:
    return root / "closed" / "Audit" / "results" / SYSTEM / BENCHMARK / scenario / "performance" / "run_1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("v61_runs")
    assets = write_tiny_assets(base / "assets")
    on, off = base / "equal_issue_on.conf", base / "equal_issue_off.conf"
    on.write_text("*.*.sample_concatenate_permutation = 1\n")
    off.write_text("*.*.sample_concatenate_permutation = 0\n")
    common = {"model_path": assets.model_path, "samples_path": assets.samples_path, "model_name": "3d-unet",
              "timeout_s": 60.0}
    specs = {name: fast_spec(name, "PerformanceOnly", output_dir=base / name, user_conf=on, **common)
             for name in SCENARIOS}
    specs["equal_issue_off"] = fast_spec("Offline", "PerformanceOnly", output_dir=base / "equal_issue_off",
                                         user_conf=off, **common)
    specs["too_short"] = fast_spec("SingleStream", "PerformanceOnly", output_dir=base / "too_short", user_conf=on,
                                   min_duration_ms=0, min_query_count=20, max_query_count=20, **common)
    outcomes = dict(zip(specs, run_many(specs.values(), jobs=2), strict=True))
    broken = {k: f"{o.failure}\n{o.stderr_tail}" for k, o in outcomes.items() if not o.ok}
    if broken:
        pytest.fail(f"LoadGen runs failed: {broken}")
    return {name: outcome.spec.output_dir for name, outcome in outcomes.items()}


def _tree(root: Path, logs: dict[str, Path]) -> Path:
    """A v6.1-layout tree holding the given runs (scenario -> LoadGen output folder)."""
    for scenario, folder in logs.items():
        target = _result_dir(root, scenario)
        target.mkdir(parents=True)
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt"):
            shutil.copy2(folder / name, target / name)
    return root


def _errors(root: Path) -> dict[str, set[str]]:
    doc = run_check(root, round_name="v6.1", select=RULES)
    return {r.scenario: {f.rule for f in r.findings if f.severity == "error"} for r in doc.results}


def test_v61_runs_pass_the_v61_rules_except_the_duration(runs, tmp_path):
    root = _tree(tmp_path / "tree", {s: runs[s] for s in SCENARIOS})
    doc = run_check(root, round_name="v6.1", select=RULES)
    assert doc.round == "v6.1"
    errors = {r.scenario: {f.rule for f in r.findings if f.severity == "error"} for r in doc.results}
    # 1-second runs: everything holds but the 600 s minimum duration of a real submission.
    assert errors == {s: {"P006"} for s in SCENARIOS}
    by_scenario = {r.scenario: r for r in doc.results}
    assert by_scenario["SingleStream"].metric.key == "early_stopping_latency_ss"
    assert by_scenario["MultiStream"].metric.key == "early_stopping_latency_ms"
    assert by_scenario["Server"].metric.key == "result_completed_samples_per_sec"


def test_the_tree_is_detected_as_v61_by_its_seeds(runs, tmp_path):
    root = _tree(tmp_path / "tree", {"Offline": runs["Offline"]})
    doc = run_check(root, select=["P008"])
    assert doc.round == "v6.1" and doc.round_source == "detected"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_edited_seed_fails_p008(runs, tmp_path, scenario):
    root = _tree(tmp_path / "tree", {scenario: runs[scenario]})
    line = set_mllog_value(_result_dir(root, scenario) / "mlperf_log_detail.txt", "effective_qsl_rng_seed",
                           SEEDS_V6_1[0] + 1)
    doc = run_check(root, round_name="v6.1", select=RULES)
    (result,) = doc.results
    seeds = [f for f in result.findings if f.rule == "P008"]
    assert [f.line for f in seeds] == [line] and seeds[0].severity == "error"
    assert {f.rule for f in result.findings if f.severity == "error"} == {"P006", "P008"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_equal_issue_turned_off_in_the_log_fails_p023(runs, tmp_path, scenario):
    root = _tree(tmp_path / "tree", {scenario: runs[scenario]})
    line = set_mllog_value(_result_dir(root, scenario) / "mlperf_log_detail.txt",
                           "effective_sample_concatenate_permutation", False)
    doc = run_check(root, round_name="v6.1", select=RULES)
    (result,) = doc.results
    assert [f.line for f in result.findings if f.rule == "P023"] == [line]
    assert {f.rule for f in result.findings if f.severity == "error"} == {"P006", "P023"}


def test_a_run_with_equal_issue_disabled_fails_p023(runs, tmp_path):
    root = _tree(tmp_path / "tree", {"Offline": runs["equal_issue_off"]})
    assert _errors(root) == {"Offline": {"P006", "P023"}}


def test_a_run_too_short_for_early_stopping_fails(runs, tmp_path):
    """20 SingleStream queries: fewer than the 64 early stopping needs at p90; LoadGen says INVALID and
    writes 0 for the estimates; P020/P021 name the cause, P001 the verdict."""
    root = _tree(tmp_path / "tree", {"SingleStream": runs["too_short"]})
    errors = _errors(root)["SingleStream"]
    assert {"P001", "P006", "P020", "P021"} <= errors
    assert errors <= {"P001", "P002", "P006", "P020", "P021"}
