"""C rules, recomputed: the compliance tests redone from the logs in the tree, next to the claims.

Every official checker of every round only looks for ``TEST PASS`` in the submitter-written
``verify_*.txt`` files (official-checker.md §8.4). The LoadGen logs those claims were made from are
in the tree, so these rules redo each test from them:

* **C004** the test's audit settings took effect (TEST01 sampling, TEST04-A/B issue modes, TEST05
  seeds, TEST03's modified data set as its outputs show it); a "compliance run" that is really a
  plain rerun is an error.
* **C005** TEST01: every sampled performance-mode output equals, byte for byte, the accuracy-mode
  output of the same ``qsl_idx``.
* **C006** TEST01 (and v0.5's TEST03): the test run's headline figure is within the round's
  tolerance of the submission run's.
* **C007** TEST04: TEST04-B (one sample repeated) is not faster than TEST04-A (unique samples)
  beyond the round's tolerance.
* **C008** TEST05: the alternate-seed run is within the round's tolerance of the submission run.
* **C009** the submitter's verification output agrees with the recomputation (verdict and the
  figures it prints).

Which tests a result needs comes from the pack (``benchmarks.<b>.compliance_tests``, closed
division); a test folder that is present but not required (open division, exempt benchmark) is
recomputed too, with its failures capped at warnings. The numbers (tolerances, TEST01 sampling
settings, TEST04 issue settings, TEST05 seeds) come from the pack's ``compliance`` section. A test
that passes yields an ``info`` finding carrying the figures, so ``check -v`` shows, for each
result, each test's recomputed figure next to the claim.

Decisions worth knowing:

* The reference of TEST01/TEST03/TEST05 is the result's first performance run (``run_1``), as the
  rounds' verification scripts were given it (v0.5/v0.7 Server results have five runs).
* Figures are compared in the unit the log holds (ns for latencies), the way the verification
  scripts printed them; the band is inclusive (``|test/ref - 1| <= tolerance``).
* A TEST01/TEST03/TEST05 run that LoadGen marked INVALID fails its performance part (the v0.5
  scripts did the same); TEST04-A and TEST04-B are INVALID by construction in most trees (A runs
  out of unique samples) and only their figures are compared.
* TEST01's outputs are compared by a digest of their bytes; the official scripts compared only
  the first element (or byte) of each output, so a byte difference can stand next to a claimed
  PASS, and C009 says so.
* Published accuracy logs are truncated since v0.7 (first and last 4096 characters): TEST01 is then
  compared on the entries the truncated logs still hold, and a warning says the full comparison
  could not be made; the claim is quoted, labelled as a claim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.engine.compliance_facts import required_tests, test01_fallback
from checker.engine.context import Context
from checker.engine.metric import log_scenario
from checker.engine.registry import Violation, rule
from checker.engine.rulepack import AuditSettings, MetricSource, PerformanceTolerance
from checker.findings import SEVERITY_ORDER, Severity
from checker.parse.loadgen_detail import as_bool, as_number

SECTION = ("Inference rules: compliance (audit) tests; the round's compliance/audit README and its "
           "audit.config files (TEST01, TEST03, TEST04-A/B, TEST05)")
RECOMPUTED_TESTS = ("TEST01", "TEST03", "TEST04-A", "TEST04-B", "TEST05")
SEEDS = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")
LATENCY_UNITS = {"ns", "us", "ms", "s"}
ACCURACY_LOG = "mlperf_log_accuracy.json"
#: The figures of a verification output quoted next to a recomputation (normalised names).
CLAIM_FIGURES = ("num_perf_log_entries", "num_perf_log_data_mismatch", "reference_score", "test_score",
                 "test04_a_score", "test04_b_score")


# ------------------------------------------------------------------------------------------------
# The result's compliance tests
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestFolder:
    name: str
    folder: Path
    required: bool


def test_folders(ctx: Context) -> dict[str, TestFolder]:
    """The recomputable test folders present for this result, with whether the round requires them."""
    base = ctx.compliance_dir()
    if base is None:
        return {}
    required = set(required_tests(ctx))
    out: dict[str, TestFolder] = {}
    for name in RECOMPUTED_TESTS:
        for candidate in (base / name, base / name.lower()):
            if candidate.is_dir():
                out[name] = TestFolder(name, candidate, name in required)
                break
    return out


def test_run(ctx: Context, folder: Path) -> Path | None:
    """Where the test's LoadGen logs are (performance/run_1, or a fallback the pack accepts); looked
    up once per test folder (every compliance rule asks, 2,280 times on v1.0)."""
    return ctx.memo(("compliance.test_run", folder), lambda: _test_run(ctx, folder))


def _test_run(ctx: Context, folder: Path) -> Path | None:
    for rel in ctx.pack.compliance.test_runs:
        candidate = folder if rel in (".", "") else folder / rel
        if ctx.summary_path(candidate).is_file() or ctx.detail_path(candidate).is_file():
            return candidate
    return None


def cap(ctx: Context, rule_id: str, severity: Severity, required: bool = True) -> Severity:
    """The milder of ``severity``, the pack's severity for the rule and (for a test the round does
    not require) a warning."""
    from checker.engine.registry import REGISTRY

    spec = REGISTRY[rule_id]
    candidates = [severity, ctx.pack.severity(rule_id, spec.default_severity) or spec.default_severity]
    if not required:
        candidates.append(Severity.WARNING)
    return max(candidates, key=lambda s: SEVERITY_ORDER[s])


def _memo(ctx: Context, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """So that C009 reuses what C005-C008 computed (see :meth:`Context.memo`)."""
    return ctx.memo(("compliance_recompute", *key), compute)


# ------------------------------------------------------------------------------------------------
# Claims (verify_*.txt)
# ------------------------------------------------------------------------------------------------

@dataclass
class Claim:
    """What one verification output says: its verdict and the figures it prints (by normalised name)."""

    file: str
    path: str
    verdict: str | None
    line: int | None
    figures: dict[str, tuple[float, str, int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        said = f"claims TEST {self.verdict}" if self.verdict else "claims no verdict"
        keys = [k for k in CLAIM_FIGURES if k in self.figures] or list(self.figures)[:4]
        printed = ", ".join(f"{self.names[k]} = {self.figures[k][1]}" for k in keys)
        return f"{self.file} {said}" + (f" ({printed})" if printed else "")


def read_claim(ctx: Context, folder: Path, name: str) -> Claim | None:
    path = folder / name
    model = ctx.model(path, "verify")
    if model is None:
        return None
    verdict = model.verdict
    claim = Claim(file=name, path=ctx.rel(path), verdict=verdict.value if verdict is not None else None,
                  line=verdict.line if verdict is not None else None)
    for figure in model.figures:
        if figure.key not in claim.figures:
            claim.figures[figure.key] = (figure.value, figure.raw, figure.line)
            claim.names[figure.key] = figure.name
    return claim


def claim_for(ctx: Context, tests: dict[str, TestFolder], test: str, accuracy: bool) -> Claim | None:
    """The verification output that holds a test's claim: verify_accuracy.txt for TEST01's outputs,
    the other verify file of the test (TEST04-A's for TEST04) for performance."""
    owner = "TEST04-A" if test == "TEST04" else test
    folder = tests.get(owner)
    if folder is None:
        return None
    names = list(ctx.pack.compliance.verify_files.get(owner, []))
    if accuracy:
        names = [n for n in names if "accuracy" in n] or ["verify_accuracy.txt"]
    else:
        names = [n for n in names if "accuracy" not in n] or ["verify_performance.txt"]
    for name in names:
        claim = read_claim(ctx, folder.folder, name)
        if claim is not None:
            return claim
    return None


def claim_note(claim: Claim | None) -> str:
    return f"; claim: {claim.text()}" if claim is not None else "; no verification output to compare with"


# ------------------------------------------------------------------------------------------------
# Settings and figures from the logs
# ------------------------------------------------------------------------------------------------

@dataclass
class Setting:
    value: Any
    path: str
    line: int | None


def read_setting(ctx: Context, run: Path, key: str) -> Setting | None:
    """``effective_<key>`` of the detail log, else the summary's "Test Parameters Used" entry."""
    detail = ctx.detail(run)
    if detail is not None:
        entry = detail.get(f"effective_{key}")
        if entry is not None:
            return Setting(entry.value, ctx.rel(ctx.detail_path(run)), entry.line)
    summary = ctx.summary(run)
    if summary is not None:
        entry = summary.parameter(key)
        if entry is not None:
            return Setting(entry.value, ctx.rel(ctx.summary_path(run)), entry.line)
    return None


def read_mode(ctx: Context, run: Path) -> Setting | None:
    detail = ctx.detail(run)
    if detail is not None:
        entry = detail.get("effective_test_mode")
        if entry is not None:
            return Setting(entry.value, ctx.rel(ctx.detail_path(run)), entry.line)
    summary = ctx.summary(run)
    if summary is not None and summary.mode is not None:
        return Setting(summary.mode.value, ctx.rel(ctx.summary_path(run)), summary.mode.line)
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
        number = as_number(text)
        if number is not None and number.is_integer():
            return int(number)
    return None


def same_value(found: Any, expected: Any) -> bool | None:
    """Typed comparison of a logged value with the pack's; None when the value cannot be read."""
    if isinstance(expected, bool):
        flag = as_bool(found)
        return None if flag is None else flag == expected
    if isinstance(expected, int):
        number = as_int(found)
        return None if number is None else number == expected
    if isinstance(expected, float):
        real = as_number(found)
        return None if real is None else math.isclose(real, expected, rel_tol=1e-9, abs_tol=1e-12)
    return str(found).strip() == str(expected)


def nonzero(value: Any) -> bool | None:
    number = as_number(value)
    return None if number is None else number != 0


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass
class Figure:
    """A run's headline figure, as the log holds it (latencies in ns), with where it was read."""

    value: float
    key: str
    lower_is_better: bool
    scenario: str
    path: str
    line: int | None
    valid: bool | None


def metric_for(ctx: Context, scenario: str, test: str | None = None) -> MetricSource | None:
    """The figure compliance runs are compared by: the pack's compliance override (``<test>/<scenario>``,
    then ``<scenario>``), else the headline metric (the benchmark's own where the pack gives one, else
    the round's)."""
    overrides = ctx.pack.compliance.performance_metric
    override = overrides.get(f"{test}/{scenario}") if test else None
    override = override or overrides.get(scenario)
    if override is not None:
        return override
    _, bench = ctx.benchmark()
    own = getattr(bench, "metric", None) or {}
    return own.get(scenario) or ctx.pack.metric.get(scenario)


def run_validity(ctx: Context, run: Path) -> bool | None:
    detail = ctx.detail(run)
    if detail is not None and detail.value("result_validity") is not None:
        return str(detail.value("result_validity")).upper() == "VALID"
    summary = ctx.summary(run)
    if summary is not None and summary.validity is not None:
        return summary.validity.value == "VALID"
    return None


def read_figure(ctx: Context, run: Path, scenario: str | None = None, test: str | None = None) -> Figure | None:
    scenario = scenario or log_scenario(ctx, run)
    if scenario is None:
        return None
    source = metric_for(ctx, scenario, test)
    if source is None:
        return None
    if source.source == "summary":
        path, model = ctx.summary_path(run), ctx.summary(run)
    else:
        path, model = ctx.detail_path(run), ctx.detail(run)
    entry = model.number(source.key) if model is not None else None
    if entry is None:
        return None
    lower = source.unit in LATENCY_UNITS
    return Figure(value=float(entry.value), key=source.key, lower_is_better=lower, scenario=scenario,
                  path=ctx.rel(path), line=entry.line, valid=run_validity(ctx, run))


def fmt(value: float) -> str:
    """A figure as the logs print it: integers in full (latencies in ns), others to 6 digits."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def band(tolerance: PerformanceTolerance, reference: Figure) -> float:
    """The allowed deviation (a fraction) for this reference figure."""
    if (
        tolerance.short_latency_percent is not None
        and tolerance.short_latency_max_ns is not None
        and reference.lower_is_better
        and reference.scenario in tolerance.short_latency_scenarios
        and reference.value <= tolerance.short_latency_max_ns
    ):
        return tolerance.short_latency_percent / 100.0
    return tolerance.percent / 100.0


# ------------------------------------------------------------------------------------------------
# Recomputations (shared by C005-C009 through the per-run memo)
# ------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One recomputed test part: its verdict, the figures behind it, the claim next to it."""

    test: str                    # "TEST01 accuracy", "TEST01 performance", "TEST03 performance", "TEST04", "TEST05"
    status: str                  # "pass" | "fail" | "fallback" (TEST01 outputs differ, accepted) | "unknown"
    message: str
    path: str | None
    line: int | None
    required: bool
    claim: Claim | None = None
    expected: str | None = None
    found: str | None = None
    severity: Severity = Severity.ERROR
    claim_checks: list[tuple[str, float, str | None]] = field(default_factory=list)
    contradiction: str | None = None  # what the logs say, for C009's message


def _tests(ctx: Context) -> dict[str, TestFolder]:
    assert ctx.unit is not None
    return _memo(ctx, ("tests", ctx.unit.rel), lambda: test_folders(ctx))


# -- TEST01: outputs ---------------------------------------------------------------------------------

def _sampled_log(ctx: Context, folder: Path) -> Path | None:
    for rel in ctx.pack.compliance.sampled_log:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Comparison:
    """Outputs of one log against another's, per qsl_idx (the other's first entry of each qsl_idx)."""

    compared: int
    differing: int
    missing: int
    first_diff: int | None


def compare_outputs(sampled: Any, reference: Any) -> Comparison | None:
    """Byte-for-byte (by payload digest) comparison of ``sampled``'s entries with ``reference``'s.

    None when a log's payloads cannot be read back (the file vanished or changed)."""
    import numpy as np

    from checker.arrays import first_positions

    try:
        sampled_digests = np.asarray(sampled.digest_array())
        reference_digests = np.asarray(reference.digest_array())
    except OSError:
        return None
    sampled_qsl = np.asarray(sampled.qsl_idx)
    reference_qsl = np.asarray(reference.qsl_idx)
    if len(reference_qsl) == 0 or len(sampled_qsl) == 0:
        return Comparison(0, 0, len(sampled_qsl), None)
    found, first = first_positions(reference_qsl, sampled_qsl)
    differs = found & (reference_digests[first] != sampled_digests)
    differing = int(differs.sum())
    first_diff = int(sampled_qsl[int(np.argmax(differs))]) if differing else None
    compared = int(found.sum())
    return Comparison(compared, differing, len(sampled_qsl) - compared, first_diff)


def _first_line_of(path: Path, qsl_idx: int) -> int | None:
    from checker.parse.accuracy_log import iter_entries

    for entry in iter_entries(path):
        if entry.qsl_idx == qsl_idx:
            return entry.line
    return None


def test01_outputs(ctx: Context) -> Outcome | None:
    tests = _tests(ctx)
    test = tests.get("TEST01")
    if test is None:
        return None
    claim = claim_for(ctx, tests, "TEST01", accuracy=True)
    sampled_path = _sampled_log(ctx, test.folder)
    expected_rel = f"{ctx.rel(test.folder)}/{ctx.pack.compliance.sampled_log[0]}" if ctx.pack.compliance.sampled_log else None
    if sampled_path is None:
        return Outcome("TEST01 accuracy", "unknown",
                       "TEST01 outputs could not be compared: the performance-mode accuracy log is absent"
                       + claim_note(claim) + " (not verified)", expected_rel, None, test.required, claim,
                       severity=Severity.WARNING)
    sampled = ctx.model(sampled_path, "accuracy_log")
    if sampled is None:
        return Outcome("TEST01 accuracy", "unknown",
                       "TEST01 outputs could not be compared: the performance-mode accuracy log is unreadable"
                       + claim_note(claim) + " (not verified)", ctx.rel(sampled_path), None, test.required, claim,
                       severity=Severity.WARNING)
    if sampled.entry_count == 0 and not sampled.partial:
        return Outcome("TEST01 accuracy", "fail",
                       "TEST01's performance-mode accuracy log holds no entries: no output was sampled, so the "
                       "test compared nothing" + claim_note(claim), ctx.rel(sampled_path), None, test.required,
                       claim, expected="sampled entries", found="0 entries",
                       contradiction="the performance-mode accuracy log holds no entries")
    reference_path = ctx.accuracy_dir() / ACCURACY_LOG
    reference = ctx.model(reference_path, "accuracy_log") if reference_path.is_file() else None
    if reference is None:
        why = "absent" if not reference_path.is_file() else "unreadable"
        return Outcome("TEST01 accuracy", "unknown",
                       f"TEST01 outputs could not be compared: the result's accuracy-mode log is {why} "
                       f"({sampled.entry_count} sampled entries in {ctx.rel(sampled_path)})" + claim_note(claim)
                       + " (not verified)", ctx.rel(reference_path), None, test.required, claim,
                       severity=Severity.WARNING)
    comparison = compare_outputs(sampled, reference)
    if comparison is None:
        return Outcome("TEST01 accuracy", "unknown",
                       "TEST01 outputs could not be compared: an accuracy log changed or vanished while it was read"
                       + claim_note(claim) + " (not verified)", ctx.rel(sampled_path), None, test.required, claim,
                       severity=Severity.WARNING)
    compared, differing, missing, first_diff = (comparison.compared, comparison.differing, comparison.missing,
                                                comparison.first_diff)
    complete = not sampled.partial and not reference.partial
    figures = (f"{compared} sampled outputs compared byte for byte with the accuracy-mode run, {differing} differ"
               + (f" (first differing qsl_idx {first_diff})" if first_diff is not None else ""))
    # Entry counts: the v0.5 audit let submitters shorten the performance-mode log (truncate_log.py),
    # so fewer entries than the verification output counted is expected; more means another log.
    checks: list[tuple[str, float, float | None]] = []
    if not sampled.partial:
        checks.append(("num_perf_log_entries", float(sampled.entry_count), "at_most"))
    if not reference.partial:
        checks.append(("num_acc_log_entries", float(reference.entry_count), "at_most"))
    counted = claim.figures.get("num_perf_log_entries") if claim is not None else None
    if counted is not None and not sampled.partial and sampled.entry_count < counted[0]:
        figures += f"; the shipped performance-mode log holds {sampled.entry_count} of the {counted[1]} entries counted"
    truncated = [name for name, log in (("accuracy-mode", reference), ("performance-mode", sampled)) if log.partial]
    scope = ""
    if not complete:
        scope = f" (partial: the {' and '.join(truncated)} log{'s are' if len(truncated) > 1 else ' is'} truncated; "
        scope += (f"{compared} of the {sampled.entry_count} sampled entries left could be matched)" if sampled.entry_count
                  else "the performance-mode log holds no complete entry)")
    if differing:
        line = _first_line_of(sampled_path, first_diff) if first_diff is not None else None
        fallback = test01_fallback(ctx, test.folder)
        if fallback is not None and fallback[0] <= fallback[1]:
            delta, limit, metric = fallback
            return Outcome("TEST01 accuracy", "fallback",
                           f"TEST01: {figures}{scope}; accepted by the round's non-determinism fallback: {metric} of "
                           f"the baseline and compliance runs differ by {delta:.4f}% (limit {limit:g}%)"
                           + claim_note(claim), ctx.rel(sampled_path), line, test.required, claim,
                           expected=f"<= {limit:g}%", found=f"{delta:.4f}%", severity=Severity.INFO,
                           claim_checks=checks, contradiction=f"{differing} of {compared} compared outputs differ")
        extra = ""
        if fallback is not None:
            extra = f"; the fallback's {fallback[2]} differs by {fallback[0]:.4f}% (limit {fallback[1]:g}%)"
        return Outcome("TEST01 accuracy", "fail",
                       f"TEST01: outputs differ between performance and accuracy mode: {figures}{scope}{extra}"
                       + claim_note(claim), ctx.rel(sampled_path), line, test.required, claim,
                       expected="identical outputs", found=f"{differing} of {compared} differ",
                       claim_checks=checks,
                       contradiction=f"{differing} of {compared} compared outputs differ byte for byte (first "
                       f"qsl_idx {first_diff}); the official script compared only the first element of each")
    if not complete:
        return Outcome("TEST01 accuracy", "unknown",
                       f"TEST01 outputs could not be compared in full{scope}: {figures}" + claim_note(claim)
                       + " (not verified)", ctx.rel(reference_path if reference.partial else sampled_path), None,
                       test.required, claim, expected="a complete comparison",
                       found=f"{differing} of {compared} differ (partial)", severity=Severity.WARNING,
                       claim_checks=checks)
    if compared == 0:
        return Outcome("TEST01 accuracy", "unknown",
                       f"TEST01 outputs could not be compared: none of the {sampled.entry_count} sampled qsl_idx is in "
                       "the accuracy-mode log" + claim_note(claim), ctx.rel(sampled_path), None, test.required, claim,
                       severity=Severity.WARNING, claim_checks=checks)
    note = f", {missing} sampled entries without an accuracy-mode counterpart" if missing else ""
    return Outcome("TEST01 accuracy", "pass", f"TEST01 recomputed: {figures}{note}" + claim_note(claim),
                   ctx.rel(sampled_path), None, test.required, claim, expected="identical outputs",
                   found=f"{differing} of {compared} differ", severity=Severity.INFO, claim_checks=checks)


# -- performance comparisons -------------------------------------------------------------------------

def _direction(figure: Figure) -> str:
    return "latency" if figure.lower_is_better else "throughput"


def _claim_figure_checks(test: str, reference: Figure, value: Figure) -> list[tuple[str, float, str | None]]:
    if test == "TEST04":
        return [("test04_a_score", reference.value, None), ("test04_b_score", value.value, None)]
    return [("reference_score", reference.value, None), ("test_score", value.value, None)]


def compare_with_result(ctx: Context, test_name: str) -> Outcome | None:
    """TEST01/TEST03/TEST05: the test run's headline figure against the result's run_1."""
    tests = _tests(ctx)
    test = tests.get(test_name)
    if test is None:
        return None
    label = f"{test_name} performance" if test_name != "TEST05" else "TEST05"
    claim = claim_for(ctx, tests, test_name, accuracy=False)
    tolerance = ctx.pack.compliance.tolerance.get(test_name)
    run = test_run(ctx, test.folder)
    runs = ctx.performance_runs()

    def unknown(why: str, path: str | None) -> Outcome:
        return Outcome(label, "unknown", f"{test_name} performance could not be recomputed: {why}"
                       + claim_note(claim) + " (not verified)", path, None, test.required, claim,
                       severity=Severity.WARNING)

    if tolerance is None:
        return unknown("the round's pack gives no tolerance for it", None)
    if run is None:
        return unknown("the test's LoadGen logs are absent", f"{ctx.rel(test.folder)}/performance/run_1")
    if not runs:
        return unknown("the result has no performance run to compare with", None)
    scenario = log_scenario(ctx, run)
    figure = read_figure(ctx, run, scenario, test_name)
    if figure is None:
        return unknown(f"no headline figure in {ctx.rel(run)}", ctx.rel(run))
    reference_scenario = log_scenario(ctx, runs[0])
    if reference_scenario is not None and scenario is not None and reference_scenario != scenario:
        return unknown(f"the test ran {scenario}, the result's run {reference_scenario}", figure.path)
    reference = read_figure(ctx, runs[0], scenario, test_name)
    if reference is None or reference.value == 0:
        return unknown(f"no headline figure in {ctx.rel(runs[0])}", ctx.rel(runs[0]))
    allowed = band(tolerance, reference)
    ratio = figure.value / reference.value
    deviation = ratio - 1
    within = abs(deviation) <= allowed + 1e-12
    if tolerance.direction == "slower" and (deviation < 0) == figure.lower_is_better:
        within = True  # a one-sided test (TEST05 since v2.0): a faster test run passes
    invalid = figure.valid is False
    passed = within and not invalid
    text = (f"{test_name}: {figure.key} {fmt(figure.value)} vs {fmt(reference.value)} in the submission run "
            f"({ctx.rel(runs[0])}): {deviation * 100:+.2f} % (allowed ±{allowed * 100:g} %)")
    if invalid:
        text += f"; the {test_name} run is INVALID"
    checks = _claim_figure_checks(test_name, reference, figure)
    expected = f"{fmt(reference.value)} ±{allowed * 100:g} %" + ("" if not invalid else ", VALID")
    found = f"{fmt(figure.value)} ({deviation * 100:+.2f} %)" + ("" if not invalid else ", INVALID")
    if passed:
        return Outcome(label, "pass", text + claim_note(claim), figure.path, figure.line, test.required, claim,
                       expected=expected, found=found, severity=Severity.INFO, claim_checks=checks)
    what = ", ".join(part for part in (
        "" if within else f"{deviation * 100:+.2f} % is outside ±{allowed * 100:g} %",
        f"the {test_name} run is INVALID" if invalid else "") if part)
    return Outcome(label, "fail", text + claim_note(claim), figure.path, figure.line, test.required, claim,
                   expected=expected, found=found, claim_checks=checks,
                   contradiction=f"the logs give {figure.key} {fmt(figure.value)} vs {fmt(reference.value)}: {what}")


def test04(ctx: Context) -> Outcome | None:
    tests = _tests(ctx)
    a_folder, b_folder = tests.get("TEST04-A"), tests.get("TEST04-B")
    if a_folder is None and b_folder is None:
        return None
    required = (a_folder.required if a_folder else False) or (b_folder.required if b_folder else False)
    claim = claim_for(ctx, tests, "TEST04", accuracy=False)
    tolerance = ctx.pack.compliance.tolerance.get("TEST04")

    def unknown(why: str, path: str | None) -> Outcome:
        return Outcome("TEST04", "unknown", f"TEST04 could not be recomputed: {why}" + claim_note(claim)
                       + " (not verified)", path, None, required, claim, severity=Severity.WARNING)

    if tolerance is None:
        return unknown("the round's pack gives no tolerance for it", None)
    figures: dict[str, Figure] = {}
    for name, folder in (("TEST04-A", a_folder), ("TEST04-B", b_folder)):
        if folder is None:
            return unknown(f"{name} is absent", ctx.compliance_dir_expected())
        run = test_run(ctx, folder.folder)
        if run is None:
            return unknown(f"{name}'s LoadGen logs are absent", f"{ctx.rel(folder.folder)}/performance/run_1")
        figure = read_figure(ctx, run, test="TEST04")
        if figure is None:
            return unknown(f"no headline figure in {ctx.rel(run)}", ctx.rel(run))
        figures[name] = figure
    a, b = figures["TEST04-A"], figures["TEST04-B"]
    if a.scenario != b.scenario:
        return unknown(f"TEST04-A ran {a.scenario}, TEST04-B {b.scenario}", b.path)
    if a.value == 0:
        return unknown("TEST04-A's figure is 0", a.path)
    allowed = band(tolerance, a)
    ratio = b.value / a.value
    if b.lower_is_better:
        limit, failed = 1 - allowed, ratio < 1 - allowed - 1e-12
        rule_text = f"fails below {limit:.3f}"
    else:
        limit, failed = 1 + allowed, ratio > 1 + allowed + 1e-12
        rule_text = f"fails above {limit:.3f}"
    change = "lower" if ratio < 1 else "higher"
    text = (f"TEST04: {b.key} TEST04-B {fmt(b.value)} vs TEST04-A {fmt(a.value)}: {_direction(b)} ratio B/A "
            f"{ratio:.3f} ({rule_text}; B's {_direction(b)} is {abs(ratio - 1) * 100:.1f} % {change})")
    checks = _claim_figure_checks("TEST04", a, b)
    expected = f"B/A {'>=' if b.lower_is_better else '<='} {limit:.3f}"
    if not failed:
        return Outcome("TEST04", "pass", text + claim_note(claim), b.path, b.line, required, claim,
                       expected=expected, found=f"{ratio:.3f}", severity=Severity.INFO, claim_checks=checks)
    return Outcome("TEST04", "fail", text + ": the repeated sample is served faster than unique ones (caching?)"
                   + claim_note(claim), b.path, b.line, required, claim, expected=expected, found=f"{ratio:.3f}",
                   claim_checks=checks, contradiction=f"the logs give a {_direction(b)} ratio B/A of {ratio:.3f} "
                   f"({rule_text})")


# -- audit settings -----------------------------------------------------------------------------------

def _settings_findings(ctx: Context, test: TestFolder) -> Iterator[Violation]:
    spec: AuditSettings | None = ctx.pack.compliance.audit_settings.get(test.name)
    run = test_run(ctx, test.folder)
    if run is None:
        return  # C001/C002 report the missing logs
    mode = read_mode(ctx, run)
    if mode is not None and str(mode.value) == "AccuracyOnly":
        yield Violation(f"{test.name}: the run is in AccuracyOnly mode; the audit.config's 'mode = 2' "
                        "(performance) did not take effect", path=mode.path, line=mode.line,
                        expected="PerformanceOnly", found=str(mode.value),
                        severity=cap(ctx, "C004", Severity.ERROR, test.required))
    if test.name == "TEST05" or (spec is not None and spec.test05_seeds):
        yield from _seed_findings(ctx, test, run)
    if spec is None:
        return
    if spec.signature:
        values = {key: read_setting(ctx, run, key) for key in spec.signature}
        readable = {k: v for k, v in values.items() if v is not None and nonzero(v.value) is not None}
        if not readable:
            yield Violation(f"{test.name}: the logs show none of {', '.join(spec.signature)}, so whether the "
                            "test's settings took effect cannot be told", path=ctx.rel(run),
                            severity=cap(ctx, "C004", Severity.WARNING, test.required))
            return
        if not any(nonzero(v.value) for v in readable.values()):
            first = next(iter(readable.values()))
            state = ", ".join(f"{k} = {shown(v.value)}" for k, v in readable.items())
            also = _looks_like(ctx, run)
            yield Violation(f"{test.name}: the run shows none of the test's settings ({state}): it is a plain "
                            f"performance run, not {test.name}{also}", path=first.path, line=first.line,
                            expected=" or ".join(f"{k} set" for k in spec.signature), found=state,
                            severity=cap(ctx, "C004", Severity.ERROR, test.required))
            return
    expected = dict(spec.settings)
    unit = ctx.unit
    assert unit is not None
    scenario = log_scenario(ctx, run) or unit.scenario or ""
    expected.update(spec.by_scenario.get(scenario, {}))
    bench_name, _ = ctx.benchmark()
    if bench_name is not None:
        expected.update(spec.by_benchmark.get(bench_name, {}))
    for key, value in expected.items():
        setting = read_setting(ctx, run, key)
        if setting is None:
            continue
        same = same_value(setting.value, value)
        if same is False:
            yield Violation(f"{test.name}: {key} = {shown(setting.value)}, the round's audit.config sets "
                            f"{shown(value)}", path=setting.path, line=setting.line, expected=shown(value),
                            found=shown(setting.value), severity=cap(ctx, "C004", Severity.WARNING, test.required))


def _looks_like(ctx: Context, run: Path) -> str:
    """' (its seeds are TEST05's ...)' when a run in the wrong folder gives itself away."""
    seeds = {key: read_setting(ctx, run, key) for key in SEEDS}
    test05 = ctx.pack.test05_seeds
    if test05 and all(seeds[k] is not None and same_value(seeds[k].value, test05.get(k)) for k in SEEDS):  # type: ignore[union-attr]
        return " (its seeds are the TEST05 seeds: the folder holds a TEST05 run)"
    for key, name in (("performance_issue_same", "TEST04-B"), ("performance_issue_unique", "TEST04-A")):
        setting = read_setting(ctx, run, key)
        if setting is not None and as_bool(setting.value):
            return f" (it has {key} = true: the folder holds a {name} run)"
    return ""


def _seed_findings(ctx: Context, test: TestFolder, run: Path) -> Iterator[Violation]:
    seeds = {key: read_setting(ctx, run, key) for key in SEEDS}
    if any(value is None for value in seeds.values()):
        yield Violation(f"{test.name}: the logs do not show the run's seeds", path=ctx.rel(run),
                        severity=cap(ctx, "C004", Severity.WARNING, test.required))
        return
    official, alternate = ctx.pack.seeds, ctx.pack.test05_seeds
    found = {key: seeds[key].value for key in SEEDS}  # type: ignore[union-attr]
    first = seeds[SEEDS[0]]
    assert first is not None
    text = ", ".join(f"{k} = {shown(v)}" for k, v in found.items())
    if all(same_value(found[k], official.get(k)) for k in SEEDS):
        yield Violation(f"{test.name}: the run used the round's official seeds ({text}): it is a plain rerun, not "
                        "the alternate-seed test", path=first.path, line=first.line,
                        expected=", ".join(f"{k} = {alternate.get(k)}" for k in SEEDS), found=text,
                        severity=cap(ctx, "C004", Severity.ERROR, test.required))
        return
    same_official = [k for k in SEEDS if same_value(found[k], official.get(k))]
    if same_official:
        yield Violation(f"{test.name}: {', '.join(same_official)} equal the round's official seeds; the test "
                        "changes all three", path=first.path, line=first.line,
                        expected=", ".join(f"{k} = {alternate.get(k)}" for k in same_official), found=text,
                        severity=cap(ctx, "C004", Severity.ERROR, test.required))
        return
    if alternate and not all(same_value(found[k], alternate.get(k)) for k in SEEDS):
        yield Violation(f"{test.name}: the seeds differ from the official ones but are not the round's TEST05 seeds "
                        f"({text})", path=first.path, line=first.line,
                        expected=", ".join(f"{k} = {alternate.get(k)}" for k in SEEDS), found=text,
                        severity=cap(ctx, "C004", Severity.WARNING, test.required))


def _test03_dataset(ctx: Context, test: TestFolder) -> Iterator[Violation]:
    """TEST03 (v0.5): outputs on the modified data set must differ from the submission's accuracy run."""
    log = test.folder / "accuracy" / ACCURACY_LOG
    reference_path = ctx.accuracy_dir() / ACCURACY_LOG
    modified = ctx.model(log, "accuracy_log") if log.is_file() else None
    reference = ctx.model(reference_path, "accuracy_log") if reference_path.is_file() else None
    if modified is None or reference is None:
        missing = ctx.rel(log) if modified is None else ctx.rel(reference_path)
        yield Violation(f"TEST03: whether the data set was modified cannot be told from the logs ({missing} is "
                        "absent or unreadable)", path=missing, severity=Severity.INFO)
        return
    comparison = compare_outputs(modified, reference)
    if comparison is None:
        return
    compared, differing = comparison.compared, comparison.differing
    if compared and not differing:
        yield Violation(f"TEST03: all {compared} outputs equal those of the submission's accuracy run: the data set "
                        "was not modified (a plain rerun)", path=ctx.rel(log), expected="outputs that differ",
                        found=f"0 of {compared} differ", severity=cap(ctx, "C004", Severity.ERROR, test.required))
    elif compared:
        yield Violation(f"TEST03: {differing} of {compared} outputs ({differing / compared * 100:.1f} %) differ from "
                        "the submission's accuracy run: the data set was modified", path=ctx.rel(log),
                        severity=Severity.INFO)


# ------------------------------------------------------------------------------------------------
# The rules
# ------------------------------------------------------------------------------------------------

def _emit(ctx: Context, rule_id: str, outcome: Outcome | None) -> Iterator[Violation]:
    if outcome is None:
        return
    yield Violation(outcome.message, path=outcome.path, line=outcome.line, expected=outcome.expected,
                    found=outcome.found, severity=cap(ctx, rule_id, outcome.severity, outcome.required))


@rule(
    "C004",
    title="Compliance test settings not in effect",
    scope="result",
    what="Each compliance run's logs show the settings of its test, as the round's audit.config sets them: "
    "TEST01 accuracy logging in performance mode (sampling probability or target and its seed), "
    "TEST04-A performance_issue_unique, TEST04-B performance_issue_same with index 3, TEST05 the "
    "round's alternate seeds (and not the official ones), TEST03 (v0.5) outputs that differ from the "
    "accuracy run, as a modified data set must. Settings are read from the detail log's effective_* "
    "keys, else from the summary's 'Test Parameters Used'. A run without its test's settings is a plain "
    "rerun (error); other deviations from the audit.config are warnings.",
    why="No official checker looks at the compliance runs' settings: a rerun of the submission copied "
    "into TEST04-B or TEST05 passes every verification script, while testing nothing.",
    section=SECTION,
    fix="Rerun the test with the round's audit.config in LoadGen's working directory and check that the "
    "detail log says 'Found Audit Config file'.",
)
def settings_in_effect(ctx: Context) -> Iterator[Violation]:
    for test in _tests(ctx).values():
        if test.name == "TEST03":
            yield from _test03_dataset(ctx, test)
        found = list(_settings_findings(ctx, test))
        yield from found
        run = test_run(ctx, test.folder)
        if test.name == "TEST03" or run is None or found:
            continue
        shown_settings = _settings_summary(ctx, test.name, run)
        if shown_settings:
            log = run / "mlperf_log_detail.txt"
            log = log if log.is_file() else run / "mlperf_log_summary.txt"
            yield Violation(f"{test.name}: the run's log shows the test's settings: {shown_settings}",
                            path=ctx.rel(log), severity=Severity.INFO)


def _settings_summary(ctx: Context, name: str, run: Path) -> str:
    spec = ctx.pack.compliance.audit_settings.get(name)
    keys: list[str] = []
    if spec is not None:
        keys += [k for k in spec.signature if k not in keys]
        for group in (spec.settings, *spec.by_scenario.values(), *spec.by_benchmark.values()):
            keys += [k for k in group if k not in keys]
    if name == "TEST05" or (spec is not None and spec.test05_seeds):
        keys += [k for k in SEEDS if k not in keys]
    values = [(key, read_setting(ctx, run, key)) for key in keys]
    return ", ".join(f"{key} = {shown(setting.value)}" for key, setting in values if setting is not None)


@rule(
    "C005",
    title="TEST01 outputs differ between performance and accuracy mode",
    scope="result",
    what="TEST01, recomputed: each output LoadGen sampled into the accuracy log during the performance-mode "
    "TEST01 run is compared byte for byte with the output of the same qsl_idx in the result's accuracy-mode "
    "log; the finding gives how many were compared, how many differ and the first differing qsl_idx. When "
    "outputs differ, the round's non-determinism fallback (baseline vs compliance accuracy) is applied. When "
    "a log is absent or truncated (published trees since v0.7), the comparison is made on what is left and a "
    "warning says it could not be made in full, quoting the claim as a claim.",
    why="A system that computes less (or nothing) when it is not being checked for accuracy gives "
    "different outputs in performance mode; the official scripts only compared the first element.",
    section=SECTION,
    fix="Make performance mode compute exactly what accuracy mode computes; for non-deterministic "
    "hardware, run the round's fallback (baseline/compliance accuracy) and ship its outputs.",
)
def test01_recomputed(ctx: Context) -> Iterator[Violation]:
    assert ctx.unit is not None
    yield from _emit(ctx, "C005", _memo(ctx, ("TEST01 accuracy", ctx.unit.rel), lambda: test01_outputs(ctx)))


@rule(
    "C006",
    title="Compliance run performance differs from the submission run",
    scope="result",
    what="TEST01 (and v0.5's TEST03), recomputed: the test run's headline figure (the round's metric "
    "key, in the log's unit) is within the round's tolerance of the result's run_1 (±10 %, ±20 % for a "
    "SingleStream latency of at most 200 µs), and the test run is VALID.",
    why="Logging outputs (TEST01) or a new data set (TEST03) must not change performance much; a large "
    "difference means the submission run was made under other conditions.",
    section=SECTION,
    fix="Rerun the test on the system and software of the submission run.",
)
def compliance_performance(ctx: Context) -> Iterator[Violation]:
    assert ctx.unit is not None
    for name in ("TEST01", "TEST03"):
        outcome = _memo(ctx, (f"{name} performance", ctx.unit.rel), lambda name=name: compare_with_result(ctx, name))
        yield from _emit(ctx, "C006", outcome)


@rule(
    "C007",
    title="TEST04-B faster than TEST04-A",
    scope="result",
    what="TEST04, recomputed from the two runs' headline figures: TEST04-B (one sample issued over and "
    "over) must not be faster than TEST04-A (each sample once) by more than the round's tolerance (10 %, "
    "20 % for a SingleStream latency of at most 200 µs). The finding gives the ratio B/A.",
    why="A system that caches results serves the repeated sample of TEST04-B much faster.",
    section=SECTION,
    fix="Remove any caching of queries, responses or intermediate results and rerun TEST04-A and TEST04-B.",
)
def test04_recomputed(ctx: Context) -> Iterator[Violation]:
    assert ctx.unit is not None
    yield from _emit(ctx, "C007", _memo(ctx, ("TEST04", ctx.unit.rel), lambda: test04(ctx)))


@rule(
    "C008",
    title="TEST05 performance differs from the submission run",
    scope="result",
    what="TEST05, recomputed: the alternate-seed run's headline figure is within the round's tolerance of "
    "the result's run_1 (±5 % in v0.7/v1.0, ±10 % in v0.5's audit; ±20 % for a SingleStream latency of at "
    "most 200 µs), and the run is VALID. That its seeds differ from the official ones is C004's part.",
    why="A system tuned to the announced seeds (sample order, schedule) loses its advantage with others.",
    section=SECTION,
    fix="Remove any tuning to the seeds and rerun the submission and TEST05.",
)
def test05_recomputed(ctx: Context) -> Iterator[Violation]:
    assert ctx.unit is not None
    yield from _emit(ctx, "C008", _memo(ctx, ("TEST05 performance", ctx.unit.rel),
                                        lambda: compare_with_result(ctx, "TEST05")))


def _claim_matches(ctx: Context, outcome: Outcome) -> Iterator[Violation]:
    claim = outcome.claim
    if claim is None:
        return
    if outcome.status in ("pass", "fail") and claim.verdict is not None:
        ours = "PASS" if outcome.status == "pass" else "FAIL"
        if ours != claim.verdict:
            logs = outcome.contradiction or _pass_text(outcome)
            yield Violation(f"{outcome.test}: {claim.file} claims TEST {claim.verdict}, {logs}",
                            path=claim.path, line=claim.line, expected=f"TEST {ours} (recomputed)",
                            found=f"TEST {claim.verdict}", severity=cap(ctx, "C009", Severity.ERROR, outcome.required))
    for key, value, how in outcome.claim_checks:
        said = claim.figures.get(key)
        if said is None:
            continue
        if how == "at_most" and value <= said[0]:
            continue
        decimals = len(said[1].split(".", 1)[1]) if "." in said[1] and "e" not in said[1].lower() else None
        if decimals is not None and math.isclose(round(value, decimals), said[0], rel_tol=1e-9, abs_tol=1e-12):
            continue  # printed rounded (the summary's two decimals)
        if not math.isclose(said[0], value, rel_tol=1e-4, abs_tol=1e-9):
            yield Violation(f"{outcome.test}: {claim.file} says {claim.names[key]} = {said[1]}, the logs give "
                            f"{fmt(value)}", path=claim.path, line=said[2], expected=fmt(value), found=said[1],
                            severity=cap(ctx, "C009", Severity.ERROR, outcome.required))


def _pass_text(outcome: Outcome) -> str:
    head = outcome.message.split("; claim:")[0]
    return f"the logs say it passes ({head})"


@rule(
    "C009",
    title="Verification output contradicts the logs",
    scope="result",
    what="The submitter's verify_accuracy.txt / verify_performance.txt / verify_test4_performance.txt "
    "claim a verdict (and print figures) that the recomputation from the logs (C005-C008) does not "
    "give: a TEST PASS where the logs fail the test, a TEST FAIL where they pass it, or a figure "
    "(reference score, test score, TEST04-A/B score, entry and mismatch counts) that is not the logs'.",
    why="Every official checker trusts these files; a hand-edited or stale verification output is the "
    "simplest way to pass a compliance test.",
    section=SECTION,
    fix="Regenerate the verification output with the round's script from the logs shipped in the folder.",
)
def claims_match_evidence(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    outcomes = [
        _memo(ctx, ("TEST01 accuracy", unit.rel), lambda: test01_outputs(ctx)),
        _memo(ctx, ("TEST01 performance", unit.rel), lambda: compare_with_result(ctx, "TEST01")),
        _memo(ctx, ("TEST03 performance", unit.rel), lambda: compare_with_result(ctx, "TEST03")),
        _memo(ctx, ("TEST04", unit.rel), lambda: test04(ctx)),
        _memo(ctx, ("TEST05 performance", unit.rel), lambda: compare_with_result(ctx, "TEST05")),
    ]
    for outcome in outcomes:
        if outcome is not None:
            yield from _claim_matches(ctx, outcome)
