"""The stable report document: the one structure every output format is rendered from.

``--format json`` prints it as is; its schema is the Pydantic model below, written to
``schemas/report.schema.json`` by :func:`report_schema` (a test keeps the file current;
``schema_version`` is raised on any incompatible change, while new optional fields are not).
Results are listed in a fixed order (division, submitter, system, benchmark, scenario); each
carries the findings that cover it, including those raised on its system or benchmark (``scope``
says which), with its own waived state. Findings that belong to no single result are also listed
once at the top level. :meth:`ReportDocument.distinct_findings` gives every finding exactly once,
which is what SARIF, the CSV error counts and the round-trip tests count.

Regenerate the schema file with ``python -m checker.report.document > schemas/report.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from checker import __version__
from checker.engine.runner import RunOutcome
from checker.findings import Finding, Severity
from checker.report.escape import parts_may_hold_lone_surrogates, scrub

SCHEMA_VERSION = 1


class FindingOut(BaseModel):
    rule: str
    severity: str
    message: str
    scope: str = Field(description="tree, submitter, system, benchmark or result")
    scope_path: str = Field(description="division/submitter/system/benchmark/scenario as far as the scope goes")
    path: str | None = None
    line: int | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    waived: bool = False
    waiver_reason: str | None = None


class MetricOut(BaseModel):
    value: float
    unit: str
    key: str
    path: str
    line: int | None = None
    inferred: bool = False


class AccuracyOut(BaseModel):
    metric: str
    value: float
    raw: str = Field(description="the number exactly as accuracy.txt prints it")
    path: str
    line: int | None = None
    target: float | None = None
    direction: str | None = Field(None, description="min: the value must be at least the target; max: at most")
    meets_target: bool | None = None


class ResultOut(BaseModel):
    division: str
    submitter: str
    system: str = Field(description="system folder name; key of `systems` is division/submitter/system")
    benchmark: str = Field(description="benchmark folder name as submitted")
    mlperf_benchmark: str | None = Field(None, description="the round's benchmark the folder maps to, if any")
    scenario: str
    path: str
    verdict: str = Field(description="valid | invalid | waived")
    metric: MetricOut | None = None
    accuracy: list[AccuracyOut] = Field(default_factory=list, description="accuracy.txt values per target metric")
    latency_ns: dict[str, float] = Field(
        default_factory=dict, description="percentile ('50.00', '90.00', '99.00') -> latency of the headline run"
    )
    has_power: bool = Field(False, description="performance/power exists (a power result)")
    errors: int = Field(0, description="unwaived error findings covering the result")
    waived_errors: int = 0
    warnings: int = 0
    findings: list[FindingOut] = Field(default_factory=list)


class SystemOut(BaseModel):
    """The system description's summary fields as written (numbers as text); None when absent."""

    path: str
    readable: bool = Field(description="the file exists and holds a JSON object")
    division: str | None = None
    submitter: str | None = None
    status: str | None = None
    system_type: str | None = None
    system_name: str | None = None
    number_of_nodes: str | None = None
    host_processor_model_name: str | None = None
    host_processors_per_node: str | None = None
    host_processor_core_count: str | None = None
    accelerator_model_name: str | None = None
    accelerators_per_node: str | None = None
    framework: str | None = None
    operating_system: str | None = None
    hw_notes: str | None = None
    sw_notes: str | None = None


class RuleOut(BaseModel):
    id: str
    title: str
    severity: str = Field(description="severity in this round (error, warning, info)")
    selected: bool = Field(True, description="false: enabled in the round's pack but left out by --select/--ignore")


class WaiverOut(BaseModel):
    source: str = Field(description="the waivers file (as given, or mlperf-audit.toml in the tree)")
    entry: int = Field(description="1-based number of the [[waiver]] entry in its file")
    rule: str
    paths: list[str]
    reason: str
    expires: str | None = None
    status: str = Field(description="applied | unused | expired")
    matched: int = Field(0, description="findings waived (counted per result they cover)")


