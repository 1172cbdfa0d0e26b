"""The engine: run every enabled rule on every scope it applies to, collect findings, decide verdicts.

* A rule runs when the round's pack lists it with a severity other than ``off`` and the user's
  ``--select`` / ``--ignore`` prefixes keep it.
* An exception inside a check becomes an ``X001`` finding for that rule and scope; the run goes on.
* Parse problems of every file the checks read become ``S004`` (file unusable) or ``S005`` (file
  partly readable) findings, once per file.
* Waivers (see :mod:`checker.engine.waivers`) are applied per result: a finding covering several
  results can be waived for some of them only. Expired waivers are ignored (S023) and waivers that
  matched nothing among the rules that ran are reported (S022).
* A result is ``invalid`` when an unwaived error finding covers it, ``waived`` when it has errors
  and all are waived, else ``valid``.
* After the verdicts, the report's extras (a result's mapped benchmark, accuracy, latencies; each
  system's summary fields) are read from the same parse cache; they add no findings.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from checker.discover import ResultUnit, Tree
from checker.engine.context import Context
from checker.engine.evidence import Evidence
from checker.engine.facts import ResultFacts, SystemFacts, result_facts, system_facts
from checker.engine.metric import Metric, headline_metric
from checker.engine.registry import REGISTRY, RuleSpec, Violation, load_all_checks
from checker.engine.rulepack import RulePack
from checker.engine.waivers import Waiver, match
from checker.findings import Finding, Scope, Severity, as_text

#: ``progress(done, total, label, results)``: called after each rule; ``results`` is the tree's size.
Progress = Callable[[int, int, str, int], None]


@dataclass
class ResultReport:
    unit: ResultUnit
    verdict: str
    metric: Metric | None
    findings: list[Finding] = field(default_factory=list)
    facts: ResultFacts | None = None


@dataclass
class RunOutcome:
    pack: RulePack
    tree: Tree
    findings: list[Finding]
    results: list[ResultReport]
    timings: dict[str, float]
    rules_run: list[str]
    rules_deselected: list[str] = field(default_factory=list)
    evidence: Evidence | None = None
    systems: dict[str, SystemFacts] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)

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
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params, submission=submission,
                          options=base.options)
    elif spec.scope == "system":
        for submission in tree.submissions:
            systems = sorted(set(submission.result_systems))
            for system in systems:
                yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                              submission=submission, system=system, options=base.options)
    else:
        for unit in tree.units:
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                          submission=unit.submission, system=unit.system, unit=unit, options=base.options)


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


def engine_severity(pack: RulePack, rule_id: str, default: Severity) -> Severity | None:
    """Severity of a rule the engine raises itself: the pack's when it lists the rule, else the default."""
    setting = pack.rules.get(rule_id)
    if setting is None:
        return default
    return None if setting.severity == "off" else Severity(setting.severity)


def engine_finding(pack: RulePack, select: Sequence[str], ignore: Sequence[str], rule_id: str,
                    **fields: object) -> Finding | None:
    spec = REGISTRY[rule_id]
    severity = engine_severity(pack, rule_id, spec.default_severity)
    if severity is None or not selected(rule_id, select, ignore):
        return None
    fields.setdefault("hint", spec.fix)
    return Finding(rule=rule_id, severity=severity, **fields)  # type: ignore[arg-type]


def _waived(finding: Finding, waiver: Waiver) -> Finding:
    return finding.model_copy(update={"waived": True, "waiver_reason": waiver.reason})


def _apply_waivers(findings: list[Finding], results: list[ResultReport], waivers: list[Waiver]) -> list[Finding]:
    """Give each result its covering findings (waived copies where a waiver matches it) and return
    the top-level list, where a finding is waived when a waiver names its scope or file, or when it
    is waived for every result it covers."""
    covered = [0] * len(findings)
    waived_by: list[Waiver | None] = [None] * len(findings)
    waived_count = [0] * len(findings)
    for report in results:
        scope = report.unit.scope
        own: list[Finding] = []
        for index, finding in enumerate(findings):
            if not finding.scope.covers(scope):
                continue
            covered[index] += 1
            waiver = None
            if waivers:
                waiver = match(waivers, finding.rule, [report.unit.rel, finding.scope.label(), finding.path or ""])
            if waiver is not None:
                waiver.matched += 1
                waived_count[index] += 1
                waived_by[index] = waived_by[index] or waiver
                own.append(_waived(finding, waiver))
            else:
                own.append(finding)
        report.findings = own
        report.verdict = verdict_for(own)
    top: list[Finding] = []
    for index, finding in enumerate(findings):
        waiver = None
        if waivers:
            waiver = match(waivers, finding.rule, [finding.scope.label(), finding.path or ""])
            if waiver is not None and not covered[index]:
                waiver.matched += 1
        if waiver is None and covered[index] and waived_count[index] == covered[index]:
            waiver = waived_by[index]
        top.append(_waived(finding, waiver) if waiver is not None else finding)
    return top


