"""``mlperf-audit demo``: a whole closed-division submission for the sample round, made and checked.

It shows the tool end to end on a fresh machine, with no download: the real LoadGen runs the
bundled digits reference model (reference_runs/digits) in all four scenarios, in accuracy and
performance mode, plus the compliance runs TEST01, TEST04-A and TEST04-B; the results are
assembled into ``closed/<submitter>/…`` with a system description, measurements, code folder,
accuracy reports and our own verification of the compliance runs; then ``check --round sample``
runs on the tree and its report is printed.

With ``--break`` a second copy gets realistic defects, each made the way a submitter would
make it (a real run with the wrong seeds, a real run that is too short, a real INVALID run whose
summary was edited, a real accuracy run of a pruned model, a deleted TEST01 folder), and the report
shows them caught. :data:`PLANTED` lists them with the rule that must catch each;
:data:`NOT_YET_DETECTABLE` lists the defects the issue asks for that no rule detects yet.

Settings come from the sample rule pack (seeds, minimum durations and query counts), so the
tree is exactly as strict as the rules that check it. A performance run that comes out INVALID,
or a compliance comparison that fails, is re-run (twice at most): one-second runs on a busy
2-core machine are at the mercy of the scheduler, and re-running is what a submitter does too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from checker.engine.rulepack import RulePack, load_pack
from checker.parse.loadgen_detail import parse_detail
from checker.rerun import demo_tree
from checker.rerun.batch import Progress, pair_up, run_all  # noqa: F401 - pair_up is part of the demo's API
from checker.rerun.compliance_verify import (
    Verification,
    verify_test01_accuracy,
    verify_test01_performance,
    verify_test04,
)
from checker.rerun.harness import RunOutcome
from checker.rerun.presets import FAST_VALID, SCENARIOS
from checker.rerun.sample_data import BENCHMARK, DigitsSample, SampleDataError, load_sample
from checker.rerun.settings import SEEDS_V6_1, RunSpec

ROUND = "sample"
DIVISION = "closed"
SUBMITTER = "mlperf-audit-demo"
SYSTEM = "demo_cpu"
TREE_NAME = "submission"
BROKEN_NAME = "submission-broken"
RUNS_NAME = "runs"

PERFORMANCE_SAMPLE_COUNT = 256
#: A wall-clock limit per LoadGen test; a hang is a harness bug, not a slow host.
RUN_TIMEOUT_S = 120.0
#: Compliance comparisons of ~1 s runs on a shared host: speed within a factor of 2 (TEST01), B at
#: most twice as fast as A (TEST04). The MLPerf rounds use 10 %, for 10-minute runs on dedicated
#: machines; identical one-second runs here vary by up to 2x (shared/reference/loadgen.md §14).
TOLERANCE = 1.0
#: How often a failing performance run or compliance comparison is re-run.
RETRIES = 2

#: TEST01's sampling seed for the sample round: sha256("mlperf-audit sample round: accuracy_log_rng_seed").
TEST01_LOG_SEED = int.from_bytes(hashlib.sha256(b"mlperf-audit sample round: accuracy_log_rng_seed").digest()[:8], "big")
TEST01_SAMPLING_TARGET = 64

#: The audit.config of each compliance test (only ``*.`` lines: LoadGen ignores model-specific ones).
AUDIT_CONFIGS: dict[str, str] = {
    "TEST01": (
        "# TEST01 (sample round): performance mode, log a seeded sample of the responses\n"
        "*.*.mode = 2\n"
        f"*.*.accuracy_log_rng_seed = {TEST01_LOG_SEED}\n"
        f"*.*.accuracy_log_sampling_target = {TEST01_SAMPLING_TARGET}\n"
    ),
    "TEST04-A": (
        "# TEST04-A (sample round): every loaded sample issued once\n"
        "*.*.mode = 2\n*.*.performance_issue_unique = 1\n*.*.performance_issue_same = 0\n"
        "*.*.performance_issue_same_index = 0\n"
    ),
    "TEST04-B": (
        "# TEST04-B (sample round): one sample issued over and over\n"
        "*.*.mode = 2\n*.*.performance_issue_unique = 0\n*.*.performance_issue_same = 1\n"
        "*.*.performance_issue_same_index = 3\n"
    ),
}

#: Defect planted in the ``--break`` copy → the rule that must report it (as an error).
PLANTED: dict[str, str] = {
    "wrong_seed": "P008",               # MultiStream run made with LoadGen 6.0.17's compiled-in seeds
    "edited_validity": "P001",          # an INVALID Offline run whose summary was edited to VALID
    "short_duration": "P006",           # SingleStream run with min_duration 50 ms (< 100 ms)
    "accuracy_below_target": "A002",    # Server accuracy run of an 80 %-pruned model (94.4 % < 96.228 %)
    "missing_test01": "C001",           # Server's TEST01 folder deleted
}

#: Defects the issue names that no rule can detect yet; listed, not faked.
NOT_YET_DETECTABLE: dict[str, str] = {
    "pruned_model_in_performance": "TODO: a model-audit (M) rule comparing the submitted model "
    "with the reference: performance runs of a pruned model with an honest accuracy run look valid",
    "caching_sut_in_test04": "TODO: a TEST04 recomputation rule (or an R rule re-running TEST04): "
    "today only the submitter's verify_performance.txt claim is read (C003)",
}

#: Human descriptions of the planted defects, for the report.
PLANTED_TEXT: dict[str, str] = {
    "wrong_seed": "MultiStream performance run made with the seeds compiled into LoadGen 6.0.17",
    "edited_validity": "Offline performance run INVALID (too short a query), summary edited to VALID",
    "short_duration": "SingleStream performance run with min_duration 50 ms",
    "accuracy_below_target": "Server accuracy run made with an 80 % pruned model",
    "missing_test01": "Server TEST01 folder deleted",
}


# ------------------------------------------------------------------------------------------------
# The plan
# ------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    """Every LoadGen test of the demo, by key, and where the shared inputs are."""

    runs_dir: Path
    model_path: Path
    samples_path: Path
    pack: RulePack
    specs: dict[str, RunSpec] = field(default_factory=dict)

    def scenario_settings(self, scenario: str) -> dict[str, Any]:
        """The submission's settings for a scenario: the calibrated fast presets within the pack's rules."""
        bench = self.pack.benchmarks[BENCHMARK]
        settings: dict[str, Any] = dict(FAST_VALID[scenario])
        settings["min_query_count"] = max(settings["min_query_count"], bench.min_query_count.get(scenario, 1))
        if scenario == "Offline":
            # ~1 s runs: the query is 1.1 x 0.1 s x 2M = 220k samples; VALID as long as the SUT is
            # slower than 2.2M samples/s, which a Python SUT cannot reach.
            settings.update(min_duration_ms=max(100, self.pack.min_duration_ms), offline_expected_qps=2_000_000.0)
        if scenario in bench.latency_bounds and scenario == "Server":
            settings["target_latency_ns"] = bench.latency_bounds[scenario].ns
        return settings

    def spec(self, key: str, scenario: str, mode: str, **overrides: Any) -> RunSpec:
        seeds = self.pack.seeds
        fields: dict[str, Any] = {
            **self.scenario_settings(scenario),
            "qsl_rng_seed": seeds["qsl_rng_seed"],
            "sample_index_rng_seed": seeds["sample_index_rng_seed"],
            "schedule_rng_seed": seeds["schedule_rng_seed"],
            **overrides,
        }
        spec = RunSpec(
            scenario=scenario,  # type: ignore[arg-type]
            mode=mode,  # type: ignore[arg-type]
            model_path=fields.pop("model_path", self.model_path),
            samples_path=self.samples_path,
            output_dir=self.runs_dir / key,
            total_sample_count=self.pack.benchmarks[BENCHMARK].dataset_size,
            performance_sample_count=PERFORMANCE_SAMPLE_COUNT,
            timeout_s=RUN_TIMEOUT_S,
            **fields,
        )
        self.specs[key] = spec
        return spec


def compliance_tests(pack: RulePack, scenario: str) -> list[str]:
    tests = pack.benchmarks[BENCHMARK].compliance_tests
    return list(tests.get(scenario, tests.get("any", [])))


def make_plan(runs_dir: Path, sample: DigitsSample, pack: RulePack, broken: bool) -> Plan:
    runs_dir.mkdir(parents=True, exist_ok=True)
    samples_path = sample.write_qsl_npy(runs_dir / "assets" / "digits_qsl.npy")
    plan = Plan(runs_dir=runs_dir, model_path=sample.model_path, samples_path=samples_path, pack=pack)
    audit_dir = runs_dir / "assets"
    for test, text in AUDIT_CONFIGS.items():
        (audit_dir / f"{test}.audit.config").write_text(text, encoding="utf-8")
    for scenario in SCENARIOS:
        plan.spec(f"{scenario}-performance", scenario, "PerformanceOnly")
        plan.spec(f"{scenario}-accuracy", scenario, "AccuracyOnly")
        for test in compliance_tests(pack, scenario):
            plan.spec(f"{scenario}-{test}", scenario, "PerformanceOnly",
                      audit_config=audit_dir / f"{test}.audit.config")
    if broken:
        pruned = write_pruned_model(sample.model_path, runs_dir / "assets" / "digits_mlp_pruned80.onnx")
        plan.spec("break-wrong_seed", "MultiStream", "PerformanceOnly", qsl_rng_seed=SEEDS_V6_1[0],
                  sample_index_rng_seed=SEEDS_V6_1[1], schedule_rng_seed=SEEDS_V6_1[2])
        plan.spec("break-short_duration", "SingleStream", "PerformanceOnly", min_duration_ms=50)
        plan.spec("break-edited_validity", "Offline", "PerformanceOnly", min_duration_ms=1000,
                  offline_expected_qps=60_000.0)
        plan.spec("break-accuracy_below_target", "Server", "AccuracyOnly", model_path=pruned)
    return plan


def write_pruned_model(model_path: Path, target: Path, fraction: float = 0.8) -> Path:
    """The reference model with the smallest ``fraction`` of its first layer's weights set to zero."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    for init in model.graph.initializer:
        if init.name == "fc1_w":
            weights = numpy_helper.to_array(init).copy()
            weights[np.abs(weights) < np.quantile(np.abs(weights), fraction)] = 0
            init.CopyFrom(numpy_helper.from_array(weights, init.name))
    target.write_bytes(model.SerializeToString())
    return target