class Counts(BaseModel):
    results: int = 0
    valid: int = 0
    invalid: int = 0
    waived: int = 0
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    waived_findings: int = 0


class RulePackOut(BaseModel):
    round: str
    title: str
    file: str | None
    sha256: str | None = Field(description="SHA-256 of the pack file (rules/<round>.yaml)")
    merged_sha256: str | None = Field(
        None, description="SHA-256 of the merged pack (its extends chain applied) as canonical JSON"
    )
    csv_columns: list[str] = Field(default_factory=list, description="the official summary.csv header of the round")


class ReportDocument(BaseModel):
    schema_version: int = SCHEMA_VERSION
    tool: str = "mlperf-audit"
    tool_version: str = __version__
    round: str
    round_source: str = Field(description="'given' (--round) or 'detected'")
    round_notes: list[str] = Field(default_factory=list)
    rule_pack: RulePackOut
    tree: str
    rules_run: list[str] = Field(default_factory=list)
    rules: list[RuleOut] = Field(
        default_factory=list,
        description="rules that ran, rules the engine raised, and rules deselected by --select/--ignore",
    )
    summary: Counts
    results: list[ResultOut]
    findings: list[FindingOut] = Field(
        default_factory=list, description="findings above result level (and any result-level one without a result)"
    )
    systems: dict[str, SystemOut] = Field(default_factory=dict, description="division/submitter/system -> description")
    waivers: list[WaiverOut] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per phase")

    def distinct_findings(self) -> Iterator[tuple[ResultOut | None, FindingOut]]:
        """Every finding once: the top-level ones, then each result's own (result-scope) findings."""
        for finding in self.findings:
            yield None, finding
        for result in self.results:
            for finding in result.findings:
                if finding.scope == "result":
                    yield result, finding

    def rule(self, rule_id: str) -> RuleOut | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def location(self, finding: FindingOut, result: ResultOut | None = None) -> str | None:
        """The tree-relative file or folder a finding is about: its file, else its scope's folder."""
        if finding.path:
            return finding.path
        if finding.scope == "system" and finding.scope_path in self.systems:
            return self.systems[finding.scope_path].path
        if result is not None and finding.scope == "result":
            return result.path
        parts = finding.scope_path.split("/")
        for candidate in self.results:
            mine = [candidate.division, candidate.submitter, candidate.system, candidate.benchmark, candidate.scenario]
            if mine[: len(parts)] == parts:
                folder = candidate.path.split("/")
                # result path: division/submitter/<results dir>/system/benchmark/scenario
                keep = {"submitter": 2, "system": 4, "benchmark": 5, "result": 6}.get(finding.scope)
                return "/".join(folder[:keep]) if keep else None
        if finding.scope == "submitter":
            return finding.scope_path
        return None


def finding_out(finding: Finding, scopes: dict[int, tuple[str, str]] | None = None) -> FindingOut:
    """``scopes``: each Scope object's level and label by its id, for findings that share their scope
    objects (those of a partition do, see :func:`checker.engine.runner.check_partition`); the
    caller keeps the scopes alive while the dict is in use."""
    scope = finding.scope
    texts = scopes.get(id(scope)) if scopes is not None else None
    if texts is None:
        texts = (scope.level, scope.label())
        if scopes is not None:
            scopes[id(scope)] = texts
    # validated: pydantic's construction in Rust takes half the time of model_construct() in Python
    return FindingOut(
        rule=finding.rule,
        severity=finding.severity.value,
        message=finding.message,
        scope=texts[0],
        scope_path=texts[1],
        path=finding.path,
        line=finding.line,
        expected=finding.expected,
        found=finding.found,
        hint=finding.hint,
        waived=finding.waived,
        waiver_reason=finding.waiver_reason,
    )


