"""mlperf_log_accuracy.json: the fast tiers (numpy, regex, bulk JSON) read exactly what the careful one does.

``parse_accuracy_log(path, fast_paths=False)`` reads every entry with ``json.loads``; the default first
tries LoadGen's exact layout with numpy, then a regular expression, then one ``json.loads`` per region.
Whatever the input, the two must give the same model (every field and array) and the same problems.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from corpus_cache import ROUNDS

import checker.parse.accuracy_log as acc
from checker.parse.accuracy_log import (
    AccuracyLog,
    PayloadUnavailableError,
    iter_entries,
    parse_accuracy_log,
    payload_digest,
)

ARRAYS = ("seq_id", "qsl_idx", "payload_sizes", "payload_offsets", "payload_lengths", "token_count")


@pytest.fixture(autouse=True)
def strict_fast_paths(monkeypatch):
    """An exception inside the numpy tier fails the test instead of quietly handing the region on."""
    monkeypatch.setattr(acc, "_RAISE_FAST_PATH_ERRORS", True)


@pytest.fixture
def numpy_everywhere(monkeypatch):
    """Let the numpy tier try every region, however small (it normally skips regions under 8 KiB),
    in batches of 7 entries and scan steps of 1000 bytes, so that their boundaries fall everywhere."""
    monkeypatch.setattr(acc, "_NUMPY_MIN_BYTES", 0)
    monkeypatch.setattr(acc, "_BATCH", 7)
    monkeypatch.setattr(acc, "_SCAN_BYTES", 1000)


class TierSpy:
    """Counts what the numpy tier accepted and declined."""

    def __init__(self, monkeypatch) -> None:
        self.accepted = 0
        self.declined = 0
        real = acc._Builder._numpy

        def spy(builder, *args):
            got = real(builder, *args)
            if got is None:
                self.declined += 1
            else:
                self.accepted += 1
            return got

        monkeypatch.setattr(acc._Builder, "_numpy", spy)


@pytest.fixture
def tier_spy(monkeypatch) -> TierSpy:
    return TierSpy(monkeypatch)


def assert_same(fast, careful, where: str = "") -> None:
    """Same problems, same model fields, same arrays (dtype and values)."""
    assert [p.model_dump() for p in fast.problems] == [p.model_dump() for p in careful.problems], where
    if careful.model is None:
        assert fast.model is None, where
        return
    assert fast.model.model_dump() == careful.model.model_dump(), where
    for name in ARRAYS:
        a, b = getattr(fast.model, name), getattr(careful.model, name)
        if b is None:
            assert a is None, (where, name)
        else:
            assert a.dtype == b.dtype == np.int64, (where, name)
            assert np.array_equal(a, b), (where, name)


def both(path: Path, **kwargs):
    return parse_accuracy_log(path, **kwargs), parse_accuracy_log(path, fast_paths=False, **kwargs)


# --------------------------------------------------------------------------------------------------
# Synthetic logs in LoadGen's layout


def loadgen_log(
    n: int,
    seed: int = 1,
    payload_bytes: tuple[int, ...] = (4,),
    token_count: str = "none",  # none | all | some
    seq_digits: int = 0,  # 0: 0..n-1; otherwise random numbers of that many digits
) -> tuple[bytes, list[tuple[int, int, bytes, int | None]]]:
    """A log as LoadGen writes it, and its entries (seq_id, qsl_idx, payload, token_count)."""
    rnd = random.Random(seed)
    entries = []
    lines = []
    for i in range(n):
        seq = i if not seq_digits else rnd.randrange(10 ** (seq_digits - 1), 10**seq_digits)
        qsl = rnd.randrange(max(n // 2, 1))
        payload = rnd.randbytes(rnd.choice(payload_bytes))
        tc = None
        if token_count == "all" or (token_count == "some" and i % 3 == 0):
            tc = rnd.choice([0, 1, 7, 10, 1024, 9999999])
        entries.append((seq, qsl, payload, tc))
        tail = "" if tc is None else f', "token_count" : {tc}'
        lines.append(f'{{ "seq_id" : {seq}, "qsl_idx" : {qsl}, "data" : "{payload.hex().upper()}"{tail} }}')
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode(), entries


def check_entries(model: AccuracyLog, entries, path: Path) -> None:
    """The model matches the generated entries, and each offset points at the payload's hex text."""
    raw = path.read_bytes()
    assert model.seq_id.tolist() == [e[0] for e in entries]
    assert model.qsl_idx.tolist() == [e[1] for e in entries]
    assert model.payload_sizes.tolist() == [len(e[2]) for e in entries]
    for i, (off, n) in enumerate(zip(model.payload_offsets.tolist(), model.payload_lengths.tolist(), strict=True)):
        assert raw[off : off + n] == entries[i][2].hex().upper().encode()
    assert list(model.iter_payloads()) == [e[2] for e in entries]