# ------------------------------------------------------------------------------------------------
# Running, verifying, re-running
# ------------------------------------------------------------------------------------------------

def _validity(outcome: RunOutcome) -> str | None:
    if outcome.detail_path is None:
        return None
    parsed = parse_detail(outcome.detail_path)
    return None if parsed.model is None else parsed.model.value("result_validity")


def _run_failures(plan: Plan, outcomes: dict[str, RunOutcome]) -> list[str]:
    """Runs to redo: crashed ones, and INVALID result performance runs (not TEST04-A: INVALID by design)."""
    def is_result_performance(key: str) -> bool:
        return key.endswith("-performance") and key.split("-")[0] in SCENARIOS

    return [key for key, outcome in outcomes.items()
            if not outcome.ok or (is_result_performance(key) and _validity(outcome) != "VALID")]


def verify_all(plan: Plan) -> dict[str, Verification]:
    """Our verification of each compliance test, keyed ``<scenario>-<file stem>``."""
    results: dict[str, Verification] = {}
    for scenario in SCENARIOS:
        tests = compliance_tests(plan.pack, scenario)
        result_detail = plan.specs[f"{scenario}-performance"].log_file("detail")
        if "TEST01" in tests:
            test01 = plan.specs[f"{scenario}-TEST01"]
            results[f"{scenario}-TEST01-accuracy"] = verify_test01_accuracy(
                test01.log_file("accuracy"), plan.specs[f"{scenario}-accuracy"].log_file("accuracy"))
            results[f"{scenario}-TEST01-performance"] = verify_test01_performance(
                result_detail, test01.log_file("detail"), scenario, TOLERANCE)
        if "TEST04-A" in tests and "TEST04-B" in tests:
            results[f"{scenario}-TEST04-performance"] = verify_test04(
                plan.specs[f"{scenario}-TEST04-A"].log_file("detail"),
                plan.specs[f"{scenario}-TEST04-B"].log_file("detail"), scenario, TOLERANCE, minimum_decides=True)
    return results


