"""System description JSON parser and the shared JSON-with-lines loader: every real file, pinned
real values with their lines, the key scanner, and every kind of broken input."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from corpus_cache import ROUNDS
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.parse.json_lines import scan_top_level_keys
from checker.parse.system_json import SystemDescription, parse_system_json

MIN_SYSTEMS_PER_ROUND = {"v0.5": 10, "v0.7": 25, "v1.0": 25, "v4.1": 25, "v6-sample": 5}


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def problems(result) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in result.problems]


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_system_json(corpus, round_name):
    root = corpus(round_name)
    files = sorted(p for p in root.glob("*/*/systems/*.json") if p.is_file())
    assert len(files) >= MIN_SYSTEMS_PER_ROUND[round_name]
    for path in files:
        result = parse_system_json(path, root=root)
        assert result.kind == "system_json"
        assert result.path == path.relative_to(root).as_posix()
        assert result.problems == [], (path, result.problems)  # the real files are all well-formed JSON
        model = result.model
        # nothing is lost or coerced: values, types and key order equal what json.load gives
        expected = json.loads(path.read_text(encoding="utf-8"))
        assert model.to_plain() == expected
        assert list(model.to_plain()) == list(expected)
        for name, item in model.to_plain().items():
            assert type(item) is type(expected[name])
        # each key's line really holds that key
        lines = path.read_text(encoding="utf-8").split("\n")
        for name, item in model.fields().items():
            assert json.dumps(name)[1:-1] in lines[item.line - 1], (path, name, item.line)


def test_tencent_v05_misspelled_submitter(corpus):
    result = parse_system_json(corpus("v0.5") / "closed/Tencent/systems/clx-8255c-4s_pytorch-caffe2.json")
    model = result.model
    assert result.problems == []
    assert model.submitter is None and model.is_empty("submitter")
    assert model.get("sumitter").value == "Tencent_Corp" and model.get("sumitter").line == 2
    assert model.get("number of nodes").line == 6 and model.number_of_nodes is None
    assert model.division.value == "closed" and model.division.line == 3
    assert model.text("system_name") == "CLX-8255C-4S"
    assert isinstance(model.value("nodes"), list) and model.line_of("nodes") == 30
    assert model.unknown_keys()[:3] == ["sumitter", "number of nodes", "host_processors_core_count"]
    assert "sumitter" not in SystemDescription.known_keys()


def test_real_types_are_kept(corpus):
    alibaba = parse_system_json(corpus("v0.5") / "closed/Alibaba/systems/alibaba_HanGuang.json").model
    assert alibaba.number_of_nodes.value == 1 and type(alibaba.number_of_nodes.value) is int
    assert alibaba.number_of_nodes.line == 6 and alibaba.host_processors_per_node.line == 7
    assert alibaba.text("number_of_nodes") == "1"
    untether = parse_system_json(corpus("v4.1") / "closed/UntetherAI/systems/r760_u4_slim.json").model
    stack = untether.other_software_stack
    assert stack.line == 31 and stack.value["KILT"] == "mlperf_4.1"
    assert untether.text("other_software_stack") is None  # not a scalar


def test_helpers_on_written_file(tmp_path):
    text = (
        "{\n"
        '  "submitter": "  ",\n'
        '  "status": null,\n'
        '  "division": "closed",\n'
        '  "accelerator_on-chip_memories": "32 MB",\n'
        '  "is_network": false,\n'
        '  "sw_notes": [],\n'
        '  "système": "non-ASCII key ✓"\n'
        "}\n"
    )
    model = parse_system_json(write(tmp_path, "sys.json", text)).model
    assert model.is_empty("submitter") and model.is_empty("status") and model.is_empty("sw_notes")
    assert model.is_empty("cooling") and not model.has("cooling") and model.has("status")
    assert not model.is_empty("division") and not model.is_empty("is_network")
    assert model.text("is_network") == "false"
    assert model.accelerator_on_chip_memories.value == "32 MB"
    assert model.get("accelerator_on-chip_memories").line == 5
    assert model.get("système").value == "non-ASCII key ✓" and model.get("système").line == 8
    assert model.key_order[0] == "submitter" and model.unknown_keys() == ["système"]


def test_key_scanner():
    text = '{"a{": "}", "b\\"": [1, {"c": 2}],\n "sub\\u006ditter": {"d": {"e": 1}}, "f": "x,\\"g\\": 1"}\n]trailing'
    keys = scan_top_level_keys(text)
    assert [(k.name, k.line) for k in keys] == [("a{", 1), ('b"', 1), ("submitter", 2), ("f", 2)]
    assert keys[2].column == 2
    assert scan_top_level_keys("[1, 2]") == []
    assert [k.name for k in scan_top_level_keys('{"a": 1, "b": ')] == ["a", "b"]  # truncated: keys so far


@pytest.mark.parametrize("text", [
    '{"a{": "}", "b\\"": [1, {"c": 2}],\n "sub\\u006ditter": {"d": {"e": 1}}, "f": "x,\\"g\\": 1"}\n',
    ' \r\n\t{ "a" :\n NaN ,"a":-Infinity,\n\n  "é\tx": "raw\ttab", "n": null}  ',  # constants, a repeat
    '{"a": 1, "b": 2,}', '{"a": 1 "b": 2}', '{"a": 1, "b": ', '{"a": [1, 2}, "b": 3}', '{"a\\x": 1, "b": 2}',
    '{}', '{ }', '[{"a": 1}]', 'x{"a": 1}', '{"a": 1}}', '{"a": {"b": 1}, "c": [{"d": "}"}]}',
])
def test_key_scanner_fast_path_agrees_with_the_token_scanner(text):
    """A well-formed object is read key by key (values stepped over by the C decoder); the result is
    the token scanner's for every text, broken ones included (they take the token scanner)."""
    from checker.parse.json_lines import _keys_of_well_formed_object, _scan_tokens

    assert scan_top_level_keys(text) == _scan_tokens(text)
    try:
        json.loads(text, strict=False)
        well_formed = True
    except ValueError:
        well_formed = False
    if well_formed and text.lstrip().startswith("{"):
        assert _keys_of_well_formed_object(text) is not None


