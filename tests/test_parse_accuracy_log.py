"""mlperf_log_accuracy.json: the real corpus, official truncation, broken files, round trips."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from corpus_cache import ROUNDS

import checker.parse.accuracy_log as accuracy_log_module
from checker.parse.accuracy_log import (
    DIGEST_SIZE,
    PER_CODE_LIMIT,
    TRUNCATED_MAX_CHARS,
    AccuracyLog,
    decode_payload,
    iter_entries,
    parse_accuracy_log,
    payload_digest,
)


@pytest.fixture(autouse=True)
def strict_fast_paths(monkeypatch):
    """An exception inside the numpy tier fails the test instead of quietly handing the region on."""
    monkeypatch.setattr(accuracy_log_module, "_RAISE_FAST_PATH_ERRORS", True)


# --------------------------------------------------------------------------------------------------
# Synthetic logs


def make_entries(n: int, seed: int = 7, floats: int = 3) -> list[tuple[int, int, bytes]]:
    """(seq_id, qsl_idx, payload) with float32 payloads of varying length; some qsl repeat."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        values = np.array([rnd.uniform(-10, 10) for _ in range(1 + i % floats)], dtype="<f4")
        out.append((i, rnd.randrange(n // 2 + 1), values.tobytes()))
    return out


def loadgen_text(entries, extra=None, lower: bool = False) -> str:
    """The layout LoadGen writes: one entry per line, ',\\n' between entries, '[' and ']' lines."""
    lines = []
    for k, (seq, qsl, data) in enumerate(entries):
        hexed = data.hex() if lower else data.hex().upper()
        tail = extra(k) if extra else ""
        lines.append(f'{{ "seq_id" : {seq}, "qsl_idx" : {qsl}, "data" : "{hexed}"{tail} }}')
    if not lines:
        return "[\n]\n"
    return "[\n" + ",\n".join(lines) + "\n]\n"


def official_truncation(text: str) -> str:
    """What truncate_accuracy_log does: first 4096 chars + marker + last 4096 chars."""
    return text[:4096] + "\n\n...\n\n" + text[-4096:]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def codes(result) -> list[str]:
    return [p.code for p in result.problems]


ENTRIES = make_entries(300)


@pytest.fixture
def full_log(tmp_path) -> Path:
    return write(tmp_path, "mlperf_log_accuracy.json", loadgen_text(ENTRIES))


def test_complete_log_model(full_log):
    res = parse_accuracy_log(full_log, root=full_log.parent)
    assert res.kind == "accuracy_log"
    assert res.path == "mlperf_log_accuracy.json"
    assert res.ok, res.problems
    m = res.model
    raw = full_log.read_bytes()
    assert m.size == len(raw)
    assert m.content_sha256() == hashlib.sha256(raw).hexdigest()
    assert m.complete_json and not m.truncated and not m.partial
    assert m.entry_count == 300
    assert m.seq_id.dtype == np.int64 and m.qsl_idx.dtype == np.int64
    assert m.seq_id.tolist() == [e[0] for e in ENTRIES]
    assert m.qsl_idx.tolist() == [e[1] for e in ENTRIES]
    qsls = [e[1] for e in ENTRIES]
    assert m.unique_qsl_count == len(set(qsls))
    assert m.duplicate_qsl_count == 300 - len(set(qsls)) > 0
    assert m.duplicate_seq_count == 0
    assert (m.min_qsl_idx, m.max_qsl_idx) == (min(qsls), max(qsls))
    assert (m.min_seq_id, m.max_seq_id) == (0, 299)
    assert m.payload_sizes.tolist() == [len(e[2]) for e in ENTRIES]
    assert m.payload_sizes_distinct == [4, 8, 12]
    assert (m.min_payload_bytes, m.max_payload_bytes) == (4, 12)
    assert m.total_payload_bytes == sum(len(e[2]) for e in ENTRIES)
    assert m.line_count == 302
    assert m.token_count is None and m.token_count_entries == 0
    # Each payload is located in the file (the text of its hex) and read back on demand.
    for i in (0, 17, 299):
        off, n = int(m.payload_offsets[i]), int(m.payload_lengths[i])
        assert raw[off : off + n] == ENTRIES[i][2].hex().upper().encode()
        assert m.payload(i) == ENTRIES[i][2]
    assert (m.payload_lengths == 2 * m.payload_sizes).all()
    dup = next(q for q in set(qsls) if qsls.count(q) > 1)
    assert m.payloads_for(dup) == [e[2] for e in ENTRIES if e[1] == dup]
    # One 8-byte BLAKE2b per entry, in file order, computed when first asked for.
    assert len(m.payload_digests) == 300 * DIGEST_SIZE
    assert m.payload_digest(17) == hashlib.blake2b(ENTRIES[17][2], digest_size=8).digest()
    assert m.payload_digests == b"".join(payload_digest(e[2]) for e in ENTRIES)
    assert m.digest_array().dtype == np.dtype("<u8") and m.digest_array().size == 300
    by_qsl = m.digests_by_qsl()
    assert by_qsl[dup] == [payload_digest(e[2]) for e in ENTRIES if e[1] == dup]
    # Heavy arrays stay out of dumps.
    dumped = m.model_dump()
    assert "qsl_idx" not in dumped and "payload_digests" not in dumped and "payload_offsets" not in dumped
    assert dumped["entry_count"] == 300


@pytest.mark.parametrize("span", [1, 64, 1 << 20])
def test_bulk_fingerprints_equal_entry_by_entry(tmp_path, monkeypatch, span):
    """All fingerprints at once (read in spans, each distinct text hashed once) equal one hash per entry,
    for empty, short and long payloads, repeats within and across spans, lower-case hex and a JSON escape."""
    monkeypatch.setattr(accuracy_log_module, "_DIGEST_SPAN", span)
    rnd = random.Random(3)
    # Several distinct payloads of each length, so that repeats must be told apart by content.
    pool = [b"", b"\x01\x02", b"\x02\x01", b"\x07\x07", bytes(range(20)), bytes(range(1, 21)),
            bytes(range(40)), bytes(range(40, 0, -1)), b"\xff" * 3, b"\x00" * 3, bytes(range(25))]
    entries = [(i, i % 50, rnd.choice(pool)) for i in range(440)]
    text = loadgen_text(entries)
    # One payload written with a JSON escape (\u0031 is "1"): its bytes are still 01 02.
    text = text.replace('"data" : "0102"', '"data" : "0\\u003102"', 1).replace(
        '"data" : "FFFFFF"', '"data" : "ffffff"', 1)
    # A long one with two escapes: its text is as wide as the plain texts of 25-byte payloads, so it
    # is among them when their distinct texts are decoded together
    long_text = bytes(range(20)).hex().upper()
    text = text.replace(f'"data" : "{long_text}"', f'"data" : "\\u0030{long_text[1:-1]}\\u0033"', 1)
    model = parse_accuracy_log(write(tmp_path, "mlperf_log_accuracy.json", text)).model
    assert model.entry_count == 440
    assert model.lowercase_hex_entries == 1 and (model.payload_lengths != 2 * model.payload_sizes).sum() == 2
    assert (model.payload_lengths == 50).sum() > 32
    expected = b"".join(payload_digest(e[2]) for e in entries)
    assert model.payload_digests == expected
    assert model.payload_digests == b"".join(map(payload_digest, model.iter_payloads()))


def test_iter_entries_round_trip(full_log):
    entries = list(iter_entries(full_log))
    assert [(e.seq_id, e.qsl_idx, e.data) for e in entries] == ENTRIES
    assert [e.line for e in entries] == list(range(2, 302))
    decoded = decode_payload(entries[5].data, "<f4")
    expected = np.frombuffer(ENTRIES[5][2], dtype="<f4")
    assert decoded is not None and decoded.shape == (3,)
    assert np.array_equal(decoded, expected)
    # Hex text decodes the same way; bad input gives None, not an exception.
    assert np.array_equal(decode_payload(ENTRIES[5][2].hex().upper(), np.float32), expected)
    assert decode_payload("ABC", np.float32) is None
    assert decode_payload("zz", np.uint8) is None
    assert decode_payload(b"\x00\x01\x02", np.float32) is None


def test_same_model_for_any_chunk_size(full_log):
    """Entries straddling chunk boundaries are read the same whatever the chunk size."""
    ref = parse_accuracy_log(full_log).model
    for chunk in (1, 7, 64, 1000, 5000):
        m = parse_accuracy_log(full_log, chunk_bytes=chunk).model
        assert m.complete_json and m.entry_count == 300, chunk
        assert np.array_equal(m.qsl_idx, ref.qsl_idx)
        assert np.array_equal(m.seq_id, ref.seq_id)
        assert np.array_equal(m.payload_offsets, ref.payload_offsets)
        assert m.payload_digests == ref.payload_digests
        assert m.content_sha256() == ref.content_sha256()
        assert m.line_count == ref.line_count


def test_other_layouts_give_the_same_entries(tmp_path):
    """Pretty-printed sorted-key JSON and lower-case hex take the careful path: same arrays."""
    ref = parse_accuracy_log(write(tmp_path, "a.json", loadgen_text(ENTRIES))).model
    objs = [{"seq_id": s, "qsl_idx": q, "data": d.hex().upper()} for s, q, d in ENTRIES]
    pretty = parse_accuracy_log(write(tmp_path, "b.json", json.dumps(objs, indent=4, sort_keys=True)))
    assert pretty.ok, pretty.problems
    assert np.array_equal(pretty.model.qsl_idx, ref.qsl_idx)
    assert pretty.model.payload_digests == ref.payload_digests
    lower = parse_accuracy_log(write(tmp_path, "c.json", loadgen_text(ENTRIES, lower=True)))
    assert lower.ok and lower.model.complete_json
    assert lower.model.lowercase_hex_entries == sum(1 for e in ENTRIES if any(c in "abcdef" for c in e[2].hex()))
    assert lower.model.lowercase_hex_entries > 250
    assert lower.model.payload_digests == ref.payload_digests
    assert ref.lowercase_hex_entries == 0


def test_mixed_layouts_in_one_log(tmp_path):
    """A last entry in another key order is read too (nothing is skipped by the fast path)."""
    entries = make_entries(50)
    lines = loadgen_text(entries).split("\n")
    seq, qsl, data = entries[-1]
    lines[-3] = f'{{"data": "{data.hex().upper()}", "qsl_idx": {qsl}, "seq_id": {seq}}}'
    res = parse_accuracy_log(write(tmp_path, "mixed.json", "\n".join(lines)))
    assert res.ok, res.problems
    assert res.model.entry_count == 50
    assert res.model.qsl_idx.tolist() == [e[1] for e in entries]
    assert res.model.payload_digest(49) == payload_digest(data)


def test_token_count_and_token_data(tmp_path):
    entries = make_entries(20)

    def extra(k):
        return f', "token_data" : "0{k % 10}000000", "token_count" : {k + 1}' if k % 2 else f', "token_count" : {k + 1}'

    path = write(tmp_path, "tok.json", loadgen_text(entries, extra=extra))
    m = parse_accuracy_log(path).model
    assert m.complete_json
    assert m.token_count is not None and m.token_count.tolist() == list(range(1, 21))
    assert m.token_count_entries == 20 and m.token_data_entries == 10
    got = list(iter_entries(path))
    assert got[3].token_count == 4 and got[3].token_data == bytes([3, 0, 0, 0])
    assert got[2].token_data is None
    # token_count only on later entries, read across many small chunks: -1 back-filled.
    late = write(tmp_path, "late.json", loadgen_text(entries, extra=lambda k: f', "token_count" : {k}' if k >= 12 else ""))
    for chunk in (64, 1 << 20):
        m = parse_accuracy_log(late, chunk_bytes=chunk).model
        assert m.token_count.tolist() == [-1] * 12 + list(range(12, 20)) and m.token_count_entries == 8
    bad = path.read_text().replace('"token_data" : "05000000"', '"token_data" : "5G"')
    res = parse_accuracy_log(write(tmp_path, "tok2.json", bad))
    assert [(p.code, p.line) for p in res.problems] == [("bad_data", 7), ("bad_data", 17)]
    assert res.model.entry_count == 20 and res.model.token_data_entries == 10


def test_empty_array_is_complete(tmp_path):
    res = parse_accuracy_log(write(tmp_path, "e.json", "[\n]\n"))
    assert res.ok and res.model.complete_json and res.model.entry_count == 0
    assert res.model.min_qsl_idx is None and res.model.payload_digests == b""


# --------------------------------------------------------------------------------------------------
# Official truncation and broken files


def expected_truncated_entries(full: str) -> list[tuple[int, int]]:
    """Independent expectation: entries of the full log lying wholly in its first or last 4096 chars."""
    out = []
    pos = 0
    for line in full.split("\n"):
        if "{" in line:
            start, end = pos + line.index("{"), pos + line.index("}")
            if end < 4096 or start >= len(full) - 4096:
                obj = json.loads(line.rstrip(","))
                out.append((obj["seq_id"], obj["qsl_idx"]))
        pos += len(line) + 1
    return out


def test_official_truncation(tmp_path):
    full = loadgen_text(ENTRIES)
    assert len(full) > 3 * 4096
    path = write(tmp_path, "t.json", official_truncation(full))
    res = parse_accuracy_log(path)
    assert res.ok, res.problems  # the published shape is not a problem
    m = res.model
    assert m.size == TRUNCATED_MAX_CHARS == 8199
    assert m.truncated and m.truncation_exact and m.partial and m.tail_closed
    assert not m.complete_json
    got = list(zip(m.seq_id.tolist(), m.qsl_idx.tolist(), strict=True))
    assert got == expected_truncated_entries(full)
    assert 0 < m.entry_count < 300
    lines = path.read_text().split("\n")
    assert lines[m.truncation_marker_line - 1] == "..."
    # iter_entries yields the same entries with their payloads.
    ent = list(iter_entries(path))
    assert [(e.seq_id, e.qsl_idx) for e in ent] == got
    by_seq = {s: d for s, _, d in ENTRIES}
    assert all(e.data == by_seq[e.seq_id] for e in ent)
    assert all(lines[e.line - 1].startswith(f'{{ "seq_id" : {e.seq_id},') for e in ent)


def test_official_truncation_with_crlf(tmp_path):
    text = official_truncation(loadgen_text(ENTRIES)).replace("\n", "\r\n")
    res = parse_accuracy_log(write(tmp_path, "w.json", text))
    assert res.ok, res.problems
    m = res.model
    assert m.size > TRUNCATED_MAX_CHARS  # more bytes, same characters once CRLF counts as one
    assert m.truncated and m.truncation_exact
    assert m.entry_count == len(expected_truncated_entries(loadgen_text(ENTRIES)))


def test_truncation_with_other_sizes_is_not_exact(tmp_path):
    full = loadgen_text(ENTRIES)
    res = parse_accuracy_log(write(tmp_path, "t3.json", full[:3000] + "\n\n...\n\n" + full[-4096:]))
    assert res.ok and res.model.truncated and not res.model.truncation_exact
    small = loadgen_text(make_entries(5))  # a short log truncated anyway: head and tail overlap
    res = parse_accuracy_log(write(tmp_path, "t4.json", official_truncation(small)))
    m = res.model
    assert m.truncated and not m.truncation_exact and m.tail_closed
    assert m.entry_count == 10 and m.duplicate_seq_count == 5


def test_truncation_of_an_already_cut_log(tmp_path):
    """The tail of the truncated copy does not close the array: the original was cut."""
    full = loadgen_text(ENTRIES)
    cut = full[: len(full) - 300]
    res = parse_accuracy_log(write(tmp_path, "x.json", official_truncation(cut)))
    m = res.model
    assert m.truncated and m.tail_closed is False
    assert codes(res) == ["original_incomplete"]
    assert res.problems[0].line == m.line_count


def test_marker_in_an_oversized_file_is_not_truncation(tmp_path):
    full = loadgen_text(ENTRIES)
    text = full[:5000] + "\n\n...\n\n" + full[-5000:]  # too long for the official shape
    res = parse_accuracy_log(write(tmp_path, "big.json", text))
    m = res.model
    assert not m.truncated and not m.complete_json and m.partial
    assert "truncation_marker" in codes(res)
    marker = next(p for p in res.problems if p.code == "truncation_marker")
    assert text.split("\n")[marker.line - 1] == "..."


def test_cut_at_a_random_byte(tmp_path):
    full = loadgen_text(ENTRIES)
    cut_at = full.index('{ "seq_id" : 200,') + 23  # inside entry 200
    path = write(tmp_path, "cut.json", full[:cut_at])
    res = parse_accuracy_log(path)
    m = res.model
    assert not m.truncated and not m.complete_json and m.partial
    assert m.entry_count == 200
    assert codes(res) == ["incomplete"]
    assert res.problems[0].line == 202  # entry 200 starts on line 202
    assert m.content_sha256() == hashlib.sha256(full[:cut_at].encode()).hexdigest()


def test_cut_between_entries(tmp_path):
    full = loadgen_text(ENTRIES)
    cut_at = full.index('{ "seq_id" : 120,')
    res = parse_accuracy_log(write(tmp_path, "cut2.json", full[:cut_at]))
    assert res.model.entry_count == 120 and not res.model.complete_json
    assert codes(res) == ["incomplete"]
    assert "not closed" in res.problems[0].message
    assert res.problems[0].line == 121


def test_bad_entries_are_reported_with_lines(tmp_path):
    entries = make_entries(10)
    lines = loadgen_text(entries).split("\n")
    lines[3] = '{ "seq_id" : 2, "data" : "00" },'  # no qsl_idx
    lines[5] = '{ "seq_id" : 4, "qsl_idx" : 4, "data" : "XYZ1" },'  # not hex
    lines[7] = '{ "seq_id" : 6, "qsl_idx" : -3, "data" : "00" },'  # negative
    lines[8] = '{ "seq_id" : 7, "qsl_idx" : 3, "data" : "ABC" },'  # odd length
    res = parse_accuracy_log(write(tmp_path, "bad.json", "\n".join(lines)))
    m = res.model
    assert m.complete_json  # still valid JSON, only the entries are bad
    assert m.entry_count == 6 and m.bad_entry_count == 4
    assert [(p.code, p.line) for p in res.problems] == [
        ("missing_key", 4),
        ("bad_data", 6),
        ("bad_value", 8),
        ("bad_data", 9),
    ]
    assert "qsl_idx" in res.problems[0].message


def test_missing_comma_and_trailing_garbage(tmp_path):
    lines = loadgen_text(make_entries(6)).split("\n")
    lines[2] = lines[2].rstrip(",")
    text = "\n".join(lines) + "garbage\n"
    res = parse_accuracy_log(write(tmp_path, "g.json", text))
    assert not res.model.complete_json
    assert res.model.entry_count == 6
    assert [(p.code, p.line) for p in res.problems] == [("syntax", 4), ("syntax", 9)]  # 8 is "]"


def test_stray_brace_after_the_last_entry(tmp_path):
    """A '}' after the last entry of a region is reported (an earlier fast path ignored it)."""
    lines = loadgen_text(make_entries(6)).split("\n")
    lines.insert(7, "}")
    res = parse_accuracy_log(write(tmp_path, "stray.json", "\n".join(lines)))
    assert not res.model.complete_json and res.model.entry_count == 6
    assert [(p.code, p.line) for p in res.problems] == [("syntax", 8)]


def test_leading_zeros_are_not_json(tmp_path):
    """'007' is not a JSON number: the entry is bad, as json.loads says (an earlier fast path read 7)."""
    lines = loadgen_text(make_entries(6)).split("\n")
    lines[3] = lines[3].replace('"seq_id" : 2,', '"seq_id" : 002,')
    res = parse_accuracy_log(write(tmp_path, "zeros.json", "\n".join(lines)))
    assert res.model.entry_count == 5 and res.model.bad_entry_count == 1
    assert [(p.code, p.line) for p in res.problems] == [("bad_entry", 4)]
    assert not res.model.complete_json


def test_many_bad_entries_are_capped(tmp_path):
    body = ",\n".join(f'{{ "seq_id" : {i}, "data" : "00" }}' for i in range(100))
    res = parse_accuracy_log(write(tmp_path, "many.json", "[\n" + body + "\n]\n"))
    assert res.model.bad_entry_count == 100
    missing = [p for p in res.problems if p.code == "missing_key"]
    assert len(missing) == PER_CODE_LIMIT + 1
    assert "80 further" in missing[-1].message


def test_empty_file(tmp_path):
    res = parse_accuracy_log(write(tmp_path, "empty.json", b""))
    assert codes(res) == ["empty"]
    assert res.model is not None and res.model.size == 0 and res.model.entry_count == 0
    assert res.model.content_sha256() == hashlib.sha256(b"").hexdigest()


def test_binary_garbage(tmp_path):
    data = random.Random(3).randbytes(50_000)
    res = parse_accuracy_log(write(tmp_path, "bin.json", data))
    assert codes(res) == ["binary"]
    assert res.model.content_sha256() == hashlib.sha256(data).hexdigest()
    assert res.model.entry_count == 0 and not res.model.complete_json
    assert list(iter_entries(tmp_path / "bin.json")) == []


def test_non_utf8_bytes(tmp_path):
    lines = loadgen_text(make_entries(8)).split("\n")
    lines[4] = '{ "seq_id" : 3, "qsl_idx" : 1, "data" : "\xff\xfe" },'
    raw = "\n".join(lines).encode("latin-1")
    res = parse_accuracy_log(write(tmp_path, "enc.json", raw))
    assert [(p.code, p.line) for p in res.problems] == [("encoding", 5)]
    assert res.model.entry_count == 7 and not res.model.complete_json
    # The small-file (truncation-shape) check also survives the bad bytes.
    text = official_truncation(loadgen_text(ENTRIES)).encode()
    text = text[:100] + b"\xff" + text[101:]
    res2 = parse_accuracy_log(write(tmp_path, "enc2.json", text))
    assert res2.model.truncated and "encoding" in codes(res2)


def test_ten_megabyte_single_line(tmp_path):
    payload = bytes(range(256)) * (5 * 4096)  # 5 MiB payload → 10 MiB of hex on one line
    text = f'[{{"seq_id": 0, "qsl_idx": 7, "data": "{payload.hex().upper()}"}}]'
    path = write(tmp_path, "one_line.json", text)
    res = parse_accuracy_log(path, chunk_bytes=1 << 20)
    assert res.ok, res.problems
    m = res.model
    assert m.line_count == 1 and m.entry_count == 1 and m.qsl_idx.tolist() == [7]
    assert m.payload_sizes.tolist() == [len(payload)]
    assert m.payload_digest(0) == payload_digest(payload)
    (entry,) = iter_entries(path, chunk_bytes=1 << 20)
    assert entry.data == payload and entry.line == 1


def test_ten_megabyte_garbage_line(tmp_path):
    res = parse_accuracy_log(write(tmp_path, "junk.json", "x" * (10 << 20)), chunk_bytes=1 << 20,
                             max_entry_bytes=2 << 20)
    assert res.model is not None and not res.model.complete_json
    assert set(codes(res)) == {"syntax"} and res.problems[0].line == 1


def test_entry_larger_than_the_limit_is_skipped(tmp_path):
    entries = make_entries(4)
    lines = loadgen_text(entries).split("\n")
    lines.insert(2, f'{{ "seq_id" : 99, "qsl_idx" : 99, "data" : "{"AB" * (3 << 20)}" }},')
    text = "\n".join(lines)
    res = parse_accuracy_log(write(tmp_path, "huge.json", text), chunk_bytes=1 << 16, max_entry_bytes=1 << 20)
    m = res.model
    assert [(p.code, p.line) for p in res.problems] == [("entry_too_large", 3)]
    assert m.entry_count == 4 and m.bad_entry_count == 1
    assert m.qsl_idx.tolist() == [e[1] for e in entries]
    assert m.content_sha256() == hashlib.sha256(text.encode()).hexdigest()
    assert m.line_count == len(lines) - 1  # the file ends with a newline


def test_missing_file_and_directory(tmp_path):
    res = parse_accuracy_log(tmp_path / "nope.json")
    assert res.model is None and codes(res) == ["missing"]
    res = parse_accuracy_log(tmp_path)
    assert res.model is None and codes(res) == ["not_a_file"]
    assert list(iter_entries(tmp_path / "nope.json")) == []
    assert list(iter_entries(tmp_path)) == []


# --------------------------------------------------------------------------------------------------
# The real corpus


def test_every_corpus_log_parses(corpus):
    """Every accuracy log of every round: no exception, right hash, complete or officially truncated.

    The only problem in the whole corpus is the v0.7 Altos 3d-unet TEST01 log, whose truncated
    tail shows that the original log had been cut before it was truncated.
    """
    seen = 0
    problems = []
    shapes = {"complete": 0, "truncated": 0}
    for round_name in ROUNDS:
        root = corpus(round_name)
        for path in sorted(root.rglob("mlperf_log_accuracy.json")):
            res = parse_accuracy_log(path, root)
            m: AccuracyLog = res.model
            assert m is not None, path
            assert m.size == path.stat().st_size
            seen += 1
            problems += [(round_name, p.path, p.code) for p in res.problems]
            assert m.complete_json != m.truncated, path
            shapes["complete" if m.complete_json else "truncated"] += 1
            if m.truncated:
                assert m.truncation_exact and m.size == 8199
            assert m.payload_offsets.size == m.payload_lengths.size == m.entry_count
            assert (m.payload_lengths == 2 * m.payload_sizes).all()  # no escapes anywhere
            if m.entry_count:
                assert m.payload_offsets.min() > 0 and m.payload_offsets.max() < m.size
    assert seen > 1200
    assert shapes["truncated"] > 500 and shapes["complete"] > 600
    assert problems == [
        ("v0.7", "closed/Altos/compliance/T4x4_TRT/3d-unet-99.9/Offline/TEST01/accuracy/mlperf_log_accuracy.json",
         "original_incomplete")
    ]


def test_corpus_logs_agree_with_json(corpus):
    """A sample of complete real logs: the streamed model equals what json.loads says."""
    checked = 0
    for round_name in ROUNDS:
        root = corpus(round_name)
        candidates = [p for p in sorted(root.rglob("mlperf_log_accuracy.json")) if 4 < p.stat().st_size != 8199]
        for path in candidates[:: max(1, len(candidates) // 6)]:
            m = parse_accuracy_log(path).model
            raw = path.read_bytes()
            entries = json.loads(raw)
            assert m.content_sha256() == hashlib.sha256(raw).hexdigest()
            assert m.entry_count == len(entries), path
            assert m.qsl_idx.tolist() == [e["qsl_idx"] for e in entries]
            assert m.seq_id.tolist() == [e["seq_id"] for e in entries]
            assert m.payload_digests == b"".join(payload_digest(bytes.fromhex(e["data"])) for e in entries)
            checked += 1
    assert checked >= 15


def test_known_v05_log(corpus):
    root = corpus("v0.5")
    path = root / "closed/Habana/results/Goya_1/resnet/SingleStream/accuracy/mlperf_log_accuracy.json"
    res = parse_accuracy_log(path, root)
    m = res.model
    assert res.ok and m.complete_json and not m.truncated
    assert m.entry_count == 50000 and m.unique_qsl_count == 50000
    assert (m.min_qsl_idx, m.max_qsl_idx) == (0, 49999)
    assert m.payload_sizes_distinct == [4]
    assert m.content_sha256() == "ebbd7d16a7ebe360b17162b50abc5d8f805b6e6c358cb6eb4c0af6f3bccaa45b"
    first = next(iter_entries(path))
    # '{ "seq_id" : 0, "qsl_idx" : 4885, "data" : "00802044" }': class 642 as a float32.
    assert (first.seq_id, first.qsl_idx, first.line) == (0, 4885, 2)
    assert decode_payload(first.data, "<f4").tolist() == [642.0]
    assert m.payload_digest(0) == payload_digest(bytes.fromhex("00802044"))


def test_known_v10_truncated_log(corpus):
    root = corpus("v1.0")
    path = root / "closed/Alibaba/results/A10x1_TRT/resnet50/Offline/accuracy/mlperf_log_accuracy.json"
    res = parse_accuracy_log(path, root)
    m = res.model
    assert res.ok
    assert m.truncated and m.truncation_exact and m.tail_closed and m.partial and not m.complete_json
    assert m.truncation_marker_line == 73
    assert m.entry_count == 135
    assert m.qsl_idx[:3].tolist() == [31735, 41421, 23281]
    assert m.seq_id[-1] == 49999 and m.qsl_idx[-1] == 18891
    assert m.content_sha256() == "9b67a962f161073e3b3eb4bfcede8127dd353802d0d72f772832315f223d241a"
    first = next(iter_entries(path))
    assert decode_payload(first.data, "<i4").tolist() == [0x371]  # "71030000"


def test_a_streamed_log_is_hashed_only_when_asked(tmp_path, monkeypatch):
    """A log read whole carries its SHA-256 from the parse; a larger one, streamed, is hashed from the
    file on the first content_sha256() (in steps, once), and a file changed since then is refused."""
    from checker.parse.accuracy_log import PayloadUnavailableError

    small = parse_accuracy_log(write(tmp_path, "small.json", loadgen_text([(0, 0, b"\x01")]))).model
    assert small._sha256 == small.content_sha256() == hashlib.sha256((tmp_path / "small.json").read_bytes()).hexdigest()

    monkeypatch.setattr(accuracy_log_module, "_HASH_READ_BYTES", 4096)
    entries = [(i, i, bytes([i % 256]) * 8) for i in range(3000)]
    path = write(tmp_path, "mlperf_log_accuracy.json", loadgen_text(entries))
    model = parse_accuracy_log(path).model
    assert model.entry_count == 3000 and model._sha256 is None and model.size > 40_000
    assert model.content_sha256() == hashlib.sha256(path.read_bytes()).hexdigest()
    path.unlink()  # the hash was kept: the file is not read again
    assert model.content_sha256() == hashlib.sha256(loadgen_text(entries).encode()).hexdigest()
    assert model.model_dump()["sha256"] == model.content_sha256()  # dumps show it (mlperf-audit parse)

    other = write(tmp_path, "other.json", loadgen_text(entries))
    changed = parse_accuracy_log(other).model
    other.write_text(loadgen_text(entries) + " ")
    with pytest.raises(PayloadUnavailableError):
        changed.content_sha256()
    assert changed.model_dump()["sha256"] is None
