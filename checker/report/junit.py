"""``--format junit``: JUnit XML, one test suite per result and one test case per rule.

Each result is a ``<testsuite>`` named by its folder; each rule that ran (and each rule the engine
raised) is a ``<testcase>`` in it, with the result's folder as ``classname``:

* **failed** (``<failure>``) when an unwaived error finding of the rule covers the result (its own,
  or one raised on its system, benchmark or submitter); the body lists the findings;
* **skipped** (``<skipped>``) when all its errors are waived (the message gives the reason), or
  when the rule is enabled in the round but was deselected with ``--select``/``--ignore``;
* **passed** otherwise; warnings and notes are listed in ``<system-out>``.

Findings that cover no result (a tree without results, a submitter folder without results) go to
one more suite, ``(outside results)``. Every finding is one line starting with ``[severity`` in the
element's text, so the findings can be counted back. Text from the tree is reduced to characters
XML 1.0 allows; ElementTree does the escaping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from checker.report.document import FindingOut, ReportDocument, ResultOut, RuleOut
from checker.report.escape import plain, xml_text

OUTSIDE = "(outside results)"


def finding_line(finding: FindingOut, location: str | None) -> str:
    where = plain(location or finding.scope_path)
    if finding.line:
        where += f":{finding.line}"
    state = f"{finding.severity}, waived" if finding.waived else finding.severity
    text = f"[{state}] {finding.rule} {where}: {plain(finding.message)}"
    extra = []
    if finding.expected is not None or finding.found is not None:
        extra.append(f"expected: {plain(finding.expected) or '-'}; found: {plain(finding.found) or '-'}")
    if finding.waived:
        extra.append(f"waiver: {plain(finding.waiver_reason)}")
    elif finding.hint and finding.severity == "error":
        extra.append(f"fix: {plain(finding.hint)}")
    return "\n".join([text, *("    " + e for e in extra)])


def _covers(finding: FindingOut, result: ResultOut) -> bool:
    if finding.scope == "tree":
        return True
    parts = finding.scope_path.split("/")
    mine = [result.division, result.submitter, result.system, result.benchmark, result.scenario]
    return mine[: len(parts)] == parts


def _case(suite: ET.Element, classname: str, rule: RuleOut, findings: list[FindingOut], doc: ReportDocument,
          result: ResultOut | None, counts: dict[str, int]) -> None:
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname, one_line=True),
                         name=xml_text(f"{rule.id} {rule.title}", one_line=True), time="0")
    counts["tests"] += 1
    lines = "\n".join(finding_line(f, doc.location(f, result)) for f in findings)
    errors = [f for f in findings if f.severity == "error"]
    blocking = [f for f in errors if not f.waived]
    if not rule.selected:
        ET.SubElement(case, "skipped", message="deselected by --select/--ignore")
        counts["skipped"] += 1
    elif blocking:
        first = plain(blocking[0].message, 200)
        failure = ET.SubElement(case, "failure", type=rule.id,
                                message=xml_text(f"{len(blocking)} error(s): {first}", one_line=True))
        failure.text = xml_text(lines)
        counts["failures"] += 1
    elif errors:
        reasons = "; ".join(sorted({plain(f.waiver_reason) for f in errors}))
        skipped = ET.SubElement(case, "skipped", message=xml_text(f"waived: {reasons}", one_line=True, ))
        skipped.text = xml_text(lines)
        counts["skipped"] += 1
    elif findings:
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(lines)


def _suite(parent: ET.Element, name: str, properties: dict[str, str]) -> tuple[ET.Element, dict[str, int]]:
    suite = ET.SubElement(parent, "testsuite", name=xml_text(name, one_line=True))
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=key, value=xml_text(value, one_line=True))
    return suite, {"tests": 0, "failures": 0, "skipped": 0}


def _close(suite: ET.Element, counts: dict[str, int], totals: dict[str, int]) -> None:
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", "0")
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", "0")
    for key in counts:
        totals[key] += counts[key]


def _rules_for(doc: ReportDocument, findings: Iterable[FindingOut]) -> list[RuleOut]:
    """Every rule that ran or was deselected, plus any engine-raised rule with a finding here."""
    rules = {r.id: r for r in doc.rules if r.id in doc.rules_run or not r.selected}
    for finding in findings:
        if finding.rule not in rules:
            rules[finding.rule] = doc.rule(finding.rule) or RuleOut(id=finding.rule, title=finding.rule,
                                                                    severity=finding.severity)
    return [rules[k] for k in sorted(rules)]


def junit_tree(doc: ReportDocument) -> ET.Element:
    root = ET.Element("testsuites", name="mlperf-audit")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for result in doc.results:
        props = {"verdict": result.verdict, "round": doc.round, "benchmark": result.mlperf_benchmark or ""}
        if result.metric is not None:
            props["metric"] = f"{result.metric.value:.6g} {result.metric.unit}"
        suite, counts = _suite(root, result.path, props)
        by_rule: dict[str, list[FindingOut]] = {}
        for finding in result.findings:
            by_rule.setdefault(finding.rule, []).append(finding)
        for rule in _rules_for(doc, result.findings):
            _case(suite, result.path, rule, by_rule.get(rule.id, []), doc, result, counts)
        _close(suite, counts, totals)
    outside = [f for f in doc.findings if not any(_covers(f, r) for r in doc.results)]
    if outside:
        suite, counts = _suite(root, OUTSIDE, {"round": doc.round})
        by_rule = {}
        for finding in outside:
            by_rule.setdefault(finding.rule, []).append(finding)
        for rule_id in sorted(by_rule):
            rule = doc.rule(rule_id) or RuleOut(id=rule_id, title=rule_id, severity="error")
            _case(suite, OUTSIDE, rule, by_rule[rule_id], doc, None, counts)
        _close(suite, counts, totals)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{doc.timings.get('total_s', 0.0):.3f}")
    return root


def render_junit(doc: ReportDocument) -> str:
    root = junit_tree(doc)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
