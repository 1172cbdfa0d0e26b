"""Waivers: the file format, glob matching, verdicts (only matched results change), the S021-S023
findings, the tree's mlperf-audit.toml (read only), and waived findings shown in every format."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from tree_builder import copy_system, edit_json, set_mllog_value

from checker.check import run_check
from checker.cli import main
from checker.engine.registry import load_all_checks
from checker.engine.waivers import WaiverFileError, glob_regex, load_cli_waivers, read_waiver_file
from checker.report.render import render

OFFLINE = "closed/Alibaba/results/A10x1_TRT/resnet50/Offline"
SINGLE = "closed/Alibaba/results/A10x1_TRT/resnet50/SingleStream"
SYSTEM_JSON = "closed/Alibaba/systems/A10x1_TRT.json"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def waiver_file(path: Path, *entries: str) -> Path:
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def entry(rule: str, paths: str, reason: str = "accepted by the review board", expires: str | None = None) -> str:
    text = f'[[waiver]]\nrule = "{rule}"\npath = {paths}\nreason = "{reason}"\n'
    return text + (f"expires = {expires}\n" if expires else "")


@pytest.fixture
def tree(corpus, tmp_path) -> Path:
    """One system, two results; Offline has wrong seeds (P008), and the system an unknown status (Y005)."""
    root = copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")
    set_mllog_value(root / OFFLINE / "performance/run_1/mlperf_log_detail.txt", "effective_qsl_rng_seed", 1)
    return root


def verdicts(doc) -> dict[str, str]:
    return {r.path: r.verdict for r in doc.results}


# -- file format -------------------------------------------------------------------------------------


def test_parse_good_and_bad_entries(tmp_path):
    rules = set(load_all_checks())
    good = waiver_file(tmp_path / "w.toml", entry("p008", '["closed/*/results/**", "open"]', expires="2030-01-01"))
    waivers, problems = read_waiver_file(good, known_rules=rules)
    assert not problems and waivers[0].rule == "P008" and waivers[0].paths == ("closed/*/results/**", "open")
    assert waivers[0].expires == date(2030, 1, 1)
    bad = waiver_file(
        tmp_path / "bad.toml",
        entry("P008", '"x"', reason=""),
        entry("Q999", '"x"'),
        '[[waiver]]\nrule = "P008"\npath = "x"\nreason = "r"\nreson = "typo"\n',
        entry("P008", '"x"', expires='"someday"'),
        '[[waiver]]\nrule = "P008"\nreason = "no path"\n',
        entry("P008", '"x"', expires='"2021-03-31"'),
    )
    waivers, problems = read_waiver_file(bad, known_rules=rules)
    assert [w.entry for w in waivers] == [6]
    assert len(problems) == 5
    for number, word in [(1, "reason"), (2, "unknown rule"), (3, "reson"), (4, "expires"), (5, "path")]:
        assert any(f"waiver #{number}" in p and word in p for p in problems), (number, problems)
    broken = waiver_file(tmp_path / "broken.toml", "[[waiver]\nrule = ")
    assert read_waiver_file(broken)[1][0].startswith(f"{broken}: not valid TOML")
    with pytest.raises(WaiverFileError) as error:
        load_cli_waivers(bad, rules)
    assert str(bad) in str(error.value) and "waiver #1" in str(error.value)


def test_glob_semantics():
    assert glob_regex("closed/*/results").fullmatch("closed/Acme/results")
    assert not glob_regex("closed/*").fullmatch("closed/Acme/results")
    assert glob_regex("closed/**/Offline").fullmatch("closed/Acme/results/sys/resnet/Offline")
    assert glob_regex("**/Offline").fullmatch("Offline")
    assert glob_regex("closed/Acme/results/sys[12]/*/Off?ine").fullmatch("closed/Acme/results/sys1/bert/Offline")
    assert glob_regex("closed/[!A]*").fullmatch("closed/Bcme") and not glob_regex("closed/[!A]*").fullmatch("closed/Acme")
    assert glob_regex("a.b+(c)").fullmatch("a.b+(c)") and not glob_regex("a.b").fullmatch("axb")


# -- verdicts ------------------------------------------------------------------------------------------


def test_waiver_changes_only_the_matched_result(tree, tmp_path):
    before = run_check(tree, round_name="v1.0")
    assert verdicts(before) == {OFFLINE: "invalid", SINGLE: "valid"}
    waivers = waiver_file(tmp_path / "w.toml", entry("P008", f'"{OFFLINE}"', reason="seed fixed upstream"))
    after = run_check(tree, round_name="v1.0", waivers_file=waivers)
    assert verdicts(after) == {OFFLINE: "waived", SINGLE: "valid"}
    offline = next(r for r in after.results if r.path == OFFLINE)
    p008 = [f for f in offline.findings if f.rule == "P008"]
    assert p008 and all(f.waived and f.waiver_reason == "seed fixed upstream" for f in p008)
    assert offline.errors == 0 and offline.waived_errors == len(p008)
    assert after.summary.errors == 0 and after.summary.waived == 1 and after.summary.waived_findings == len(p008)
    assert after.waivers[0].status == "applied" and after.waivers[0].matched == len(p008)
    # the same findings otherwise
    strip = lambda doc: sorted((f.rule, f.path, f.message) for _, f in doc.distinct_findings())  # noqa: E731
    assert strip(before) == strip(after)
    cli = run("check", str(tree), "--round", "v1.0", "--waivers", str(waivers))
    assert cli.exit_code == 0


def test_system_finding_waived_for_some_results_only(tree, tmp_path):
    edit_json(tree / SYSTEM_JSON, status="soon")  # Y005: a system-level error covering both results
    waivers = waiver_file(tmp_path / "w.toml", entry("Y005", f'"{SINGLE}"'), entry("P008", f'"{OFFLINE}"'))
    doc = run_check(tree, round_name="v1.0", waivers_file=waivers)
    assert verdicts(doc) == {OFFLINE: "invalid", SINGLE: "waived"}
    top = [f for f in doc.findings if f.rule == "Y005"]
    assert top and not any(f.waived for f in top)  # still blocking for the Offline result
    assert run("check", str(tree), "--round", "v1.0", "--waivers", str(waivers)).exit_code == 1
    # a glob naming the system's folder (or the file) covers every result
    everything = waiver_file(tmp_path / "all.toml", entry("Y005", f'"{SYSTEM_JSON}"'), entry("P008", '"closed/Alibaba"'))
    doc = run_check(tree, round_name="v1.0", waivers_file=everything)
    assert verdicts(doc) == {OFFLINE: "waived", SINGLE: "waived"}
    assert all(f.waived for f in doc.findings if f.rule == "Y005")
    assert doc.summary.errors == 0


def test_unused_and_expired_waivers_are_reported(tree, tmp_path):
    waivers = waiver_file(
        tmp_path / "w.toml",
        entry("P008", f'"{OFFLINE}"', expires="2021-03-31"),
        entry("A002", '"closed/Nobody/**"'),
        entry("Y005", '"closed/**"'),
    )
    doc = run_check(tree, round_name="v1.0", waivers_file=waivers, today=date(2021, 4, 1))
    assert verdicts(doc)[OFFLINE] == "invalid"  # expired: not applied
    rules = [f.rule for f in doc.findings]
    assert rules.count("S023") == 1 and rules.count("S022") == 2
    assert all(f.severity == "warning" for f in doc.findings if f.rule in ("S022", "S023"))
    assert [w.status for w in doc.waivers] == ["expired", "unused", "unused"]
    on_time = run_check(tree, round_name="v1.0", waivers_file=waivers, today=date(2021, 3, 31))
    assert verdicts(on_time)[OFFLINE] == "waived"
    # a waiver for a rule that did not run is not "unused"
    selected = run_check(tree, round_name="v1.0", waivers_file=waivers, select=("P",), today=date(2021, 3, 31))
    assert [f.rule for f in selected.findings if f.rule == "S022"] == []


def test_bad_waivers_file_is_exit_2_naming_file_and_entry(tree, tmp_path):
    bad = waiver_file(tmp_path / "w.toml", entry("P008", f'"{OFFLINE}"'), entry("P008", '"x"', reason=""))
    result = run("check", str(tree), "--waivers", str(bad))
    assert result.exit_code == 2 and str(bad) in result.output and "waiver #2" in result.output
    assert run("check", str(tree), "--waivers", str(tmp_path / "missing.toml")).exit_code == 2


# -- the tree's mlperf-audit.toml ----------------------------------------------------------------------


def _snapshot(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_tree_waivers_file(tree):
    (tree / "mlperf-audit.toml").write_text(entry("P008", f'"{OFFLINE}"', reason="in-tree waiver"))
    before = _snapshot(tree)
    doc = run_check(tree, round_name="v1.0")
    assert verdicts(doc)[OFFLINE] == "waived"
    assert doc.waivers[0].source == "mlperf-audit.toml"
    assert verdicts(run_check(tree, round_name="v1.0", tree_waivers=False))[OFFLINE] == "invalid"
    assert run("check", str(tree), "--no-tree-waivers").exit_code == 1
    assert _snapshot(tree) == before  # read only
    (tree / "mlperf-audit.toml").write_text(entry("P008", f'"{OFFLINE}"', reason="") + "\n" + entry("Z1", '"x"'))
    doc = run_check(tree, round_name="v1.0")
    s021 = [f for f in doc.findings if f.rule == "S021"]
    assert len(s021) == 2 and all(f.path == "mlperf-audit.toml" and f.severity == "warning" for f in s021)
    assert verdicts(doc)[OFFLINE] == "invalid"
    (tree / "mlperf-audit.toml").write_text("this is = = not toml")
    doc = run_check(tree, round_name="v1.0")
    assert [f.rule for f in doc.findings if f.rule == "S021"] == ["S021"]


# -- every format shows the waiver ------------------------------------------------------------------------


def test_waived_findings_shown_in_every_format(tree, tmp_path):
    reason = "seed fixed upstream | see <issue 12>"
    waivers = waiver_file(tmp_path / "w.toml", entry("P008", f'"{OFFLINE}"', reason=reason))
    doc = run_check(tree, round_name="v1.0", waivers_file=waivers)
    text = render(doc, "text")
    assert f"[waived: {reason}]" in text and "WAIVED" in text
    data = json.loads(render(doc, "json"))
    assert any(f["waived"] and f["waiver_reason"] == reason for r in data["results"] for f in r["findings"])
    sarif = json.loads(render(doc, "sarif"))
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert suppressed and all(r["ruleId"] == "P008" for r in suppressed)
    assert suppressed[0]["suppressions"][0] == {"kind": "external", "status": "accepted", "justification": reason}
    junit = ET.fromstring(render(doc, "junit").encode())
    suite = next(s for s in junit.findall("testsuite") if s.get("name") == OFFLINE)
    case = next(c for c in suite.findall("testcase") if c.get("name").startswith("P008"))
    assert case.find("skipped") is not None and reason in case.find("skipped").get("message")
    assert int(suite.get("failures")) == 0
    rows = {r["Location"]: r for r in csv.DictReader(io.StringIO(render(doc, "csv")))}
    assert rows[OFFLINE]["compilance"] == "1" and rows[OFFLINE]["errors"] == "0"
    ours = {r["path"]: r for r in csv.DictReader(io.StringIO(render(doc, "csv", csv_columns="ours")))}
    assert ours[OFFLINE]["verdict"] == "waived" and ours[OFFLINE]["rules_waived"] == "P008"
    markdown = render(doc, "markdown")
    assert "**waived**: seed fixed upstream \\| see &lt;issue 12&gt;" in markdown
    assert "| applied |" in markdown


@pytest.mark.parametrize("irregular", [False, True])
@pytest.mark.parametrize("with_waiver", [False, True])
def test_each_result_gets_exactly_the_findings_whose_scope_covers_it(irregular, with_waiver):
    """The per-result lookup of covering findings (the result's parts kept in each shape of scope
    the findings have, including shapes set below an unset part) equals testing every finding
    against every result with Scope.covers, with no waiver (the short path) and with one that
    matches nothing."""
    from checker.discover import ResultUnit, Submission
    from checker.engine.runner import ResultReport, _apply_waivers
    from checker.engine.waivers import Waiver
    from checker.findings import Finding, Scope, Severity

    submissions = {name: Submission(division="closed", submitter=name, path=Path(name), rel=f"closed/{name}")
                   for name in ("A", "B")}
    units = [ResultUnit("closed", submitter, system, benchmark, scenario, Path("x"), "x", submissions[submitter])
             for submitter in ("A", "B") for system in ("s1", "s2") for benchmark in ("resnet", "bert")
             for scenario in ("Offline", "Server")]
    scopes = [Scope(), Scope(division="closed"), Scope(division="open"), Scope(division="closed", submitter="A"),
              Scope(division="closed", submitter="B", system="s2"),
              Scope(division="closed", submitter="A", system="s1", benchmark="bert"),
              Scope(division="closed", submitter="B", system="s1", benchmark="resnet", scenario="Server")]
    if irregular:  # set below an unset part: every Offline result, every system s2 of A
        scopes += [Scope(scenario="Offline"), Scope(division="closed", submitter="A", system="s2", scenario="Server")]
    findings = [Finding(rule=f"T{index:03d}", severity=Severity.ERROR, message="m", scope=scope)
                for index, scope in enumerate(scopes)]
    results = [ResultReport(unit=unit, verdict="valid", metric=None) for unit in units]
    waivers = [Waiver(rule="T999", paths=("closed/**",), reason="r", source="cli", entry=1)] if with_waiver else []
    top = _apply_waivers(findings, results, waivers)
    assert top == findings
    for report in results:
        expected = [finding for finding in findings if finding.scope.covers(report.unit.scope)]
        assert report.findings == expected, report.unit.scope
        assert report.verdict == ("invalid" if expected else "valid")
    if irregular:
        assert any(report.findings[-1].scope == Scope(scenario="Offline") for report in results)


def test_settling_findings_keeps_each_once_in_report_order():
    """The engine's one pass (deduplication by rule, scope, file, line and message; the report's
    order; each finding's scope parts) equals the plain definition on random findings whose equal
    scopes are sometimes one shared object and sometimes equal copies."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from checker.engine.runner import _settle
    from checker.findings import Finding, Scope, Severity

    part = st.sampled_from([None, "a", "b"])
    scopes = st.builds(Scope, division=part, submitter=part, system=part, benchmark=part, scenario=part)
    finding = st.builds(Finding, rule=st.sampled_from(["C001", "C002", "L003"]),
                        severity=st.sampled_from(list(Severity)), message=st.sampled_from(["m", "n"]),
                        scope=scopes, path=st.sampled_from([None, "x.txt", "y.txt"]),
                        line=st.sampled_from([None, 0, 3]))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(finding, max_size=40), st.randoms(use_true_random=False))
    def check(findings, random):
        shared = {}
        for item in findings:  # about half of the equal scopes become one object, as partitions share them
            if random.random() < 0.5:
                item.scope = shared.setdefault(item.scope, item.scope)
        seen, expected = set(), []
        for item in findings:
            key = (item.rule, item.scope.parts(), item.path, item.line, item.message)
            if key not in seen:
                seen.add(key)
                expected.append(item)
        expected.sort(key=Finding.sort_key)
        settled, parts = _settle(findings)
        assert [id(item) for item in settled] == [id(item) for item in expected]
        assert parts == [item.scope.parts() for item in settled]

    check()


