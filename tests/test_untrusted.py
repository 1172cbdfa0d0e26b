"""Untrusted content: what the tree says is data, in every output format and in the code base.

* **Text from file contents** quoted in findings (a LoadGen error message, a line a parser could
  not read, the SUT name) containing ANSI escapes, HTML, Markdown, CSV formulas, XML/CDATA and
  SARIF/JSON-breaking text changes nothing but its own field in every format the tool has: the
  same findings, lines, rows, test cases and SARIF results as the same tree with a plain message,
  and no control character reaches a terminal. (tests/test_reports.py covers hostile system
  descriptions and folder names; this covers the text inside logs.)
* **Loaders**: YAML from a tree (``config.yaml``) is read with a safe loader, so a ``!!python`` tag
  is an error, not a call; TOML (``mlperf-audit.toml``) has no way to run code.
* **The code base**, by its syntax tree: no ``eval``/``exec``/``os.system``/``os.popen``, no
  ``shell=True``, subprocesses only in the re-run harness and always with an argument list, YAML
  only through safe loaders, unpickling only in the tool's own parse cache (a folder outside the
  tree that the CLI refuses inside it), no ``allow_pickle=True``, and dynamic imports only of the
  package's own modules. So a file name from a tree never reaches a shell, and nothing from a tree
  is imported or executed (tests/test_readonly.py watches a real run for imports from the tree).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from tree_builder import append_mllog_error, copy_system

from checker.check import run_check
from checker.report.render import FORMATS, render

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "checker"

HOSTILE = ("\x1b[31mRED\x1b[0m\x1b]0;title\x07 <script>alert(1)</script> | **bold** `code` [x](javascript:y) "
           "\r\nINJECTED: line ]]></failure><![CDATA[ \"}]}, {\"level\": \"none\" =cmd|' /C calc'!A0 @here "
           "\u2028sep \x00nul \x9bcsi \u202eEVIL-REVERSED\u202c \u2066isolate\u2069")
BENIGN = "a plain message"

RESULT = "closed/Edgecortix/results/edgecortix-DNA_F_SERIES/resnet50/Offline"


def _tree(corpus, folder: Path, text: str) -> Path:
    root = copy_system(corpus("v1.0"), folder, "closed", "Edgecortix", "edgecortix-DNA_F_SERIES")
    append_mllog_error(root / RESULT / "performance/run_1/mlperf_log_detail.txt", text)
    summary = root / RESULT / "performance/run_1/mlperf_log_summary.txt"
    # a line the summary parser cannot read: its problem quotes the line back
    summary.write_text(summary.read_text(encoding="utf-8") + "\n" + text.replace("\r\n", " ").replace(":", ";") + "\n",
                       encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def pair(corpus, tmp_path_factory):
    base = tmp_path_factory.mktemp("untrusted")
    benign = run_check(_tree(corpus, base / "benign", BENIGN), round_name="v1.0")
    hostile = run_check(_tree(corpus, base / "hostile", HOSTILE), round_name="v1.0")
    return benign, hostile


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line))


def test_hostile_log_text_changes_only_its_own_field(pair):
    benign, hostile = pair
    quoted = [f for _, f in hostile.distinct_findings() if "RED" in (f.message + (f.found or ""))]
    assert len(quoted) >= 2, "the hostile text is not quoted by any finding; the test proves nothing"
    assert [(r.path, r.verdict, r.errors, r.warnings) for r in benign.results] == \
        [(r.path, r.verdict, r.errors, r.warnings) for r in hostile.results]
    for fmt in FORMATS:
        for verbose in (False, True):
            a = render(benign, fmt, verbose=verbose)
            b = render(hostile, fmt, verbose=verbose)
            for bad in ("\x1b", "\x07", "\x9b", "\x00", "\u202e", "\u2066"):
                if fmt != "json":
                    assert bad not in b, (fmt, repr(bad))
            if fmt in ("text", "markdown"):
                assert "\r" not in b and "\u2028" not in b, fmt
                lines_a, lines_b = a.splitlines(), b.splitlines()
                assert len(lines_a) == len(lines_b), fmt
                if fmt == "markdown":
                    assert [_cells(x) for x in lines_a] == [_cells(x) for x in lines_b]
                    assert "<script" not in b and "](javascript" not in b
    # JSON: the text round-trips exactly (JSON escaping is the encoding's own)
    document = json.loads(render(hostile, "json"))
    messages = [f["message"] + (f.get("found") or "") for r in document["results"] for f in r["findings"]]
    assert any("<script>alert(1)</script>" in m for m in messages)
    # SARIF: valid JSON with the same results
    sarif_a, sarif_b = json.loads(render(benign, "sarif")), json.loads(render(hostile, "sarif"))
    assert len(sarif_a["runs"][0]["results"]) == len(sarif_b["runs"][0]["results"])
    assert [r["ruleId"] for r in sarif_a["runs"][0]["results"]] == [r["ruleId"] for r in sarif_b["runs"][0]["results"]]
    # JUnit: well-formed XML with the same test cases and failures
    junit_a, junit_b = ET.fromstring(render(benign, "junit").encode()), ET.fromstring(render(hostile, "junit").encode())
    assert [c.get("name") for c in junit_a.iter("testcase")] == [c.get("name") for c in junit_b.iter("testcase")]
    assert len(list(junit_a.iter("failure"))) == len(list(junit_b.iter("failure")))
    # CSV: same rows and columns; no cell can start a formula
    for columns in ("official", "ours"):
        from checker.report.csv_table import render_csv

        rows_a = list(csv.reader(io.StringIO(render_csv(benign, columns=columns))))
        rows_b = list(csv.reader(io.StringIO(render_csv(hostile, columns=columns))))
        assert [len(r) for r in rows_a] == [len(r) for r in rows_b]
        assert not any(cell.startswith(("=", "+", "@")) for row in rows_b for cell in row)


def test_yaml_from_a_tree_is_data(tmp_path):
    """A ``!!python`` tag in a tree's YAML is a parse problem, never a call."""
    from checker.parse.kinds import PARSERS, parser_for

    marker = tmp_path / "executed"
    yaml_kinds = [kind for kind, target in PARSERS.items() if "yaml" in kind or "config" in kind]
    path = tmp_path / "config.yaml"
    path.write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\nscenario: Offline\n")
    for kind in yaml_kinds:
        result = parser_for(kind)(path, root=tmp_path)
        assert result.problems, kind
    assert not marker.exists()


