"""Whole-text fast paths of the small-file parsers against their line-by-line (careful) paths.

Each parser here reads a small file whole and rules out work for every line at once (a regex that
finds nothing in the whole text finds nothing on any line; a flat JSON object read by one regex).
The careful path, forced here, must give the same model and problems on odd input: CRLF, stray CRs,
bytes that are not UTF-8, empty files, broken lines, cut files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from corpus_cache import ROUNDS

import checker.parse.accuracy_txt as accuracy_module
import checker.parse.base as base_module
from checker.parse.base import text_lines

SHA = "5fa4bf4bafd04638481611a05806ebd4808a5d29be082f6f19a9e695bee96d7e"


def _same(fast, slow, label) -> None:
    assert [p.model_dump() for p in fast.problems] == [p.model_dump() for p in slow.problems], label
    assert (fast.model is None) == (slow.model is None), label
    if fast.model is not None:
        assert fast.model.model_dump() == slow.model.model_dump(), label


# --------------------------------------------------------------------------------------------------
# accuracy.txt: patterns ruled out by one search of the whole text

ACCURACY_LINES = [
    "accuracy=76.456%, good=38228, total=50000",
    "mAP=37.307%",
    "BLEU:\n23.8",  # split over two lines: no match on either line, one on the whole text
    "{'exact_match': 83.9, 'f1': 90.9}",
    '{"exact_match": 83.9, "f1": 90.9}',
    "Word Error Rate: 7.45%, accuracy=92.55%",
    "Accuracy: mean = 0.86112, kidney = 0.9",
    "'Total':\r\n 0.5",
    "{'rouge1': '38.86', 'rougeL': 1e3}",
    "good=1,\ntotal=2",
    f"mAP=20.0%hash={SHA}",
    f"hash={SHA}",
    "hash=None",
    "caf\xe9 accuracy=1",
    "",
    "\r",
    "\x00accuracy=5",
]


def _accuracy_both(path: Path, monkeypatch: pytest.MonkeyPatch, patterns=accuracy_module.ACCURACY_PATTERNS):
    fast = accuracy_module.parse_accuracy_txt(path, patterns=patterns)
    with monkeypatch.context() as patch:
        patch.setattr(accuracy_module, "text_or_lines", text_lines)  # lines, never the whole text
        slow = accuracy_module.parse_accuracy_txt(path, patterns=patterns)
    return fast, slow


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r\r\n"])
@pytest.mark.parametrize("final", [True, False])
def test_accuracy_txt_whole_text_and_lines_agree(tmp_path, monkeypatch, newline, final):
    path = tmp_path / "accuracy.txt"
    for first in range(len(ACCURACY_LINES)):
        for last in range(first, len(ACCURACY_LINES) + 1):
            body = newline.join(line.encode() for line in ACCURACY_LINES[first:last])
            path.write_bytes(body + (newline if final and body else b""))
            _same(*_accuracy_both(path, monkeypatch), (first, last))


def test_accuracy_txt_odd_bytes_agree(tmp_path, monkeypatch):
    path = tmp_path / "accuracy.txt"
    for data in (b"", b"\n", b"\xff\xfeaccuracy=1%\n", b"mAP=\xe92.0%\nmAP=3%", b"\x01\x02" * 300, b"accuracy=" * 999):
        path.write_bytes(data)
        _same(*_accuracy_both(path, monkeypatch), data[:20])


def test_accuracy_txt_patterns_that_are_not_line_local(tmp_path, monkeypatch):
    """A regex whose whole-text search may fail where a line matches (an anchor, a lookahead, a
    word boundary) is never ruled out: it is searched on every line, as before."""
    only = [
        accuracy_module.AccuracyPattern(id="end", metric="end", regex=r"score=(?P<v>\d+)$", anchor="start"),
        accuracy_module.AccuracyPattern(id="ahead", metric="a", regex=r"s=(?P<v>\d+)(?!.)", anchor="start"),
        accuracy_module.AccuracyPattern(id="word", metric="w", regex=r"t=(?P<v>\d+)\s*+\b", anchor="start"),
    ]
    path = tmp_path / "accuracy.txt"
    path.write_bytes(b"score=1\nxs=2\nt=3\n.t=4\n")  # no whole-text match of the first or last
    fast, slow = _accuracy_both(path, monkeypatch, only)
    _same(fast, slow, "not line-local")
    assert [(r.metric, r.line) for r in fast.model.metrics] == [("end", 1), ("a", 2), ("w", 3), ("w", 4)]
    assert all(accuracy_module._line_local(p.regex) for p in accuracy_module.ACCURACY_PATTERNS)
    assert not any(accuracy_module._line_local(p.regex) for p in only)


@pytest.mark.parametrize("round_name", ROUNDS)
def test_accuracy_txt_whole_text_and_lines_agree_on_the_corpus(corpus, round_name, monkeypatch):
    for path in sorted(corpus(round_name).rglob("accuracy.txt")):
        _same(*_accuracy_both(path, monkeypatch), path)


# --------------------------------------------------------------------------------------------------
# JSON key positions: a flat object read by two regexes; plain values stepped over by one

FLAT_TEXTS = [
    '{"a": "x", "b": 1, "c": -2.5e+3, "d": true, "e": false, "f": null}',
    ' \r\n\t{ "a" :\n "x" ,"a":0,\n\n  "é\tx": "raw\ttab", "n": null}  ',  # a repeat, a raw tab
    '{"a": "x:", ":1": 2, "": "", "b": ",\\"c\\": 1"}',  # colons and escapes inside strings
    '{"a": 01}', '{"a": 1.}', '{"a": .5}', '{"a": 1e}', '{"a": -}', '{"a": -Infinity}', '{"a": NaN}',
    '{"a": ' + "9" * 150 + "}", '{"a": ' + "9" * 5000 + "}", '{"a": 1' + "0" * 99 + "}",
    '{"a": tru}', '{"a": "x" "b": 1}', '{"a": 1,}', '{,"a": 1}', '{"a" 1}', '{"a": 1}}', '{"a": 1}x',
    "{}", "{ }", "", "{", '{"a": "x\n y"}', '{"a": "\\u00e9"}', '{"a\\u00e9": 1}', '{"a": [1], "b": 2}',
    '{"a": {"b": 1}, "c": "d"}',
]


@pytest.mark.parametrize("text", FLAT_TEXTS)
def test_flat_object_keys_agree_with_the_other_scanners(text):
    from checker.parse.json_lines import _keys_of_flat_object, _keys_of_well_formed_object, _scan_tokens

    flat = _keys_of_flat_object(text)
    if flat is not None:
        assert flat == _scan_tokens(text) == _keys_of_well_formed_object(text)
        json.loads(text, strict=False)  # only JSON is read as flat
    whole = _keys_of_well_formed_object(text)
    if whole is not None:
        assert whole == _scan_tokens(text)


def test_flat_object_path_is_taken():
    from checker.parse.json_lines import _keys_of_flat_object

    keys = _keys_of_flat_object(FLAT_TEXTS[1])
    assert [(k.name, k.line, k.column) for k in keys] == [("a", 2, 4), ("a", 3, 7), ("é\tx", 5, 3), ("n", 5, 21)]
    assert _keys_of_flat_object('{"a": [1]}') is None


@pytest.mark.parametrize("value", [
    '"x"', '""', '"a\\"b"', '"\t"', "0", "-0", "01", "1.", "1.5", ".5", "-", "-x", "1e5", "1E+5", "1e", "1e+",
    "2.5e-3x", "9" * 99, "9" * 101, "9" * 5000, "true", "tru", "false", "null", "nul", "NaN", "-Infinity",
    "[1, 2]", '{"a": 1}', "x", "", '"unterminated', "\u0661", "1\u0661",
])
def test_plain_value_skip_ends_where_the_decoder_ends(value):
    from checker.parse.json_lines import _VALUE_SKIPPER, _skip_value

    for text in (value, "  " + value + ", ", value + "}"):
        start = 2 if text.startswith("  ") else 0
        try:
            expected = _VALUE_SKIPPER.raw_decode(text, start)[1]
        except (ValueError, RecursionError):
            expected = None
        assert _skip_value(text, start) == expected, text


# --------------------------------------------------------------------------------------------------
# spl.txt: every line a usual sample, read by one findall

SAMPLE = "Time,03-03-2021 00:42:{s:02d}.170,Watts,3.04,Volts,248.95,Amps,0.0296,PF,0.41,Mark,{mark}"
ODD_SAMPLE_LINES = [
    "", " ", "\r", "Time,03-03-2021 00:42:30.170,Watts,nan,Mark,m", "Time,02-30-2021 00:42:30.170,Watts,1,Mark,m",
    "Time,03-03-2021 24:42:30.170,Watts,1,Mark,m", "Time,03-03-2021 00:42:30.170,Watts,1,Volts,2,Mark,a,b",
    "Time,03-03-2021 00:42:30.170,Watts,1,Mark,", "Time,03-03-2021 00:42:30.170,Watts,1,Mark,Mark,x",
    "Time,03-03-2021 00:42:30.170,Watts,1,Mark,m\x0b", "Watts,1", "caf\xe9", "Time,\u0663\u0663-03-2021 00:42:30.170,Watts,1,Mark,m",
]


def _power_both(path: Path, monkeypatch: pytest.MonkeyPatch):
    import checker.parse.power as power_module

    fast = power_module.parse_spl(path)
    with monkeypatch.context() as patch:
        patch.setattr(power_module, "text_or_lines", text_lines)  # lines, never the whole text
        slow = power_module.parse_spl(path)
    return fast, slow


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("final", [True, False])
def test_power_whole_text_and_lines_agree(tmp_path, monkeypatch, newline, final):
    path = tmp_path / "spl.txt"
    usual = [SAMPLE.format(s=s, mark="r1" if s < 3 else "t") for s in range(6)]
    for odd in [None, *ODD_SAMPLE_LINES]:
        for at in (0, 3, 6):
            lines = usual[:at] + ([] if odd is None else [odd]) + usual[at:]
            body = newline.join(line.encode("utf-8", "surrogatepass") for line in lines)
            path.write_bytes(body + (newline if final else b""))
            _same(*_power_both(path, monkeypatch), (odd, at))
    path.write_bytes(b"\n".join(line.encode() for line in usual) + b"\n")
    fast, _ = _power_both(path, monkeypatch)
    import checker.parse.power as power_module

    assert power_module._all_usual_text(path.read_text()) is not None  # the findall path was taken
    assert fast.model.lines == [1, 2, 3, 4, 5, 6] and fast.model.marks == ["r1", "t"]


def test_power_odd_files_agree(tmp_path, monkeypatch):
    path = tmp_path / "spl.txt"
    for data in (b"", b"\n", b"\n\n", b"\xff" + SAMPLE.format(s=1, mark="m").encode(), b"\x00\x01" * 400):
        path.write_bytes(data)
        _same(*_power_both(path, monkeypatch), data[:20])


# --------------------------------------------------------------------------------------------------
# conf files: a small one read in one piece, not checked, measured and opened again line by line

CONF_TEXTS = [
    b"", b"\n", b"  \t\n\n", b"# comment\n*.*.target_qps = 10\n", b"*.Offline.min_duration = 600000\r\n#x = 1\r\n",
    b"resnet50.Server.target_latency = 15 # note\nkey=1\nkey =\nkey\n#key = 1\n",
    b"*.*.mode = \xff2\n", b"a.b.c = 1", b"a.b.c = 1\na.b.c = 2\n", b"\x00\x01\x02" * 300, b"a.b.c = 1\r",
]


def _conf_both(path: Path, monkeypatch: pytest.MonkeyPatch):
    import checker.parse.conf as conf_module

    fast = conf_module.parse_conf(path)
    with monkeypatch.context() as patch:
        patch.setattr(conf_module, "read_small_bytes", lambda *args: None)  # the careful path
        slow = conf_module.parse_conf(path)
    return fast, slow


@pytest.mark.parametrize("name", ["mlperf.conf", "user.conf", "audit.config"])
def test_conf_small_read_and_careful_path_agree(tmp_path, monkeypatch, name):
    path = tmp_path / name
    for data in CONF_TEXTS:
        path.write_bytes(data)
        _same(*_conf_both(path, monkeypatch), data[:30])
    (tmp_path / "folder.conf").mkdir()
    _same(*_conf_both(tmp_path / "folder.conf", monkeypatch), "folder")
    _same(*_conf_both(tmp_path / "missing.conf", monkeypatch), "missing")


# --------------------------------------------------------------------------------------------------
# verification outputs: a line is split at step starts only when it can hold one


@pytest.mark.parametrize("text", [
    "TEST PASS", "x TEST FAILy", "TEST  PASS", "TESTPASS", "Verifying performance.", "aVerifying accuracy",
    "Verifying  accuracy", "reference score = 1", "test score = 2TEST PASSVerifying accuracy.", "TEST\tPASS", "",
])
def test_verify_lines_are_split_only_where_a_step_can_start(text):
    from checker.parse.verify import _SEGMENT_START, _may_split

    if _SEGMENT_START.search(text):
        assert _may_split(text)
    if not _may_split(text):
        assert [s for s in _SEGMENT_START.split(text) if s.strip()] == ([text] if text.strip() else [])



class _OsWith:
    """The os module as checker.parse.base sees it, with some functions replaced (os itself untouched)."""

    def __init__(self, **replaced: object) -> None:
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


def _scripted_reads(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> None:
    """os.read in checker.parse.base gives at most the next of ``sizes`` bytes per call (short reads)."""
    script = iter(sizes)

    def short(fd: int, count: int) -> bytes:
        return os.read(fd, min(count, next(script, count)))

    monkeypatch.setattr(base_module, "os", _OsWith(read=short))


def test_read_small_bytes_reads_on_after_a_short_read(tmp_path, monkeypatch):
    """Only a first read of exactly the fstat size ends the read: after a short one it reads on to the end."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789" * 10)
    _scripted_reads(monkeypatch, [30, 70])  # the second read makes up the size: still read to the end
    assert base_module.read_small_bytes(path, 1000) == b"0123456789" * 10
    _scripted_reads(monkeypatch, [1, 1, 1])
    assert base_module.read_small_bytes(path, 1000) == b"0123456789" * 10
    _scripted_reads(monkeypatch, [])
    assert base_module.read_small_bytes(path, 100) == b"0123456789" * 10
    assert base_module.read_small_bytes(path, 99) is None


def test_read_small_bytes_sees_a_file_that_grew_since_its_fstat(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_bytes(b"abc")

    def stale(fd: int) -> os.stat_result:  # as if the file was measured before the append below
        info = os.fstat(fd)
        with open(path, "ab") as handle:
            handle.write(b"defg")
        return info

    monkeypatch.setattr(base_module, "os", _OsWith(fstat=stale))
    assert base_module.read_small_bytes(path, 100) == b"abcdefg"
    assert base_module.read_small_bytes(path, 8) is None  # grew past the limit: the careful path
