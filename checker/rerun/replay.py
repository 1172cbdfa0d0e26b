"""``mlperf-audit rerun``: replay one result of a submission with the real LoadGen on sample data.

Given a result folder (``…/results/<system>/<benchmark>/<scenario>``), a model (ONNX) and sample
data, it runs, each in its own subprocess:

- the reference model and the given model in AccuracyOnly mode on the sample, and reports the
  accuracy of each and their top-1 agreement (R001, R002);
- compares the submission's own accuracy-log entries, for the qsl_idx the sample covers, with
  what the given model produces (R003);
- PerformanceOnly with the submission's settings read from its detail log (seeds, QSL sizes,
  samples per query, Server target QPS and latency, latency percentile), scaled down in duration
  and query count, and checks that LoadGen accepts them (R004), that the effective settings equal
  the submission's (R005) and that LoadGen loads the same samples (R006);
- TEST01 and TEST04 for real with the audit.config files of ``demo`` (R007, R008).

Absolute performance is never compared: the re-run is on another machine with another SUT.
Writes only into its own output folder; the submission is only read.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from checker.findings import Severity
from checker.parse.accuracy_log import iter_entries
from checker.parse.loadgen_detail import parse_detail
from checker.rerun.batch import Progress, run_all
from checker.rerun.compliance_verify import verify_test01_accuracy, verify_test01_performance, verify_test04
from checker.rerun.demo import AUDIT_CONFIGS
from checker.rerun.presets import FAST_VALID
from checker.rerun.sample_data import load_sample
from checker.rerun.settings import RunSpec

#: Re-runs are scaled down to at most these durations (ms) per scenario.
SCALED_DURATION_MS = {"SingleStream": 1000, "MultiStream": 1000, "Server": 1000, "Offline": 100}
#: A QSL larger than this is not rebuilt from the sample (memory); loaded_qsl_set is then not compared.
MAX_QSL = 1_000_000
TIMEOUT_S = 300.0
#: Accuracy runs cover the whole (repeated) QSL up to this size, so TEST01 can compare every index.
FULL_ACCURACY_MAX = 50_000
TOLERANCE = 1.0
#: Effective settings that must equal the submission's, per scenario.
COMPARED_KEYS = {
    "any": ["effective_scenario", "effective_qsl_rng_seed", "effective_sample_index_rng_seed",
            "effective_schedule_rng_seed", "effective_performance_sample_count",
            "effective_target_latency_percentile"],
    "MultiStream": ["effective_samples_per_query"],
    "Server": ["effective_target_qps", "effective_target_latency_ns", "effective_samples_per_query"],
    "SingleStream": ["effective_samples_per_query"],
}


class ReplayError(Exception):
    """The re-run cannot be made (missing logs, bad model or sample data): exit 2."""


@dataclass
class ReplayFinding:
    rule: str
    severity: str
    message: str
    expected: str | None = None
    found: str | None = None


@dataclass
class Claim:
    """What the submission's result folder claims, from its performance detail log."""

    folder: Path
    scenario: str
    settings: dict[str, Any]
    loaded_qsl_set: list[int] | None
    total_count: int
    performance_count: int
    accuracy_log: Path | None


def read_claim(result_dir: Path) -> Claim:
    """Read the result's run_1 detail log (MLLOG era) and locate its accuracy log."""
    detail_path = result_dir / "performance" / "run_1" / "mlperf_log_detail.txt"
    parsed = parse_detail(detail_path)
    model = parsed.model
    if model is None or model.format == "text2019":
        raise ReplayError(f"{detail_path}: no readable :::MLLOG detail log (rerun needs LoadGen >= 1.0 logs)")
    settings: dict[str, Any] = {}
    for key in model.entries:
        if key.startswith(("effective_", "requested_")):
            entry = model.integer(key)
            settings[key] = entry.value if entry is not None else model.value(key)
    scenario = settings.get("effective_scenario")
    if scenario not in SCALED_DURATION_MS:
        raise ReplayError(f"{detail_path}: unknown scenario {scenario!r}")
    total = model.integer("qsl_reported_total_count")
    perf = model.integer("qsl_reported_performance_count")
    if total is None or perf is None:
        raise ReplayError(f"{detail_path}: QSL sizes (qsl_reported_*_count) missing")
    accuracy_log = result_dir / "accuracy" / "mlperf_log_accuracy.json"
    return Claim(folder=result_dir, scenario=str(scenario), settings=settings,
                 loaded_qsl_set=model.int_list("loaded_qsl_set"), total_count=total.value,
                 performance_count=perf.value, accuracy_log=accuracy_log if accuracy_log.is_file() else None)


