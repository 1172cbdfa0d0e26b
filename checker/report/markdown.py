"""``--format markdown``: a reviewer's report that also serves as a GitHub job summary.

Layout: a headline (round, verdict counts), a table per submitter, then each invalid or waived
result with its figures (headline metric, accuracy against the target, latency percentiles) and its
findings, then the findings above result level and the waivers. It is kept short: at most
:data:`MAX_RESULTS` results in detail, :data:`MAX_FINDINGS` findings each, and a hard cap of
:data:`MAX_CHARS` characters (GitHub takes up to 1 MiB per step summary); what is cut is counted.

Every text from the tree goes through :func:`~checker.report.escape.md`, so names or messages
containing Markdown, HTML, backticks, pipes or control characters render literally and cannot
break a table or inject markup.
"""

from __future__ import annotations

from collections import defaultdict

from checker.report.document import FindingOut, ReportDocument, ResultOut
from checker.report.escape import md

MAX_RESULTS = 40
MAX_FINDINGS = 15
MAX_SCOPED = 40
MAX_CHARS = 200_000
VERDICT_MARK = {"valid": "✅", "invalid": "❌", "waived": "⚪"}


def _num(value: float) -> str:
    return f"{value:.6g}"


def _where(doc: ReportDocument, finding: FindingOut, result: ResultOut | None) -> str:
    where = doc.location(finding, result) or finding.scope_path
    text = md(where, 160)
    return f"{text}:{finding.line}" if finding.line else text


def _finding_cell(finding: FindingOut) -> str:
    text = md(finding.message, 400)
    if finding.expected is not None or finding.found is not None:
        text += f" (expected: {md(finding.expected, 120) or '–'}; found: {md(finding.found, 120) or '–'})"
    if finding.waived:
        text += f" — **waived**: {md(finding.waiver_reason, 300)}"
    return text


def _findings_table(doc: ReportDocument, findings: list[FindingOut], result: ResultOut | None) -> list[str]:
    lines = ["| Rule | Severity | Where | Finding |", "|---|---|---|---|"]
    for finding in findings[:MAX_FINDINGS]:
        lines.append(f"| {finding.rule} | {finding.severity} | {_where(doc, finding, result)} | {_finding_cell(finding)} |")
    if len(findings) > MAX_FINDINGS:
        lines.append(f"| … | | | {len(findings) - MAX_FINDINGS} more findings in the JSON/SARIF report |")
    return lines


def _figures(result: ResultOut) -> str:
    parts = []
    if result.metric is not None:
        inferred = ", inferred" if result.metric.inferred else ""
        parts.append(f"result {_num(result.metric.value)} {md(result.metric.unit)} ({md(result.metric.key)}{inferred})")
    for acc in result.accuracy:
        target = ""
        if acc.target is not None:
            sign = "≥" if acc.direction == "min" else "≤"
            mark = "met" if acc.meets_target else "**missed**"
            target = f" (target {sign} {_num(acc.target)}: {mark})"
        parts.append(f"{md(acc.metric)} {_num(acc.value)}{target}")
    if "90.00" in result.latency_ns and result.scenario.lower() != "offline":
        parts.append(f"p90 latency {_num(result.latency_ns['90.00'] / 1e6)} ms")
    if result.has_power:
        parts.append("power result")
    return " · ".join(parts) if parts else "no figures could be read"


def _result_section(doc: ReportDocument, result: ResultOut) -> list[str]:
    mark = VERDICT_MARK.get(result.verdict, "")
    system = doc.systems.get(f"{result.division}/{result.submitter}/{result.system}")
    described = f"system: {md(system.system_name, 200)} · " if system is not None and system.system_name else ""
    lines = [f"#### {mark} {md(result.path)} — {result.verdict}", "", described + _figures(result), ""]
    own = [f for f in result.findings if f.scope == "result" and f.severity != "info"]
    inherited = [f for f in result.findings if f.scope != "result" and f.severity == "error"]
    if inherited:
        by_scope = sorted({(f.rule, f.scope, f.scope_path, f.waived) for f in inherited})
        items = ", ".join(f"{rule}{' (waived)' if waived else ''} on {scope} {md(path)}"
                          for rule, scope, path, waived in by_scope[:10])
        more = f" and {len(by_scope) - 10} more" if len(by_scope) > 10 else ""
        lines += [f"Errors through its {'/'.join(sorted({f.scope for f in inherited}))}: {items}{more}.", ""]
    if own:
        lines += _findings_table(doc, own, result) + [""]
    return lines