SHAPES = [
    pytest.param({"payload_bytes": (4,)}, id="classification"),
    pytest.param({"payload_bytes": (0, 1, 2, 3, 4, 5, 6, 7, 8)}, id="short-mixed"),
    pytest.param({"payload_bytes": (8,)}, id="8-bytes"),
    pytest.param({"payload_bytes": (9, 40, 300)}, id="long-mixed"),
    pytest.param({"payload_bytes": (4,), "token_count": "all"}, id="token-count"),
    pytest.param({"payload_bytes": (4, 64), "token_count": "some"}, id="token-count-some"),
    pytest.param({"payload_bytes": (4,), "seq_digits": 9}, id="9-digit-seq"),
    pytest.param({"payload_bytes": (6,), "seq_digits": 15}, id="15-digit-seq"),
    pytest.param({"payload_bytes": (4,), "seq_digits": 16}, id="16-digit-seq"),
    pytest.param({"payload_bytes": (4,), "seq_digits": 18}, id="18-digit-seq"),
]


@pytest.mark.parametrize("batches", ["default", "small"])
@pytest.mark.parametrize("shape", SHAPES)
def test_loadgen_layout_all_tiers_agree(tmp_path, request, shape, batches):
    if batches == "small":
        request.getfixturevalue("numpy_everywhere")
    text, entries = loadgen_log(3000, **shape)
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(text)
    for chunk in (acc.DEFAULT_CHUNK_BYTES, 20_000, 4096):
        fast, careful = both(path, chunk_bytes=chunk)
        assert fast.ok and fast.model.complete_json, fast.problems
        assert_same(fast, careful, f"chunk {chunk}")
        check_entries(fast.model, entries, path)
        tcs = [-1 if e[3] is None else e[3] for e in entries]
        assert (fast.model.token_count is None) == (shape.get("token_count", "none") == "none")
        if fast.model.token_count is not None:
            assert fast.model.token_count.tolist() == tcs


def test_numpy_tier_takes_loadgen_logs(tmp_path, tier_spy):
    """The numpy tier does read LoadGen's layout (the equality tests above are not vacuous)."""
    text, _ = loadgen_log(5000)
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(text)
    assert parse_accuracy_log(path).ok
    assert tier_spy.accepted == 1 and tier_spy.declined == 0