def _runs_behind(failed_verification: str) -> list[str]:
    """The runs to redo for a failed comparison: both sides, so that they run side by side again
    (re-running one side alone would compare it with a run made under other load)."""
    scenario, test, kind = failed_verification.split("-", 2)
    if test == "TEST04":
        return [f"{scenario}-TEST04-A", f"{scenario}-TEST04-B"]
    if kind == "performance":
        return [f"{scenario}-performance", f"{scenario}-TEST01"]
    return [f"{scenario}-TEST01"]


def execute(plan: Plan, jobs: int, progress: Progress) -> tuple[dict[str, Verification], list[str]]:
    """Run the plan; re-run failed runs and failed compliance comparisons.

    Returns the verifications and one line per re-run saying why it was needed.
    """
    outcomes = run_all(plan.specs, jobs, progress, "running")
    reasons: list[str] = []
    for attempt in range(RETRIES):
        redo: dict[str, str] = {}
        for key in _run_failures(plan, outcomes):
            redo[key] = outcomes[key].failure or "INVALID performance run"
        verifications = verify_all(plan) if not redo else {}
        for name, verification in verifications.items():
            if not verification.passed:
                verdict = verification.text.strip().splitlines()[-1]
                for key in _runs_behind(name):
                    redo.setdefault(key, f"{name}: {verdict}")
        if not redo:
            return verifications, reasons
        reasons += [f"{key} ({why})" for key, why in sorted(redo.items())]
        outcomes.update(run_all({k: plan.specs[k] for k in sorted(redo)}, jobs, progress,
                                f"re-running ({attempt + 1}/{RETRIES})"))
    failed = _run_failures(plan, outcomes)
    if failed:
        details = "; ".join(f"{k}: {outcomes[k].failure or 'INVALID'}" for k in failed)
        raise DemoError(f"LoadGen runs failed after {RETRIES} retries: {details}")
    return verify_all(plan), reasons


