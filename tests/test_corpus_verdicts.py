"""Our verdicts on the real corpus against the official checkers' (meta/<round>/).

1. No internal error (X001) anywhere in the corpus.
2. Every ERROR line of the official checker's log is matched by one of our findings on the same
   result, system or folder, of any severity (the table below maps each official message to our
   rule IDs; the official v0.7/v1.0 checkers logged many errors they did not enforce).
3. Every result the official checker judged INVALID is invalid for us.
4. Every other difference is listed, with its reason, in tests/known_differences.md; a new or a
   vanished difference fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from corpus_cache import official_log, verdict_rows

ROUNDS = ["v0.5", "v0.7", "v1.0", "v4.1"]
KNOWN = Path(__file__).with_name("known_differences.md")

# official message (after the logger prefix) -> the rule IDs of ours that report the same problem
OFFICIAL_MESSAGES: list[tuple[re.Pattern[str], set[str]]] = [
    (re.compile(r"^(?P<path>.+/systems/[^/]+\.json) field (?P<x>\S+) missing$"), {"Y001"}),
    (re.compile(r"^(?P<path>.+/systems/[^/]+\.json) has unknwon field (?P<x>.+)$"), {"Y002"}),
    (re.compile(r"^(?P<path>.+/systems/[^/]+\.json) has division \S+, division has \S+$"), {"Y004"}),
    (re.compile(r"^(?P<path>.+/measurements/.+) directory missing$"), {"S012"}),
    (re.compile(r"^(?P<path>.+/measurements/.+) is missing (user\.conf|README\.md|mlperf\.conf)$"), {"S013"}),
    (re.compile(r"^(?P<path>.+/code/.+) is missing$"), {"S014"}),
    (re.compile(r"^(?P<path>.+/results/.+) is missing \S+\*\.json$"), {"Y007"}),
    (re.compile(r"^(?P<path>.+/measurements/.+) measurement_dir has issues$"), {"Y007", "Y008", "S012", "S013", "S014"}),
    (re.compile(r"^compliance dir (?P<path>.+) has issues$"), {"C001", "C002", "C003"}),
    (re.compile(r"^no compliance dir for (?P<path>.+)$"), {"C001"}),
    (re.compile(r"^(?P<path>.+/verify_(performance|accuracy)\.txt) is missing in .+$"), {"C002"}),
    (re.compile(r"^(?P<path>.+) has no performance/run_1 directory$"), {"C002"}),
    # v4.1 (tag v4.1 monolith): the generative benchmarks' sample outputs, and the accuracy verdicts
    # that follow from them
    (re.compile(r"^(?P<path>.+/accuracy) expected to have the following extra files .*$"), {"A020"}),
    (re.compile(r"^(?P<path>.+/accuracy), accuracy not valid$"), {"A001", "A002", "A004", "A005", "A020"}),
    (re.compile(r"^(?P<path>.+) is OK but accuracy has issues$"), {"A001", "A002", "A004", "A005", "A020"}),
    (re.compile(r"^NoResults (?P<path>.+)$"), {"*"}),
]
_PREFIX = re.compile(r"^(ERROR:main:|\[[^\]]*ERROR\] )")


def official_errors(round_name: str) -> list[str]:
    return [_PREFIX.sub("", line).strip() for line in official_log(round_name) if _PREFIX.match(line)]


def _variants(path: str) -> set[str]:
    lowered = path.lower().rstrip("/")
    return {lowered, lowered.replace("/results/", "/compliance/"), lowered.replace("/results/", "/measurements/")}


def _matches(finding_path: str | None, scope_path: str, official: str) -> bool:
    candidates = _variants(official)
    for ours in (finding_path or "", scope_path):
        ours = ours.lower().rstrip("/")
        if ours and any(ours.startswith(c) or c.startswith(ours) for c in candidates):
            return True
    return False


def _result_scope_path(result) -> str:
    return f"{result.division}/{result.submitter}/results/{result.system}/{result.benchmark}/{result.scenario}"


@pytest.mark.parametrize("round_name", ROUNDS)
def test_no_internal_errors(corpus_report, round_name):
    doc = corpus_report(round_name)
    internal = [f for r in doc.results for f in r.findings if f.rule == "X001"] + [
        f for f in doc.findings if f.rule == "X001"
    ]
    assert internal == []


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_official_error_is_matched(corpus_report, round_name):
    doc = corpus_report(round_name)
    ours = []
    for result in doc.results:
        for finding in result.findings:
            ours.append((finding, _result_scope_path(result)))
    unmatched, unmapped = [], []
    for message in official_errors(round_name):
        for pattern, rules in OFFICIAL_MESSAGES:  # noqa: B007 - the loop finds the matching entry
            found = pattern.match(message)
            if found:
                break
        else:
            unmapped.append(message)
            continue
        path = found.group("path")
        if rules == {"*"}:
            hit = any(r.verdict == "invalid" and _matches(None, _result_scope_path(r), path) for r in doc.results)
        else:
            hit = any(f.rule in rules for f, scope in ours if _matches(f.path, scope, path))
        if not hit:
            unmatched.append(message)
    assert unmapped == [], "official messages without a mapping to our rules"
    assert unmatched == [], "official errors that none of our findings reports"


@pytest.mark.parametrize("round_name", ROUNDS)
def test_official_invalid_is_invalid(corpus_report, round_name):
    doc = corpus_report(round_name)
    ours = {(r.submitter, r.division, r.system, r.benchmark, r.scenario): r for r in doc.results}
    missed = [
        row["first_error"]
        for row in verdict_rows(round_name)
        if row["verdict"] == "INVALID"
        and ours[(row["submitter"], row["division"], row["system"], row["benchmark"], row["scenario"])].verdict
        != "invalid"
    ]
    assert missed == []


def known_differences() -> set[tuple[str, str, str, str, str]]:
    """Rows of the table in known_differences.md: (round, result, official, ours, our error rules)."""
    rows = set()
    for line in KNOWN.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.match(r"^v\d", cells[0]):
            rows.add((cells[0], cells[1].strip("`"), cells[2], cells[3], cells[4]))
    return rows


def differences(doc, round_name: str) -> set[tuple[str, str, str, str, str]]:
    ours = {(r.submitter, r.division, r.system, r.benchmark, r.scenario): r for r in doc.results}
    out = set()
    for row in verdict_rows(round_name):
        result = ours[(row["submitter"], row["division"], row["system"], row["benchmark"], row["scenario"])]
        if row["verdict"].lower() != result.verdict:
            rules = ", ".join(sorted({f.rule for f in result.findings if f.severity == "error" and not f.waived}))
            out.add((round_name, result.path, row["verdict"], result.verdict.upper(), rules))
    return out


@pytest.mark.parametrize("round_name", ROUNDS)
def test_differences_are_the_documented_ones(corpus_report, round_name):
    doc = corpus_report(round_name)
    found = differences(doc, round_name)
    documented = {row for row in known_differences() if row[0] == round_name}
    new = sorted(found - documented)
    gone = sorted(documented - found)
    table = "\n".join(f"| {r} | `{p}` | {o} | {u} | {rules} | ? |" for r, p, o, u, rules in new)
    assert not new, f"undocumented differences (add them to {KNOWN.name} with a reason):\n{table}"
    assert not gone, f"documented differences that no longer occur: {gone}"