def _encodes(text: str) -> bool:
    """Whether ``text`` is valid UTF-8 material: it holds no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _suspect(finding: Finding, out: FindingOut) -> bool:
    """Whether a finding's report form needs the full lone-surrogate test (see :class:`PreparedFindings`)."""
    for text in (finding.message, out.scope_path, finding.path, finding.expected, finding.found, finding.hint,
                 finding.waiver_reason, finding.rule):
        if text is not None and not text.isascii() and not _encodes(text):
            return True
    return False


def report_forms(findings: list[Finding]) -> tuple[list[FindingOut], list[int]]:
    """The report form of each finding and the positions of those that need the full surrogate test,
    for a partition to carry (:class:`PreparedFindings`): made where the partition is checked, and
    kept with it in the partition cache, a warm run on a whole repository loads its 17,000 findings'
    forms (about 25 ms) instead of making them (about 65 ms)."""
    scopes: dict[int, tuple[str, str]] = {}
    outs = [finding_out(finding, scopes) for finding in findings]
    return outs, [index for index, (finding, out) in enumerate(zip(findings, outs, strict=True))
                  if _suspect(finding, out)]


def result_out(unit: Any, verdict: str, metric: Any, facts: Any, findings: list[Finding],
               outs: list[FindingOut]) -> ResultOut:
    """The report form of one result: its unit, verdict, headline metric, report facts, and the
    findings that cover it (``outs``: their report forms, in the same order)."""
    error, warning = Severity.ERROR, Severity.WARNING
    errors = waived_errors = warnings = 0
    for finding in findings:
        if finding.severity == error:
            if finding.waived:
                waived_errors += 1
            else:
                errors += 1
        elif finding.severity == warning:
            warnings += 1
    metric_out = None
    if metric is not None:
        metric_out = MetricOut(value=metric.value, unit=metric.unit, key=metric.key, path=metric.path,
                               line=metric.line, inferred=metric.inferred)
    return ResultOut(
        division=unit.division,
        submitter=unit.submitter,
        system=unit.system,
        benchmark=unit.benchmark,
        mlperf_benchmark=facts.mlperf_benchmark if facts else None,
        scenario=unit.scenario_folder,
        path=unit.rel,
        verdict=verdict,
        metric=metric_out,
        accuracy=[AccuracyOut(**vars(a)) for a in facts.accuracy] if facts else [],
        latency_ns=dict(facts.latency_ns) if facts else {},
        has_power=facts.has_power if facts else False,
        errors=errors,
        waived_errors=waived_errors,
        warnings=warnings,
        findings=outs,
    )


def result_forms(units: list[Any], covering: list[list[int]], verdicts: list[str], metrics: list[Any],
                 facts: list[Any], findings: list[Finding],
                 outs: list[FindingOut]) -> list[tuple[list[int], ResultOut, bool]]:
    """Each result's report form as its partition alone makes it (``covering``: the indices of the
    findings that cover each result), with those indices and whether its own strings passed the
    report's surrogate test. The report uses one when the run gave the result exactly those
    findings (no waiver, no finding from outside the partition): a warm run on a whole repository
    then loads 1,400 results' forms instead of making them again."""
    out = []
    for unit, indices, verdict, metric, fact in zip(units, covering, verdicts, metrics, facts, strict=True):
        result = result_out(unit, verdict, metric, fact, [findings[i] for i in indices], [outs[i] for i in indices])
        out.append((indices, result, not parts_may_hold_lone_surrogates([(result, {"findings"})])))
    return out


