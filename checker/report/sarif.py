"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer).

* One ``reportingDescriptor`` per rule that ran or was raised: its ID, title (short description),
  what it checks (full description), the whole ``explain`` text as help (plain text and Markdown),
  ``helpUri`` where the rule has one, and its severity in this round as the default level.
* One result per finding, each finding once (:meth:`ReportDocument.distinct_findings`): level
  ``error``/``warning``/``note`` from the severity; a physical location relative to the repository
  root (the finding's file, or the folder of its scope when it names no file; ``--path-prefix`` is
  put in front when the checked tree is a subfolder of the repository), with ``startLine`` where the
  finding has a line.
* ``partialFingerprints["mlperfAuditFinding/v1"]``: SHA-256 of the rule, the scope path, the location
  and the message (plus an ordinal for exact repeats), and not of the line, so an edit above a
  finding does not make its alert churn.
* A waived finding carries ``suppressions: [{kind: external, status: accepted, justification}]``.

Text from the tree is made inert (:func:`~checker.report.escape.plain`) and, as SARIF §3.11.5 asks,
``{``/``}`` in message strings are doubled so a value such as ``{0}`` is not taken for a placeholder.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from checker.report.csv_table import normalize_prefix
from checker.report.document import FindingOut, ReportDocument, ResultOut
from checker.report.escape import plain

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "mlperfAuditFinding/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def sarif_text(text: str | None, one_line: bool = True) -> str:
    """A SARIF message string: inert text, braces doubled (§3.11.5)."""
    if text is None:
        return ""
    if one_line:
        text = plain(text)
    return text.replace("{", "{{").replace("}", "}}")


def artifact_uri(location: str | None, prefix: str) -> str:
    """A repository-relative URI reference (percent-encoded; ``/`` kept)."""
    path = (prefix + (location or "")).strip("/") or "."
    return quote(path, safe="/")


def _message(finding: FindingOut) -> str:
    text = plain(finding.message)
    details = []
    if finding.expected is not None:
        details.append(f"expected: {plain(finding.expected, 300)}")
    if finding.found is not None:
        details.append(f"found: {plain(finding.found, 300)}")
    if details:
        text += f" ({'; '.join(details)})"
    if finding.scope != "result":
        text += f" [{finding.scope}: {plain(finding.scope_path)}]"
    return sarif_text(text)


def fingerprint(finding: FindingOut, location: str | None) -> str:
    parts = [finding.rule, finding.scope_path, location or "", plain(finding.message)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def _descriptor(rule_id: str, doc: ReportDocument) -> dict[str, Any]:
    from checker.engine.registry import REGISTRY, load_all_checks
    from checker.report.rules_doc import explain_text

    load_all_checks()
    spec = REGISTRY.get(rule_id)
    meta = doc.rule(rule_id)
    severity = meta.severity if meta is not None else "error"
    descriptor: dict[str, Any] = {"id": rule_id}
    if spec is not None:
        help_text = explain_text(spec)
        descriptor.update(
            shortDescription={"text": sarif_text(spec.title)},
            fullDescription={"text": sarif_text(spec.what)},
            help={"text": sarif_text(help_text, one_line=False),
                  "markdown": sarif_text(_help_markdown(spec), one_line=False)},
            properties={"tags": ["mlperf", spec.area], "precision": "very-high", "scope": spec.scope},
        )
        if spec.help_uri:
            descriptor["helpUri"] = spec.help_uri
    else:
        descriptor["shortDescription"] = {"text": sarif_text(meta.title if meta else rule_id)}
    descriptor["defaultConfiguration"] = {"level": LEVELS.get(severity, "warning"),
                                          "enabled": meta.selected if meta is not None else True}
    return descriptor


def _help_markdown(spec: Any) -> str:
    return "\n\n".join([
        f"**{spec.id}: {spec.title}**",
        f"**What it checks.** {spec.what}",
        f"**Why it matters.** {spec.why}",
        f"**Rules' section.** {spec.section}",
        f"**How to fix.** {spec.fix}",
    ])


def _result(doc: ReportDocument, result: ResultOut | None, finding: FindingOut, rule_index: dict[str, int],
            prefix: str, seen: dict[str, int]) -> dict[str, Any]:
    location = doc.location(finding, result)
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(location, prefix), "uriBaseId": "%SRCROOT%"}}
    if finding.line is not None and finding.line >= 1:
        physical["region"] = {"startLine": finding.line}
    digest = fingerprint(finding, location)
    seen[digest] = seen.get(digest, 0) + 1
    if seen[digest] > 1:
        digest = hashlib.sha256(f"{digest}:{seen[digest]}".encode()).hexdigest()
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT_KEY: digest},
    }
    if finding.rule in rule_index:
        out["ruleIndex"] = rule_index[finding.rule]
    properties: dict[str, Any] = {"scope": finding.scope, "scopePath": plain(finding.scope_path)}
    if result is not None:
        properties["result"] = plain(result.path)
        properties["verdict"] = result.verdict
    if finding.expected is not None:
        properties["expected"] = plain(finding.expected)
    if finding.found is not None:
        properties["found"] = plain(finding.found)
    if finding.hint:
        properties["hint"] = plain(finding.hint)
    out["properties"] = properties
    if finding.waived:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": sarif_text(finding.waiver_reason or "waived")}]
    return out


def sarif_log(doc: ReportDocument, path_prefix: str = "") -> dict[str, Any]:
    prefix = normalize_prefix(path_prefix)
    rule_ids = [r.id for r in doc.rules if r.selected]
    for _, finding in doc.distinct_findings():
        if finding.rule not in rule_ids:
            rule_ids.append(finding.rule)
    rule_index = {rule_id: index for index, rule_id in enumerate(rule_ids)}
    seen: dict[str, int] = {}
    results = [_result(doc, result, finding, rule_index, prefix, seen) for result, finding in doc.distinct_findings()]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": doc.tool,
            "version": doc.tool_version,
            "semanticVersion": doc.tool_version,
            "rules": [_descriptor(rule_id, doc) for rule_id in rule_ids],
        }},
        "invocations": [{"executionSuccessful": True}],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "round": doc.round,
            "roundSource": doc.round_source,
            "rulePack": doc.rule_pack.model_dump(exclude={"csv_columns"}),
            "summary": doc.summary.model_dump(),
            "pathPrefix": prefix,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(doc: ReportDocument, path_prefix: str = "") -> str:
    return json.dumps(sarif_log(doc, path_prefix), indent=2, ensure_ascii=False) + "\n"
