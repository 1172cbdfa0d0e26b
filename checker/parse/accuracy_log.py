"""LoadGen's ``mlperf_log_accuracy.json``: a JSON array of ``{"seq_id", "qsl_idx", "data"}`` entries.

Why a hand-made streaming reader instead of ``json.load``: accuracy logs reach hundreds of MB (the
detection, segmentation, recommendation and LLM benchmarks), and the audit needs, in one pass over
the bytes, the SHA-256 that ``accuracy.txt`` claims (``hash=…``), the set of ``qsl_idx`` values
(coverage and duplicates) and a per-entry fingerprint of the payload so that two logs can be
compared per ``qsl_idx`` (TEST01-style) without reading either of them again.

How it stays fast: the file is read in large chunks that are hashed as they arrive (in a worker
thread for large files, since hashlib releases the GIL) and cut right after the last ``}`` so that
no entry straddles two regions. A region in LoadGen's own layout is
decoded by one C-speed ``findall`` over the whole region; the per-entry work left in Python is
``int``/``unhexlify``/``blake2b`` applied through ``map``. Any region that does not fit the fast
layout (other key order, pretty-printed JSON, lower-case hex, bad entries, broken structure) is
re-read entry by entry with ``json.loads``, which is slower but reports each problem with its line.

Published submissions carry a *truncated* log (official-checker.md §9): the first 4096 characters,
``"\\n\\n...\\n\\n"`` and the last 4096 characters. That is the expected shape, not a problem: the
complete entries of the head and the tail are read and the model is marked ``partial``. A file that
is neither complete JSON nor that shape (cut at a random byte, garbage, ...) is reported with the
line where it breaks.
"""

from __future__ import annotations

import binascii
import collections
import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from checker.parse.base import ParseResult, ProblemSink, display_path, file_size, looks_binary, read_head

KIND = "accuracy_log"

#: The official truncation keeps this many characters at each end of the log.
TRUNCATE_KEEP_CHARS = 4096
TRUNCATION_MARKER = "\n\n...\n\n"
#: First 4096 + marker + last 4096 characters: the largest file the official tool writes.
TRUNCATED_MAX_CHARS = 2 * TRUNCATE_KEEP_CHARS + len(TRUNCATION_MARKER)
#: A UTF-8 character is at most 4 bytes, so no truncated log is larger than this many bytes.
_TRUNCATED_MAX_BYTES = 4 * TRUNCATED_MAX_CHARS

#: Digest size (bytes) of the per-entry payload fingerprint.
DIGEST_SIZE = 8
#: Distinct payload sizes kept in the summary (the count of distinct sizes is always exact).
DISTINCT_SIZES_KEPT = 32
#: Problems of one code listed before the rest are only counted.
PER_CODE_LIMIT = 20

DEFAULT_CHUNK_BYTES = 8 << 20
#: A single entry larger than this is reported and skipped instead of being held in memory. Large on
#: purpose: a 3D-UNet entry holds a whole segmentation volume as hex (tens to hundreds of MB).
DEFAULT_MAX_ENTRY_BYTES = 512 << 20

_MARKER_BYTES = TRUNCATION_MARKER.encode()

# One entry in LoadGen's own layout, preceded by the text since the previous entry (the "gap").
# Groups: gap, seq_id, qsl_idx, data, token_data, token_count. The payloads are matched as "anything
# but a quote" (sre scans that ten times faster than a hex class) and validated afterwards with
# ``bytes.translate``; a gap may hold a stray '}' so that the gap check sees it.
_FAST_ENTRY = re.compile(
    rb'([^{]*)\{\s*"seq_id"\s*:\s*(\d{1,18})\s*,\s*"qsl_idx"\s*:\s*(\d{1,18})\s*,\s*"data"\s*:\s*"([^"]*)"\s*'
    rb'(?:,\s*"token_data"\s*:\s*"([^"]*)"\s*)?(?:,\s*"token_count"\s*:\s*(\d{1,18})\s*)?\}'
)
_UPPER_HEX_DIGITS = b"0123456789ABCDEF"
#: Payloads up to this many hex characters are fingerprinted once per distinct value when they repeat
#: (classification logs hold a few hundred distinct class ids among 50,000 entries).
_DEDUP_MAX_HEX = 256
# Any flat object: entries never nest, so braces delimit them.
_OBJECT = re.compile(rb"\{[^{}]*\}")
_OPEN_GAP = re.compile(rb"\s*\[\s*")
_SEP_GAP = re.compile(rb"\s*,\s*")
_CLOSE_GAP = re.compile(rb"\s*\]\s*")
_EMPTY_ARRAY = re.compile(rb"\s*\[\s*\]\s*")
_NON_SPACE = re.compile(rb"\S")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_LOWER_HEX = re.compile(r"[a-f]")