class PreparedFindings:
    """Report forms of findings, each made once: ahead of :func:`build_document` while the engine
    waits for its workers (:func:`checker.engine.runner.run_checks`, ``while_waiting``), or as the
    document is built. A finding the engine replaced since (a waived copy) is simply made again.

    Each one's text is also screened for the report's surrogate test, string by string: one that is
    all ASCII (a flag CPython keeps, so the test is free) cannot hold a lone surrogate, nor can one
    that encodes to UTF-8 (the encoder refuses exactly those); only a finding with a string that
    fails both is serialized for the full test (:attr:`suspects`). Many findings quote a ``≤`` or a
    ``×``: serializing each of them took about 10 ms of a warm run on a whole repository."""

    def __init__(self) -> None:
        self._made: dict[int, tuple[Finding, FindingOut]] = {}  # by id; the finding is kept alive
        #: result forms carried by partitions, by result path: (its findings, the form, screened clean)
        self._results: dict[str, tuple[list[Finding], ResultOut, bool]] = {}
        self.scopes: dict[int, tuple[str, str]] = {}
        #: the report forms made from a finding with a string that may hold a lone surrogate
        self.suspects: list[FindingOut] = []

    def _make(self, finding: Finding) -> FindingOut:
        out = finding_out(finding, self.scopes)
        if _suspect(finding, out):
            self.suspects.append(out)
        return out

    def add_partition(self, partition: Any) -> None:
        """Every finding of a :class:`checker.engine.runner.Partition`: the report forms it carries
        (:func:`report_forms`, made where it was checked and kept with it in the partition cache),
        else made here."""
        made = self._made
        forms = getattr(partition, "forms", None)
        if forms is not None and len(forms[0]) == len(partition.findings):
            outs, suspects = forms
            for finding, out in zip(partition.findings, outs, strict=True):
                made[id(finding)] = (finding, out)
            self.suspects.extend(outs[index] for index in suspects)
            findings = partition.findings
            for indices, result, clean in getattr(partition, "result_forms", None) or ():
                self._results[result.path] = ([findings[i] for i in indices], result, clean)
            return
        make = self._make
        for finding in partition.findings:
            made[id(finding)] = (finding, make(finding))

    def result(self, report: Any) -> tuple[ResultOut, bool] | None:
        """The form a partition carries for this result (and whether it was screened clean), when the
        run gave the result exactly the findings the partition gave it (the same objects: a waived
        copy or a finding from outside the partition makes it unusable) and the same verdict."""
        carried = self._results.get(report.unit.rel)
        if carried is None:
            return None
        findings, result, clean = carried
        mine = report.findings
        if (result.verdict != report.verdict or len(findings) != len(mine)
                or not all(a is b for a, b in zip(findings, mine, strict=True))):
            return None
        return result, clean

    def get(self, finding: Finding) -> FindingOut:
        entry = self._made.get(id(finding))
        if entry is not None and entry[0] is finding:
            return entry[1]
        out = self._make(finding)
        self._made[id(finding)] = (finding, out)
        return out


def _pack_hash(outcome: RunOutcome) -> str | None:
    from checker.engine.rulepack import rules_dir

    name = outcome.pack.source_file
    if not name:
        return None
    try:
        return hashlib.sha256((rules_dir() / name).read_bytes()).hexdigest()
    except OSError:
        return None


def _rules(outcome: RunOutcome, found: set[str]) -> list[RuleOut]:
    """The report's rule table: every rule run, deselected or found (``found``: the findings' rules)."""
    from checker.engine.registry import REGISTRY

    pack = outcome.pack
    seen = set(outcome.rules_run) | found
    out = []
    for rule_id in sorted(seen | set(outcome.rules_deselected)):
        spec = REGISTRY.get(rule_id)
        setting = pack.rules.get(rule_id)
        if setting is not None and setting.severity != "off":
            severity = setting.severity
        else:
            severity = spec.default_severity.value if spec is not None else "error"
        out.append(RuleOut(id=rule_id, title=spec.title if spec is not None else rule_id, severity=severity,
                           selected=rule_id in seen))
    return out


def _waivers(outcome: RunOutcome) -> list[WaiverOut]:
    out = []
    for waiver in outcome.waivers:
        out.append(WaiverOut(source=waiver.source, entry=waiver.entry, rule=waiver.rule, paths=list(waiver.paths),
                             reason=waiver.reason, expires=str(waiver.expires) if waiver.expires else None,
                             status=waiver.state, matched=waiver.matched))
    return out