# --- broken input ---------------------------------------------------------------------------------


def test_empty_whitespace_binary_missing_dir(tmp_path):
    assert problems(parse_system_json(write(tmp_path, "e.json", b""))) == [("empty", 1)]
    assert problems(parse_system_json(write(tmp_path, "w.json", " \n\t\n"))) == [("empty", 1)]
    result = parse_system_json(write(tmp_path, "b.json", bytes(range(256)) * 4))
    assert problems(result) == [("binary", 1)] and result.model is None
    assert problems(parse_system_json(tmp_path / "missing.json")) == [("missing", None)]
    (tmp_path / "d.json").mkdir()
    assert problems(parse_system_json(tmp_path / "d.json")) == [("not_a_file", None)]


def test_wrong_top_level_types(tmp_path):
    for name, text, found in (
        ("l.json", "[1, 2]", "array"),
        ("s.json", '"hello"', "string"),
        ("n.json", "3", "number"),
    ):
        result = parse_system_json(write(tmp_path, name, text))
        assert result.model is None
        assert problems(result) == [("not_an_object", 1)]
        assert result.problems[0].found == found


def test_truncated_and_invalid(tmp_path):
    result = parse_system_json(write(tmp_path, "t.json", '{\n  "submitter": "X",\n  "division": '))
    assert problems(result) == [("truncated", 3)] and result.model is None
    assert "column" in result.problems[0].message
    result = parse_system_json(write(tmp_path, "i.json", '{\n  "a": 1,,\n  "b": 2\n}'))
    assert problems(result) == [("syntax", 2)]
    assert "line 2 column 10" in result.problems[0].message  # the second comma


def test_duplicate_keys_report_both_lines(tmp_path):
    text = '{\n  "submitter": "A",\n  "x": {"k": 1,\n   "k": 2},\n  "submitter": "B"\n}\n'
    result = parse_system_json(write(tmp_path, "dup.json", text))
    top = result.problems[0]
    assert (top.code, top.line, top.found) == ("duplicate_key", 2, "lines 2, 5")
    assert "line 5" in top.message
    nested = result.problems[1]
    assert (nested.code, nested.line) == ("duplicate_key", 3)
    model = result.model
    assert model.submitter.value == "B" and model.submitter.line == 5  # json.load keeps the last
    assert model.duplicate_keys == {"submitter": [2, 5]}


def test_bom_trailing_nan_control(tmp_path):
    result = parse_system_json(write(tmp_path, "bom.json", b'\xef\xbb\xbf{\n "division": "open"\n}'))
    assert problems(result) == [("bom", 1)] and result.model.division.line == 2
    result = parse_system_json(write(tmp_path, "tr.json", '{"division": "open"}\n}\n'))
    assert problems(result) == [("trailing_data", 2)] and result.model.division.value == "open"
    result = parse_system_json(write(tmp_path, "nan.json", '{"a": "NaN",\n "b": NaN}'))
    assert problems(result) == [("non_standard_json", 2)]
    result = parse_system_json(write(tmp_path, "ctl.json", '{"hw_notes": "a\tb"}'))
    assert problems(result) == [("control_character", 1)] and result.model.hw_notes.value == "a\tb"
    result = parse_system_json(write(tmp_path, "deep.json", "[" * 50000 + "]" * 50000))
    assert [p.code for p in result.problems] == ["syntax"] and result.model is None


def test_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "sys.json"
    os.mkfifo(fifo)
    assert problems(parse_system_json(fifo)) == [("not_a_file", None)]


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=300) | st.text(alphabet='{}[]",:\\ \n\tabnu0123456789.eE-tlrfsNaI\ufeff', max_size=200)
)
def test_arbitrary_bytes_never_raise(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sys.json"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        result = parse_system_json(path)
        assert result.kind == "system_json"
        assert result.model is not None or result.problems
        if result.model is not None:
            for item in result.model.fields().values():
                assert item.line is not None and item.line >= 1


def test_non_utf8(tmp_path):
    result = parse_system_json(write(tmp_path, "latin.json", b'{\n "system_name": "Caf\xe9 box"\n}'))
    assert problems(result) == [("encoding", 2)]
    assert result.model.system_name.value == "Caf\ufffd box"


def test_ten_megabyte_line(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.write(b'{\n "division": "open",\n "hw_notes": "')
        handle.write(b"x" * (10 * 1024 * 1024))
        handle.write(b'"\n}\n')
    result = parse_system_json(path)
    assert [p.code for p in result.problems][0] == "line_too_long"
    assert result.problems[0].line == 3
    assert result.model is None  # the skipped line leaves the JSON incomplete; reported, not raised


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=6), st.sampled_from([None, 0, 1, 4]),
       st.text(alphabet=' {}[]",:\n', max_size=6))
@settings(max_examples=150)
def test_key_scanner_paths_agree_on_generated_objects(value, indent, tail):
    from checker.parse.json_lines import _scan_tokens

    text = json.dumps(value, indent=indent, ensure_ascii=False)
    for candidate in (text, text[: len(text) // 2], text + tail, tail + text):
        assert scan_top_level_keys(candidate) == _scan_tokens(candidate)
    assert [k.name for k in scan_top_level_keys(text)] == list(value)
