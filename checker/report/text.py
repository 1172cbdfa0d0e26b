"""The terminal report: a summary table per submitter, then the findings grouped by result.

Text from the tree (names, messages quoting file content) is stripped of control characters so a
crafted file name cannot move the cursor or recolour the terminal, and of line breaks so a quoted
log line cannot forge a finding of its own.
"""

from __future__ import annotations

from collections import defaultdict

from checker.report.document import FindingOut, ReportDocument
from checker.report.escape import plain

SEVERITY_MARK = {"error": "E", "warning": "W", "info": "I"}
#: Trees this small list every result with its figure, valid ones too (a first look, a demo).
SMALL_TREE = 25


def clean(text: str | None) -> str:
    """One line of inert text: a line break quoted from a log (``\\n``, ``\\r``, U+2028) would start a
    line that looks like the report's own, so breaks become spaces and other controls ``?``."""
    return plain(text)


def _finding_lines(finding: FindingOut, show_hint: bool) -> list[str]:
    where = clean(finding.path or finding.scope_path)
    if finding.line:
        where += f":{finding.line}"
    mark = SEVERITY_MARK.get(finding.severity, "?")
    waived = " [waived: " + clean(finding.waiver_reason) + "]" if finding.waived else ""
    lines = [f"  {mark} {finding.rule} {where}", f"      {clean(finding.message)}{waived}"]
    if finding.expected is not None or finding.found is not None:
        lines.append(f"      expected: {clean(finding.expected) or '-'}   found: {clean(finding.found) or '-'}")
    if show_hint and finding.hint:
        lines.append(f"      fix: {clean(finding.hint)}")
    return lines


def render_text(doc: ReportDocument, verbose: bool = False) -> str:
    out: list[str] = []
    source = "given with --round" if doc.round_source == "given" else "detected"
    out.append(f"mlperf-audit {doc.tool_version} · {doc.rule_pack.title} (rules/{doc.rule_pack.file}, {source})")
    for note in doc.round_notes:
        out.append(f"  note: {clean(note)}")
    out.append(f"tree: {clean(doc.tree)}")
    out.append("")
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for result in doc.results:
        row = table[(result.division, result.submitter)]
        row[0] += 1
        row[{"valid": 1, "invalid": 2, "waived": 3}[result.verdict]] += 1
    width = max([len(clean(s)) for _, s in table] + [9])
    out.append(f"  {'division':<8}  {'submitter':<{width}}  {'results':>7}  {'valid':>5}  {'invalid':>7}  {'waived':>6}")
    for (division, submitter), (total, valid, invalid, waived) in sorted(table.items()):
        out.append(f"  {division:<8}  {clean(submitter):<{width}}  {total:>7}  {valid:>5}  {invalid:>7}  {waived:>6}")
    s = doc.summary
    out.append(f"  {'total':<8}  {'':<{width}}  {s.results:>7}  {s.valid:>5}  {s.invalid:>7}  {s.waived:>6}")
    out.append("")
    shown_scoped: set[int] = set()
    scoped_by_path: dict[str, list[FindingOut]] = defaultdict(list)
    for finding in doc.findings:
        scoped_by_path[finding.scope_path].append(finding)
    for scope_path in sorted(scoped_by_path):
        findings = [f for f in scoped_by_path[scope_path] if verbose or f.severity != "info"]
        if not findings:
            continue
        level = findings[0].scope
        out.append(f"{clean(scope_path)}  ({level})")
        for finding in findings:
            shown_scoped.add(id(finding))
            out.extend(_finding_lines(finding, show_hint=True))
        out.append("")
    for result in doc.results:
        own = [f for f in result.findings if f.scope == "result" and (verbose or f.severity != "info")]
        inherited = sorted({f.rule for f in result.findings if f.scope != "result" and f.severity == "error"})
        if not own and result.verdict == "valid" and not (verbose or len(doc.results) <= SMALL_TREE):
            continue
        metric = ""
        if result.metric is not None:
            metric = f"  {result.metric.value:.6g} {result.metric.unit}" + (" (inferred)" if result.metric.inferred else "")
        out.append(f"{clean(result.path)}  {result.verdict.upper()}{metric}")
        if inherited:
            out.append(f"  (also invalid through system/benchmark findings: {', '.join(inherited)})")
        for finding in own:
            out.extend(_finding_lines(finding, show_hint=finding.severity == "error" or verbose))
        if own or inherited:
            out.append("")
    if out[-1] != "":
        out.append("")
    out.append(
        f"{s.results} results: {s.valid} valid, {s.invalid} invalid, {s.waived} waived · "
        f"{s.errors} errors, {s.warnings} warnings, {s.infos} notes"
    )
    return "\n".join(out) + "\n"


def render_quiet(doc: ReportDocument) -> str:
    """``--quiet``: one line per unwaived error finding (each once), nothing else."""
    out = []
    for result, finding in doc.distinct_findings():
        if finding.severity != "error" or finding.waived:
            continue
        where = clean(doc.location(finding, result) or finding.scope_path)
        if finding.line:
            where += f":{finding.line}"
        out.append(f"{finding.rule} {where}: {clean(finding.message)}")
    return "".join(line + "\n" for line in out)