class DemoError(Exception):
    """The demo could not build its tree (a LoadGen run kept failing, bad --out)."""


# ------------------------------------------------------------------------------------------------
# Assembling the tree
# ------------------------------------------------------------------------------------------------

LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")


def assemble(plan: Plan, sample: DigitsSample, verifications: dict[str, Verification], root: Path) -> dict[str, str]:
    """Write the submission tree under ``root``; return the accuracy line of each scenario."""
    pack = plan.pack
    sub = root / DIVISION / SUBMITTER
    demo_tree.write_json(sub / pack.layout.systems_dir / f"{SYSTEM}.json",
                         demo_tree.system_description(SUBMITTER, DIVISION, SYSTEM))
    demo_tree.write_code(sub / "code" / BENCHMARK / demo_tree.IMPLEMENTATION)
    labels = sample.qsl_labels()
    accuracy_lines: dict[str, str] = {}
    for scenario in SCENARIOS:
        result = sub / pack.layout.results_dir / SYSTEM / BENCHMARK / scenario
        perf = plan.specs[f"{scenario}-performance"]
        demo_tree.copy_logs(perf.output_dir, result / "performance" / "run_1", LOGS)
        accuracy_lines[scenario] = demo_tree.publish_accuracy(
            plan.specs[f"{scenario}-accuracy"].output_dir, result / "accuracy", labels, pack.accuracy.max_log_bytes)
        measurements = sub / pack.layout.measurements_path.format(system=SYSTEM, benchmark=BENCHMARK, scenario=scenario)
        demo_tree.write_measurements(measurements, pack, BENCHMARK, SYSTEM, perf)
        compliance = sub / (pack.layout.compliance_path or "compliance/{system}/{benchmark}/{scenario}").format(
            system=SYSTEM, benchmark=BENCHMARK, scenario=scenario)
        for test in compliance_tests(pack, scenario):
            spec = plan.specs[f"{scenario}-{test}"]
            folder = compliance / test
            demo_tree.copy_logs(spec.output_dir, folder / "performance" / "run_1", LOGS)
            shutil.copyfile(spec.output_dir / "audit.config", folder / "audit.config")
            if test == "TEST01":
                demo_tree.copy_logs(spec.output_dir, folder / "accuracy", ("mlperf_log_accuracy.json",))
                for kind in ("accuracy", "performance"):
                    text = verifications[f"{scenario}-TEST01-{kind}"].text
                    (folder / f"verify_{kind}.txt").write_text(text, encoding="utf-8")
            if test == "TEST04-A":
                text = verifications[f"{scenario}-TEST04-performance"].text
                (folder / "verify_performance.txt").write_text(text, encoding="utf-8")
    (root / "README.md").write_text(
        "# mlperf-audit demo submission\n\n"
        f"A closed-division submission of the sample round ({pack.title}, rules/{pack.source_file}),\n"
        "made with the real LoadGen by `mlperf-audit demo`. Check it with\n"
        "`mlperf-audit check <this folder> --round sample`.\n",
        encoding="utf-8",
    )
    return accuracy_lines