@dataclass
class SampleData:
    samples: np.ndarray
    labels: np.ndarray | None
    name: str


def load_sample_data(path: Path | None, labels_path: Path | None = None) -> SampleData:
    """The bundled digits QSL by default; else a ``.npy`` of samples or a ``.npz`` with ``samples``
    (and optionally ``labels``); ``labels_path`` is a ``.npy`` of labels."""
    if path is None:
        sample = load_sample()
        return SampleData(sample.qsl_samples(), sample.qsl_labels(), "bundled digits sample (500 samples)")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                samples = archive["samples"]
                labels = archive["labels"] if "labels" in archive.files else None
        else:
            samples, labels = np.load(path, allow_pickle=False), None
        if labels_path is not None:
            labels = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ReplayError(f"cannot read sample data {path}: {exc}") from exc
    return SampleData(np.ascontiguousarray(samples, dtype=np.float32), labels, f"{path} ({len(samples)} samples)")


def write_qsl(data: SampleData, total: int, target: Path) -> Path:
    """The QSL the re-run uses: the sample, repeated (qsl_idx i is sample i mod N) up to the claimed size,
    so that LoadGen sees the submission's QSL sizes and loads the same indices."""
    count = min(total, MAX_QSL)
    index = np.arange(count) % len(data.samples)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(data.samples[index]), allow_pickle=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return target


def _percentile(claim: Claim) -> float | None:
    value = claim.settings.get("effective_target_latency_percentile")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 1 else None


def replay_spec(claim: Claim, key: str, mode: str, model: Path, qsl: Path, runs: Path,
                sample_count: int, audit_config: Path | None = None) -> RunSpec:
    """A spec with the claimed settings, durations and query counts scaled down."""
    s = claim.settings
    scenario = claim.scenario
    fields: dict[str, Any] = {
        "qsl_rng_seed": int(s["effective_qsl_rng_seed"]),
        "sample_index_rng_seed": int(s["effective_sample_index_rng_seed"]),
        "schedule_rng_seed": int(s["effective_schedule_rng_seed"]),
        "min_duration_ms": min(int(s.get("effective_min_duration_ms", 0)), SCALED_DURATION_MS[scenario]),
        "min_query_count": min(int(s.get("effective_min_query_count", 1)), FAST_VALID[scenario]["min_query_count"]),
        "target_latency_percentile": _percentile(claim),
    }
    if scenario in ("SingleStream", "MultiStream"):
        fields["expected_latency_ns"] = 10_000  # small, so LoadGen pre-generates enough queries
    if scenario == "MultiStream":
        fields["samples_per_query"] = int(s["effective_samples_per_query"])
    if scenario == "Server":
        fields["target_qps"] = float(s["effective_target_qps"])
        fields["target_latency_ns"] = int(s["effective_target_latency_ns"])
        if mode == "AccuracyOnly":  # accuracy runs are paced by the target QPS; keep them short
            fields["target_qps"] = max(fields["target_qps"], 1000.0)
    if scenario == "Offline":
        fields["offline_expected_qps"] = float(s.get("requested_offline_expected_qps") or s["effective_target_qps"])
    if mode == "AccuracyOnly" and claim.total_count > FULL_ACCURACY_MAX:
        # Only the first N indices are distinct samples; beyond a size, do not run the repeats.
        fields["accuracy_sample_count_override"] = min(sample_count, claim.total_count)
    return RunSpec(
        scenario=scenario,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        model_path=model,
        samples_path=qsl,
        output_dir=runs / key,
        total_sample_count=min(claim.total_count, MAX_QSL),
        performance_sample_count=min(claim.performance_count, claim.total_count, MAX_QSL),
        timeout_s=TIMEOUT_S,
        audit_config=audit_config,
        **fields,
    )