@pytest.mark.parametrize(("first", "chunk"), [(256 << 10, acc.DEFAULT_CHUNK_BYTES), (4099, 300_001), (1, 1 << 20)])
def test_threaded_reads_growing_chunks(tmp_path, monkeypatch, first, chunk):
    """A log large enough for the reading thread: its first read (in the caller's thread) is small and
    the next ones grow up to the chunk size; entries, problems and SHA-256 do not depend on where the
    reads end (here inside entries, at odd sizes)."""
    monkeypatch.setattr(acc, "_FIRST_READ_BYTES", first)
    text, entries = loadgen_log(25_000, payload_bytes=(4, 8))
    assert len(text) > acc._THREAD_MIN_BYTES
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(text)
    fast, careful = both(path, chunk_bytes=chunk)
    assert fast.ok and fast.model.complete_json, fast.problems
    assert fast.model.content_sha256() == hashlib.sha256(text).hexdigest()
    assert_same(fast, careful, f"first {first}, chunk {chunk}")
    check_entries(fast.model, entries, path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (rb'"qsl_idx" : \d+', b'"qsl_idx" : 017'),  # leading zero: not JSON
        (rb'"seq_id" : \d+', b'"seq_id" :  5'),  # other spacing: the regex tier
        (rb'"seq_id" : \d+', b'"seq_id" : -5'),  # negative
        (rb'"seq_id" : \d+', b'"seq_id" : 5.0'),  # not an integer
        (rb'"seq_id" : \d+', b'"seq_id" : 99999999999999999999'),  # does not fit in int64
        (rb'"seq_id" : \d+', b'"seq_id" : 9223372036854775807'),  # fits, 19 digits: careful tier
        (rb'"seq_id" : \d+', b'"seq_id" : 9223372036854775808'),  # 2**63
        (rb"\},\n\{", b"}\n,{"),  # other gap
        (rb"\},\n\{", b"},\r\n{"),  # CRLF gap
        (rb"\},\n\{", b"},\x0c{"),  # form feed is not JSON whitespace
        (rb"\},\n\{", b"}\n{"),  # missing comma
        (rb"\},\n\{", b"},\n}\n{"),  # stray brace
        (rb"\},\n\{", b",\n{"),  # an entry left open
        (rb'"data" : "', b'"data" : "ab'),  # lower-case hex
        (rb'"data" : "', b'"data" : "G0'),  # not hex
        (rb'"data" : "', b'"data" : "0'),  # odd length
        (rb'"data" : "', b'"data" : "\\u0041B'),  # an escape
        (rb'"data" : "', b'"d\\u0061ta" : "'),  # an escaped key
        (rb'"data" : "', b'"data" : "AB", "data" : "'),  # a repeated key
        (rb" \}", b', "token_count" : 12 }'),  # token_count on one entry only: still LoadGen's layout
        (rb" \}", b', "token_count" : -1 }'),
        (rb" \}", b', "token_count" : 012 }'),
        (rb" \}", b', "token_count" : 12345678 }'),  # 8 digits: beyond the numpy tier, still valid
        (rb" \}", b', "token_count" : null }'),
        (rb" \}", b', "token_count" : true }'),
        (rb" \}", b', "token_data" : "0A", "token_count" : 3 }'),
        (rb" \}", b', "token_data" : "0", "token_count" : 3 }'),
        (rb" \}", b', "token_data" : "", "token_count" : 3 }'),  # present though empty
        (rb" \}", b', "extra" : [1, 2] }'),
        (rb" \}", b"}"),
        (rb'"', b"\xff"),
        (rb'\{ "seq_id"', b'{ "seq_Id"'),
        (rb'\{ "seq_id"', b'{"seq_id"'),
    ],
)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_deviation_hands_the_region_over(tmp_path, numpy_everywhere, tier_spy, old, new, where):
    """One edit in the first, a middle or the last entries: the numpy tier declines, the others agree."""
    text, _ = loadgen_log(400, payload_bytes=(4, 12))
    starts = [m.start() for m in re.finditer(rb"\{", text)]
    at = {"first": starts[0], "middle": starts[200], "last": starts[-2]}[where]
    edited = text[:at] + re.sub(old, new.replace(b"\\", b"\\\\"), text[at:], count=1)
    assert edited != text
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(edited)
    fast, careful = both(path)
    assert_same(fast, careful)
    if new != b', "token_count" : 12 }':
        assert tier_spy.declined >= 1  # the numpy tier saw the region and left it to the others
    else:
        assert tier_spy.declined == 0 and fast.model.token_count_entries == 1


def test_random_mutations_agree(tmp_path, numpy_everywhere):
    """Hundreds of random edits of a LoadGen log: the default and the careful reading always agree."""
    base, _ = loadgen_log(300, payload_bytes=(0, 4, 8, 12, 20), token_count="some")
    alphabet = b'{}[]",: \n\r\t0123456789ABCDEFabcdefx-.e\\\xff\x00'
    rnd = random.Random(2024)
    path = tmp_path / "mlperf_log_accuracy.json"
    for case in range(400):
        text = bytearray(base)
        for _ in range(rnd.choice((1, 1, 1, 2, 3))):
            at = rnd.randrange(len(text))
            op = rnd.random()
            if op < 0.5:
                text[at] = rnd.choice(alphabet)
            elif op < 0.75:
                del text[at : at + rnd.choice((1, 1, 2, 5))]
            else:
                text[at:at] = bytes([rnd.choice(alphabet)])
        path.write_bytes(bytes(text))
        for chunk in (acc.DEFAULT_CHUNK_BYTES, 3000):
            fast, careful = both(path, chunk_bytes=chunk)
            assert_same(fast, careful, f"case {case}, chunk {chunk}")