def test_tree_toml_is_data(tmp_path):
    from checker.engine.waivers import read_waiver_file

    path = tmp_path / "mlperf-audit.toml"
    path.write_text('[[waiver]]\nrule = "S007"\npath = "__import__(\'os\').system(\'x\')"\nreason = "x"\n')
    waivers, problems = read_waiver_file(path, source="mlperf-audit.toml", known_rules={"S007"},
                                         tree_path="mlperf-audit.toml")
    assert [list(w.paths) for w in waivers] == [["__import__('os').system('x')"]] and not problems


# ------------------------------------------------------------------------------------------------
# The code base

#: modules that may start processes (the LoadGen re-run harness: each test in its own process)
SUBPROCESS_MODULES = {"checker/rerun/harness.py"}
#: the tool's own on-disk parse cache (``--cache DIR``, refused inside the tree) is the only unpickler
UNPICKLING_MODULES = {"checker/engine/cache.py"}
#: registries that import the package's own modules by name
IMPORTING_MODULES = {"checker/engine/registry.py", "checker/parse/kinds.py"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def test_no_shell_no_eval_no_unsafe_loaders():
    problems = []
    for rel, tree in _sources():
        for call, name in _calls(tree):
            where = f"{rel}:{call.lineno}: {name}"
            keywords = {k.arg: k.value for k in call.keywords}
            if name in ("eval", "exec", "os.system", "os.popen", "compile", "__import__", "runpy.run_path",
                        "runpy.run_module", "yaml.unsafe_load", "yaml.full_load", "yaml.full_load_all",
                        "yaml.unsafe_load_all", "marshal.loads", "marshal.load", "shelve.open"):
                problems.append(f"{where}: forbidden")
            if "shell" in keywords and not (isinstance(keywords["shell"], ast.Constant) and not keywords["shell"].value):
                problems.append(f"{where}: shell=")
            if name.startswith("subprocess.") or name in ("Popen", "os.execv", "os.execvp", "os.posix_spawn"):
                if rel not in SUBPROCESS_MODULES:
                    problems.append(f"{where}: starts a process outside {SUBPROCESS_MODULES}")
                if call.args and isinstance(call.args[0], ast.Constant | ast.JoinedStr | ast.BinOp):
                    problems.append(f"{where}: command given as a string")
            if name in ("yaml.load", "yaml.load_all"):
                loader = keywords.get("Loader")
                if loader is None or ast.unparse(loader) not in ("yaml.SafeLoader", "yaml.CSafeLoader", "_yaml_loader()"):
                    problems.append(f"{where}: YAML without a safe loader")
            if name in ("pickle.load", "pickle.loads", "pickle.Unpickler") and rel not in UNPICKLING_MODULES:
                problems.append(f"{where}: unpickles")
            if "allow_pickle" in keywords and not (isinstance(keywords["allow_pickle"], ast.Constant)
                                                   and keywords["allow_pickle"].value is False):
                problems.append(f"{where}: allow_pickle")
            if name in ("importlib.import_module", "import_module") and rel not in IMPORTING_MODULES:
                problems.append(f"{where}: dynamic import")
            if name in ("ctypes.CDLL", "ctypes.cdll.LoadLibrary", "cffi.FFI"):
                problems.append(f"{where}: loads a native library")
    assert problems == []


def test_named_yaml_loader_is_safe():
    """The pack loader the syntax check allows by name really is a safe one (libyaml's or PyYAML's)."""
    from checker.engine import rulepack

    loader = rulepack._yaml_loader()
    assert issubclass(loader, yaml.constructor.SafeConstructor)
    assert not issubclass(loader, yaml.constructor.FullConstructor)
    with pytest.raises(yaml.YAMLError):
        yaml.load("x: !!python/object/apply:os.getcwd []", Loader=loader)  # noqa: S506


def test_dynamic_imports_name_only_package_modules():
    """The registries import modules by name: every name they can produce is a ``checker.`` module."""
    from checker.parse.kinds import PARSERS

    assert all(target.startswith("checker.parse.") for target in PARSERS.values())
    source = (REPO / "checker" / "engine" / "registry.py").read_text(encoding="utf-8")
    for call, name in _calls(ast.parse(source)):
        if name == "importlib.import_module":
            text = ast.unparse(call.args[0])
            assert text.startswith(("'checker.", '"checker.', "f'{package.__name__}.")), text


def test_the_cache_is_refused_inside_the_tree(tmp_path):
    """The only unpickled files are the cache's; the CLI never puts (or reads) them inside the tree."""
    from click.testing import CliRunner

    from checker.cli import main

    command = main.get_command(None, "check")  # type: ignore[attr-defined]
    if "--cache" not in {opt for p in command.params for opt in p.opts}:
        pytest.skip("no --cache option in this version")
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "reference_runs" / "sample_submission", tree)
    result = CliRunner().invoke(main, ["check", str(tree), "--cache", str(tree / ".cache")])
    assert result.exit_code == 2 and not (tree / ".cache").exists()
