"""The engine: run every enabled rule on every scope it applies to, collect findings, decide verdicts.

* A rule runs when the round's pack lists it with a severity other than ``off`` and the user's
  ``--select`` / ``--ignore`` prefixes keep it.
* An exception inside a check becomes an ``X001`` finding for that rule and scope; the run goes on.
* Parse problems of every file the checks read become ``S004`` (file unusable) or ``S005`` (file
  partly readable) findings, once per file.
* A result is ``invalid`` when an unwaived error finding covers it, ``waived`` when it has errors
  and all are waived, else ``valid``.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checker.discover import ResultUnit, Tree
from checker.engine.context import Context
from checker.engine.evidence import Evidence
from checker.engine.metric import Metric, headline_metric
from checker.engine.registry import REGISTRY, RuleSpec, Violation, load_all_checks
from checker.engine.rulepack import RulePack
from checker.findings import Finding, Scope, Severity, as_text


@dataclass
class ResultReport:
    unit: ResultUnit
    verdict: str
    metric: Metric | None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class RunOutcome:
    pack: RulePack
    tree: Tree
    findings: list[Finding]
    results: list[ResultReport]
    timings: dict[str, float]
    rules_run: list[str]

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.findings if f.blocking)

    def scoped_findings(self) -> list[Finding]:
        """Findings that belong to no single result (tree, submitter, system, benchmark level)."""
        return [f for f in self.findings if f.scope.scenario is None]


def selected(rule_id: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if select and not any(rule_id.startswith(prefix) for prefix in select):
        return False
    return not any(rule_id.startswith(prefix) for prefix in ignore)


def enabled_rules(pack: RulePack, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[RuleSpec]:
    registry = load_all_checks()
    specs = []
    for rule_id in sorted(pack.rules):
        spec = registry.get(rule_id)
        if spec is None or spec.check is None:
            continue
        if pack.severity(rule_id, spec.default_severity) is None:
            continue
        if selected(rule_id, select, ignore):
            specs.append(spec)
    return specs


def _finding(spec: RuleSpec, pack: RulePack, violation: Violation, scope: Scope) -> Finding:
    severity = violation.severity or pack.severity(spec.id, spec.default_severity) or spec.default_severity
    return Finding(
        rule=spec.id,
        severity=severity,
        message=violation.message,
        scope=violation.scope or scope,
        path=violation.path,
        line=violation.line,
        expected=as_text(violation.expected),
        found=as_text(violation.found),
        hint=violation.hint or spec.fix,
    )


def _contexts(spec: RuleSpec, base: Context) -> Iterable[Context]:
    tree = base.tree
    if spec.scope == "tree":
        yield base
    elif spec.scope == "submitter":
        for submission in tree.submissions:
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params, submission=submission)
    elif spec.scope == "system":
        for submission in tree.submissions:
            systems = sorted(set(submission.result_systems))
            for system in systems:
                yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                              submission=submission, system=system)
    else:
        for unit in tree.units:
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                          submission=unit.submission, system=unit.system, unit=unit)


def _run_rule(spec: RuleSpec, base: Context, findings: list[Finding]) -> None:
    assert spec.check is not None
    for ctx in _contexts(spec, base):
        try:
            for violation in spec.check(ctx) or ():
                findings.append(_finding(spec, base.pack, violation, ctx.scope))
        except Exception as exc:  # noqa: BLE001 - the engine's whole point: isolate a failing check
            where = traceback.extract_tb(exc.__traceback__)[-1]
            findings.append(
                Finding(
                    rule="X001",
                    severity=Severity.ERROR,
                    message=f"internal error in rule {spec.id} ({spec.title}): {type(exc).__name__}: {exc}",
                    scope=ctx.scope,
                    path=ctx.unit.rel if ctx.unit else None,
                    found=f"{Path(where.filename).name}:{where.lineno}",
                    hint=REGISTRY["X001"].fix,
                )
            )


def _parse_findings(evidence: Evidence, pack: RulePack, select: Sequence[str], ignore: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for parsed in evidence.parsed_files():
        result = parsed.result
        if not result.problems:
            continue
        rule_id = "S004" if result.model is None else "S005"
        spec = REGISTRY[rule_id]
        severity = pack.severity(rule_id, spec.default_severity)
        if severity is None or not selected(rule_id, select, ignore):
            continue
        for problem in result.problems:
            out.append(
                Finding(
                    rule=rule_id,
                    severity=severity,
                    message=f"{result.kind.replace('_', ' ')}: {problem.message}",
                    scope=parsed.scope,
                    path=problem.path,
                    line=problem.line,
                    expected=problem.expected,
                    found=problem.found,
                    hint=spec.fix,
                )
            )
    return out


def _deduplicate(findings: list[Finding]) -> list[Finding]:
    """A benchmark- or system-level finding raised from each of its results is kept once."""
    seen: set[tuple] = set()
    unique = []
    for finding in findings:
        key = (finding.rule, finding.scope, finding.path, finding.line, finding.message)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def verdict_for(findings: Iterable[Finding]) -> str:
    errors = [f for f in findings if f.severity == Severity.ERROR]
    if any(not f.waived for f in errors):
        return "invalid"
    if errors:
        return "waived"
    return "valid"


def run_checks(
    tree: Tree,
    pack: RulePack,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    extra_findings: Sequence[Finding] = (),
) -> RunOutcome:
    """Run the pack's rules over a discovered tree and build the per-result report."""
    started = time.perf_counter()
    evidence = Evidence(tree.root)
    base = Context(pack=pack, evidence=evidence, tree=tree)
    findings: list[Finding] = list(extra_findings)
    specs = enabled_rules(pack, select, ignore)
    for spec in specs:
        base.params = pack.rules[spec.id].params
        _run_rule(spec, base, findings)
    checks_done = time.perf_counter()
    results: list[ResultReport] = []
    for unit in tree.units:
        ctx = Context(pack=pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system, unit=unit)
        try:
            metric = headline_metric(ctx)
        except Exception:  # noqa: BLE001 - a metric we cannot read is reported by P012, not a crash
            metric = None
        results.append(ResultReport(unit=unit, verdict="valid", metric=metric))
    findings.extend(_parse_findings(evidence, pack, select, ignore))
    findings = _deduplicate(findings)
    findings.sort(key=Finding.sort_key)
    for report in results:
        scope = report.unit.scope
        report.findings = [f for f in findings if f.scope.covers(scope)]
        report.verdict = verdict_for(report.findings)
    timings = {"checks_s": checks_done - started, "total_s": time.perf_counter() - started}
    return RunOutcome(pack=pack, tree=tree, findings=findings, results=results, timings=timings,
                      rules_run=[s.id for s in specs])
