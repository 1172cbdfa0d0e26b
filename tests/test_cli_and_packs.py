"""The command line (exit codes, explain, rules), rule-pack loading and validation, generated docs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from tree_builder import copy_system, edit_json

from checker.cli import main
from checker.engine.registry import load_all_checks
from checker.engine.rulepack import (
    PackError,
    generated_schema,
    known_rounds,
    load_pack,
    rules_dir,
    schema_path,
)
from checker.report.rules_doc import current_markdown

REPO = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_round_pack_loads_and_every_enabled_rule_exists():
    registry = load_all_checks()
    for name in known_rounds():
        pack = load_pack(name)
        assert pack.round == name
        assert set(pack.rules) <= set(registry)
    assert {"v0.5", "v0.7", "v1.0"} <= set(known_rounds())


def test_pack_inheritance_overrides_and_deletes():
    v05, v07, v10 = load_pack("v0.5"), load_pack("v0.7"), load_pack("v1.0")
    assert "gnmt" in v05.benchmarks and "gnmt" not in v07.benchmarks  # v0.7 replaces the table
    assert v07.seeds != v05.seeds and v10.min_duration_ms == 600000 and v07.min_duration_ms == 60000
    assert v10.layout.performance_runs["Server"] == 1 and v07.layout.performance_runs["Server"] == 5
    assert "TEST03" not in v07.compliance.verify_files  # deleted with null
    assert v10.rules["P008"].severity == "error" and v05.rules["P002"].severity == "warning"


def test_round_markers_equal_the_full_packs_and_share_nothing_with_them():
    """Round detection types only each pack's markers, straight from the shared merged pack: they
    equal the fully loaded pack's, and changing them changes no pack loaded later."""
    from checker.engine.rulepack import load_round_markers

    for name in known_rounds():
        markers, pack = load_round_markers(name), load_pack(name)
        assert (markers.round, markers.seeds, markers.log_format, markers.detection, markers.layout) == (
            pack.round, pack.seeds, pack.log_format, pack.detection, pack.layout)
        markers.seeds["qsl_rng_seed"] = -1
        markers.layout.code_dirs.append("elsewhere")
        markers.detection.loadgen_version_prefixes.append("0.0.")
        again = load_pack(name)
        assert again.seeds == pack.seeds and again.layout == pack.layout and again.detection == pack.detection
        assert load_round_markers(name).seeds == pack.seeds


def test_schema_file_is_generated_from_the_models():
    assert json.loads(schema_path().read_text()) == generated_schema()


def test_record_of_schema_checked_packs_is_current():
    """Each shipped pack passes the schema (checked here in any case) and the record names exactly
    the files and schema checked, so that a run can skip that check for them."""
    from checker.engine.rulepack import VALIDATED_RECORD, validated_record

    assert (rules_dir() / VALIDATED_RECORD).read_text() == validated_record(), (
        "stale: python -m checker.engine.rulepack > rules/validated-packs.sha256")


def test_schema_check_skipped_only_for_recorded_packs(monkeypatch, tmp_path):
    """A shipped pack the record names is not checked against the schema again; one edited since
    (here in a copy of the shipped rules folder, as a hand-edited installation) is, and refused."""
    from checker.engine import rulepack

    checked: list[str] = []
    real = rulepack._check_schema
    monkeypatch.setattr(rulepack, "_check_schema", lambda data, path: checked.append(path.name) or real(data, path))
    load = rulepack.load_pack.__wrapped__  # past the process's memo of loaded packs
    load("v1.0")
    assert checked == []
    load("v1.0", schema_check="always")
    assert checked == ["v1.0.yaml"]

    installed = tmp_path / "rules"
    shutil.copytree(rules_dir(), installed)
    monkeypatch.setattr(rulepack, "rules_dir", lambda: installed)
    load("v0.7")  # an untouched copy: the record still names it
    assert checked == ["v1.0.yaml"]
    edited = (installed / "v0.7.yaml").read_text().replace("min_duration_ms: 60000", "min_duration_ms: long", 1)
    assert "min_duration_ms: long" in edited
    (installed / "v0.7.yaml").write_text(edited)
    with pytest.raises(PackError, match="min_duration_ms"):
        load("v0.7")
    assert checked[-1] == "v0.7.yaml"
    load("v1.0")  # v1.0 extends v0.7: its chain changed, so it is checked too (and passes: it sets its own)
    assert checked[-1] == "v1.0.yaml"