def test_truncated_and_cut_logs_agree(tmp_path, numpy_everywhere):
    text, _ = loadgen_log(2000, payload_bytes=(4, 8), token_count="some")
    s = text.decode()
    variants = {
        "truncated": s[:4096] + "\n\n...\n\n" + s[-4096:],
        "truncated-crlf": (s[:4096] + "\n\n...\n\n" + s[-4096:]).replace("\n", "\r\n"),
        "cut": s[: len(s) * 2 // 3],
        "cut-between": s[: s.index("{", len(s) // 2)],
        "unclosed": s.rstrip().rstrip("]"),
        "garbage-after": s + "x",
    }
    for name, content in variants.items():
        path = tmp_path / f"{name}.json"
        path.write_text(content, newline="")
        fast, careful = both(path)
        assert_same(fast, careful, name)


# --------------------------------------------------------------------------------------------------
# The real corpus


def complete_corpus_logs(corpus, rounds=ROUNDS):
    for round_name in rounds:
        root = corpus(round_name)
        for path in sorted(root.rglob("mlperf_log_accuracy.json")):
            if path.stat().st_size > acc._TRUNCATED_MAX_BYTES:
                yield path


@pytest.mark.slow
def test_every_complete_corpus_log_same_in_every_tier(corpus):
    """Every complete accuracy log of every round: the default reading equals the careful one."""
    seen = 0
    for path in complete_corpus_logs(corpus):
        fast, careful = both(path)
        assert_same(fast, careful, str(path))
        seen += 1
    assert seen > 140


def test_corpus_tiers_sample(corpus, tier_spy):
    """A quick sample: the largest log of each round in LoadGen's layout (token_data, which only
    LoadGen 4.1's TEST06 logs hold, is left to the regex tier), and logs in other layouts."""
    picks = []
    for round_name in ROUNDS:
        logs = sorted(complete_corpus_logs(corpus, [round_name]), key=lambda p: p.stat().st_size)
        picks += [p for p in logs if b"token_data" not in p.read_bytes()[:4096]][-1:]
        picks += [p for p in logs if b"token_data" in p.read_bytes()[:4096]][-1:]
        picks += [p for p in logs if p.read_bytes()[:64].count(b"\n") > 2][:2]  # pretty-printed
    for path in picks:
        fast, careful = both(path)
        assert_same(fast, careful, str(path))
    assert tier_spy.accepted >= len(ROUNDS)


def test_corpus_payloads_through_offsets(corpus):
    """Payloads read back through the offsets equal json.loads' data, LLM logs with token_count too."""
    checked = 0
    for round_name in ("v0.5", "v6-sample"):
        logs = sorted(complete_corpus_logs(corpus, [round_name]), key=lambda p: p.stat().st_size)
        for path in logs[:: max(1, len(logs) // 4)]:
            m = parse_accuracy_log(path).model
            raw = path.read_bytes()
            objs = json.loads(raw)
            assert [bytes.fromhex(o["data"]) for o in objs] == list(m.iter_payloads())
            tcs = [o.get("token_count", -1) for o in objs]
            assert (m.token_count is None and set(tcs) == {-1}) or m.token_count.tolist() == tcs
            assert (m.payload_lengths == 2 * m.payload_sizes).all()
            checked += 1
    assert checked >= 6


# --------------------------------------------------------------------------------------------------
# Payload access


def test_payload_access(tmp_path):
    text, entries = loadgen_log(4000, payload_bytes=(4, 40))
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(text)
    m = parse_accuracy_log(path).model
    assert m.payload(0) == entries[0][2] and m.payload(3999) == entries[3999][2]
    q = entries[10][1]
    assert m.payloads_for(q) == [e[2] for e in entries if e[1] == q]
    assert m.payloads_for(10**9) == []
    assert m.payload_digest(5) == payload_digest(entries[5][2])
    assert m.digests_by_qsl()[q] == [payload_digest(e[2]) for e in entries if e[1] == q]
    # The file changes or goes away: reading a payload says so instead of returning wrong bytes.
    with open(path, "ab") as handle:
        handle.write(b"\n")
    with pytest.raises(PayloadUnavailableError):
        m.payload(0)
    os.remove(path)
    with pytest.raises(PayloadUnavailableError):
        m.payload(0)


def test_small_logs_keep_their_bytes(tmp_path):
    """Logs up to 32 KiB (truncated ones included) are read back from memory, not from the file."""
    text, entries = loadgen_log(50)
    path = tmp_path / "mlperf_log_accuracy.json"
    path.write_bytes(text)
    m = parse_accuracy_log(path).model
    os.remove(path)
    assert list(m.iter_payloads()) == [e[2] for e in entries]


def test_truncated_crlf_offsets_are_file_offsets(tmp_path):
    text, entries = loadgen_log(2000, payload_bytes=(4, 8))
    s = text.decode()
    trunc = (s[:4096] + "\n\n...\n\n" + s[-4096:]).replace("\n", "\r\n").encode()
    path = tmp_path / "t.json"
    path.write_bytes(trunc)
    m = parse_accuracy_log(path).model
    assert m.truncated and m.entry_count > 100
    by_seq = {e[0]: e[2] for e in entries}
    for i, seq in enumerate(m.seq_id.tolist()):
        off, n = int(m.payload_offsets[i]), int(m.payload_lengths[i])
        assert trunc[off : off + n] == by_seq[seq].hex().upper().encode()
        assert m.payload(i) == by_seq[seq]


def test_escaped_payloads(tmp_path):
    """The careful tier locates values written with escapes, or under an escaped key."""
    body = [
        '{"seq_id": 0, "qsl_idx": 1, "data": "\\u0041B"}',
        '{"seq_id": 1, "qsl_idx": 2, "d\\u0061ta": "CDEF"}',
        '{"seq_id": 2, "qsl_idx": 3, "data": "00", "data": "01", "x": "\\"data\\": \\"02\\""}',
        '{"seq_id": 3, "qsl_idx": 4, "data": "\\u00e9"}',  # not hex: a bad entry
        '{"seq_id": 4, "qsl_idx": 5, "note": "caf\u00e9", "data": "ff"}',
    ]
    path = tmp_path / "esc.json"
    path.write_text("[\n" + ",\n".join(body) + "\n]\n", encoding="utf-8")
    res = parse_accuracy_log(path)
    m = res.model
    assert [p.code for p in res.problems] == ["bad_data"]
    assert m.entry_count == 4 and m.lowercase_hex_entries == 1
    assert list(m.iter_payloads()) == [b"\xab", b"\xcd\xef", b"\x01", b"\xff"]
    raw = path.read_bytes()
    spans = [raw[o : o + n] for o, n in zip(m.payload_offsets.tolist(), m.payload_lengths.tolist(), strict=True)]
    assert spans == [b"\\u0041B", b"CDEF", b"01", b"ff"]
    assert [e.data for e in iter_entries(path)] == [b"\xab", b"\xcd\xef", b"\x01", b"\xff"]


def test_fifo_is_not_opened(tmp_path):
    """A FIFO where the log should be is reported, not opened (reading it would block forever)."""
    path = tmp_path / "mlperf_log_accuracy.json"
    os.mkfifo(path)
    res = parse_accuracy_log(path)
    assert res.model is None and [p.code for p in res.problems] == ["not_a_file"]
    assert list(iter_entries(path)) == []


def test_model_without_source():
    """A model built by hand has no file behind it: asking for payloads says so."""
    m = AccuracyLog(size=0, entry_count=1,
                    payload_offsets=np.zeros(1, np.int64), payload_lengths=np.zeros(1, np.int64))
    with pytest.raises(PayloadUnavailableError):
        m.payload(0)
    assert list(AccuracyLog(size=0).iter_payloads()) == []
    assert m.sha256 is None  # nothing to hash: dumps say so, content_sha256() raises
    with pytest.raises(PayloadUnavailableError):
        m.content_sha256()


# --------------------------------------------------------------------------------------------------
# Bounded memory


def test_memory_does_not_grow_with_the_file(tmp_path):
    """A 64 MB log of large entries is read with a few chunks of memory, whatever its size."""
    path = tmp_path / "big.json"
    payload = bytes(range(256)) * 64  # 16 KiB payload, 32 KiB of hex per entry
    line = payload.hex().upper()
    with open(path, "w") as handle:
        handle.write("[\n")
        n = 2000
        for i in range(n):
            handle.write(f'{{ "seq_id" : {i}, "qsl_idx" : {i}, "data" : "{line}" }}' + (",\n" if i < n - 1 else "\n"))
        handle.write("]\n")
    size = path.stat().st_size
    assert size > 64e6
    chunk = 2 << 20
    tracemalloc.start()
    try:
        res = parse_accuracy_log(path, chunk_bytes=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.ok and res.model.entry_count == 2000
    assert peak < 8 * chunk, peak  # chunks in flight (parsing, hashing) and per-region temporaries
    assert res.model.payload(1999) == payload