@dataclass
class ReplayReport:
    result: str
    scenario: str
    model: str
    reference: str
    sample: str
    out: str
    scaled: list[str] = field(default_factory=list)
    accuracy: dict[str, Any] = field(default_factory=dict)
    submission_log: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    compliance: dict[str, str] = field(default_factory=dict)
    findings: list[ReplayFinding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    def add(self, rule: str, severity: Severity, message: str, expected: Any = None, found: Any = None) -> None:
        self.findings.append(ReplayFinding(rule, severity.value, message,
                                           None if expected is None else str(expected),
                                           None if found is None else str(found)))


def _logits(path: Path) -> dict[int, np.ndarray]:
    """qsl_idx → float32 output of the first entry for it (complete or truncated logs)."""
    out: dict[int, np.ndarray] = {}
    for entry in iter_entries(path):
        if entry.qsl_idx not in out and len(entry.data) % 4 == 0 and entry.data:
            out[entry.qsl_idx] = np.frombuffer(entry.data, dtype="<f4")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare_accuracy(report: ReplayReport, reference: dict[int, np.ndarray], given: dict[int, np.ndarray],
                     labels: np.ndarray | None, sample_count: int, quality: float, min_agreement: float) -> None:
    covered = sorted(i for i in given if i < sample_count and i in reference)
    agree = sum(1 for i in covered if int(np.argmax(given[i])) == int(np.argmax(reference[i])))
    report.accuracy["compared"] = len(covered)
    report.accuracy["top1_agreement"] = round(100.0 * agree / len(covered), 3) if covered else None
    if covered and 100.0 * agree / len(covered) < min_agreement:
        report.add("R002", Severity.WARNING, f"the given model's top-1 differs from the reference on "
                   f"{len(covered) - agree} of {len(covered)} samples",
                   expected=f">= {min_agreement:g} % agreement", found=f"{100.0 * agree / len(covered):.3f} %")
    if labels is None or not covered:
        return
    for name, outputs in (("reference", reference), ("model", given)):
        good = sum(1 for i in covered if int(np.argmax(outputs[i])) == int(labels[i % len(labels)]))
        report.accuracy[name] = {"percent": round(100.0 * good / len(covered), 3), "good": good, "total": len(covered)}
    ref, mine = report.accuracy["reference"]["percent"], report.accuracy["model"]["percent"]
    if mine < quality * ref:
        report.add("R001", Severity.ERROR, f"accuracy on the sample {mine:.3f} % is below {quality:g} x the "
                   f"reference's {ref:.3f} % (a drop of {ref - mine:.3f} points)",
                   expected=f">= {quality * ref:.3f} %", found=f"{mine:.3f} %")


def compare_submission_log(report: ReplayReport, claim: Claim, given: dict[int, np.ndarray], sample_count: int) -> None:
    if claim.accuracy_log is None:
        report.submission_log["status"] = "no accuracy log in the result"
        return
    submitted: dict[int, bytes] = {}
    for entry in iter_entries(claim.accuracy_log):
        submitted.setdefault(entry.qsl_idx, entry.data)
    covered = sorted(i for i in submitted if i < sample_count and i in given)
    same_bytes = same_class = 0
    differ: list[int] = []
    for i in covered:
        mine = given[i]
        if submitted[i] == mine.tobytes():
            same_bytes += 1
        elif len(submitted[i]) == mine.nbytes and \
                int(np.argmax(np.frombuffer(submitted[i], dtype="<f4"))) == int(np.argmax(mine)):
            same_class += 1
        else:
            differ.append(i)
    report.submission_log.update(readable=len(submitted), covered=len(covered), identical=same_bytes,
                                 same_class=same_class, different=len(differ))
    if differ:
        report.add("R003", Severity.ERROR, f"{len(differ)} of {len(covered)} submitted accuracy-log entries "
                   f"have another top-1 class than the given model's (qsl_idx {', '.join(map(str, differ[:8]))}"
                   f"{', …' if len(differ) > 8 else ''})", expected="the given model's outputs",
                   found=f"{len(differ)} different")
    elif same_class:
        report.add("R003", Severity.WARNING, f"{same_class} of {len(covered)} submitted entries differ in their "
                   "bytes from the given model's outputs (same top-1 class)", expected="identical bytes",
                   found=f"{same_class} differ")


def compare_performance(report: ReplayReport, claim: Claim, detail: Path, ok: bool, failure: str | None) -> None:
    if not ok:
        report.add("R004", Severity.ERROR, f"the re-run with the submission's settings failed: {failure}")
        return
    parsed = parse_detail(detail).model
    if parsed is None:
        report.add("R004", Severity.ERROR, "the re-run wrote no readable detail log")
        return
    errors = [m.text for m in parsed.errors]
    report.performance["loadgen_errors"] = parsed.error_count
    report.performance["validity"] = parsed.value("result_validity")
    if errors:
        report.add("R004", Severity.ERROR, f"LoadGen logged {parsed.error_count} error(s): {errors[0]}",
                   expected="no LoadGen errors", found=parsed.error_count)
    keys = COMPARED_KEYS["any"] + COMPARED_KEYS.get(claim.scenario, [])
    differ = 0
    for key in keys:
        claimed = claim.settings.get(key)
        entry = parsed.integer(key)
        found = entry.value if entry is not None else parsed.value(key)
        if claimed is None:
            continue
        if _differs(claimed, found):
            differ += 1
            report.add("R005", Severity.ERROR, f"{key} of the re-run differs from the submission's",
                       expected=claimed, found=found)
    report.performance["settings_compared"] = len([k for k in keys if claim.settings.get(k) is not None])
    report.performance["settings_differing"] = differ
    loaded = parsed.int_list("loaded_qsl_set")
    if claim.loaded_qsl_set is None or loaded is None or claim.total_count > MAX_QSL:
        report.performance["loaded_qsl_set"] = "not compared"
    elif loaded == claim.loaded_qsl_set:
        report.performance["loaded_qsl_set"] = f"identical ({len(loaded)} samples)"
    else:
        diff = len(set(loaded) ^ set(claim.loaded_qsl_set))
        report.performance["loaded_qsl_set"] = "different"
        report.add("R006", Severity.ERROR, f"LoadGen loads other samples for the submission's seeds and QSL sizes "
                   f"({diff} indices differ)", expected=f"{claim.loaded_qsl_set[:6]}…", found=f"{loaded[:6]}…")


def _differs(claimed: Any, found: Any) -> bool:
    if isinstance(claimed, (int, float)) and isinstance(found, (int, float)):
        return abs(float(claimed) - float(found)) > 1e-9 * max(1.0, abs(float(claimed)))
    return claimed != found


def replay(result_dir: Path, model: Path | None = None, reference: Path | None = None,
           samples: Path | None = None, labels: Path | None = None, out: Path | None = None,
           jobs: int = 2, quality: float = 0.99, min_agreement: float = 100.0,
           progress: Progress | None = None) -> ReplayReport:
    """Replay one result (see the module docstring); never writes into ``result_dir``."""
    claim = read_claim(result_dir)
    bundled = load_sample()
    reference = reference or bundled.model_path
    model = model or reference
    for path in (model, reference):
        if not path.is_file():
            raise ReplayError(f"no such model: {path}")
    data = load_sample_data(samples, labels)
    out = out or Path(tempfile.mkdtemp(prefix="mlperf-audit-rerun-"))
    if out.exists() and any(out.iterdir()):
        raise ReplayError(f"--out {out} is not empty; give a new or empty folder")
    runs = out / "runs"
    qsl = write_qsl(data, claim.total_count, runs / "assets" / "qsl.npy")
    count = min(len(data.samples), claim.total_count)
    audit = runs / "assets"
    for test, text in AUDIT_CONFIGS.items():
        (audit / f"{test}.audit.config").write_text(text, encoding="utf-8")
    p = claim.scenario
    specs = {
        "reference-accuracy": replay_spec(claim, "reference-accuracy", "AccuracyOnly", reference, qsl, runs, count),
        "model-accuracy": replay_spec(claim, "model-accuracy", "AccuracyOnly", model, qsl, runs, count),
        f"{p}-performance": replay_spec(claim, f"{p}-performance", "PerformanceOnly", model, qsl, runs, count),
        f"{p}-TEST01": replay_spec(claim, f"{p}-TEST01", "PerformanceOnly", model, qsl, runs, count,
                                   audit / "TEST01.audit.config"),
    }
    if p in ("SingleStream", "Server"):  # as the sample round: TEST04 cannot be timed in MS/Offline here
        for test in ("TEST04-A", "TEST04-B"):
            specs[f"{p}-{test}"] = replay_spec(claim, f"{p}-{test}", "PerformanceOnly", model, qsl, runs, count,
                                               audit / f"{test}.audit.config")
    outcomes = run_all(specs, jobs, progress or Progress(), "re-running")
    perf = specs[f"{p}-performance"]
    report = ReplayReport(result=str(result_dir), scenario=p, model=f"{model} (sha256 {_sha256(model)[:16]}…)",
                          reference=f"{reference} (sha256 {_sha256(reference)[:16]}…)", sample=data.name, out=str(out))
    s = claim.settings
    report.scaled = [
        f"min_duration {s.get('effective_min_duration_ms')} ms -> {perf.min_duration_ms} ms",
        f"min_query_count {s.get('effective_min_query_count')} -> {perf.min_query_count}",
    ]
    if claim.total_count > MAX_QSL:
        report.scaled.append(f"QSL {claim.total_count} samples -> {MAX_QSL}")
    for key in ("reference-accuracy", "model-accuracy"):
        if not outcomes[key].ok:
            raise ReplayError(f"the {key.split('-')[0]} model's accuracy run failed: {outcomes[key].failure}")
    given = _logits(specs["model-accuracy"].log_file("accuracy"))
    compare_accuracy(report, _logits(specs["reference-accuracy"].log_file("accuracy")), given, data.labels, count,
                     quality, min_agreement)
    compare_submission_log(report, claim, given, count)
    compare_performance(report, claim, perf.log_file("detail"), outcomes[f"{p}-performance"].ok,
                        outcomes[f"{p}-performance"].failure)
    _compliance(report, specs, outcomes, p)
    return report


def _compliance(report: ReplayReport, specs: dict[str, RunSpec], outcomes: dict[str, Any], p: str) -> None:
    test01 = specs[f"{p}-TEST01"]
    if not outcomes[f"{p}-TEST01"].ok:
        report.add("R007", Severity.ERROR, f"the TEST01 re-run failed: {outcomes[f'{p}-TEST01'].failure}")
    else:
        accuracy = verify_test01_accuracy(test01.log_file("accuracy"), specs["model-accuracy"].log_file("accuracy"))
        report.compliance["TEST01 accuracy"] = accuracy.text.strip().splitlines()[-1]
        if not accuracy.passed:
            report.add("R007", Severity.ERROR, "TEST01: performance-mode responses differ from accuracy mode",
                       expected="TEST PASS", found=report.compliance["TEST01 accuracy"])
        performance = verify_test01_performance(specs[f"{p}-performance"].log_file("detail"),
                                                test01.log_file("detail"), p, TOLERANCE)
        report.compliance["TEST01 performance"] = performance.text.strip().splitlines()[-1]
        if not performance.passed:
            report.add("R007", Severity.WARNING, "TEST01: performance with response logging differs beyond the "
                       "tolerance", expected="TEST PASS", found=report.compliance["TEST01 performance"])
    if f"{p}-TEST04-A" in specs:
        if all(outcomes[f"{p}-{t}"].ok for t in ("TEST04-A", "TEST04-B")):
            result = verify_test04(specs[f"{p}-TEST04-A"].log_file("detail"),
                                   specs[f"{p}-TEST04-B"].log_file("detail"), p, TOLERANCE)
            report.compliance["TEST04"] = result.text.strip().splitlines()[-1]
            if not result.passed:
                report.add("R008", Severity.WARNING, "TEST04: the repeated sample is served faster",
                           expected="TEST PASS", found=report.compliance["TEST04"])
        else:
            report.add("R008", Severity.WARNING, "a TEST04 re-run failed")
    else:
        report.compliance["TEST04"] = f"not run ({p}: a shared host cannot time it; see rules/sample.yaml)"


def render(report: ReplayReport) -> str:
    """Plain text for a reader who has not seen the code."""
    a = report.accuracy
    lines = [
        f"mlperf-audit rerun: {report.result}",
        f"  scenario:   {report.scenario}",
        f"  model:      {report.model}",
        f"  reference:  {report.reference}",
        f"  sample:     {report.sample}",
        f"  runs in:    {report.out}",
        "  Performance runs are SCALED DOWN (absolute performance is not compared): " + "; ".join(report.scaled),
        "",
        f"Accuracy on the sample (AccuracyOnly, {report.scenario}):",
    ]
    for name, label in (("reference", "reference model"), ("model", "given model")):
        if name in a:
            lines.append(f"  {label:<16} {a[name]['percent']:.3f} % ({a[name]['good']}/{a[name]['total']})")
    if a.get("top1_agreement") is not None:
        lines.append(f"  top-1 agreement  {a['top1_agreement']:.3f} % of {a['compared']} samples")
    sl = report.submission_log
    if "covered" in sl:
        lines.append(f"Submission's accuracy log: {sl['readable']} entries readable, {sl['covered']} covered by the "
                     f"sample: {sl['identical']} identical, {sl['same_class']} same class, {sl['different']} different")
    else:
        lines.append(f"Submission's accuracy log: {sl.get('status')}")
    perf = report.performance
    if perf:
        lines.append(f"Performance re-run with the submission's settings: LoadGen errors {perf.get('loadgen_errors')}, "
                     f"{perf.get('settings_compared', 0)} effective settings compared, "
                     f"{perf.get('settings_differing', 0)} differ; loaded samples {perf.get('loaded_qsl_set')}")
    for name, verdict in report.compliance.items():
        lines.append(f"{name}: {verdict}")
    lines.append("")
    if report.findings:
        lines.append("Findings:")
        for f in report.findings:
            lines.append(f"  {f.severity[0].upper()} {f.rule} {f.message}")
            if f.expected is not None or f.found is not None:
                lines.append(f"      expected: {f.expected}   found: {f.found}")
    else:
        lines.append("No findings: the given model reproduces the reference and the submission's claims.")
    return "\n".join(lines) + "\n"


def as_json(report: ReplayReport) -> str:
    from dataclasses import asdict

    return json.dumps(asdict(report), indent=2, default=str) + "\n"