def _pack_dir(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(rules_dir(), folder)
    data = yaml.safe_load((folder / "v0.7.yaml").read_text())
    edit(data)
    (folder / "v0.7.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(min_duration_ms="sixty"), "key min_duration_ms"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["rules"].update({"Q999": {"severity": "error"}}), "Q999"),
        (lambda d: d.update(extends="v0.7"), "cycle"),
        (lambda d: d["benchmarks"]["resnet"].update(performance_sample_count=[1]), "benchmarks.resnet.performance_sample_count"),
    ],
)
def test_bad_pack_names_file_and_key(tmp_path, edit, message):
    folder = _pack_dir(tmp_path, edit)
    with pytest.raises(PackError) as error:
        load_pack.__wrapped__("v0.7", str(folder))
    assert "v0.7.yaml" in str(error.value) and message in str(error.value)


def test_unknown_round_is_exit_2_listing_known_rounds(tmp_path):
    result = run("check", str(tmp_path), "--round", "v9.9")
    assert result.exit_code == 2
    assert "v0.5" in result.output and "v1.0" in result.output


def test_explain_prints_the_four_parts():
    result = run("explain", "p008")
    assert result.exit_code == 0
    for part in ("P008", "What it checks", "Why it matters", "Rules' section", "How to fix"):
        assert part in result.output
    assert run("explain", "Z123").exit_code == 2


def test_rules_lists_a_round_with_severities():
    result = run("rules", "--round", "v0.5")
    assert result.exit_code == 0
    assert "P002  warning" in result.output and "P008  error" in result.output
    assert "P006" in result.output


def test_every_rule_documents_itself():
    for spec in load_all_checks().values():
        assert spec.title and spec.what and spec.why and spec.section and spec.fix, spec.id


def test_docs_rules_md_is_up_to_date():
    assert (REPO / "docs" / "rules.md").read_text() == current_markdown(), (
        "docs/rules.md is stale: python -m checker.report.rules_doc > docs/rules.md"
    )


@pytest.fixture
def small_tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")


def test_check_exit_codes_and_json_document(small_tree):
    clean = run("check", str(small_tree), "--format", "json")
    assert clean.exit_code == 0
    doc = json.loads(clean.output)
    assert doc["round"] == "v1.0" and doc["round_source"] == "detected" and doc["tool_version"]
    result = doc["results"][0]
    assert {"division", "submitter", "system", "benchmark", "scenario", "verdict", "metric", "findings"} <= set(result)
    edit_json(small_tree / "closed/Alibaba/systems/A10x1_TRT.json", status="soon")
    broken = run("check", str(small_tree))
    assert broken.exit_code == 1
    assert "Y005" in broken.output and "INVALID" not in broken.output.split("\n")[0]


def test_round_mismatch_is_reported_and_still_runs(small_tree):
    result = run("check", str(small_tree), "--round", "v0.7", "--format", "json")
    doc = json.loads(result.output)
    assert doc["round"] == "v0.7" and doc["round_source"] == "given"
    assert any(f["rule"] == "S020" and f["expected"] == "v1.0" for f in doc["findings"])