_g0, _g1, _g2, _g3, _g4, _g5 = (operator.itemgetter(i) for i in range(6))
_blake8 = functools.partial(hashlib.blake2b, digest_size=DIGEST_SIZE)
_digest_of = operator.methodcaller("digest")

# Structure states: before '[', between entries, and "resume" (the start of a truncated log's tail,
# where the text before the first whole entry is the end of a cut one, so no ',' is expected).
_START, _IN_ARRAY, _RESUME = 0, 1, 2
_SPACE_GAP = re.compile(rb"\s*")


def payload_digest(payload: bytes) -> bytes:
    """The fingerprint stored per entry: 8-byte BLAKE2b of the decoded payload bytes."""
    return hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest()


def decode_payload(payload: bytes | str, dtype: Any = np.uint8) -> np.ndarray | None:
    """Decode one payload (raw bytes, or the hex text of the log) as a numpy array of ``dtype``.

    LoadGen stores the SUT's response bytes verbatim, so the dtype (and its byte order, normally
    little-endian: ``"<f4"``, ``"<i4"``, ...) is the benchmark's convention. Returns None instead of
    raising when the hex is invalid or the size is not a multiple of the item size, because the
    payload comes from a submission and a check must turn that into a finding, not a crash.
    """
    if isinstance(payload, str):
        try:
            payload = bytes.fromhex(payload)
        except ValueError:
            return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return None
    if dt.itemsize == 0 or len(payload) % dt.itemsize:
        return None
    return np.frombuffer(payload, dtype=dt)


class AccuracyEntry(NamedTuple):
    """One entry as :func:`iter_entries` yields it (a tuple, not a model: millions are yielded)."""

    seq_id: int
    qsl_idx: int
    data: bytes
    line: int
    token_count: int | None = None
    token_data: bytes | None = None