def test_settling_a_run_from_settled_partitions_equals_settling_everything():
    """The engine places settled partitions end to end and the run's own findings among them by a
    binary search; that equals settling everything at once, whether the partitions are in report
    order or not, hold another submitter's finding or not, or share a finding with the run."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from checker.engine.runner import Partition, _settle, _settle_run
    from checker.findings import Finding, Scope, Severity

    owners = [("closed", "A"), ("closed", "B"), ("open", "A")]
    part = st.sampled_from([None, "", "s", "t"])  # None and "" take the same place in the order

    def finding(division, submitter):
        return st.builds(Finding, rule=st.sampled_from(["C001", "S004"]), severity=st.sampled_from(list(Severity)),
                         message=st.sampled_from(["m", "n"]), path=st.sampled_from([None, "x"]),
                         line=st.sampled_from([None, 2]),
                         scope=st.builds(Scope, division=st.just(division), submitter=st.just(submitter),
                                         system=part, benchmark=part, scenario=part))

    anywhere = st.one_of(finding(None, None), *(finding(d, s) for d, s in owners))

    @st.composite
    def partitions(draw):
        chosen = draw(st.permutations(owners).map(lambda o: o[: draw(st.integers(1, 3))]))
        out = []
        for division, submitter in chosen:
            found = draw(st.lists(finding(division, submitter), max_size=8))
            if draw(st.booleans()) and draw(st.booleans()):
                found += draw(st.lists(anywhere, max_size=2))  # now and then one outside its submitter
            settled, parts = _settle(found)
            own = (division, submitter) if all(p[:2] == (division, submitter) for p in parts) else None
            out.append(Partition(findings=settled, metrics=[], facts=[], systems={}, parts=parts, own=own))
        return out

    # equal places in the order, told apart by the scope (None and "" sort alike): the run's finding
    # goes ahead of the partition's when it comes before the partitions, behind it when after them
    mine = Finding(rule="C001", severity=Severity.ERROR, message="m", scope=Scope(division="closed", submitter="A"))
    alike = mine.model_copy(update={"scope": Scope(division="closed", submitter="A", system="")})
    settled, parts = _settle([mine])
    alone = Partition(findings=settled, metrics=[], facts=[], systems={}, parts=parts, own=("closed", "A"))
    assert _settle_run([alike], [alone], [])[0] == [alike, mine] == _settle([alike, mine])[0]
    assert _settle_run([], [alone], [alike])[0] == [mine, alike] == _settle([mine, alike])[0]

    @settings(max_examples=400, deadline=None)
    @given(st.lists(anywhere, max_size=5), partitions(), st.lists(anywhere, max_size=5), st.data())
    def check(before, chosen, after, data):
        if chosen and chosen[0].findings and data.draw(st.booleans()):  # a run finding equal to a partition's
            twin = chosen[0].findings[0]
            before.append(twin.model_copy(update={"hint": "from the run"}))
        everything = [*before, *(f for p in chosen for f in p.findings), *after]
        expected, expected_parts = _settle(everything)
        got, got_parts = _settle_run(before, chosen, after)
        assert [id(f) for f in got] == [id(f) for f in expected]
        assert got_parts == expected_parts

    check()
