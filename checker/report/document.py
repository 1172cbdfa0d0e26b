"""The stable report document: the one structure every output format is rendered from.

``--format json`` prints it as is; its schema is the Pydantic model below (``schema_version`` is
raised on any incompatible change). Results are listed in a fixed order (division, submitter,
system, benchmark, scenario); each carries the findings that cover it, including those raised on
its system or benchmark (``scope`` says which). Findings that belong to no single result are also
listed once at the top level.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, Field

from checker import __version__
from checker.engine.runner import RunOutcome
from checker.findings import Finding, Severity

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


class ResultOut(BaseModel):
    division: str
    submitter: str
    system: str
    benchmark: str
    scenario: str
    path: str
    verdict: str = Field(description="valid | invalid | waived")
    metric: MetricOut | None = None
    errors: int = 0
    warnings: int = 0
    findings: list[FindingOut] = Field(default_factory=list)


class Counts(BaseModel):
    results: int = 0
    valid: int = 0
    invalid: int = 0
    waived: int = 0
    errors: int = 0
    warnings: int = 0
    infos: int = 0


class RulePackOut(BaseModel):
    round: str
    title: str
    file: str | None
    sha256: str | None


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
    summary: Counts
    results: list[ResultOut]
    findings: list[FindingOut] = Field(default_factory=list, description="findings above result level")
    timings: dict[str, float] = Field(default_factory=dict)


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        rule=finding.rule,
        severity=finding.severity.value,
        message=finding.message,
        scope=finding.scope.level,
        scope_path=finding.scope.label(),
        path=finding.path,
        line=finding.line,
        expected=finding.expected,
        found=finding.found,
        hint=finding.hint,
        waived=finding.waived,
        waiver_reason=finding.waiver_reason,
    )


def _pack_hash(outcome: RunOutcome) -> str | None:
    from checker.engine.rulepack import rules_dir

    name = outcome.pack.source_file
    if not name:
        return None
    try:
        return hashlib.sha256((rules_dir() / name).read_bytes()).hexdigest()
    except OSError:
        return None


def build_document(outcome: RunOutcome, round_source: str, round_notes: list[str], tree: Path) -> ReportDocument:
    counts = Counts()
    results = []
    for report in outcome.results:
        unit = report.unit
        findings = [finding_out(f) for f in report.findings]
        metric = None
        if report.metric is not None:
            m = report.metric
            metric = MetricOut(value=m.value, unit=m.unit, key=m.key, path=m.path, line=m.line, inferred=m.inferred)
        result = ResultOut(
            division=unit.division,
            submitter=unit.submitter,
            system=unit.system,
            benchmark=unit.benchmark,
            scenario=unit.scenario_folder,
            path=unit.rel,
            verdict=report.verdict,
            metric=metric,
            errors=sum(1 for f in report.findings if f.severity == Severity.ERROR and not f.waived),
            warnings=sum(1 for f in report.findings if f.severity == Severity.WARNING),
            findings=findings,
        )
        results.append(result)
        counts.results += 1
        setattr(counts, report.verdict, getattr(counts, report.verdict) + 1)
    for finding in outcome.findings:
        if finding.severity == Severity.ERROR and not finding.waived:
            counts.errors += 1
        elif finding.severity == Severity.WARNING:
            counts.warnings += 1
        elif finding.severity == Severity.INFO:
            counts.infos += 1
    return ReportDocument(
        round=outcome.pack.round,
        round_source=round_source,
        round_notes=round_notes,
        rule_pack=RulePackOut(round=outcome.pack.round, title=outcome.pack.title, file=outcome.pack.source_file,
                              sha256=_pack_hash(outcome)),
        tree=str(tree),
        rules_run=outcome.rules_run,
        summary=counts,
        results=results,
        findings=[finding_out(f) for f in outcome.scoped_findings()],
        timings={k: round(v, 4) for k, v in outcome.timings.items()},
    )