class AccuracyLog(BaseModel):
    """What one accuracy log holds, with compact per-entry arrays (in file order).

    The arrays (``seq_id``, ``qsl_idx``, ``payload_sizes``, ``token_count``) and the digest buffer
    are excluded from dumps: they can hold millions of values and are for checks, not reports.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    size: int = Field(description="file size in bytes")
    sha256: str = Field(description="SHA-256 of the whole file as it is on disk (hex)")
    line_count: int = 0
    truncated: bool = Field(False, description="has the official truncated shape (first/last 4096 chars)")
    truncation_exact: bool = Field(False, description="truncated with exactly 4096 chars each side")
    truncation_marker_line: int | None = None
    tail_closed: bool | None = Field(
        None, description="truncated log whose tail ends the JSON array (False: the original was cut)"
    )
    complete_json: bool = Field(False, description="a JSON array read to its closing bracket without error")
    partial: bool = Field(False, description="the entries are only part of the log (truncated or cut)")
    entry_count: int = 0
    bad_entry_count: int = Field(0, description="objects skipped: missing keys, bad types, non-hex data")
    lowercase_hex_entries: int = Field(0, description="entries whose hex uses a-f (LoadGen writes A-F)")
    token_count_entries: int = 0
    token_data_entries: int = 0
    unique_qsl_count: int = 0
    duplicate_qsl_count: int = Field(0, description="entries whose qsl_idx already appeared earlier")
    duplicate_seq_count: int = 0
    min_qsl_idx: int | None = None
    max_qsl_idx: int | None = None
    min_seq_id: int | None = None
    max_seq_id: int | None = None
    payload_sizes_distinct: list[int] = Field(
        default_factory=list, description=f"sorted distinct payload byte sizes (first {DISTINCT_SIZES_KEPT})"
    )
    payload_sizes_distinct_count: int = 0
    min_payload_bytes: int | None = None
    max_payload_bytes: int | None = None
    total_payload_bytes: int = 0

    seq_id: np.ndarray = Field(default_factory=lambda: np.zeros(0, np.int64), exclude=True, repr=False)
    qsl_idx: np.ndarray = Field(default_factory=lambda: np.zeros(0, np.int64), exclude=True, repr=False)
    payload_sizes: np.ndarray = Field(default_factory=lambda: np.zeros(0, np.int64), exclude=True, repr=False)
    token_count: np.ndarray | None = Field(
        None, exclude=True, repr=False, description="int64 per entry, -1 where absent; None if never present"
    )
    payload_digests: bytes = Field(
        b"", exclude=True, repr=False, description=f"{DIGEST_SIZE} bytes per entry: BLAKE2b of the payload"
    )

    def payload_digest(self, index: int) -> bytes:
        """The payload fingerprint of entry ``index`` (file order)."""
        return self.payload_digests[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE]

    def digest_array(self) -> np.ndarray:
        """All fingerprints as one uint64 per entry, for vectorised comparisons."""
        return np.frombuffer(self.payload_digests, dtype="<u8")

    def digests_by_qsl(self) -> dict[int, list[bytes]]:
        """qsl_idx → fingerprints of its entries (several in performance mode), in file order."""
        out: dict[int, list[bytes]] = {}
        for i, q in enumerate(self.qsl_idx.tolist()):
            out.setdefault(q, []).append(self.payload_digest(i))
        return out


# --------------------------------------------------------------------------------------------------
# Splitting a byte stream into regions of whole entries


class _Splitter:
    """Cuts a chunk stream into regions that end right after a ``}`` (so no entry straddles two).

    Memory stays bounded: text without any ``}`` is held only up to ``max_entry_bytes``; beyond that
    the consumer is told (``on_overflow``) and the rest of that object is skipped up to its ``}``.
    """

    def __init__(
        self,
        max_entry_bytes: int,
        on_overflow: Callable[[bytes, int, int], None] | None = None,
    ) -> None:
        self.max_entry_bytes = max_entry_bytes
        self.on_overflow = on_overflow
        self.pending: list[bytes] = []
        self.pending_len = 0
        self.line = 1  # line number at the start of the pending text
        self.skipping = False
        self.skip_line = 0

    def push(self, chunk: bytes) -> Iterator[tuple[bytes, int, int, int]]:
        """Yield (buffer, start, end, first line) for each region completed by ``chunk``.

        The bulk of a chunk is yielded in place (no copy); only the entry that straddles the
        previous chunk and this one is joined into a small buffer of its own.
        """
        if self.skipping:
            j = chunk.find(b"}")
            if j < 0:
                self.line += chunk.count(b"\n")
                return
            self.line += chunk.count(b"\n", 0, j + 1)
            chunk = chunk[j + 1 :]
            self.skipping = False
        first = chunk.find(b"}")
        if first < 0:
            self.pending.append(chunk)
            self.pending_len += len(chunk)
            if self.pending_len > self.max_entry_bytes:
                self._overflow()
            return
        start = 0
        if self.pending:
            self.pending.append(chunk[: first + 1])
            joined = b"".join(self.pending)
            yield joined, 0, len(joined), self.line
            self.line += joined.count(b"\n")
            start = first + 1
        last = chunk.rfind(b"}") + 1
        if last > start:
            yield chunk, start, last, self.line
            self.line += chunk.count(b"\n", start, last)
        rest = chunk[last:]
        self.pending = [rest] if rest else []
        self.pending_len = len(rest)

    def _overflow(self) -> None:
        buf = b"".join(self.pending)
        if self.on_overflow is not None:
            self.on_overflow(buf, buf.find(b"{"), self.line)
        if b"{" in buf:
            self.skipping = True
            self.skip_line = self.line + buf.count(b"\n", 0, buf.find(b"{"))
        self.line += buf.count(b"\n")
        self.pending, self.pending_len = [], 0

    def rest(self) -> tuple[bytes, int]:
        """The text after the last ``}`` (or everything, if none) and its first line."""
        return b"".join(self.pending), self.line


# --------------------------------------------------------------------------------------------------
# Building the model


def _hex_digests(datas: list[bytes], longest: int) -> bytes:
    """Concatenated fingerprints of hex payloads (validated upper-case hex of even length)."""
    if longest <= _DEDUP_MAX_HEX and len(datas) > 64 and len(set(datas[:1024])) * 2 < min(len(datas), 1024):
        table = {h: _digest_of(_blake8(binascii.unhexlify(h))) for h in set(datas)}
        return b"".join(map(table.__getitem__, datas))
    return b"".join(map(_digest_of, map(_blake8, map(binascii.unhexlify, datas))))


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; sorting is much faster than ``np.unique``'s hashing for int64."""
    if values.size == 0:
        return values
    ordered = np.sort(values)
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class _Builder:
    """Accumulates entries and structure state; reports problems through a capped sink."""

    def __init__(self, sink: ProblemSink) -> None:
        self.sink = sink
        self.state = _START
        self.structure_ok = True
        self.closed = False
        self.code_counts: dict[str, int] = {}
        # Fast-path chunks and careful-path lists, kept in file order.
        self.seq_chunks: list[np.ndarray] = []
        self.qsl_chunks: list[np.ndarray] = []
        self.size_chunks: list[np.ndarray] = []
        # token_count per entry is only kept once a log has shown one (LLM logs); -1 where absent.
        self.tc_chunks: list[np.ndarray] = []
        self.committed = 0  # entries already moved into the chunk lists
        self.digests = bytearray()
        self.p_seq: list[int] = []
        self.p_qsl: list[int] = []
        self.p_size: list[int] = []
        self.p_tc: list[int] = []
        self.token_count_entries = 0
        self.token_data_entries = 0
        self.lowercase = 0
        self.bad_entries = 0

    # problems -------------------------------------------------------------------------------------

    def problem(self, code: str, message: str, line: int | None, **extra: Any) -> None:
        count = self.code_counts.get(code, 0) + 1
        self.code_counts[code] = count
        if count <= PER_CODE_LIMIT:
            self.sink.add(code, message, line=line, **extra)

    def finish_problems(self) -> None:
        for code, count in self.code_counts.items():
            if count > PER_CODE_LIMIT:
                self.sink.add(code, f"{count - PER_CODE_LIMIT} further '{code}' problems were not listed")

    # regions --------------------------------------------------------------------------------------

    def region(self, buf: bytes, start: int, end: int, line: int) -> None:
        """Read the entries of ``buf[start:end]`` (ends right after a ``}``), fast path first."""
        if not self._fast(buf, start, end):
            self._careful(buf, start, end, line)

    def _fast(self, buf: bytes, start: int, end: int) -> bool:
        res = _FAST_ENTRY.findall(buf, start, end)
        n = len(res)
        # Every '{' must open a matched entry, otherwise something was skipped over (a stray '}'
        # would sit in a gap and fail the gap check).
        if n == 0 or n != buf.count(b"{", start, end):
            return False
        gaps = list(map(_g0, res))
        if self.state != _IN_ARRAY:
            first_gap = _OPEN_GAP if self.state == _START else _SPACE_GAP
            if not first_gap.fullmatch(gaps[0]):
                return False
            others = set(gaps[1:])
        else:
            others = set(gaps)
        if any(not _SEP_GAP.fullmatch(g) for g in others):
            return False
        datas = list(map(_g3, res))
        tds = list(map(_g4, res))
        token_data_present = n - tds.count(b"")
        # Upper-case hex only (anything else, lower case included, takes the careful path).
        if b"".join(datas).translate(None, _UPPER_HEX_DIGITS):
            return False
        if token_data_present and b"".join(tds).translate(None, _UPPER_HEX_DIGITS):
            return False
        hex_lens = np.fromiter(map(len, datas), dtype=np.int64, count=n)
        if (hex_lens & 1).any():
            return False
        tcs = list(map(_g5, res))
        # Fast path accepted: commit.
        self._flush_careful()
        self.state = _IN_ARRAY
        self.seq_chunks.append(np.fromiter(map(int, map(_g1, res)), dtype=np.int64, count=n))
        self.qsl_chunks.append(np.fromiter(map(int, map(_g2, res)), dtype=np.int64, count=n))
        self.size_chunks.append(hex_lens // 2)
        present = n - tcs.count(b"")
        if present:
            self._token_counts_start()
            self.token_count_entries += present
            self.tc_chunks.append(
                np.fromiter((int(t) if t else -1 for t in tcs), dtype=np.int64, count=n)
            )
        elif self.tc_chunks:
            self.tc_chunks.append(np.full(n, -1, dtype=np.int64))
        self.committed += n
        self.token_data_entries += token_data_present
        self.digests += _hex_digests(datas, int(hex_lens.max()))
        return True

    def _careful(self, buf: bytes, start: int, end: int, line: int) -> None:
        pos = start
        for m in _OBJECT.finditer(buf, start, end):
            s, e = m.span()
            self.gap(buf, pos, s, line)
            line += buf.count(b"\n", pos, s)
            self.entry(m.group(), line)
            line += buf.count(b"\n", s, e)
            pos = e
        if pos < end:  # a stray '}' (or an unterminated '{' before it) after the last entry
            self.gap(buf, pos, end, line)

    def gap(self, buf: bytes, start: int, end: int, line: int) -> None:
        """Check the text between two entries (or before the first one)."""
        gap = buf[start:end]
        if self.state == _START:
            if _OPEN_GAP.fullmatch(gap):
                self.state = _IN_ARRAY
                return
            self._bad_gap(gap, line, "'[' before the first entry")
            self.state = _IN_ARRAY
            return
        if self.state == _RESUME:
            self.state = _IN_ARRAY
            if _SPACE_GAP.fullmatch(gap):
                return
        if _SEP_GAP.fullmatch(gap):
            return
        self._bad_gap(gap, line, "',' between entries")

    def _bad_gap(self, gap: bytes, line: int, expected: str) -> None:
        self.structure_ok = False
        first = _NON_SPACE.search(gap)
        at = first.start() if first else len(gap)
        where = line + gap.count(b"\n", 0, at)
        found = gap[at : at + 60].decode("utf-8", errors="backslashreplace")
        if _MARKER_BYTES in gap:
            self.problem(
                "truncation_marker",
                "the truncation marker '\\n\\n...\\n\\n' is inside a file that does not have the official "
                f"truncated shape (at most {TRUNCATED_MAX_CHARS} characters)",
                where,
                expected="a complete JSON array, or first/last 4096 characters around the marker",
            )
        elif any(b >= 0x80 for b in gap[at : at + 60]):
            self.problem("encoding", "bytes that are not ASCII between entries", where, found=found)
        elif not gap.strip():
            self.problem("syntax", "two entries without a ',' between them", where, expected=expected)
        elif b"]" in gap:
            self.problem("syntax", "text after the closing ']' of the array", where, expected=expected, found=found)
        elif b"{" in gap:
            self.problem("syntax", "an entry that is not closed before the next one", where, found=found)
        else:
            self.problem("syntax", "unexpected text between entries", where, expected=expected, found=found)

    def entry(self, raw: bytes, line: int) -> None:
        """Careful path: one object read with ``json.loads`` and checked key by key."""
        try:
            obj = json.loads(raw)
        except ValueError as exc:  # UnicodeDecodeError included: JSON text must be UTF-8
            # Not JSON at all, so the file is not complete JSON either.
            self.bad_entries += 1
            self.structure_ok = False
            if _MARKER_BYTES in raw:
                self.problem(
                    "truncation_marker",
                    "the truncation marker '\\n\\n...\\n\\n' is inside a file that does not have the official "
                    f"truncated shape (at most {TRUNCATED_MAX_CHARS} characters)",
                    line + raw.count(b"\n", 0, raw.find(_MARKER_BYTES) + 2),
                    expected="a complete JSON array, or first/last 4096 characters around the marker",
                )
            elif isinstance(exc, UnicodeDecodeError):
                self.problem("encoding", "an entry holds bytes that are not UTF-8", line)
            else:
                self.problem("bad_entry", f"an entry that is not valid JSON: {exc.args[0] if exc.args else exc}",
                             line, found=raw[:80].decode("utf-8", errors="backslashreplace"))
            return
        if not isinstance(obj, dict):  # pragma: no cover - the regex only yields objects
            self.bad_entries += 1
            return
        missing = [k for k in ("seq_id", "qsl_idx", "data") if k not in obj]
        if missing:
            self.bad_entries += 1
            self.problem("missing_key", f"entry without {', '.join(repr(k) for k in missing)}", line,
                         expected='{"seq_id": int, "qsl_idx": int, "data": "<hex>"}', found=sorted(obj))
            return
        seq, qsl, data = obj["seq_id"], obj["qsl_idx"], obj["data"]
        for key, value in (("seq_id", seq), ("qsl_idx", qsl)):
            if not _is_index(value):
                self.bad_entries += 1
                self.problem("bad_value", f"'{key}' is not a non-negative integer", line, found=repr(value))
                return
        if not _is_hex(data):
            self.bad_entries += 1
            shown = data if isinstance(data, str) else repr(data)
            self.problem("bad_data", "'data' is not an even-length hex string", line,
                         expected="upper-case hex digits, two per byte", found=shown[:60])
            return
        if _LOWER_HEX.search(data):
            self.lowercase += 1
        payload = bytes.fromhex(data)
        self.state = _IN_ARRAY
        self.p_seq.append(seq)
        self.p_qsl.append(qsl)
        self.p_size.append(len(payload))
        self.digests += payload_digest(payload)
        tc = obj.get("token_count")
        if _is_index(tc):
            self.p_tc.append(tc)
            self.token_count_entries += 1
        else:
            self.p_tc.append(-1)
            if tc is not None:
                self.problem("bad_value", "'token_count' is not a non-negative integer", line, found=repr(tc))
        if "token_data" in obj:
            self.token_data_entries += 1
            td = obj["token_data"]
            if not _is_hex(td):
                shown = td if isinstance(td, str) else repr(td)
                self.problem("bad_data", "'token_data' is not an even-length hex string", line, found=shown[:60])

    def _flush_careful(self) -> None:
        if self.p_seq:
            self.seq_chunks.append(np.array(self.p_seq, dtype=np.int64))
            self.qsl_chunks.append(np.array(self.p_qsl, dtype=np.int64))
            self.size_chunks.append(np.array(self.p_size, dtype=np.int64))
            if self.tc_chunks or self.token_count_entries:
                self._token_counts_start()
                self.tc_chunks.append(np.array(self.p_tc, dtype=np.int64))
            self.committed += len(self.p_seq)
            self.p_seq, self.p_qsl, self.p_size, self.p_tc = [], [], [], []

    def _token_counts_start(self) -> None:
        """On the first token_count, back-fill -1 for the entries already committed."""
        if not self.tc_chunks and self.committed:
            self.tc_chunks.append(np.full(self.committed, -1, dtype=np.int64))

    def overflow(self, buf: bytes, brace: int, line: int) -> None:
        """Called by the splitter when text without a ``}`` outgrows the entry limit."""
        self.structure_ok = False
        if brace < 0:
            self.problem("syntax", f"more than {len(buf)} bytes without any entry", line,
                         expected="entries separated by ','")
            return
        self.gap(buf, 0, brace, line)
        self.bad_entries += 1
        self.problem("entry_too_large", f"an entry longer than {len(buf) - brace} bytes was skipped "
                     "(larger than the parser's limit)", line + buf.count(b"\n", 0, brace))

    def end(self, rest: bytes, line: int, skipping: bool, skip_line: int) -> None:
        """Check what follows the last entry: the closing ``]`` and nothing else."""
        if skipping:
            self.structure_ok = False
            self.problem("incomplete", "the file ends inside an entry that was too large to read",
                         skip_line)
            return
        brace = rest.find(b"{")
        if brace >= 0:
            self.gap(rest, 0, brace, line)
            self.structure_ok = False
            self.problem(
                "incomplete",
                "the file ends inside an entry: the log was cut (neither complete JSON nor the "
                "official truncated shape)",
                line + rest.count(b"\n", 0, brace),
                expected="a closed JSON array, or the official truncation",
                found=rest[brace : brace + 60].decode("utf-8", errors="backslashreplace"),
            )
            return
        if self.state == _START:
            if _EMPTY_ARRAY.fullmatch(rest):
                self.closed = True
                return
            if _OPEN_GAP.fullmatch(rest):
                self.structure_ok = False
                self.problem("incomplete", "the array is opened but never closed", line + rest.count(b"\n"),
                             expected="']'")
                return
            self.structure_ok = False
            first = _NON_SPACE.search(rest)
            at = first.start() if first else 0
            self.problem("syntax", "not a JSON array of accuracy entries", line + rest.count(b"\n", 0, at),
                         expected="'['", found=rest[at : at + 60].decode("utf-8", errors="backslashreplace"))
            return
        if _CLOSE_GAP.fullmatch(rest):
            self.closed = True
            return
        self.structure_ok = False
        stripped = rest.strip()
        if not stripped or _SEP_GAP.fullmatch(rest):
            self.problem(
                "incomplete",
                "the array is not closed: the file ends after an entry (cut between entries?)",
                line + rest.rstrip().count(b"\n"),
                expected="']'",
            )
            return
        close = _CLOSE_GAP.match(rest)
        if close and close.end() > 0 and rest[: close.end()].strip() == b"]":
            self.problem("syntax", "text after the closing ']' of the array", line + rest.count(b"\n", 0, close.end()),
                         found=rest[close.end() : close.end() + 60].decode("utf-8", errors="backslashreplace"))
            return
        self.problem("syntax", "unexpected text after the last entry", line,
                     expected="']'", found=stripped[:60].decode("utf-8", errors="backslashreplace"))

    # result ---------------------------------------------------------------------------------------

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        self._flush_careful()

        def cat(chunks: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)

        return cat(self.seq_chunks), cat(self.qsl_chunks), cat(self.size_chunks), cat(self.tc_chunks)

    def build(self, size: int, sha256: str, line_count: int, **extra: Any) -> AccuracyLog:
        seq, qsl, sizes, tcs = self.arrays()
        n = int(qsl.size)
        fields: dict[str, Any] = {
            "size": size,
            "sha256": sha256,
            "line_count": line_count,
            "entry_count": n,
            "bad_entry_count": self.bad_entries,
            "lowercase_hex_entries": self.lowercase,
            "token_count_entries": self.token_count_entries,
            "token_data_entries": self.token_data_entries,
            "seq_id": seq,
            "qsl_idx": qsl,
            "payload_sizes": sizes,
            "token_count": tcs if self.token_count_entries else None,
            "payload_digests": bytes(self.digests),
        }
        if n:
            unique_qsl = _distinct(qsl)
            distinct_sizes = _distinct(sizes)
            fields.update(
                unique_qsl_count=int(unique_qsl.size),
                duplicate_qsl_count=n - int(unique_qsl.size),
                duplicate_seq_count=n - int(_distinct(seq).size),
                min_qsl_idx=int(unique_qsl[0]),
                max_qsl_idx=int(unique_qsl[-1]),
                min_seq_id=int(seq.min()),
                max_seq_id=int(seq.max()),
                payload_sizes_distinct=[int(v) for v in distinct_sizes[:DISTINCT_SIZES_KEPT]],
                payload_sizes_distinct_count=int(distinct_sizes.size),
                min_payload_bytes=int(distinct_sizes[0]),
                max_payload_bytes=int(distinct_sizes[-1]),
                total_payload_bytes=int(sizes.sum()),
            )
        fields.update(extra)
        return AccuracyLog(**fields)


# --------------------------------------------------------------------------------------------------
# Truncated shape


class _Truncation(NamedTuple):
    text: bytes  # the file with CRLF normalised to LF (same line numbers)
    marker: int  # byte offset of the marker in ``text``
    exact: bool
    marker_line: int


def _truncation_shape(raw: bytes, sink: ProblemSink | None) -> _Truncation | None:
    """The official truncated shape: starts as a JSON array, holds the marker, ≤ 8199 characters.

    Characters, not bytes, because the official tool slices decoded text; CRLF counts as one
    character (Python reads text with universal newlines), so a log written on Windows still fits.
    """
    if len(raw) > _TRUNCATED_MAX_BYTES:
        return None
    text = raw.replace(b"\r\n", b"\n")
    marker = text.find(_MARKER_BYTES)
    if marker < 0 or not text.lstrip(b" \t\n\r").startswith(b"["):
        return None
    try:
        chars = len(text.decode("utf-8"))
        head_chars = len(text[:marker].decode("utf-8"))
    except UnicodeDecodeError as exc:
        if sink is not None:
            sink.add("encoding", "bytes that are not valid UTF-8 in a truncated accuracy log",
                     line=text.count(b"\n", 0, exc.start) + 1, found=f"byte 0x{text[exc.start]:02x}")
        chars = len(text.decode("utf-8", errors="replace"))
        head_chars = len(text[:marker].decode("utf-8", errors="replace"))
    if chars > TRUNCATED_MAX_CHARS:
        return None
    exact = head_chars == TRUNCATE_KEEP_CHARS and chars == TRUNCATED_MAX_CHARS
    # The marker is "\n\n...\n\n": the "..." sits two lines below the last line of the head.
    return _Truncation(text, marker, exact, text.count(b"\n", 0, marker) + 3)


def _truncated_regions(trunc: _Truncation) -> tuple[tuple[int, int, int] | None, tuple[int, int, int] | None, int]:
    """(head region, tail region, offset of the tail) as (start, end, first line) of whole entries."""
    text, marker = trunc.text, trunc.marker
    head_end = text.rfind(b"}", 0, marker) + 1
    head = (0, head_end, 1) if head_end > 0 else None
    tail_start = marker + len(_MARKER_BYTES)
    first = text.find(b"{", tail_start)
    last = text.rfind(b"}") + 1
    tail = None
    if first >= 0 and last > first:
        tail = (first, last, text.count(b"\n", 0, first) + 1)
    return head, tail, tail_start


# --------------------------------------------------------------------------------------------------
# Public API


def parse_accuracy_log(
    path: Path,
    root: Path | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
) -> ParseResult[AccuracyLog]:
    """Read one accuracy log in a single bounded-memory pass (hash + entries). Never raises."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[AccuracyLog](kind=KIND, path=shown)
    if path.is_dir():
        sink.add("not_a_file", "a directory where the accuracy log should be", expected="a file")
        result.problems = sink.finish()
        return result
    size = file_size(path)
    if size is None:
        sink.add("missing", "the accuracy log does not exist or cannot be read")
        result.problems = sink.finish()
        return result
    try:
        result.model = _parse(path, size, sink, chunk_bytes, max_entry_bytes)
    except OSError as exc:
        sink.add("unreadable", f"read error: {exc.strerror or exc}")
    result.problems = sink.finish()
    return result


def _read_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(chunk_bytes)
            if not chunk:
                return
            yield chunk


class _Hasher:
    """SHA-256 of the file, fed from one worker thread when the file is large.

    hashlib releases the GIL on large buffers, so hashing a chunk overlaps parsing the previous one
    (a single worker keeps the order). At most two chunks wait, so memory stays bounded.
    """

    THREAD_MIN_BYTES = 32 << 20

    def __init__(self, size: int) -> None:
        self.sha = hashlib.sha256()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="sha256") if size >= self.THREAD_MIN_BYTES else None
        self.waiting: collections.deque[Future[None]] = collections.deque()

    def update(self, data: bytes) -> None:
        if self.pool is None:
            self.sha.update(data)
            return
        while len(self.waiting) >= 2:
            self.waiting.popleft().result()
        self.waiting.append(self.pool.submit(self.sha.update, data))

    def hexdigest(self) -> str:
        self.close()
        return self.sha.hexdigest()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
            self.waiting.clear()


def _parse(path: Path, size: int, sink: ProblemSink, chunk_bytes: int, max_entry_bytes: int) -> AccuracyLog:
    sha = _Hasher(size)
    try:
        return _parse_hashing(path, size, sink, chunk_bytes, max_entry_bytes, sha)
    finally:
        sha.close()


def _parse_hashing(
    path: Path, size: int, sink: ProblemSink, chunk_bytes: int, max_entry_bytes: int, sha: _Hasher
) -> AccuracyLog:
    builder = _Builder(sink)
    if size == 0:
        sink.add("empty", "the accuracy log is empty", expected="a JSON array")
        return builder.build(0, sha.hexdigest(), 0)
    if looks_binary(read_head(path)):
        sink.add("binary", "the accuracy log is binary, not JSON text", line=1)
        newlines = 0
        last = b"\n"
        for chunk in _read_chunks(path, chunk_bytes):
            sha.update(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        return builder.build(size, sha.hexdigest(), newlines + (0 if last == b"\n" else 1))

    if size <= _TRUNCATED_MAX_BYTES:
        raw = path.read_bytes()
        trunc = _truncation_shape(raw, sink)
        if trunc is not None:
            sha.update(raw)
            return _parse_truncated(trunc, builder, len(raw), sha.hexdigest(), raw)
        chunks: Iterator[bytes] = iter([raw])
    else:
        chunks = _read_chunks(path, chunk_bytes)

    splitter = _Splitter(max_entry_bytes, builder.overflow)
    total = 0
    last = b"\n"
    for chunk in chunks:
        sha.update(chunk)
        total += len(chunk)
        last = chunk[-1:]
        for buf, start, end, line in splitter.push(chunk):
            builder.region(buf, start, end, line)
    rest, line = splitter.rest()
    builder.end(rest, line, splitter.skipping, splitter.skip_line)
    builder.finish_problems()
    complete = builder.closed and builder.structure_ok
    return builder.build(
        total,
        sha.hexdigest(),
        line - 1 + rest.count(b"\n") + (0 if last == b"\n" else 1),
        complete_json=complete,
        partial=not complete,
    )


def _parse_truncated(trunc: _Truncation, builder: _Builder, size: int, sha256: str, raw: bytes) -> AccuracyLog:
    head, tail, tail_start = _truncated_regions(trunc)
    text = trunc.text
    if head is not None:
        builder.region(text, *head)
    # The tail starts mid-entry: whatever precedes its first '{' is the end of a cut entry.
    builder.state = _RESUME
    if tail is not None:
        start, end, line = tail
        builder.region(text, start, end, line)
        rest_start = end
    else:
        rest_start = tail_start
    rest = text[rest_start:]
    closed = bool(_CLOSE_GAP.fullmatch(rest)) or (tail is None and rest.rstrip().endswith(b"]"))
    if not closed:
        builder.problem(
            "original_incomplete",
            "the truncated log's tail does not end the JSON array: the original log was probably cut "
            "before it was truncated",
            text.count(b"\n", 0, len(text.rstrip())) + 1,
            expected="the last 4096 characters ending with ']'",
            found=text.rstrip()[-40:].decode("utf-8", errors="backslashreplace"),
        )
    builder.finish_problems()
    return builder.build(
        size,
        sha256,
        raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1),
        truncated=True,
        truncation_exact=trunc.exact,
        truncation_marker_line=trunc.marker_line,
        tail_closed=closed,
        complete_json=False,
        partial=True,
    )


def _entry_from_object(raw: bytes, line: int) -> AccuracyEntry | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    seq, qsl, data = obj.get("seq_id"), obj.get("qsl_idx"), obj.get("data")
    # The same acceptance as the parser's careful path, so both see the same entries.
    if not (_is_index(seq) and _is_index(qsl) and _is_hex(data)):
        return None
    tc = obj.get("token_count")
    td = obj.get("token_data")
    return AccuracyEntry(
        seq,
        qsl,
        bytes.fromhex(data),
        line,
        tc if _is_index(tc) else None,
        bytes.fromhex(td) if _is_hex(td) else None,
    )


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and len(value) % 2 == 0 and _HEX.fullmatch(value) is not None


def _entries_in(buf: bytes, start: int, end: int, line: int) -> Iterator[AccuracyEntry]:
    pos = start
    for m in _OBJECT.finditer(buf, start, end):
        s, e = m.span()
        line += buf.count(b"\n", pos, s)
        entry = _entry_from_object(m.group(), line)
        if entry is not None:
            yield entry
        line += buf.count(b"\n", s, e)
        pos = e


def iter_entries(
    path: Path,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
) -> Iterator[AccuracyEntry]:
    """Re-stream a log and yield each readable entry with its decoded payload and line number.

    For checks that need whole payloads (recomputing accuracy, comparing outputs). Entries that
    :func:`parse_accuracy_log` reports as bad are skipped silently here; a truncated log yields the
    complete entries of its head and tail. Never raises on bad content or a missing file.
    """
    if path.is_dir():
        return
    size = file_size(path)
    if not size:
        return
    try:
        if looks_binary(read_head(path)):
            return
        if size <= _TRUNCATED_MAX_BYTES:
            raw = path.read_bytes()
            trunc = _truncation_shape(raw, None)
            if trunc is not None:
                head, tail, _ = _truncated_regions(trunc)
                for region in (head, tail):
                    if region is not None:
                        yield from _entries_in(trunc.text, *region)
                return
            chunks: Iterator[bytes] = iter([raw])
        else:
            chunks = _read_chunks(path, chunk_bytes)
        splitter = _Splitter(max_entry_bytes)
        for chunk in chunks:
            for buf, start, end, line in splitter.push(chunk):
                yield from _entries_in(buf, start, end, line)
    except OSError:
        return