def render_markdown(doc: ReportDocument, verbose: bool = False) -> str:
    s = doc.summary
    if s.invalid:
        headline = f"❌ {s.invalid} of {s.results} results invalid"
    elif s.results:
        headline = f"✅ all {s.results} results stand" + (f" ({s.waived} through waivers)" if s.waived else "")
    else:
        headline = "no results found"
    source = "given" if doc.round_source == "given" else "detected"
    out = [
        f"## mlperf-audit: {md(doc.rule_pack.title)} — {headline}",
        "",
        f"mlperf-audit {md(doc.tool_version)} · rule pack {md(doc.rule_pack.file or doc.round)} (round {source}"
        + (f", sha256 {doc.rule_pack.sha256[:12]}" if doc.rule_pack.sha256 else "") + ") · "
        f"{s.errors} errors, {s.warnings} warnings, {s.waived_findings} waived findings",
        "",
    ]
    for note in doc.round_notes[:5]:
        out += [f"> {md(note, 400)}", ""]
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for result in doc.results:
        row = table[(result.division, result.submitter)]
        row[0] += 1
        row[{"valid": 1, "invalid": 2, "waived": 3}.get(result.verdict, 2)] += 1
    if table:
        out += ["| Division | Submitter | Results | Valid | Invalid | Waived |", "|---|---|---:|---:|---:|---:|"]
        for (division, submitter), (total, valid, invalid, waived) in sorted(table.items()):
            out.append(f"| {md(division)} | {md(submitter)} | {total} | {valid} | {invalid} | {waived} |")
        out += [f"| **total** | | {s.results} | {s.valid} | {s.invalid} | {s.waived} |", ""]

    flagged = [r for r in doc.results if r.verdict != "valid"]
    if flagged:
        out += ["### Invalid and waived results", ""]
        for result in flagged[:MAX_RESULTS]:
            out += _result_section(doc, result)
        if len(flagged) > MAX_RESULTS:
            out += [f"… and {len(flagged) - MAX_RESULTS} more invalid or waived results (see the JSON or CSV report).", ""]

    order = {"error": 0, "warning": 1, "info": 2}
    scoped = sorted((f for f in doc.findings if verbose or f.severity != "info"),
                    key=lambda f: (order.get(f.severity, 3), f.waived))  # stable: scope order within
    if scoped:
        out += ["### Findings above result level", ""]
        out += _findings_table_limited(doc, scoped)
        out.append("")

    if doc.waivers:
        out += ["### Waivers", "", "| File | Entry | Rule | Paths | Status | Matched | Reason |",
                "|---|---:|---|---|---|---:|---|"]
        for waiver in doc.waivers:
            out.append(f"| {md(waiver.source)} | {waiver.entry} | {md(waiver.rule)} | {md(', '.join(waiver.paths), 200)} | "
                       f"{waiver.status} | {waiver.matched} | {md(waiver.reason, 300)} |")
        out.append("")
    text = "\n".join(out) + "\n"
    if len(text) > MAX_CHARS:
        cut = text.rfind("\n", 0, MAX_CHARS - 200)
        text = text[: max(cut, 0)] + "\n\n… report cut to fit a job summary; see the JSON or SARIF report for the rest.\n"
    return text


def _findings_table_limited(doc: ReportDocument, findings: list[FindingOut]) -> list[str]:
    lines = ["| Rule | Severity | Scope | Where | Finding |", "|---|---|---|---|---|"]
    for finding in findings[:MAX_SCOPED]:
        lines.append(f"| {finding.rule} | {finding.severity} | {finding.scope} {md(finding.scope_path, 120)} | "
                     f"{_where(doc, finding, None)} | {_finding_cell(finding)} |")
    if len(findings) > MAX_SCOPED:
        lines.append(f"| … | | | | {len(findings) - MAX_SCOPED} more findings in the JSON/SARIF report |")
    return lines