def plant_defects(plan: Plan, sample: DigitsSample, good: Path, broken: Path) -> None:
    """Copy the good tree and plant every defect of :data:`PLANTED` into the copy."""
    shutil.copytree(good, broken)
    results = broken / DIVISION / SUBMITTER / plan.pack.layout.results_dir / SYSTEM / BENCHMARK
    # wrong_seed / short_duration / edited_validity: the result's performance run is another real run.
    for defect, scenario in (("wrong_seed", "MultiStream"), ("short_duration", "SingleStream"),
                             ("edited_validity", "Offline")):
        run = results / scenario / "performance" / "run_1"
        demo_tree.copy_logs(plan.specs[f"break-{defect}"].output_dir, run, LOGS)
    summary = results / "Offline" / "performance" / "run_1" / "mlperf_log_summary.txt"
    text = summary.read_text(encoding="utf-8")
    text = text.replace("Result is : INVALID", "Result is : VALID").replace(
        "Min duration satisfied : NO", "Min duration satisfied : Yes")
    summary.write_text(text, encoding="utf-8")
    # accuracy_below_target: the pruned model's accuracy run, scored and published as usual.
    demo_tree.publish_accuracy(plan.specs["break-accuracy_below_target"].output_dir,
                               results / "Server" / "accuracy", sample.qsl_labels(), plan.pack.accuracy.max_log_bytes)
    # missing_test01
    compliance = broken / DIVISION / SUBMITTER / (plan.pack.layout.compliance_path or "").format(
        system=SYSTEM, benchmark=BENCHMARK, scenario="Server")
    shutil.rmtree(compliance / "TEST01")


# ------------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------------

@dataclass
class DemoResult:
    out: Path
    tree: Path
    broken: Path | None
    report: Any  # ReportDocument of the good tree
    broken_report: Any | None
    caught: set[str]
    runs: int
    reruns: list[str]
    wall_s: float
    accuracy: dict[str, str]

    @property
    def ok(self) -> bool:
        good = self.report.summary.errors == 0
        if self.broken is None:
            return good
        return good and self.caught == set(PLANTED.values())


def error_rules(document: Any) -> set[str]:
    """Rule IDs of every error finding of a report (result-level and above)."""
    rules = {f.rule for result in document.results for f in result.findings if f.severity == "error"}
    rules |= {f.rule for f in document.findings if f.severity == "error"}
    return rules


