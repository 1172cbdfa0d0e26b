"""Report formats: every format carries the same findings (count and rule IDs) on corpus rounds; SARIF
validates against the official SARIF 2.1.0 schema; JUnit and CSV parse with the standard library;
the JSON schema and the docs are current; hostile text from a tree changes only its own field."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from tree_builder import copy_system, edit_json

from checker.check import run_check
from checker.cli import main
from checker.engine.rulepack import load_pack
from checker.report.csv_table import OURS, render_csv
from checker.report.document import FindingOut, ReportDocument, report_schema
from checker.report.escape import csv_cell, md, plain
from checker.report.junit import OUTSIDE, render_junit
from checker.report.markdown import MAX_FINDINGS, MAX_RESULTS, render_markdown
from checker.report.outputs import TerminalProgress
from checker.report.render import FORMATS, render
from checker.report.sarif import FINGERPRINT_KEY, fingerprint, render_sarif, sarif_log

REPO = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = Path(__file__).resolve().parent / "fixtures" / "sarif-schema-2.1.0.json.gz"
ROUNDS = ("v0.5", "v0.7", "v1.0")
RULE_LINE = re.compile(r"^\[(error|warning|info)(, waived)?\] ([A-Z]\d{3}) ")


def run(*args: str, **kwargs):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)


def expected_rules(doc: ReportDocument) -> Counter:
    return Counter(f.rule for _, f in doc.distinct_findings())


# -- SARIF ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads(gzip.decompress(SARIF_SCHEMA.read_bytes()))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def assert_valid_sarif(text: str, validator) -> dict:
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for result in run_["results"]:
        # what GitHub code scanning needs beyond the schema
        assert result["ruleId"] == ids[result["ruleIndex"]]
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "://" not in uri and " " not in uri and "\\" not in uri, uri
        if "region" in location:
            assert location["region"]["startLine"] >= 1
        assert re.fullmatch(r"[0-9a-f]{64}", result["partialFingerprints"][FINGERPRINT_KEY])
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in run_["results"]]
    assert len(prints) == len(set(prints)), "fingerprints must tell findings apart"
    return log


@pytest.mark.parametrize("round_name", ROUNDS)
def test_sarif_validates_and_round_trips(corpus_report, sarif_validator, round_name):
    doc = corpus_report(round_name)
    log = assert_valid_sarif(render_sarif(doc), sarif_validator)
    results = log["runs"][0]["results"]
    assert Counter(r["ruleId"] for r in results) == expected_rules(doc)
    levels = Counter(r["level"] for r in results)
    severities = Counter({"error": "error", "warning": "warning", "info": "note"}[f.severity]
                         for _, f in doc.distinct_findings())
    assert levels == severities
    described = {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(doc.rules_run) <= described
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"].startswith(rule["id"])
    assert log["runs"][0]["properties"]["rulePack"]["sha256"] == doc.rule_pack.sha256


def test_sarif_locations_and_prefix(corpus_report):
    doc = corpus_report("v1.0")
    plain_log = sarif_log(doc)
    prefixed = sarif_log(doc, path_prefix="./inference_results_v1.0/")
    for a, b in zip(plain_log["runs"][0]["results"], prefixed["runs"][0]["results"], strict=True):
        ua = a["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        ub = b["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert ub == "inference_results_v1.0/" + ua or (ua == "." and ub == "inference_results_v1.0")
        assert a["partialFingerprints"] == b["partialFingerprints"]
    # a finding with a line points at it; spaces in folder names are percent-encoded
    with_line = [r for r in plain_log["runs"][0]["results"] if "region" in r["locations"][0]["physicalLocation"]]
    assert with_line
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in plain_log["runs"][0]["results"]]
    assert any("Centaur%20Technology" in uri for uri in uris)


def test_sarif_fingerprint_ignores_lines_and_braces_are_escaped():
    finding = FindingOut(rule="P008", severity="error", message="seed {0} wrong }{", scope="result",
                         scope_path="closed/A/s/b/Offline", path="closed/A/results/s/b/Offline/x.txt", line=10)
    moved = finding.model_copy(update={"line": 99})
    assert fingerprint(finding, finding.path) == fingerprint(moved, moved.path)
    other = finding.model_copy(update={"message": "seed 1 wrong"})
    assert fingerprint(finding, finding.path) != fingerprint(other, other.path)
    from checker.report.sarif import sarif_text

    assert sarif_text("seed {0} wrong }{") == "seed {{0}} wrong }}{{"


# -- JUnit ---------------------------------------------------------------------------------------


def _junit_lines(element: ET.Element) -> list[re.Match]:
    out = []
    for child in element.iter():
        if child.tag in ("failure", "skipped", "system-out") and child.text:
            out.extend(m for m in (RULE_LINE.match(line) for line in child.text.splitlines()) if m)
    return out


@pytest.mark.parametrize("round_name", ROUNDS)
def test_junit_parses_and_round_trips(corpus_report, round_name):
    doc = corpus_report(round_name)
    root = ET.fromstring(render_junit(doc).encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    by_name = {s.get("name"): s for s in suites}
    result_suites = [s for s in suites if s.get("name") != OUTSIDE]
    assert len(result_suites) == len(doc.results)
    totals = Counter()
    for result in doc.results:
        suite = by_name[result.path]
        cases = suite.findall("testcase")
        lines = _junit_lines(suite)
        assert Counter(m.group(3) for m in lines) == Counter(f.rule for f in result.findings), result.path
        failed = {c.get("name").split()[0] for c in cases if c.find("failure") is not None}
        assert failed == {f.rule for f in result.findings if f.severity == "error" and not f.waived}
        assert (result.verdict == "invalid") == bool(failed)
        assert set(doc.rules_run) <= {c.get("name").split()[0] for c in cases}
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == len(failed)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        for key in ("tests", "failures", "skipped"):
            totals[key] += int(suite.get(key))
    if OUTSIDE in by_name:
        outside = _junit_lines(by_name[OUTSIDE])
        for key in ("tests", "failures", "skipped"):
            totals[key] += int(by_name[OUTSIDE].get(key))
        assert outside
    for key in ("tests", "failures", "skipped"):
        assert int(root.get(key)) == totals[key]


# -- CSV -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_name", ROUNDS)
def test_csv_official_columns_rows_and_counts(corpus_report, round_name):
    doc = corpus_report(round_name)
    rows = list(csv.reader(io.StringIO(render_csv(doc))))
    header, body = rows[0], rows[1:]
    assert header == load_pack(round_name).csv_columns
    assert len(body) == len(doc.results)  # valid and invalid alike
    records = [dict(zip(header, row, strict=True)) for row in body]
    if round_name == "v0.5":
        assert header[:3] == ["name", "model", "system"]
        for record, result in zip(records, doc.results, strict=True):
            assert record["name"] == f"{result.submitter}/{result.division}/{result.system}/{result.benchmark}"
            assert record["result"] == ("" if result.metric is None else csv_cell(result.metric.value))
        return
    verdict_column = "compilance" if "compilance" in header else "compliance"
    inferred_column = "infered" if "infered" in header else "inferred"
    for record, result in zip(records, doc.results, strict=True):
        assert record[verdict_column] == ("0" if result.verdict == "invalid" else "1")
        assert int(record["errors"]) == result.errors
        assert record["Location"] == result.path and not record["Location"].startswith("/")
        assert record["Organization"] == result.submitter and record["Scenario"] == result.scenario
        assert record[inferred_column] == ("1" if result.metric and result.metric.inferred else "0")
        assert record["version"] == round_name
    assert sum(int(r["errors"]) > 0 for r in records) == doc.summary.invalid
    if round_name == "v1.0":
        assert header[-1] == "power"
        power = {r["Location"]: r["power"] for r in records}
        assert any(v == "" for v in power.values()) and any(v == "0" for v in power.values())


def test_csv_ours_round_trips_rule_ids(corpus_report):
    doc = corpus_report("v0.7")
    rows = list(csv.DictReader(io.StringIO(render_csv(doc, columns="ours", path_prefix="sub/"))))
    assert list(rows[0]) == OURS
    for row, result in zip(rows, doc.results, strict=True):
        assert row["verdict"] == result.verdict and row["path"] == "sub/" + result.path
        failed = {f.rule for f in result.findings if f.severity == "error" and not f.waived}
        assert set(row["rules_failed"].split()) == failed
        assert int(row["errors"]) == result.errors


def test_csv_quotes_and_neutralizes():
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("-1.5") == "-1.5"
    assert csv_cell("a\nb\x1b[31m") == "a b?[31m" and csv_cell(None) == "" and csv_cell(True) == "1"


# -- Markdown ------------------------------------------------------------------------------------


def _table_rows(lines: list[str]) -> list[list[str]]:
    """Cells of Markdown table rows, split on unescaped pipes."""
    out = []
    for line in lines:
        if line.startswith("|") and not line.startswith("|---"):
            out.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return out


@pytest.mark.parametrize("round_name", ROUNDS)
def test_markdown_report_round_trips(corpus_report, round_name):
    doc = corpus_report(round_name)
    text = render_markdown(doc)
    sections = text.split("\n#### ")
    flagged = [r for r in doc.results if r.verdict != "valid"]
    assert len(sections) - 1 == min(len(flagged), MAX_RESULTS)
    for section, result in zip(sections[1:], flagged, strict=False):
        assert section.split("\n")[0].endswith(f"{md(result.path)} — {result.verdict}")
        own = [f for f in result.findings if f.scope == "result" and f.severity != "info"]
        rows = [r for r in _table_rows(section.split("\n### ")[0].splitlines())[1:] if r[0] != "…"]
        assert [r[0] for r in rows] == [f.rule for f in own[:MAX_FINDINGS]]
        assert all(len(r) == 4 for r in rows)
    assert "| **total** |" in text and len(text) < 1_000_000


# -- JSON ----------------------------------------------------------------------------------------


def test_report_schema_file_is_current():
    current = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    assert current == report_schema(), "stale: python -m checker.report.document > schemas/report.schema.json"


@pytest.mark.parametrize("round_name", ROUNDS)
def test_json_validates_against_its_schema_and_round_trips(corpus_report, round_name):
    doc = corpus_report(round_name)
    text = render(doc, "json")
    data = json.loads(text)
    jsonschema.Draft202012Validator(report_schema()).validate(data)
    assert ReportDocument.model_validate_json(text) == doc
    assert data["tool_version"] and data["rule_pack"]["round"] == round_name
    assert re.fullmatch(r"[0-9a-f]{64}", data["rule_pack"]["sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", data["rule_pack"]["merged_sha256"])
    assert {"checks_s", "total_s"} <= set(data["timings"])
    again = Counter(f["rule"] for f in data["findings"]) + Counter(
        f["rule"] for r in data["results"] for f in r["findings"] if f["scope"] == "result")
    assert again == expected_rules(doc)
    # every result's system is described
    for result in doc.results:
        assert f"{result.division}/{result.submitter}/{result.system}" in doc.systems


def test_json_carries_the_figures(corpus_report):
    doc = corpus_report("v1.0")
    closed = [r for r in doc.results if r.division == "closed" and r.accuracy]
    assert closed and all(a.target is not None for r in closed for a in r.accuracy)
    assert any(r.mlperf_benchmark and r.mlperf_benchmark != r.benchmark for r in doc.results)
    assert any(r.latency_ns for r in doc.results) and any(r.has_power for r in doc.results)


def test_text_quiet_lists_only_unwaived_errors(corpus_report):
    doc = corpus_report("v1.0")
    lines = render(doc, "text", quiet=True).splitlines()
    errors = [f for _, f in doc.distinct_findings() if f.severity == "error" and not f.waived]
    assert len(lines) == len(errors)
    assert Counter(line.split()[0] for line in lines) == Counter(f.rule for f in errors)


# -- hostile text from the tree --------------------------------------------------------------------

HOSTILE = {
    "system_name": "Evil | <script>alert(1)</script> `rm -rf` **bold** [x](javascript:y) @admin",
    "hw_notes": "ANSI \x1b[31mred\x1b[0m\r\nsecond line \x07 and NUL-free",
    "sw_notes": "SARIF {0} }{ \"quoted\", comma; </failure><![CDATA[x]]> =cmd|' /C calc'!A0",
    "framework": "=HYPERLINK(\"http://x\")",
}


@pytest.fixture(scope="module")
def hostile_pair(corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    clean = copy_system(corpus("v1.0"), base / "clean", "closed", "Alibaba", "A10x1_TRT")
    hostile = base / "hostile"
    shutil.copytree(clean, hostile, symlinks=True)
    edit_json(hostile / "closed/Alibaba/systems/A10x1_TRT.json", **HOSTILE)
    return run_check(clean, round_name="v1.0"), run_check(hostile, round_name="v1.0")


def test_hostile_system_description_changes_only_its_fields(hostile_pair, sarif_validator):
    clean, hostile = hostile_pair
    key = "closed/Alibaba/A10x1_TRT"
    a = clean.model_dump(exclude={"tree", "timings"})
    b = hostile.model_dump(exclude={"tree", "timings"})
    for field in HOSTILE:
        assert b["systems"][key][field] == HOSTILE[field]
        a["systems"][key][field] = b["systems"][key][field] = None
    assert a == b  # same findings, verdicts, figures
    for fmt in FORMATS:
        text = render(hostile, fmt, verbose=True)
        assert "\x1b" not in text and "\x07" not in text, fmt
    # SARIF: valid, and identical (the system description's text is not part of it)
    assert render_sarif(clean) == render_sarif(hostile)
    assert_valid_sarif(render_sarif(hostile), sarif_validator)
    # JUnit: parses, identical
    ET.fromstring(render_junit(hostile).encode())
    def untimed(text: str) -> str:
        return re.sub(r' time="[0-9.]+"', "", text)

    assert untimed(render_junit(clean)) == untimed(render_junit(hostile))
    # CSV: same rows and cells except the fields' own columns, which read back as written (one line)
    for columns in ("official", "ours"):
        rows_a = list(csv.DictReader(io.StringIO(render_csv(clean, columns=columns))))
        rows_b = list(csv.DictReader(io.StringIO(render_csv(hostile, columns=columns))))
        assert len(rows_a) == len(rows_b)
        own = {"SystemName", "system_name", "notes", "framework"}
        for ra, rb in zip(rows_a, rows_b, strict=True):
            assert {k: v for k, v in ra.items() if k not in own} == {k: v for k, v in rb.items() if k not in own}
            name_column = "SystemName" if "SystemName" in rb else "system_name"
            assert rb[name_column] == plain(HOSTILE["system_name"])
            assert rb["framework"] == "'" + HOSTILE["framework"]
            assert rb["notes"] == plain(HOSTILE["hw_notes"] + ". " + HOSTILE["sw_notes"])
    # Markdown: only the system line differs, and it renders the name literally
    md_a, md_b = render_markdown(clean).splitlines(), render_markdown(hostile).splitlines()
    assert len(md_a) == len(md_b)
    differing = [(x, y) for x, y in zip(md_a, md_b, strict=True) if x != y]
    for _, line in differing:
        assert line.startswith("system: ") and "<script" not in line and "`" not in line.replace("\\`", "")
    # text: inert
    assert "\r" not in render(hostile, "text", verbose=True)


def test_markdown_escaping_keeps_tables_intact():
    text = md("a | b <i>x</i> `c` *d* [e](f) \n g")
    assert "|" not in text.replace("\\|", "") and "<" not in text and "`" not in text.replace("\\`", "")
    assert "\n" not in text


def test_hostile_folder_names_do_not_break_any_format(corpus, tmp_path, sarif_validator):
    tree = copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")
    bad = "Ali|baba <b>`x` \\ {0}\x1b[1m"
    (tree / "closed" / "Alibaba").rename(tree / "closed" / bad)
    doc = run_check(tree, round_name="v1.0")
    assert {r.submitter for r in doc.results} == {bad}
    assert_valid_sarif(render_sarif(doc), sarif_validator)
    root = ET.fromstring(render_junit(doc).encode())
    assert len(root.findall("testsuite")) >= len(doc.results)
    rows = list(csv.DictReader(io.StringIO(render_csv(doc))))
    assert [r["Organization"] for r in rows] == [plain(bad)] * len(doc.results)
    table = [r for r in _table_rows(render_markdown(doc).splitlines()) if r and r[0] == "closed"]
    assert table and all(len(r) == 6 for r in table)
    for fmt in FORMATS:
        assert "\x1b" not in render(doc, fmt), fmt


def test_undecodable_folder_names_reach_every_format_as_replacement_characters(corpus, tmp_path):
    """A folder name that is not UTF-8 (a lone surrogate in Python) would stop every encoder; the
    report holds U+FFFD in its place, in the document and in every format."""
    import os

    tree = copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")
    name = os.fsdecode(b"Ali\xffbaba")
    (tree / "closed" / "Alibaba").rename(tree / "closed" / name)
    doc = run_check(tree, round_name="v1.0")
    assert doc.results and {r.submitter for r in doc.results} == {"Ali\ufffdbaba"}
    assert all(r.path.startswith("closed/Ali\ufffdbaba/") for r in doc.results)
    for fmt in FORMATS:
        text = render(doc, fmt)
        text.encode("utf-8")
        assert name not in text, fmt


def test_a_lone_surrogate_only_in_a_findings_text_is_replaced_too(tmp_path):
    """Findings are screened by their text (an all-ASCII one cannot hold a surrogate), results without
    them: a name that reaches the report only through a finding's message is still replaced."""
    import os

    from checker.resources import data_dir

    tree = tmp_path / "tree"
    shutil.copytree(data_dir("reference_runs") / "sample_submission", tree)
    run = sorted(tree.glob("closed/*/results/*/*/*/performance/run_1"))[0]
    os.symlink("nowhere.txt", run / os.fsdecode(b"link\xff.txt"))  # a broken link: S002 names it
    doc = run_check(tree)
    messages = [f.message for _, f in doc.distinct_findings() if f.rule == "S002"]
    assert any(m.endswith("/link\ufffd.txt") for m in messages), messages
    for fmt in FORMATS:
        render(doc, fmt).encode("utf-8")