def run_checks(
    tree: Tree,
    pack: RulePack,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    extra_findings: Sequence[Finding] = (),
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
    progress: Progress | None = None,
    options: dict[str, object] | None = None,
) -> RunOutcome:
    """Run the pack's rules over a discovered tree, apply the waivers and build the per-result report."""
    started = time.perf_counter()
    evidence = Evidence(tree.root)
    base = Context(pack=pack, evidence=evidence, tree=tree, options=dict(options or {}))
    findings: list[Finding] = list(extra_findings)
    specs = enabled_rules(pack, select, ignore)
    units = tree.units
    for number, spec in enumerate(specs, start=1):
        base.params = pack.rules[spec.id].params
        _run_rule(spec, base, findings)
        if progress is not None:
            progress(number, len(specs), spec.id, len(units))
    checks_done = time.perf_counter()
    results: list[ResultReport] = []
    for unit in units:
        ctx = Context(pack=pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system, unit=unit)
        try:
            metric = headline_metric(ctx)
        except Exception:  # noqa: BLE001 - a metric we cannot read is reported by P012, not a crash
            metric = None
        results.append(ResultReport(unit=unit, verdict="valid", metric=metric))
    findings.extend(_parse_findings(evidence, pack, select, ignore))

    today = today or date.today()
    active = [w for w in waivers if not w.expired(today)]
    for waiver in waivers:
        waiver.matched, waiver.state = 0, "unused"
        if waiver.expired(today):
            waiver.state = "expired"
            extra = engine_finding(
                pack, select, ignore, "S023", scope=Scope(), path=waiver.tree_path,
                message=f"{waiver.label} expired on {waiver.expires}; not applied (reason was: {waiver.reason})",
                expected=f"a date on or after {today}", found=str(waiver.expires))
            if extra is not None:
                findings.append(extra)
    findings = _deduplicate(findings)
    findings.sort(key=Finding.sort_key)
    findings = _apply_waivers(findings, results, active)
    ran = {s.id for s in specs}
    unused = []
    for waiver in active:
        if waiver.matched:
            waiver.state = "applied"
        spec = REGISTRY.get(waiver.rule)
        applies = spec is not None and selected(waiver.rule, select, ignore) and (
            waiver.rule in ran or (spec.check is None and engine_severity(pack, waiver.rule, spec.default_severity)))
        if waiver.matched == 0 and applies:
            extra = engine_finding(
                pack, select, ignore, "S022", scope=Scope(), path=waiver.tree_path,
                message=f"{waiver.label} matched no finding (path {', '.join(waiver.paths)})",
                expected="a finding of the rule under the path", found="none")
            if extra is not None:
                unused.append(extra)
    if unused:
        findings = sorted(findings + unused, key=Finding.sort_key)
        for report in results:
            report.findings = sorted(report.findings + unused, key=Finding.sort_key)
    verdicts_done = time.perf_counter()

    systems: dict[str, SystemFacts] = {}
    for report in results:
        unit = report.unit
        ctx = Context(pack=pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system, unit=unit)
        report.facts = result_facts(ctx)
        key = unit.submission.system_scope(unit.system).label()
        if key not in systems:
            facts = system_facts(ctx, unit.system)
            if facts is not None:
                systems[key] = facts
    deselected = [rule_id for rule_id in sorted(pack.rules)
                  if rule_id not in ran and pack.severity(rule_id, Severity.ERROR) is not None
                  and not selected(rule_id, select, ignore)]
    end = time.perf_counter()
    timings = {"checks_s": checks_done - started, "verdicts_s": verdicts_done - checks_done,
               "report_facts_s": end - verdicts_done, "total_s": end - started}
    return RunOutcome(pack=pack, tree=tree, findings=findings, results=results, timings=timings,
                      rules_run=[s.id for s in specs], rules_deselected=deselected, evidence=evidence,
                      systems=systems, waivers=list(waivers))