def test_malformed_json_and_missing_folder_are_findings(small_tree):
    (small_tree / "closed/Alibaba/systems/A10x1_TRT.json").write_text('{"submitter": "Alibaba", ')
    shutil.rmtree(small_tree / "closed/Alibaba/measurements")
    result = run("check", str(small_tree), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    rules = {f["rule"] for f in doc["findings"]} | {f["rule"] for r in doc["results"] for f in r["findings"]}
    assert {"S004", "S012"} <= rules and "X001" not in rules


def test_output_inside_the_tree_is_refused(small_tree):
    result = CliRunner().invoke(main, ["check", str(small_tree), "--output", str(small_tree / "report.txt")])
    assert result.exit_code == 2
    assert not (small_tree / "report.txt").exists()


def test_not_a_results_tree(tmp_path):
    (tmp_path / "something").mkdir()
    result = run("check", str(tmp_path), "--round", "v1.0", "--format", "json")
    doc = json.loads(result.output)
    assert result.exit_code == 1 and any(f["rule"] == "S001" for f in doc["findings"])


def test_the_cli_called_as_a_library_leaves_the_collector_alone():
    """Only the ``mlperf-audit`` command (checker.cli:run) tunes garbage collection for a batch run;
    invoking ``main`` in a process of one's own (tests, a library caller) changes nothing."""
    import gc
    from pathlib import Path

    before = gc.get_threshold()
    result = CliRunner().invoke(main, ["rules", "--round", "v0.7"])
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == before
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'mlperf-audit = "checker.cli:run"' in pyproject


def test_record_of_parsed_packs_is_current():
    """The shipped record of parsed pack files (read instead of the YAML) is the one the packs make."""
    from checker.engine.rulepack import PARSED_RECORD, parsed_record

    assert (rules_dir() / PARSED_RECORD).read_text(encoding="utf-8") == parsed_record(), (
        "stale: python -m checker.engine.rulepack --parsed > rules/parsed-packs.json")


def test_packs_from_the_parsed_record_equal_the_yaml(monkeypatch):
    """Every round's merged pack is the same, key order and value types included, whether its files
    come from the record or from PyYAML."""
    from checker.engine import rulepack

    def merged_packs() -> dict[str, str]:
        rulepack._PARSED.clear()
        rulepack._MERGED.clear()
        return {name: repr(rulepack._shared_pack(name, rules_dir(), ())[1]) for name in rulepack.known_rounds()}

    parsed_as_yaml: list[str] = []
    real_loader = rulepack._yaml_loader
    monkeypatch.setattr(rulepack, "_yaml_loader", lambda: parsed_as_yaml.append("yaml") or real_loader())
    from_record = merged_packs()
    assert parsed_as_yaml == []  # every shipped file came from the record
    monkeypatch.setattr(rulepack, "_parsed_record", lambda directory: {})
    from_yaml = merged_packs()
    assert len(parsed_as_yaml) == len(from_yaml) >= 15
    assert from_record == from_yaml
    rulepack._PARSED.clear()
    rulepack._MERGED.clear()


def test_parsed_record_is_used_only_for_the_text_it_was_made_from(tmp_path):
    """An edited pack file is read as YAML (the edit counts); a broken or foreign record is ignored;
    a document JSON cannot hold exactly stays out of the record."""
    from checker.engine import rulepack

    folder = tmp_path / "rules"
    shutil.copytree(rules_dir(), folder)
    edited = folder / "v1.0.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("round: v1.0\n", "round: v1.0-edited\n", 1),
                      encoding="utf-8")
    try:
        assert rulepack._shared_pack("v1.0", folder, ())[1]["round"] == "v1.0-edited"
        assert rulepack._shared_pack("v0.7", folder, ())[1]["round"] == "v0.7"
        for broken in ("{", '{"format": 2, "files": {}}', '{"format": 1, "files": {"v0.7.yaml": 3}}', "[]"):
            rulepack._parsed_record.cache_clear()
            (folder / rulepack.PARSED_RECORD).write_text(broken, encoding="utf-8")
            assert rulepack._parsed_record(str(folder)) == {}
        (folder / "dated.yaml").write_text("round: dated\nwhen: 2021-04-21\n1: one\n", encoding="utf-8")
        (folder / "plain.yaml").write_text("round: plain\nratio: 1.0\ncount: 1\nflag: true\n", encoding="utf-8")
        record = json.loads(rulepack.parsed_record(folder))
        assert "dated.yaml" not in record["files"] and record["files"]["plain.yaml"]["data"] == {
            "round": "plain", "ratio": 1.0, "count": 1, "flag": True}
        assert "v1.0.yaml" in record["files"]
    finally:
        rulepack._parsed_record.cache_clear()
        rulepack._PARSED.clear()
        rulepack._MERGED.clear()