def prepare_out(out: Path | None) -> Path:
    """The output folder: new temp folder by default; an existing one must be empty."""
    if out is None:
        return Path(tempfile.mkdtemp(prefix="mlperf-audit-demo-"))
    if out.exists():
        if not out.is_dir():
            raise DemoError(f"--out {out} is a file")
        if any(out.iterdir()):
            raise DemoError(f"--out {out} is not empty; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_demo(out: Path | None = None, *, broken: bool = False, jobs: int = 2,
               progress: Progress | None = None) -> DemoResult:
    """Make the demo tree(s) under ``out`` and check them. Writes nothing outside ``out``."""
    from checker.check import run_check

    started = time.perf_counter()
    progress = progress or Progress()
    pack = load_pack(ROUND)
    sample = load_sample()
    try:
        sample.verify()
    except SampleDataError as exc:
        raise DemoError(f"the bundled sample benchmark is damaged: {exc}") from exc
    out = prepare_out(out)
    plan = make_plan(out / RUNS_NAME, sample, pack, broken)
    verifications, reruns = execute(plan, jobs, progress)
    progress.update("assembling the submission tree")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        accuracy = assemble(plan, sample, verifications, staging / TREE_NAME)
        if broken:
            plant_defects(plan, sample, staging / TREE_NAME, staging / BROKEN_NAME)
        for name in (TREE_NAME, BROKEN_NAME):
            if (staging / name).exists():
                os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress.update("checking the tree")
    report = run_check(out / TREE_NAME, round_name=ROUND)
    broken_report = run_check(out / BROKEN_NAME, round_name=ROUND) if broken else None
    progress.done()
    return DemoResult(
        out=out,
        tree=out / TREE_NAME,
        broken=out / BROKEN_NAME if broken else None,
        report=report,
        broken_report=broken_report,
        caught=error_rules(broken_report) if broken_report is not None else set(),
        runs=len(plan.specs) + len(reruns),
        reruns=reruns,
        wall_s=time.perf_counter() - started,
        accuracy=accuracy,
    )


def render(result: DemoResult, verbose: bool = False) -> str:
    """The demo's text output: what was made, the check report(s), and the planted defects."""
    from checker.report.text import render_text

    out: list[str] = []
    out.append(f"mlperf-audit demo: {result.runs} real LoadGen runs in {result.wall_s:.1f} s"
               + (f" ({len(result.reruns)} re-run)" if result.reruns else ""))
    for why in result.reruns:
        out.append(f"  re-ran {why}")
    out.append(f"  output folder: {result.out}")
    out.append(f"  submission:    {result.tree}")
    out.append("")
    out.append("Results (performance headline from the detail log; accuracy from the accuracy log):")
    for entry in result.report.results:
        metric = f"{entry.metric.value:g} {entry.metric.unit}" if entry.metric is not None else "-"
        out.append(f"  {entry.scenario:<12}  {entry.verdict:<7}  {metric:<22}  {result.accuracy.get(entry.scenario, '')}")
    out.append("")
    out.append("What happened: the real LoadGen ran the bundled digits classifier (reference_runs/digits) in")
    out.append("the four scenarios, in accuracy and performance mode, plus the compliance tests TEST01, TEST04-A")
    out.append("and TEST04-B; the logs were assembled into a closed-division submission with its system")
    out.append("description, measurements and code folder, and checked against the sample round's rules")
    out.append(f"(rules/{ROUND}.yaml, the same engine and rule IDs as the MLPerf rounds):")
    out.append("")
    out.append(f"== mlperf-audit check {result.tree} --round {ROUND}")
    out.append(render_text(result.report, verbose=verbose).rstrip())
    if result.broken is not None and result.broken_report is not None:
        out.append("")
        out.append(f"== mlperf-audit check {result.broken} --round {ROUND}   (the copy with planted defects)")
        out.append(render_text(result.broken_report, verbose=verbose).rstrip())
        out.append("")
        out.append("Planted defects:")
        for defect, rule_id in PLANTED.items():
            status = "caught" if rule_id in result.caught else "MISSED"
            out.append(f"  {rule_id}  {status:<6}  {PLANTED_TEXT[defect]}")
        extra = sorted(result.caught - set(PLANTED.values()))
        if extra:
            out.append(f"  unexpected errors: {', '.join(extra)}")
        for defect, todo in NOT_YET_DETECTABLE.items():
            out.append(f"  ----  not yet  {defect}: {todo}")
    out.append("")
    out.append("Next: `mlperf-audit check <your tree>` checks a real submission (the round is detected from its")
    out.append("logs); `mlperf-audit explain <RULE>` says what a rule checks and how to fix a finding.")
    out.append("demo OK" if result.ok else "demo FAILED: see the report above")
    return "\n".join(out) + "\n"


def main_demo(out: Path | None, broken: bool, jobs: int, stream: TextIO | None = None) -> int:
    """The CLI body: build, check, print; exit 0 when the good tree is clean (and, with --break,
    exactly the planted defects were caught)."""
    stream = stream or sys.stdout
    result = build_demo(out, broken=broken, jobs=jobs)
    stream.write(render(result))
    return 0 if result.ok else 1