def test_findings_screen_for_the_surrogate_test_is_exact_per_string():
    """Only a finding with a string that cannot be encoded goes to the full surrogate test: quoted
    non-ASCII text (a ``≤``, a real U+FFFD) does not, a lone surrogate in any of its strings does."""
    from checker.findings import Finding, Scope, Severity
    from checker.report.document import PreparedFindings

    prepared = PreparedFindings()
    plain = Finding(rule="P001", severity=Severity.ERROR, message="latency ≤ 10 ms × 2", found="Ali\ufffdbaba",
                    scope=Scope(division="closed", submitter="Über"))
    in_message = Finding(rule="P001", severity=Severity.ERROR, message="file link\udcff.txt")
    in_scope = Finding(rule="P001", severity=Severity.ERROR, message="m", scope=Scope(submitter="Ali\udcffbaba"))
    in_path = Finding(rule="P001", severity=Severity.ERROR, message="≤", path="a/\udcff")
    outs = [prepared.get(finding) for finding in (plain, in_message, in_scope, in_path)]
    assert prepared.suspects == outs[1:]


def test_surrogate_test_of_a_model_sees_values_and_keys_and_spares_real_replacement_characters():
    """The report's quick test serializes to JSON, which refuses a lone surrogate in a value but writes
    U+FFFD for one in a dict key: both must count, and a real U+FFFD must not (a full test decides)."""
    from pydantic import BaseModel

    from checker.report.escape import model_may_hold_lone_surrogates

    class Doc(BaseModel):
        names: list[str] = []
        fields: dict[str, str] = {}

    assert model_may_hold_lone_surrogates(Doc(names=["Ali\udcffbaba"]))
    assert model_may_hold_lone_surrogates(Doc(fields={"Ali\udcffbaba": "x"}))
    assert model_may_hold_lone_surrogates(Doc(fields={"x": "\ud800"}))
    assert not model_may_hold_lone_surrogates(Doc(names=["plain", "Ali\ufffdbaba"], fields={"\ufffd": "x"}))
    # and should a serializer ever write a surrogate as an escape instead of refusing it
    from checker.report.escape import _traces_of_surrogates

    assert _traces_of_surrogates('{"k": "\\udcff"}') and _traces_of_surrogates('"\\uD800"')
    assert not _traces_of_surrogates('{"k": "\\u0041 plain"}')


