"""Byte-identical files parse once (checker/parse/memo.py), and nothing else is ever taken for a copy.

The files are real LoadGen output from the bundled sample submission (produced by the real LoadGen
with an ONNX Runtime system under test, see reference_runs/README.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from checker.parse.kinds import parser_for
from checker.parse.memo import TAIL_BYTES, ContentMemo

SAMPLE = Path(__file__).resolve().parent.parent / "reference_runs" / "sample_submission"
DETAIL = next(SAMPLE.rglob("results/*/*/*/performance/run_1/mlperf_log_detail.txt"))
CONF = next(SAMPLE.rglob("measurements/*/*/*/mlperf.conf"))


def _place(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _counting(kind: str, calls: list[Path]):
    parse = parser_for(kind)

    def wrapped(path, root=None):
        calls.append(path)
        return parse(path, root=root)

    return wrapped


def _parse_in_turn(kind: str, paths: list[Path], root: Path) -> tuple[ContentMemo, list[Path], list]:
    """One memo parses ``paths`` in order: the memo, the paths the parser really read, the results."""
    memo, calls = ContentMemo(), []
    parse = _counting(kind, calls)
    return memo, calls, [memo.parse(kind, path, root, parse) for path in paths]


def test_a_copy_reuses_the_parse_with_its_own_path(tmp_path):
    data = DETAIL.read_bytes() + b"not a record\n"  # a parse problem, to see its path moved too
    first = _place(tmp_path, "results/a/mlperf_log_detail.txt", data)
    second = _place(tmp_path, "compliance/a/mlperf_log_detail.txt", data)
    memo, calls, (one, two) = _parse_in_turn("loadgen_detail", [first, second], tmp_path)
    assert calls == [first] and memo.reused == 1
    assert two.path == "compliance/a/mlperf_log_detail.txt"
    assert two.problems and {p.path for p in two.problems} == {"compliance/a/mlperf_log_detail.txt"}
    assert {p.path for p in one.problems} == {"results/a/mlperf_log_detail.txt"}  # the first is untouched
    direct = parser_for("loadgen_detail")(second, root=tmp_path)
    assert two.model_dump(mode="json") == direct.model_dump(mode="json")


def test_same_size_and_same_tail_but_another_byte_is_parsed_again(tmp_path):
    data = DETAIL.read_bytes()
    assert len(data) > 2 * TAIL_BYTES
    changed = bytearray(data)
    at = data.index(b'"time_ms": ') + len(b'"time_ms": ')  # a digit on the first line, far from the tail
    changed[at] = ord("7") if data[at] != ord("7") else ord("8")
    first = _place(tmp_path, "a/mlperf_log_detail.txt", data)
    second = _place(tmp_path, "b/mlperf_log_detail.txt", bytes(changed))
    memo, calls, _ = _parse_in_turn("loadgen_detail", [first, second], tmp_path)
    assert calls == [first, second] and memo.reused == 0


def test_same_bytes_under_another_name_is_parsed_again(tmp_path):
    """mlperf.conf and user.conf with the same lines are read differently (LoadGen's rules differ)."""
    data = CONF.read_bytes()
    first = _place(tmp_path, "m/mlperf.conf", data)
    second = _place(tmp_path, "m/user.conf", data)
    memo, calls, (one, two) = _parse_in_turn("conf", [first, second], tmp_path)
    assert calls == [first, second] and memo.reused == 0
    assert one.model.kind != two.model.kind


def test_small_files_that_differ_are_never_confused(tmp_path):
    """Files under TAIL_BYTES are compared whole: same size, one byte apart."""
    data = CONF.read_bytes()
    assert len(data) <= TAIL_BYTES
    changed = data.replace(b"=", b"#", 1)
    assert len(changed) == len(data) and changed != data
    first = _place(tmp_path, "a/mlperf.conf", data)
    second = _place(tmp_path, "b/mlperf.conf", changed)
    third = _place(tmp_path, "c/mlperf.conf", data)
    memo, calls, _ = _parse_in_turn("conf", [first, second, third], tmp_path)
    assert calls == [first, second] and memo.reused == 1


def test_many_files_of_one_size_each_find_their_own_copy(tmp_path, monkeypatch):
    """Ten different files of one name and size, then a copy of each: each copy reuses its own
    original's parse, its tail compared with the ten tails (each read once), not file by file."""
    import checker.parse.memo as memo_module

    data = CONF.read_bytes()
    variants = [data.replace(b"=", str(i).encode(), 1) for i in range(10)]
    assert len({len(v) for v in variants}) == 1 and len(set(variants)) == 10
    originals = [_place(tmp_path, f"a{i}/mlperf.conf", v) for i, v in enumerate(variants)]
    copies = [_place(tmp_path, f"b{i}/mlperf.conf", v) for i, v in enumerate(variants)]
    read: list[Path] = []
    real_tail = memo_module._tail

    def counting_tail(path, size):
        read.append(path)
        return real_tail(path, size)

    real_whole = memo_module._whole

    def counting_whole(path, size):  # a small file read whole: that is its tail
        whole = real_whole(path, size)
        if whole is not None:
            read.append(path)
        return whole

    monkeypatch.setattr(memo_module, "_tail", counting_tail)
    monkeypatch.setattr(memo_module, "_whole", counting_whole)
    checked: list[Path] = []
    real_unchanged = memo_module._unchanged

    def counting_unchanged(twin):
        checked.append(twin.path)
        return real_unchanged(twin)

    monkeypatch.setattr(memo_module, "_unchanged", counting_unchanged)
    memo, calls, parsed = _parse_in_turn("conf", originals + copies, tmp_path)
    results = dict(zip(originals + copies, parsed, strict=True))
    assert calls == originals and memo.reused == 10
    for original, copy in zip(originals, copies, strict=True):
        assert results[copy].model == results[original].model
        assert results[copy].path == copy.relative_to(tmp_path).as_posix()
    assert sorted(read) == sorted(originals + copies)  # each tail read once
    assert checked == originals  # only the file with the same tail is looked at (stat), once per copy


def test_a_copy_in_a_checked_tree_is_parsed_once_and_the_report_is_unchanged(tmp_path, monkeypatch, parser_calls):
    """The engine's parse cache uses the memo: the sample's identical files (one mlperf.conf per
    scenario folder, ...) are parsed once, and the report equals the one made without the memo."""
    from checker.check import run_check
    from checker.engine import evidence

    calls = parser_calls

    class NoMemo:
        reused = 0

        def parse(self, kind, path, root, parser, info=None):
            return parser(path, root=root)

    tree = tmp_path / "tree"
    shutil.copytree(SAMPLE, tree)
    with_memo = run_check(tree).model_dump(mode="json")
    parsed_with_memo = list(calls)
    calls.clear()
    monkeypatch.setattr(evidence, "ContentMemo", NoMemo)
    without = run_check(tree).model_dump(mode="json")
    assert len(calls) > len(parsed_with_memo) > 0
    for report in (with_memo, without):
        report.pop("timings")
    assert with_memo == without


def test_a_file_changed_after_its_parse_is_no_twin_any_more(tmp_path):
    """First parsed with one content, then rewritten (same size, mtime put back) to the bytes of a
    later file: that later file is parsed, not handed the first file's old result."""
    import os

    data = DETAIL.read_bytes()
    other = data.replace(b'"VALID"', b'"DILAV"', 1)
    assert len(other) == len(data) and other != data
    first = _place(tmp_path, "a/mlperf_log_detail.txt", data)
    memo, calls = ContentMemo(), []
    before = first.stat()
    memo.parse("loadgen_detail", first, tmp_path, _counting("loadgen_detail", calls))
    first.write_bytes(other)
    os.utime(first, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = _place(tmp_path, "b/mlperf_log_detail.txt", other)
    result = memo.parse("loadgen_detail", second, tmp_path, _counting("loadgen_detail", calls))
    assert calls == [first, second] and memo.reused == 0
    assert result.model.value("result_validity") == "DILAV"


def test_large_copies_are_compared_byte_for_byte(tmp_path, monkeypatch):
    """Accuracy logs over TAIL_BYTES: a copy reuses the parse; a log with the same tail and size but
    another head does not. The comparison reads both files in blocks (the last block short), no hash."""
    import checker.parse.memo as memo_module

    monkeypatch.setattr(memo_module, "COMPARE_BLOCK", 1000)
    entries = [f'{{ "seq_id" : {i}, "qsl_idx" : {i}, "data" : "{i:08X}" }}' for i in range(400)]
    data = ("[\n" + ",\n".join(entries) + "\n]\n").encode()
    assert len(data) > 2 * TAIL_BYTES and len(data) % 1000
    other = data.replace(b'"qsl_idx" : 1,', b'"qsl_idx" : 7,', 1)
    assert len(other) == len(data) and other[-TAIL_BYTES:] == data[-TAIL_BYTES:] and other != data
    first = _place(tmp_path, "a/mlperf_log_accuracy.json", data)
    copy = _place(tmp_path, "b/mlperf_log_accuracy.json", data)
    changed = _place(tmp_path, "c/mlperf_log_accuracy.json", other)
    memo, calls, _ = _parse_in_turn("accuracy_log", [first, copy, changed], tmp_path)
    assert calls == [first, changed] and memo.reused == 1


def test_the_whole_comparison_sees_a_file_longer_than_its_stat(tmp_path):
    """Same first ``size`` bytes is not enough: a file that grew since its stat is another file."""
    from checker.parse.memo import _same_bytes

    data = bytes(range(256)) * 40
    first = _place(tmp_path, "a/x.json", data)
    assert _same_bytes(first, _place(tmp_path, "b/x.json", data), len(data))
    assert not _same_bytes(first, _place(tmp_path, "c/x.json", data + b"\n"), len(data))
    assert not _same_bytes(first, _place(tmp_path, "d/x.json", data[:-1]), len(data))
    assert not _same_bytes(first, _place(tmp_path, "e/x.json", data[:-1] + b"\0"), len(data))
    assert not _same_bytes(first, tmp_path / "missing.json", len(data))
    grown = _place(tmp_path, "f/x.json", data + b"!")
    assert not _same_bytes(grown, _place(tmp_path, "g/x.json", data + b"!"), len(data))  # both grew alike


def test_a_small_file_with_no_copy_is_parsed_from_the_bytes_the_memo_read(tmp_path, monkeypatch):
    """A small file that has a same-size twin is read whole to compare it; when no twin matches, its
    parser takes those bytes (once) instead of reading the file again, and so parses exactly the
    bytes it was compared by, even when the file changes right after."""
    import checker.parse.base as base
    import checker.parse.conf as conf_module

    text = CONF.read_bytes()
    first = _place(tmp_path, "a/mlperf.conf", text)
    second = _place(tmp_path, "b/mlperf.conf", text[:-1] + (b"!" if text.endswith(b"#") else b"#"))
    assert first.stat().st_size == second.stat().st_size and first.read_bytes() != second.read_bytes()
    memo, reads = ContentMemo(), []
    careful = base.read_small_bytes

    def counting(path, limit):
        handed = base._HANDED.item is not None and base._HANDED.item[0] == path
        reads.append((path, handed))
        return careful(path, limit)

    monkeypatch.setattr(conf_module, "read_small_bytes", counting)
    expected = parser_for("conf")(second, root=tmp_path)
    reads.clear()

    def parse_then_change(path, root=None):
        result = parser_for("conf")(path, root=root)
        if path == second:
            second.write_bytes(b"*.*.mode = 9\n" + b" " * (len(text) - 13))  # after its only read
        return result

    memo.parse("conf", first, tmp_path, parse_then_change)
    assert reads == [(first, False)]
    got = memo.parse("conf", second, tmp_path, parse_then_change)
    assert reads[1:] == [(second, True)]  # the memo's bytes, not a read of the file
    assert got.model_dump() == expected.model_dump()
    assert base._HANDED.item is None  # taken back after the parse


def test_handed_bytes_are_taken_once_and_only_for_their_path(tmp_path):
    from checker.parse.base import hand_over, read_small_bytes

    path, other = _place(tmp_path, "x.txt", b"on disk"), _place(tmp_path, "y.txt", b"other")
    hand_over(path, b"handed")
    try:
        assert read_small_bytes(other, 100) == b"other"
        assert read_small_bytes(path, 3) is None  # longer than the limit: as for a file that long
        assert read_small_bytes(path, 100) == b"on disk"  # taken once (the call above took it)
        hand_over(path, b"handed")
        assert read_small_bytes(path, 100) == b"handed"
        assert read_small_bytes(path, 100) == b"on disk"
    finally:
        hand_over(None)