def _merged_hash(outcome: RunOutcome) -> str | None:
    try:
        data = outcome.pack.model_dump(mode="json")
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    except (TypeError, ValueError):
        return None


def build_document(outcome: RunOutcome, round_source: str, round_notes: list[str], tree: Path,
                   prepared: PreparedFindings | None = None) -> ReportDocument:
    """The report of a run; ``prepared``: findings already put in report form."""
    # plain counters and scope tuples: a pydantic model's attribute writes and equality run in Python
    tally: Counter[str] = Counter()
    results = []
    covered_scopes = set()
    made = prepared or PreparedFindings()
    out = made.get
    screened: set[int] = set()  # results whose own strings were screened where their partition was checked
    for report in outcome.results:
        unit = report.unit
        covered_scopes.add(unit.scope.parts())
        carried = made.result(report)
        if carried is not None:
            result, clean = carried
            if clean:
                screened.add(id(result))
        else:
            result = result_out(report.unit, report.verdict, report.metric, report.facts, report.findings,
                                [out(f) for f in report.findings])
        results.append(result)
        tally[report.verdict] += 1
    # one pass over the run's findings: the counts, the rules found, the findings no result covers
    # (a result-level finding of no result: a scope a partition shares is looked up once)
    kinds: Counter[tuple[bool, Severity]] = Counter()
    found: set[str] = set()
    top = []
    uncovered: dict[int, bool] = {}
    for finding in outcome.findings:
        kinds[finding.waived, finding.severity] += 1
        found.add(finding.rule)
        scope = finding.scope
        if scope.scenario is None:
            top.append(finding)
            continue
        alone = uncovered.get(id(scope))
        if alone is None:
            alone = uncovered[id(scope)] = scope.parts() not in covered_scopes
        if alone:
            top.append(finding)
    for (waived, severity), count in kinds.items():
        name = "waived_findings" if waived else {Severity.ERROR: "errors", Severity.WARNING: "warnings",
                                                 Severity.INFO: "infos"}.get(severity)
        if name is not None:
            tally[name] += count
    counts = Counts(results=len(results), **tally)
    systems = {key: SystemOut(path=facts.path, readable=facts.readable, **facts.fields)
               for key, facts in outcome.systems.items()}
    document = ReportDocument(
        round=outcome.pack.round,
        round_source=round_source,
        round_notes=round_notes,
        rule_pack=RulePackOut(round=outcome.pack.round, title=outcome.pack.title, file=outcome.pack.source_file,
                              sha256=_pack_hash(outcome), merged_sha256=_merged_hash(outcome),
                              csv_columns=list(getattr(outcome.pack, "csv_columns", []))),
        tree=str(tree),
        rules_run=outcome.rules_run,
        rules=_rules(outcome, found),
        summary=counts,
        results=results,
        findings=[out(f) for f in top],
        systems=systems,
        waivers=_waivers(outcome),
        timings={k: round(v, 4) for k, v in outcome.timings.items()},
    )
    # undecodable names (lone surrogates) would stop every encoder: replace them once, here
    # the findings were screened as they were made (PreparedFindings): only the suspects are tested
    # in full, the rest of each result without them
    parts = [(document, {"results"}),
             *((result, {"findings"}) for result in document.results if id(result) not in screened),
             *((finding, None) for finding in made.suspects)]
    if not parts_may_hold_lone_surrogates(parts):
        return document
    return ReportDocument.model_validate(scrub(document.model_dump()))


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``--format json``, as written to schemas/report.schema.json."""
    schema = ReportDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mlperf-audit.invalid/schemas/report.schema.json"
    schema["description"] = (
        "The report document of `mlperf-audit check --format json` (schema_version "
        f"{SCHEMA_VERSION}); every other output format is rendered from it."
    )
    return schema


def report_schema_text() -> str:
    return json.dumps(report_schema(), indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(report_schema_text(), end="")