# -- CLI, outputs, progress ------------------------------------------------------------------------


@pytest.fixture
def small_tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")


def test_cli_formats_reports_and_job_summary(small_tree, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = tmp_path / "out"
    result = run("check", str(small_tree), "--format", "sarif", "--report", f"csv={out / 's.csv'}",
                 "--report", f"junit={out / 'j.xml'}", "--report", f"markdown={out / 'r.md'}",
                 "--path-prefix", "results", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result.output
    log = json.loads(result.output)
    assert log["version"] == "2.1.0"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert all(u.startswith("results/") for u in uris)
    assert (out / "s.csv").read_text().splitlines()[1].count("results/closed/Alibaba") == 1
    ET.parse(out / "j.xml")
    assert summary.read_text().startswith("earlier step\n## mlperf-audit")
    no_summary = run("check", str(small_tree), "--format", "csv", "--no-job-summary",
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert no_summary.exit_code == 0 and summary.read_text().count("## mlperf-audit") == 1


def test_cli_refuses_reports_inside_the_tree(small_tree, tmp_path):
    before = sorted(p.relative_to(small_tree) for p in small_tree.rglob("*"))
    bad = run("check", str(small_tree), "--report", f"csv={small_tree / 'x.csv'}")
    assert bad.exit_code == 2 and "inside the checked tree" in bad.output
    inside = run("check", str(small_tree), "--format", "csv", env={"GITHUB_STEP_SUMMARY": str(small_tree / "s.md")})
    assert inside.exit_code == 2
    assert run("check", str(small_tree), "--report", "pdf=x.pdf").exit_code == 2
    assert sorted(p.relative_to(small_tree) for p in small_tree.rglob("*")) == before


def test_cli_quiet_and_piped_output_have_nothing_extra(small_tree):
    edit_json(small_tree / "closed/Alibaba/systems/A10x1_TRT.json", status="soon")
    quiet = CliRunner().invoke(main, ["check", str(small_tree), "--quiet"])
    assert quiet.exit_code == 1
    assert quiet.stdout.splitlines() and all(line.startswith("Y005 ") for line in quiet.stdout.splitlines())
    assert quiet.stderr == ""
    piped = CliRunner().invoke(main, ["check", str(small_tree), "--format", "json"])
    assert piped.stderr == "" and json.loads(piped.stdout)["summary"]["invalid"] == 2
    assert run("check", str(small_tree), "-q", "-v").exit_code == 2


def test_progress_only_on_a_terminal_for_larger_trees(monkeypatch):
    stream = io.StringIO()
    progress = TerminalProgress(stream=stream, interval_s=0)
    progress(1, 10, "P001", 5)
    assert stream.getvalue() == ""
    progress(10, 10, "P008", 500)
    assert "10/10 rules" in stream.getvalue()
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert TerminalProgress.for_terminal(quiet=True) is None
    monkeypatch.setattr("sys.stderr", io.StringIO())  # piped: not a terminal
    assert TerminalProgress.for_terminal(quiet=False) is None


# -- docs ------------------------------------------------------------------------------------------


def test_ci_doc_workflow_is_valid_and_uses_real_options():
    text = (REPO / "docs" / "ci.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    workflow = yaml.safe_load(block)
    steps = workflow["jobs"]["audit"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert workflow["permissions"]["security-events"] == "write"
    check_command = main.get_command(None, "check")
    known = {opt for param in check_command.params for opt in (*param.opts, *param.secondary_opts)}
    used = set(re.findall(r"mlperf-audit check[^\n]*(?:\n[^\n]*\\)*[^\n]*", text))
    flags = {flag for command in used for flag in re.findall(r"(--[a-z][a-z-]+)", command)}
    assert flags and flags <= known, flags - known
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "mlperf-audit" and hooks[0]["entry"] == "mlperf-audit check"
    assert set(a for a in hooks[0]["args"] if a.startswith("--")) <= known


def test_counts_and_top_level_findings_of_a_report():
    """The report counts each finding by severity (waived ones apart) and each result's own; a finding
    of a result's scope is listed under that result only, one of a scope no result has at the top
    level (with every broader one)."""
    from checker.discover import discover
    from checker.engine.runner import run_checks
    from checker.engine.waivers import Waiver
    from checker.findings import Finding, Scope, Severity
    from checker.report.document import build_document
    from checker.resources import data_dir

    sample = data_dir("reference_runs") / "sample_submission"
    tree = discover(sample)
    unit = tree.units[0]
    mine = unit.scope
    nowhere = mine.model_copy(update={"scenario": "Nowhere"})
    extra = [Finding(rule="S020", severity=Severity.WARNING, message="of a result", scope=mine),
             Finding(rule="S020", severity=Severity.ERROR, message="of no result", scope=nowhere),
             Finding(rule="S021", severity=Severity.ERROR, message="waived", scope=mine),
             Finding(rule="S021", severity=Severity.INFO, message="of the tree", scope=Scope())]
    waiver = Waiver(rule="S021", paths=(unit.rel,), reason="known", source="cli", entry=1)
    outcome = run_checks(tree, load_pack("sample"), extra_findings=extra, waivers=[waiver])
    doc = build_document(outcome, round_source="given", round_notes=[], tree=sample)
    top = [f.message for f in doc.findings if f.rule in ("S020", "S021")]
    assert top == ["of the tree", "of no result"]
    result = next(r for r in doc.results if r.path == unit.rel)
    own = {f.message: f for f in result.findings if f.rule in ("S020", "S021")}
    assert set(own) == {"of a result", "waived", "of the tree"} and own["waived"].waived
    assert result.verdict == ("invalid" if result.errors else "waived")
    everything = outcome.findings
    assert doc.summary.errors == sum(f.severity == "error" and not f.waived for f in everything)
    assert doc.summary.warnings == sum(f.severity == "warning" and not f.waived for f in everything)
    assert doc.summary.infos == sum(f.severity == "info" and not f.waived for f in everything)
    assert doc.summary.waived_findings == sum(f.waived for f in everything) >= 1
    for report, out in zip(outcome.results, doc.results, strict=True):
        assert out.errors == sum(f.severity == "error" and not f.waived for f in report.findings)
        assert out.waived_errors == sum(f.severity == "error" and f.waived for f in report.findings)
        assert out.warnings == sum(f.severity == "warning" for f in report.findings)
    assert {"S020", "S021"} <= {rule.id for rule in doc.rules if rule.selected}


def test_report_forms_a_partition_carries_are_those_the_report_would_make():
    """A partition carries its findings' report forms (made where it was checked, kept in the cache);
    the report uses them as they are, equal to the forms it makes itself, suspects included, and
    makes its own for a partition whose forms do not match its findings."""
    from checker.engine.runner import Partition
    from checker.findings import Finding, Scope, Severity
    from checker.report.document import PreparedFindings, report_forms

    scope = Scope(division="closed", submitter="A")
    findings = [Finding(rule="P001", severity=Severity.ERROR, message="latency ≤ 10 ms", scope=scope),
                Finding(rule="S002", severity=Severity.WARNING, message="link\udcff.txt", scope=scope),
                Finding(rule="C004", severity=Severity.INFO, message="plain", scope=scope, path="a/b.txt", line=3)]
    forms = report_forms(findings)
    carried = PreparedFindings()
    carried.add_partition(Partition(findings=findings, metrics=[], facts=[], systems={}, forms=forms))
    made = PreparedFindings()
    made.add_partition(Partition(findings=findings, metrics=[], facts=[], systems={}))
    assert [carried.get(f) for f in findings] == [made.get(f) for f in findings] == forms[0]
    assert all(carried.get(f) is out for f, out in zip(findings, forms[0], strict=True))
    assert forms[1] == [1] and carried.suspects == made.suspects == [forms[0][1]]
    stale = PreparedFindings()
    stale.add_partition(Partition(findings=findings, metrics=[], facts=[], systems={}, forms=(forms[0][:1], [])))
    assert [stale.get(f) for f in findings] == forms[0] and stale.suspects == [forms[0][1]]


def test_result_forms_carried_by_partitions_are_used_only_when_they_still_hold():
    """A partition carries each result's report form as it alone makes it; the report uses one only
    when the run gave the result exactly the partition's findings, and the document is the same as
    one built without them: with nothing else, with a run finding covering one result, with a waiver."""
    from checker.discover import discover
    from checker.engine.runner import run_checks
    from checker.engine.waivers import Waiver
    from checker.findings import Finding, Severity
    from checker.report.document import PreparedFindings, build_document
    from checker.resources import data_dir

    sample = data_dir("reference_runs") / "sample_submission"
    tree = discover(sample)
    first = tree.units[0]
    plain = run_checks(tree, load_pack("sample"))
    noted = next(report for report in plain.results if report.findings and report.unit is not first)
    cases = {
        "plain": ([], []),
        "a run finding on one result": ([Finding(rule="S020", severity=Severity.WARNING, message="m",
                                                 scope=first.scope)], []),
        "a waiver": ([], [Waiver(rule=noted.findings[0].rule, paths=(noted.unit.rel,), reason="r", source="cli",
                                 entry=1)]),
    }
    for case, (extra, waivers) in cases.items():
        prepared = PreparedFindings()
        outcome = run_checks(tree, load_pack("sample"), extra_findings=extra, waivers=waivers,
                             while_waiting=prepared.add_partition)
        used = [prepared.result(report) is not None for report in outcome.results]
        carried = build_document(outcome, round_source="given", round_notes=[], tree=sample, prepared=prepared)
        built = build_document(outcome, round_source="given", round_notes=[], tree=sample)
        assert carried.model_dump(exclude={"timings"}) == built.model_dump(exclude={"timings"}), case
        if case == "plain":
            assert all(used)
        elif case == "a run finding on one result":
            assert used == [report.unit is not first for report in outcome.results]
        else:
            waived = [any(f.waived for f in report.findings) for report in outcome.results]
            assert any(waived) and used == [not w for w in waived], case
