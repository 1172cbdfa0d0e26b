"""LoadGen's ``mlperf_log_accuracy.json``: a JSON array of ``{"seq_id", "qsl_idx", "data"}`` entries.

Why a hand-made streaming reader instead of ``json.load``: accuracy logs reach hundreds of MB (the
detection, segmentation, recommendation and LLM benchmarks), and the audit needs, in one pass over
the bytes, the SHA-256 that ``accuracy.txt`` claims (``hash=…``), the set of ``qsl_idx`` values
(coverage and duplicates) and where each entry's payload sits in the file, so that two logs can be
compared per ``qsl_idx`` (TEST01-style) or accuracy recomputed by reading exactly those bytes again
(:meth:`AccuracyLog.payload`), without holding the payloads in memory.

How it stays fast: the file is read in large chunks that are hashed as they arrive (in a worker
thread, since hashlib releases the GIL) and cut right after the last ``}`` so that no entry straddles
two regions. Each region is read by the first of three tiers that accepts it whole; all three give
exactly the same entries, counts and problems, so which tier read a region never shows:

1. the exact layout LoadGen writes (``{ "seq_id" : N, "qsl_idx" : N, "data" : "HEX" }`` with an
   optional ``, "token_count" : N``, one entry per line, ``",\n"`` between entries) is checked and
   decoded with numpy for all entries of the region at once: one scan for the ``{`` bytes, then a few
   gathers of 32-byte windows placed so that the variable fields (the integers, the payload) start on
   a lane boundary, every template byte compared, the integers parsed eight digits at a time in
   uint64 lanes and the payload checked to be upper-case hex. Any deviation hands the region on;
2. a regular expression for the same keys in any spacing (other writers), with C-speed ``findall``;
3. entry by entry with ``json.loads`` (other key orders, pretty-printed JSON, lower-case hex, escapes,
   bad entries, broken structure), slower but reporting each problem with its line.

Published submissions carry a *truncated* log (official-checker.md §9): the first 4096 characters,
``"\\n\\n...\\n\\n"`` and the last 4096 characters. That is the expected shape, not a problem: the
complete entries of the head and the tail are read and the model is marked ``partial``. A file that
is neither complete JSON nor that shape (cut at a random byte, garbage, ...) is reported with the
line where it breaks.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import itertools
import json
import operator
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from json.decoder import scanstring
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field

from checker.arrays import count_distinct, distinct_sorted, unique_inverse
from checker.parse.base import ParseResult, ProblemSink, display_path, file_size, looks_binary

KIND = "accuracy_log"

#: The official truncation keeps this many characters at each end of the log.
TRUNCATE_KEEP_CHARS = 4096
TRUNCATION_MARKER = "\n\n...\n\n"
#: First 4096 + marker + last 4096 characters: the largest file the official tool writes.
TRUNCATED_MAX_CHARS = 2 * TRUNCATE_KEEP_CHARS + len(TRUNCATION_MARKER)
#: A UTF-8 character is at most 4 bytes, so no truncated log is larger than this many bytes.
_TRUNCATED_MAX_BYTES = 4 * TRUNCATED_MAX_CHARS

#: Digest size (bytes) of the payload fingerprint that :meth:`AccuracyLog.payload_digest` computes.
DIGEST_SIZE = 8
#: Distinct payload sizes kept in the summary (the count of distinct sizes is always exact).
DISTINCT_SIZES_KEPT = 32
#: Problems of one code listed before the rest are only counted.
PER_CODE_LIMIT = 20

#: Bytes read (in the worker thread) per step; 8 MB measured ~4 % faster than 4 MB on the corpus;
#: at most two chunks are alive at once (see _read_ahead).
DEFAULT_CHUNK_BYTES = 8 << 20
#: Bytes read per step when a streamed log is hashed on demand (AccuracyLog.content_sha256).
_HASH_READ_BYTES = 8 << 20
#: A single entry larger than this is reported and skipped instead of being held in memory. Large on
#: purpose: a 3D-UNet entry holds a whole segmentation volume as hex (tens to hundreds of MB).
DEFAULT_MAX_ENTRY_BYTES = 512 << 20

_MARKER_BYTES = TRUNCATION_MARKER.encode()

# JSON whitespace is exactly these four bytes (``\s`` would also take \f and \v, which JSON does not).
_WS = rb"[ \t\n\r]*"
# A JSON integer that surely fits in int64: no leading zero, at most 18 digits (longer ones, up to
# 2**63 - 1, are left to json.loads).
_INT = rb"(0|[1-9][0-9]{0,17})"

# Tier 2: one entry with LoadGen's keys in LoadGen's order in any spacing, preceded by the text since
# the previous entry (the "gap"). Everything consumed is in a group, so the position of each payload
# follows from the lengths. Groups: gap, prefix (from '{' to the payload), seq_id, qsl_idx, data,
# suffix (from the payload to '}'), token_data (with its quotes, so that "" differs from absent),
# token_count. The payloads are matched as "anything but a quote" (sre scans that ten times faster
# than a hex class) and validated afterwards with ``bytes.translate``; a gap may hold a stray '}' so
# that the gap check sees it.
_FAST_ENTRY = re.compile(
    rb"([^{]*)(\{" + _WS + rb'"seq_id"' + _WS + rb":" + _WS + _INT + _WS + rb"," + _WS + rb'"qsl_idx"'
    + _WS + rb":" + _WS + _INT + _WS + rb"," + _WS + rb'"data"' + _WS + rb":" + _WS + rb'")([^"]*)("' + _WS
    + rb"(?:," + _WS + rb'"token_data"' + _WS + rb":" + _WS + rb'("[^"]*")' + _WS + rb")?"
    + rb"(?:," + _WS + rb'"token_count"' + _WS + rb":" + _WS + _INT + _WS + rb")?\})"
)
_UPPER_HEX_DIGITS = b"0123456789ABCDEF"
# Any flat object: entries never nest, so braces delimit them.
_OBJECT = re.compile(rb"\{[^{}]*\}")
_OPEN_GAP = re.compile(_WS + rb"\[" + _WS)
_SEP_GAP = re.compile(_WS + rb"," + _WS)
_CLOSE_GAP = re.compile(_WS + rb"\]" + _WS)
_EMPTY_ARRAY = re.compile(_WS + rb"\[" + _WS + rb"\]" + _WS)
_SPACE_GAP = re.compile(_WS)
_NON_SPACE = re.compile(rb"[^ \t\n\r]")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_LOWER_HEX = re.compile(r"[a-f]")
# Where json.loads found a hex "data" value, as plain text (no escapes) in the raw object.
_DATA_TEXT = re.compile(rb'"data"' + _WS + rb":" + _WS + rb'"([0-9A-Fa-f]*)"')
_JSON_WS = re.compile(r"[ \t\n\r]*")

_g = [operator.itemgetter(i) for i in range(8)]

# Structure states: before '[', between entries, and "resume" (the start of a truncated log's tail,
# where the text before the first whole entry is the end of a cut one, so no ',' is expected).
_START, _IN_ARRAY, _RESUME = 0, 1, 2


def payload_digest(payload: bytes) -> bytes:
    """A compact fingerprint of one payload: 8-byte BLAKE2b of the decoded payload bytes."""
    return hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest()


def _digest_table(payloads: bytes, size: int) -> bytes:
    """:func:`payload_digest` of each ``size``-byte payload (``size`` > 0) of ``payloads`` (laid end
    to end), the fingerprints end to end: one comprehension, a call less per payload (a log has up
    to 100,000s of distinct ones)."""
    blake = hashlib.blake2b
    return b"".join([blake(payloads[i : i + size], digest_size=DIGEST_SIZE).digest()
                     for i in range(0, len(payloads), size)])


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


def _unhex(text: bytes) -> bytes:
    """The payload bytes of a "data" value as it is written in the file (hex, maybe JSON escapes)."""
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        # The careful path accepted this value through json.loads: it is a JSON string with escapes.
        return bytes.fromhex(json.loads(b'"' + text + b'"'))


#: Bytes of the log read at once when all fingerprints are computed.
_DIGEST_SPAN = 8 << 20
#: Payloads of one text length in a span below which they are hashed one by one (a translation log
#: has hundreds of lengths with a few entries each).
_FEW_OF_A_WIDTH = 32


def _distinct_digests(buffer: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Fingerprints (one row of :data:`DIGEST_SIZE` bytes each) of the ``width``-byte payload texts
    at ``starts`` in ``buffer``, hashing each distinct text once."""
    if width == 0:
        return np.frombuffer(payload_digest(b""), dtype=np.uint8)
    rows = np.lib.stride_tricks.sliding_window_view(buffer, width)[starts]
    short = _short_payloads(rows)
    if short is not None:
        return short
    distinct, inverse = _distinct_rows(rows)
    texts = distinct.tobytes()  # the distinct texts end to end
    try:  # plain hex, as LoadGen writes it: all of them decoded in one call
        table = _digest_table(binascii.unhexlify(texts), width // 2)
    except (binascii.Error, ValueError):  # a JSON escape somewhere: text by text
        table = b"".join(payload_digest(_unhex(texts[i : i + width])) for i in range(0, len(texts), width))
    return np.frombuffer(table, dtype=np.uint8).reshape(-1, DIGEST_SIZE)[inverse]


#: hex digit (either case) → its value; anything else → 255
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _digit in range(16):
    _HEX_VALUE[ord(f"{_digit:x}")] = _HEX_VALUE[ord(f"{_digit:X}")] = _digit


def _short_payloads(rows: np.ndarray) -> np.ndarray | None:
    """Fingerprints of payloads of at most 8 bytes written as plain hex (a class id, a label, a
    score: the entries of most classification logs), or None for any other text.

    Decoded in numpy, each payload is one 64-bit number, and numpy finds the distinct ones several
    times faster than it sorts rows of text."""
    count, width = rows.shape
    if width > 16 or width % 2:
        return None
    nibbles = _HEX_VALUE[rows]
    if int(nibbles.max()) > 15:
        return None  # not plain hex (a JSON escape): the general path reads it
    size = width // 2
    packed = np.zeros((count, 8), dtype=np.uint8)
    packed[:, :size] = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    distinct, inverse = unique_inverse(packed.view("<u8").ravel())
    payloads = distinct.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :size].tobytes()
    return np.frombuffer(_digest_table(payloads, size), dtype=np.uint8).reshape(-1, DIGEST_SIZE)[inverse]


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a (k, width) uint8 array (one ``V<width>`` item each, sorted), and each
    row's index among them."""
    width = rows.shape[1]
    distinct, inverse = np.unique(rows.view(f"V{width}").ravel(), return_inverse=True)
    return distinct, inverse.ravel()


class PayloadUnavailableError(OSError):
    """The log a model was parsed from is gone or has changed, so its payloads cannot be read."""


class AccuracyEntry(NamedTuple):
    """One entry as :func:`iter_entries` yields it (a tuple, not a model: millions are yielded)."""

    seq_id: int
    qsl_idx: int
    data: bytes
    line: int
    token_count: int | None = None
    token_data: bytes | None = None


class AccuracyLog(BaseModel, defer_build=True):
    """What one accuracy log holds, with compact per-entry arrays (in file order).

    The arrays (``seq_id``, ``qsl_idx``, ``payload_sizes``, ``payload_offsets``, ``payload_lengths``,
    ``token_count``) are excluded from dumps: they can hold millions of values and are for checks, not
    reports. Payloads are not kept: each entry's ``payload_offsets``/``payload_lengths`` locate the
    text of its ``data`` value in the file, and :meth:`payload`, :meth:`payloads_for` and
    :meth:`iter_payloads` read the exact bytes back on demand (logs up to 32 KiB, truncated ones
    included, are kept in memory and read from there). Reading raises
    :class:`PayloadUnavailableError` if the file is gone or changed since it was parsed. The BLAKE2b
    fingerprints (:attr:`payload_digests` and friends) are computed from those reads on first use.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    size: int = Field(description="file size in bytes")
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
    payload_offsets: np.ndarray = Field(
        default_factory=lambda: np.zeros(0, np.int64), exclude=True, repr=False,
        description="int64 per entry: byte offset in the file of the text of its 'data' value",
    )
    payload_lengths: np.ndarray = Field(
        default_factory=lambda: np.zeros(0, np.int64), exclude=True, repr=False,
        description="int64 per entry: byte length of that text (2 x payload size unless JSON escapes)",
    )
    token_count: np.ndarray | None = Field(
        None, exclude=True, repr=False, description="int64 per entry, -1 where absent; None if never present"
    )

    # Where the payloads are read from: the file's bytes (small logs) or (path, size, mtime_ns).
    _source: bytes | tuple[str, int, int] | None = PrivateAttr(default=None)
    _digests: bytes | None = PrivateAttr(default=None)
    #: the file's SHA-256 (hex): set by the parse for a log read whole, else on first use
    _sha256: str | None = PrivateAttr(default=None)

    def content_sha256(self) -> str:
        """SHA-256 of the whole file (hex): from the parse for a log read whole (up to 32 KiB), for a
        larger, streamed one read back from the file on first use (raises
        :class:`PayloadUnavailableError` if it changed since it was parsed).

        A streamed log is not hashed while it is parsed: only the check of accuracy.txt's ``hash=``
        against a complete log needs the hash, and hashing every large log (the v0.5 corpus round
        parses 200 MB of them, none with such a claim) took a fifth of that round's checking."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            with self._open() as read:
                for offset in range(0, self.size, _HASH_READ_BYTES):
                    digest.update(read(offset, min(_HASH_READ_BYTES, self.size - offset)))
            self._sha256 = digest.hexdigest()
        return self._sha256

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sha256(self) -> str | None:
        """SHA-256 of the whole file as it is on disk (hex), as dumps show it (:meth:`content_sha256`);
        None when the file can no longer be read back as it was parsed."""
        try:
            return self.content_sha256()
        except (PayloadUnavailableError, OSError):
            return None

    # payloads ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self) -> Iterator[Callable[[int, int], bytes]]:
        """A reader of (offset, length) spans of the log; raises PayloadUnavailableError."""
        source = self._source
        if isinstance(source, bytes):
            yield lambda off, n: source[off : off + n]
            return
        if source is None:
            if self.entry_count:
                raise PayloadUnavailableError("this model was not made by parse_accuracy_log: no payload source")
            yield lambda off, n: b""
            return
        path, size, mtime_ns = source
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                    raise PayloadUnavailableError(f"{path} changed since it was parsed")

                # Plain reads, not mmap: a file truncated meanwhile gives short reads, not SIGBUS.
                def read(off: int, n: int) -> bytes:
                    handle.seek(off)
                    data = handle.read(n)
                    if len(data) != n:
                        raise PayloadUnavailableError(f"{path} changed since it was parsed")
                    return data

                yield read
        except PayloadUnavailableError:
            raise
        except OSError as exc:
            raise PayloadUnavailableError(f"cannot read the payloads of {path}: {exc.strerror or exc}") from exc

    def iter_payloads(self, indices: Any = None) -> Iterator[bytes]:
        """The decoded payload bytes of the entries ``indices`` (default: all), in that order."""
        offsets, lengths = self.payload_offsets, self.payload_lengths
        if indices is None:
            indices = range(self.entry_count)
        with self._open() as read:
            for i in indices:
                off = int(offsets[i])
                if off < 0:  # pragma: no cover - see _Builder.entry
                    raise PayloadUnavailableError(f"the payload of entry {i} could not be located")
                yield _unhex(read(off, int(lengths[i])))

    def payload(self, index: int) -> bytes:
        """The payload bytes of entry ``index`` (file order), read back from the log."""
        return next(self.iter_payloads([index]))

    def payloads_for(self, qsl_idx: int) -> list[bytes]:
        """The payloads of the entries of one ``qsl_idx`` (several in performance mode), in file order."""
        return list(self.iter_payloads(np.flatnonzero(self.qsl_idx == qsl_idx).tolist()))

    @property
    def payload_digests(self) -> bytes:
        """:data:`DIGEST_SIZE` bytes per entry, BLAKE2b of its payload (computed on first use)."""
        if self._digests is None:
            self._digests = self._compute_digests()
        return self._digests

    def _compute_digests(self) -> bytes:
        """Every entry's fingerprint, reading the log in large sequential spans.

        A log can hold millions of entries whose payloads repeat (a classifier prints one of a
        thousand class ids), so each span's payload texts of one length are gathered into a numpy
        array, deduplicated, and only the distinct texts are decoded and hashed. The result is the
        same as :func:`payload_digest` entry by entry; only the work differs.
        """
        count = self.entry_count
        if count == 0:
            return b""
        offsets = np.asarray(self.payload_offsets, dtype=np.int64)
        lengths = np.asarray(self.payload_lengths, dtype=np.int64)
        if len(offsets) != count or len(lengths) != count or (offsets < 0).any():
            raise PayloadUnavailableError("the payloads of this log could not be located")
        order = np.argsort(offsets, kind="stable")
        starts, ends = offsets[order], offsets[order] + lengths[order]
        # Span ends never decrease when payloads do not overlap (they never do in a parsed log).
        span_ends = np.maximum.accumulate(ends)
        digests = np.empty((count, DIGEST_SIZE), dtype=np.uint8)
        with self._open() as read:
            first = 0
            while first < count:
                start = int(starts[first])
                last = max(first + 1, int(np.searchsorted(span_ends, start + _DIGEST_SPAN, side="right")))
                data = read(start, int(span_ends[last - 1]) - start)
                buffer = np.frombuffer(data, dtype=np.uint8)
                batch = order[first:last]
                relative = starts[first:last] - start
                widths = lengths[batch]
                distinct, counts = np.unique(widths, return_counts=True)
                for width, members in zip(distinct.tolist(), counts.tolist(), strict=True):
                    chosen = np.flatnonzero(widths == width)
                    if members < _FEW_OF_A_WIDTH:  # numpy's fixed cost is not worth it: one at a time
                        table = b"".join([payload_digest(_unhex(data[at : at + width]))
                                          for at in relative[chosen].tolist()])
                        digests[batch[chosen]] = np.frombuffer(table, dtype=np.uint8).reshape(-1, DIGEST_SIZE)
                    else:
                        digests[batch[chosen]] = _distinct_digests(buffer, relative[chosen], width)
                first = last
        return digests.tobytes()

    def payload_digest(self, index: int) -> bytes:
        """The payload fingerprint of entry ``index`` (file order)."""
        if self._digests is not None:
            return self._digests[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE]
        return payload_digest(self.payload(index))

    def digest_array(self) -> np.ndarray:
        """All fingerprints as one uint64 per entry, for vectorised comparisons."""
        return np.frombuffer(self.payload_digests, dtype="<u8")

    def digests_by_qsl(self) -> dict[int, list[bytes]]:
        """qsl_idx → fingerprints of its entries (several in performance mode), in file order."""
        digests = self.payload_digests
        out: dict[int, list[bytes]] = {}
        for i, q in enumerate(self.qsl_idx.tolist()):
            out.setdefault(q, []).append(digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE])
        return out


# --------------------------------------------------------------------------------------------------
# Splitting a byte stream into regions of whole entries


class _Splitter:
    """Cuts a chunk stream into regions that end right after a ``}`` (so no entry straddles two).

    ``push`` yields ``(buffer, start, end, base)`` where ``base`` is the file offset of ``buffer[0]``;
    the consumer adds the newlines of each region to :attr:`line` (a reader that knows the layout can
    count them without scanning). Memory stays bounded: text without any ``}`` is held only up to
    ``max_entry_bytes``; beyond that the consumer is told (``on_overflow``) and the rest of that
    object is skipped up to its ``}``.
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
        self.pending_offset = 0  # file offset of the pending text
        self.offset = 0  # file offset of the next chunk
        self.line = 1  # line number at the start of the pending text
        self.skipping = False
        self.skip_line = 0

    def push(self, chunk: bytes) -> Iterator[tuple[bytes, int, int, int]]:
        """Yield (buffer, start, end, base) for each region completed by ``chunk``.

        The bulk of a chunk is yielded in place (no copy); only the entry that straddles the
        previous chunk and this one is joined into a small buffer of its own.
        """
        base = self.offset
        self.offset += len(chunk)
        if self.skipping:
            j = chunk.find(b"}")
            if j < 0:
                self.line += chunk.count(b"\n")
                return
            self.line += chunk.count(b"\n", 0, j + 1)
            chunk = chunk[j + 1 :]
            base += j + 1
            self.skipping = False
        first = chunk.find(b"}")
        if first < 0:
            if not self.pending:
                self.pending_offset = base
            self.pending.append(chunk)
            self.pending_len += len(chunk)
            if self.pending_len > self.max_entry_bytes:
                self._overflow()
            return
        start = 0
        if self.pending:
            self.pending.append(chunk[: first + 1])
            joined = b"".join(self.pending)
            self.pending = []
            yield joined, 0, len(joined), self.pending_offset
            start = first + 1
        last = chunk.rfind(b"}") + 1
        if last > start:
            yield chunk, start, last, base
        rest = chunk[last:]
        self.pending = [rest] if rest else []
        self.pending_len = len(rest)
        self.pending_offset = base + last

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
# Tier 1: LoadGen's exact layout, all entries of a region at once with numpy
#
# An entry is   { "seq_id" : S, "qsl_idx" : Q, "data" : "HEX" }        (variant a)
#          or   { "seq_id" : S, "qsl_idx" : Q, "data" : "HEX", "token_count" : T }   (variant b)
# and entries are separated by ",\n". With O the offset of '{', the fields follow at
#   E1 = O + 13 + len(S)        ', "qsl_idx" : '  (14 bytes)
#   E2 = E1 + 14 + len(Q)       ', "data" : "'    (12 bytes), payload from H0 = E2 + 12
#   B  = O_next - 3             the closing '}', preceded by '" ' (a) or '", "token_count" : T ' (b)
# 32-byte windows are gathered for all entries at once (one numpy fancy-indexing step each), placed
# so that the next variable field starts on a uint64 lane: at O - 3, E1 - 2 and E2 - 4. When all
# payloads of a region have the same short length (classification logs), the end of each entry is in
# the last window too; otherwise a 16-byte window at B - 13 holds it (and the token count, if any).
# Every byte of every entry and gap is then either compared with the template, or a digit of a
# parsed integer, or a checked hex digit; anything else makes the whole region go to the next tier.

_HI = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)


def _rep(byte: int) -> np.uint64:
    return np.uint64(int.from_bytes(bytes([byte]) * 8, "little"))


def _word(text: bytes) -> np.uint64:
    """``text`` (at most 8 bytes) as the little-endian uint64 it makes at the bottom of a lane."""
    return np.uint64(int.from_bytes(text, "little"))


_D30, _D46, _D41, _DB9, _DC6 = _rep(0x30), _rep(0x46), _rep(0x41), _rep(0xB9), _rep(0xC6)
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # low n bytes
_POW10 = np.array([10**n for n in range(9)], dtype=np.uint64)
_BYTE_INDEX = np.uint64(0x0706050403020100)
_B7, _B56, _B8, _B16, _B24, _B32, _B40, _B48 = (np.uint64(n) for n in (7, 56, 8, 16, 24, 32, 40, 48))

# Template pieces, as the high bytes of the first lane and the whole second lane of each window.
_T_OPEN = (_word(b'{ "se'), _word(b'q_id" : '))  # window at O - 3: bytes 3..7 and 8..15
_T_QSL = (_word(b', "qsl'), _word(b'_idx" : '))  # window at E1 - 2: bytes 2..7 and 8..15
_T_DATA = (_word(b', "d'), _word(b'ata" : "'))  # window at E2 - 4: bytes 4..7 and 8..15
_T_TOKEN = (_word(b'", '), _word(b'"token_c'), _word(b'ount" : '))  # window at H1 - 5
_CLOSE = int.from_bytes(b" }", "little")
_SEP = int.from_bytes(b",\n", "little")
_QUOTE = ord('"')


def _ctz8(flags: np.ndarray) -> np.ndarray:
    """Index of the lowest byte whose 0x80 bit is set (8 when none), for words of such flags."""
    index = np.negative(flags)
    index &= flags  # the lowest flag alone: 0x80 << 8k
    index >>= _B7
    index *= _BYTE_INDEX  # puts 7 - k in the top byte
    index >>= _B56
    np.subtract(np.uint64(7), index, out=index)
    if flags.min() == 0:
        index[flags == 0] = 8
    return index


def _exact_digits(words: np.ndarray) -> np.ndarray:
    """0x80 in each byte of ``words`` that is an ASCII digit (bytes are judged independently)."""
    ge = (words | _HI) - _D30  # no borrow crosses bytes: each byte is at least 0x80 - 0x30
    le = _DB9 - (words & _LOW7)  # 0xB9 - b never borrows; its 0x80 bit says b <= '9'
    return ge & le & ~words & _HI


def _hex_ok(words: np.ndarray, lengths: np.ndarray | int) -> bool:
    """Whether the first ``lengths`` (0..8) bytes of every word are upper-case hex digits."""
    w = np.ascontiguousarray(words)
    low = w & _LOW7
    bound = _DB9 - low  # 0x80 set where b <= '9'; no borrow crosses bytes
    good = w | _HI
    letter = good - _D41  # 0x80 set where b >= 'A'
    good -= _D30  # 0x80 set where b >= '0'
    good &= bound
    np.subtract(_DC6, low, out=bound)  # 0x80 set where b <= 'F'
    letter &= bound
    good |= letter
    np.invert(w, out=low)
    good &= low  # and b < 0x80
    wanted: Any = np.uint64(int(_MASKS[lengths]) & int(_HI)) if isinstance(lengths, int) else _MASKS[lengths] & _HI
    good &= wanted
    return bool((good == wanted).all())


def _lemire8(v: np.ndarray) -> np.ndarray:
    """Value of 8 right-aligned ASCII digits per word (byte 0 the most significant), in place."""
    v &= np.uint64(0x0F0F0F0F0F0F0F0F)  # digit values; then pairs, quads and eights of digits
    v *= np.uint64(10 * 256 + 1)
    v >>= _B8
    v &= np.uint64(0x00FF00FF00FF00FF)
    v *= np.uint64(100 * 65536 + 1)
    v >>= _B16
    v &= np.uint64(0x0000FFFF0000FFFF)
    v *= np.uint64(10000 * 2**32 + 1)
    v >>= _B32
    return v


def _digit_run(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(number of leading ASCII digits, 0..8; their value) of each word."""
    # Adding 0x46 flags bytes above '9', subtracting 0x30 flags bytes below '0'; a carry or borrow
    # only disturbs bytes after a real non-digit, so the lowest flag is the first non-digit.
    flags = words + _D46
    flags |= words - _D30
    flags &= _HI
    unit = np.negative(flags)
    unit &= flags  # the lowest flag alone: 0x80 << 8k, or 0 when all 8 bytes are digits
    unit >>= _B7  # 1 << 8k
    count = unit * _BYTE_INDEX  # 7 - k in the top byte
    count >>= _B56
    np.subtract(np.uint64(7), count, out=count)
    if unit.min() == 0:
        count[unit == 0] = 8
    unit -= np.uint64(1)  # the k low bytes (all 8 when unit was 0)
    unit &= words
    shift = np.subtract(np.uint64(8), count)
    shift <<= np.uint64(3)
    unit <<= shift  # right-aligned: the missing leading digits read as 0
    return count, _lemire8(unit)


def _integers(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The JSON integers at the start of the 16 bytes (lo, hi): (digit counts, values) as int64.

    None unless every one has 1 to 15 digits, followed by a non-digit, and no leading zero.
    """
    count, value = _digit_run(lo)
    if count.min() == 0:
        return None
    zero = (lo & np.uint64(0xFF)) == 0x30
    if zero.any() and (count[zero] > 1).any():
        return None
    if count.max() == 8:  # 9 to 15 digits: the rest is in the second word
        more, rest = _digit_run(hi)
        more[count < 8] = 0
        if more.max() == 8:
            return None
        value = value * _POW10[more] + np.where(more > 0, rest, 0)
        count += more
    return count.view(np.int64), value.view(np.int64)


class _Gather:
    """Fixed-width windows of a buffer at many offsets, as uint64 lanes (never out of bounds)."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.views: dict[int, np.ndarray] = {}

    def __call__(self, pos: np.ndarray, width: int) -> np.ndarray | None:
        """(width // 8, n) lanes of the windows at ``pos``; bytes outside the buffer read as 0."""
        buf = self.buf
        limit = len(buf) - width
        view = self.views.get(width)
        if view is None:
            view = np.ndarray((max(limit + 1, 0),), f"V{width}", buffer=buf, strides=(1,))
            self.views[width] = view
        if pos.size and (int(pos.min()) < 0 or int(pos.max()) > limit):
            where = np.flatnonzero((pos < 0) | (pos > limit))
            if where.size > 64 or view.size == 0:
                return None  # only a few entries near the ends of a buffer should need padding
            windows = view[np.clip(pos, 0, limit)]
            for i in where.tolist():
                p = int(pos[i])
                text = b"\0" * max(0, -p) + buf[max(p, 0) : max(p + width, 0)]
                windows[i] = np.frombuffer(text.ljust(width, b"\0")[:width], dtype=f"V{width}")[0]
        else:
            windows = view[pos]
        # Lanes as contiguous rows: one transposing copy here is cheaper than the strided reads of
        # every later operation on them (measured ~17 ms less over the corpus's accuracy logs).
        return np.ascontiguousarray(windows.view("<u8").reshape(-1, width // 8).T)


def _count_hex(a: np.ndarray, start: int, end: int) -> int:
    """Number of bytes of ``a[start:end]`` that are upper-case hex digits, in bounded slices."""
    total = 0
    step = 4 << 20
    tmp = np.empty(min(step, max(end - start, 0)), dtype=np.uint8)
    for s in range(start, end, step):
        seg = a[s : min(s + step, end)]
        t = tmp[: seg.size]
        np.subtract(seg, 0x30, out=t)
        total += int(np.count_nonzero(t < 10))
        np.subtract(seg, 0x41, out=t)
        total += int(np.count_nonzero(t < 6))
    return total


#: Entries decoded per numpy step, and bytes scanned per step for '{' (bounded temporaries).
_BATCH = 16384
_SCAN_BYTES = 1 << 20


def _find_opens(buf: bytes, start: int, end: int) -> np.ndarray:
    """Offsets of every '{' in ``buf[start:end]``."""
    a = np.frombuffer(buf, np.uint8)
    if end - start <= _SCAN_BYTES:
        found = np.flatnonzero(a[start:end] == 0x7B)
        found += start
        return found
    mask = np.empty(_SCAN_BYTES, dtype=bool)
    parts = []
    for s in range(start, end, _SCAN_BYTES):
        e = min(s + _SCAN_BYTES, end)
        hits = np.flatnonzero(np.equal(a[s:e], 0x7B, out=mask[: e - s]))
        hits += s
        parts.append(hits)
    return np.concatenate(parts)


class _Entries(NamedTuple):
    seq: np.ndarray
    qsl: np.ndarray
    hex_start: np.ndarray  # offsets in the buffer
    hex_len: np.ndarray
    token_count: np.ndarray | None  # -1 where absent; None when no entry has one


def _loadgen_entries(buf: bytes, opens: np.ndarray, end: int) -> _Entries | None:
    """Decode the entries whose '{' are at ``opens`` and the last of which ends at ``end``.

    Returns None unless every entry is exactly in LoadGen's layout and every gap between two entries
    is exactly ",\n": then the region holds precisely these entries, as json.loads would read them.
    Each check covers all entries at once and the first that fails ends the attempt.
    """
    gather = _Gather(buf)
    n = opens.size
    close = np.empty_like(opens)
    close[:-1] = opens[1:] - 3
    close[-1] = end - 1

    a = gather(opens - 3, 32)
    if a is None or not ((a[0] >> _B24) == _T_OPEN[0]).all() or not (a[1] == _T_OPEN[1]).all():
        return None
    ints = _integers(a[2], a[3])
    if ints is None:
        return None
    seq_len, seq = ints
    e1 = opens + 13 + seq_len

    b = gather(e1 - 2, 32)
    if b is None or not ((b[0] >> _B16) == _T_QSL[0]).all() or not (b[1] == _T_QSL[1]).all():
        return None
    ints = _integers(b[2], b[3])
    if ints is None:
        return None
    qsl_len, qsl = ints
    e2 = e1 + 14 + qsl_len

    c = gather(e2 - 4, 32)
    if c is None or not ((c[0] >> _B32) == _T_DATA[0]).all() or not (c[1] == _T_DATA[1]).all():
        return None
    hex_start = e2 + 12
    hex_len = close - 2 - hex_start
    shortest, longest = int(hex_len.min()), int(hex_len.max())
    if shortest < 0:
        return None
    tc: np.ndarray | None = None
    tc_digits = 0
    if not (shortest == longest <= 11 and _tails_in_window(c, shortest)):
        # The ends of the entries: ' }' then ',\n' (all but the last), after '"' (variant a) or
        # after the token count (variant b).
        d = gather(close - 13, 16)
        if d is None or not (((d[1] >> _B32) & np.uint64(0xFFFF)) == _CLOSE).all():
            return None
        if not ((d[1][:-1] >> _B48) == _SEP).all():
            return None
        quote = ((d[1] >> _B24) & np.uint64(0xFF)) == _QUOTE
        if not quote.all():
            tok = np.flatnonzero(~quote)
            got = _token_counts(gather, close[tok], d[0][tok], d[1][tok])
            if got is None:
                return None
            key, tc_value, tc_digits = got
            hex_len[tok] = key - hex_start[tok]
            tc = np.full(n, -1, dtype=np.int64)
            tc[tok] = tc_value
            shortest, longest = int(hex_len.min()), int(hex_len.max())
            if shortest < 0:
                return None
    if (hex_len & 1).any():
        return None
    if longest <= 16:
        if not _hex_ok(c[2], min(shortest, 8) if shortest == longest else np.minimum(hex_len, 8)):
            return None
        if longest > 8 and not _hex_ok(c[3], np.clip(hex_len - 8, 0, 8)):
            return None
    else:
        # Every byte of [first '{', end) is now a checked template byte, a digit of a parsed integer
        # or a payload byte, and no template byte is a hex digit: the payloads are hex if and only if
        # the region holds exactly as many hex digits as the payloads and integers together.
        expected = int(hex_len.sum()) + int(seq_len.sum()) + int(qsl_len.sum()) + tc_digits
        if _count_hex(np.frombuffer(buf, np.uint8), int(opens[0]), end) != expected:
            return None
    return _Entries(seq, qsl, hex_start, hex_len, tc)


_TAIL_INNER = int.from_bytes(b'" },\n', "little")
_TAIL_LAST = int.from_bytes(b'" }', "little")


def _tails_in_window(c: np.ndarray, hex_len: int) -> bool:
    """Payloads of one short length: check '" },\n' (last entry: '" }') in the payload window."""
    at = 16 + hex_len  # where the closing quote sits in the window at E2 - 4
    lane, shift = divmod(at, 8)
    word = c[lane] >> np.uint64(8 * shift)
    if shift and lane < 3:
        word |= c[lane + 1] << np.uint64(64 - 8 * shift)
    if not ((word[:-1] & np.uint64(0xFFFFFFFFFF)) == _TAIL_INNER).all():
        return False
    return int(word[-1]) & 0xFFFFFF == _TAIL_LAST


def _token_counts(
    gather: _Gather, close: np.ndarray, d0: np.ndarray, d1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Variant b entries: (offset of the '"' ending the payload, token counts, total digits)."""
    # The digits of T end just before ' }': count them down from close - 2 in bytes close-9..close-2.
    tail = (d0 >> _B32) | (d1 << _B32)
    tc_len = _ctz8(_exact_digits(tail).byteswap() ^ _HI).view(np.int64)
    if tc_len.min() < 1 or tc_len.max() > 7:
        return None
    key = close - 1 - tc_len - 19  # the '"' that ends the payload
    e = gather(key - 5, 32)
    if e is None:
        return None
    if not (((e[0] >> _B40) == _T_TOKEN[0]).all() and (e[1] == _T_TOKEN[1]).all() and (e[2] == _T_TOKEN[2]).all()):
        return None
    ints = _integers(e[3], np.zeros(e[3].size, dtype=np.uint64))
    if ints is None or not np.array_equal(ints[0], tc_len):
        return None
    return key, ints[1], int(tc_len.sum())


# --------------------------------------------------------------------------------------------------
# Building the model


def _distinct_count(values: np.ndarray) -> tuple[int, int, int]:
    """(number of distinct values, min, max) of a non-empty int64 array of non-negative values."""
    low, high = int(values.min()), int(values.max())
    return count_distinct(values, (low, high)), low, high


_ENTRY_KEYS = ("seq_id", "qsl_idx", "data", "token_count")
_group1 = operator.methodcaller("group", 1)
_start1 = operator.methodcaller("start", 1)


def _all_of_type(values: list[Any], kind: type) -> bool:
    return not values or set(map(type, values)) == {kind}


def _index_array(values: list[Any]) -> np.ndarray | None:
    """int64 array of values that all pass ``_is_index``; else None."""
    if not _all_of_type(values, int):  # type() is int excludes bool, None, float
        return None
    try:
        array = np.array(values, dtype=np.int64)
    except OverflowError:
        return None
    if array.size and int(array.min()) < 0:
        return None
    return array


def _all_hex_strings(values: list[Any]) -> bool:
    """Every value passes ``_is_hex``: a str of hex digits of even length."""
    if not _all_of_type(values, str) or not _HEX.fullmatch("".join(values)):
        return False
    return not (np.fromiter(map(len, values), dtype=np.int64, count=len(values)) & 1).any()


#: Regions at least this large try the numpy tier first (below, its fixed costs do not pay off).
_NUMPY_MIN_BYTES = 8 << 10
#: Tests set this so that an exception in the numpy tier fails them instead of falling back.
_RAISE_FAST_PATH_ERRORS = False


class _Column:
    """An int64 array filled in place, grown by doubling, shrunk to its length when taken.

    Cheaper in memory than keeping per-region arrays and joining them at the end: the capacity not
    yet written is never touched, so the operating system does not back it with memory.
    """

    def __init__(self) -> None:
        self.data = np.empty(0, dtype=np.int64)
        self.n = 0

    def reserve(self, total: int) -> None:
        if total > self.data.size:
            grown = np.empty(max(total, 2 * self.data.size, 1024), dtype=np.int64)
            grown[: self.n] = self.data[: self.n]
            self.data = grown

    def extend(self, values: Any) -> None:
        k = len(values)
        self.reserve(self.n + k)
        self.data[self.n : self.n + k] = values
        self.n += k

    def take(self) -> np.ndarray:
        data, n = self.data, self.n
        self.data, self.n = np.empty(0, dtype=np.int64), 0
        if data.size == n:
            return data
        try:
            data.resize(n, refcheck=False)  # realloc in place, no copy
        except ValueError:  # pragma: no cover - the array always owns its memory
            return data[:n].copy()
        return data


class _Builder:
    """Accumulates entries and structure state; reports problems through a capped sink."""

    def __init__(self, sink: ProblemSink) -> None:
        self.sink = sink
        self.state = _START
        self.structure_ok = True
        self.closed = False
        self.code_counts: dict[str, int] = {}
        # Per-entry columns in file order; the careful tier collects lists first, flushed in order.
        self.seq = _Column()
        self.qsl = _Column()
        self.sizes = _Column()
        self.offsets = _Column()
        self.lengths = _Column()
        # token_count per entry is only kept once a log has shown one (LLM logs); -1 where absent.
        self.tc: _Column | None = None
        #: File size, to size the columns from the density of the first large region.
        self.size_hint = 0
        self.p_seq: list[int] = []
        self.p_qsl: list[int] = []
        self.p_size: list[int] = []
        self.p_off: list[int] = []
        self.p_len: list[int] = []
        self.p_tc: list[int] = []
        self.token_count_entries = 0
        self.token_data_entries = 0
        self.lowercase = 0
        self.bad_entries = 0
        #: Maps offsets in the parsed text to offsets in the file (a truncated log with CRLF).
        self.offset_map: Callable[[np.ndarray], np.ndarray] | None = None

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

    def region(self, buf: bytes, start: int, end: int, line: int, base: int = 0, fast_paths: bool = True) -> int:
        """Read the entries of ``buf[start:end]`` (ends right after a ``}``); return its newline count.

        ``base`` is the file offset of ``buf[0]``. The tiers are tried in order; each either takes the
        whole region or leaves it untouched for the next.
        """
        if fast_paths and end - start >= _NUMPY_MIN_BYTES:
            try:
                got = self._numpy(buf, start, end)
            except Exception:  # a bug there must not cost the file: the other tiers read the region
                if _RAISE_FAST_PATH_ERRORS:
                    raise
                got = None
            if got is not None:
                entries, newlines = got
                if self.seq.n == 0 and self.size_hint > 2 * (end - start):
                    self._reserve(int(entries.seq.size * self.size_hint / (end - start) * 1.05) + 1024)
                tc = entries.token_count
                present = 0 if tc is None else int(np.count_nonzero(tc >= 0))
                offsets = entries.hex_start
                offsets += base
                self._commit(entries.seq, entries.qsl, entries.hex_len, offsets, tc, present)
                return newlines
        if not (fast_paths and (self._fast(buf, start, end, base) or self._bulk(buf, start, end, base))):
            self._careful(buf, start, end, line, base)
        return buf.count(b"\n", start, end)

    def _first_gap_ok(self, gap: bytes) -> bool:
        if self.state == _IN_ARRAY:
            return _SEP_GAP.fullmatch(gap) is not None
        return (_OPEN_GAP if self.state == _START else _SPACE_GAP).fullmatch(gap) is not None

    def _numpy(self, buf: bytes, start: int, end: int) -> tuple[_Entries, int] | None:
        """Tier 1 (nothing committed): the region's entries and newline count, or None."""
        opens = _find_opens(buf, start, end)
        if opens.size == 0:
            return None
        first = int(opens[0])
        if not self._first_gap_ok(buf[start:first]):
            return None
        # In batches, so that the temporaries stay small enough for malloc to recycle them (a working
        # set of tens of MB is handed back to the system after each region and faulted in again).
        parts = []
        n = opens.size
        for i in range(0, n, _BATCH):
            j = min(i + _BATCH, n)
            stop = end if j == n else int(opens[j]) - 2
            if j < n and buf[stop : stop + 2] != b",\n":
                return None
            got = _loadgen_entries(buf, opens[i:j], stop)
            if got is None:
                return None
            parts.append(got)
        if len(parts) > 1:
            tcs = [p.token_count for p in parts]
            if any(tc is not None for tc in tcs):
                tc_all = np.concatenate([np.full(p.seq.size, -1, np.int64) if tc is None else tc
                                         for p, tc in zip(parts, tcs, strict=True)])
            else:
                tc_all = None
            got = _Entries(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Entries._fields[:4]), tc_all)
        else:
            got = parts[0]
        # Inside the region only the n - 1 gaps ",\n" hold newlines.
        return got, buf.count(b"\n", start, first) + n - 1

    def _commit(
        self, seq: Any, qsl: Any, hex_len: np.ndarray, offsets: Any, tc: np.ndarray | None, tc_present: int,
    ) -> None:
        self._flush_careful()
        self.state = _IN_ARRAY
        self._append(seq, qsl, hex_len // 2, offsets, hex_len, tc if tc_present else None)
        self.token_count_entries += tc_present

    def _reserve(self, total: int) -> None:
        for column in (self.seq, self.qsl, self.sizes, self.offsets, self.lengths):
            column.reserve(total)

    def _append(self, seq: Any, qsl: Any, sizes: Any, offsets: Any, lengths: Any, tc: Any) -> None:
        n = len(seq)
        if tc is not None and self.tc is None:
            # The first token_count: -1 for the entries before it.
            self.tc = _Column()
            self.tc.extend(np.full(self.seq.n, -1, dtype=np.int64))
        if self.tc is not None:
            self.tc.extend(np.full(n, -1, dtype=np.int64) if tc is None else tc)
        self.seq.extend(seq)
        self.qsl.extend(qsl)
        self.sizes.extend(sizes)
        self.offsets.extend(offsets)
        self.lengths.extend(lengths)

    def _fast(self, buf: bytes, start: int, end: int, base: int) -> bool:
        # A region whose first entry does not match is left at once: findall would retry from every
        # byte, each time scanning to the next '{' (quadratic in the distance between entries).
        if _FAST_ENTRY.match(buf, start, end) is None:
            return False
        res = _FAST_ENTRY.findall(buf, start, end)
        n = len(res)
        # Every '{' must open a matched entry, otherwise something was skipped over (a stray '}'
        # would sit in a gap and fail the gap check).
        if n == 0 or n != buf.count(b"{", start, end):
            return False
        gaps = list(map(_g[0], res))
        if self.state != _IN_ARRAY:
            if not self._first_gap_ok(gaps[0]):
                return False
            others = set(gaps[1:])
        else:
            others = set(gaps)
        if any(not _SEP_GAP.fullmatch(g) for g in others):
            return False
        datas = list(map(_g[4], res))
        tds = [t[1:-1] for t in map(_g[6], res) if t]
        # Upper-case hex only (anything else, lower case included, takes the careful path).
        if b"".join(datas).translate(None, _UPPER_HEX_DIGITS):
            return False
        if tds and (b"".join(tds).translate(None, _UPPER_HEX_DIGITS) or any(len(t) & 1 for t in tds)):
            return False
        hex_lens = np.fromiter(map(len, datas), dtype=np.int64, count=n)
        if (hex_lens & 1).any():
            return False
        # The matches tile the region from its start; the last must end at its end (a stray '}'
        # after the last entry would otherwise go unseen).
        gap_lens = np.fromiter(map(len, gaps), dtype=np.int64, count=n)
        prefix_lens = np.fromiter(map(len, map(_g[1], res)), dtype=np.int64, count=n)
        suffix_lens = np.fromiter(map(len, map(_g[5], res)), dtype=np.int64, count=n)
        spans = gap_lens + prefix_lens + hex_lens + suffix_lens
        ends = np.cumsum(spans)
        if start + int(ends[-1]) != end:
            return False
        offsets = base + start + ends - spans + gap_lens + prefix_lens
        tcs = list(map(_g[7], res))
        present = n - tcs.count(b"")
        tc = np.fromiter((int(t) if t else -1 for t in tcs), dtype=np.int64, count=n) if present else None
        self._commit(
            np.fromiter(map(int, map(_g[2], res)), dtype=np.int64, count=n),
            np.fromiter(map(int, map(_g[3], res)), dtype=np.int64, count=n),
            hex_lens, offsets, tc, present,
        )
        self.token_data_entries += len(tds)
        return True

    def _bulk(self, buf: bytes, start: int, end: int, base: int) -> bool:
        """Tier 3: the whole region as one JSON array, when every object in it is a valid entry.

        For valid logs in other layouts (sorted keys, indented, other spacing): one ``json.loads`` in C
        instead of one per entry. Anything the careful tier would report leaves the region to it.
        """
        opens = np.flatnonzero(np.frombuffer(buf, np.uint8, end - start, start) == 0x7B)
        n = opens.size
        # As many '}' as '{' and as many objects as '{': no nesting, no brace inside a string, so
        # the k-th object is the one at the k-th '{', as the careful tier would cut them.
        if n == 0 or buf.count(b"}", start, end) != n:
            return False
        opens += start
        first = int(opens[0])
        if not self._first_gap_ok(buf[start:first]):
            return False
        try:
            objs = json.loads(b"[" + buf[first:end] + b"]")
        except ValueError:  # UnicodeDecodeError included
            return False
        if len(objs) != n or not _all_of_type(objs, dict):
            return False
        # Whole-list checks with the careful tier's rules (_is_index, _is_hex), in C where possible.
        seqs, qsls, datas, tcs = (list(map(dict.get, objs, itertools.repeat(k))) for k in _ENTRY_KEYS)
        seq_arr, qsl_arr = _index_array(seqs), _index_array(qsls)
        if seq_arr is None or qsl_arr is None or not _all_hex_strings(datas):
            return False
        present = n - tcs.count(None)
        tc_arr = None
        if present:
            if _index_array([t for t in tcs if t is not None]) is None:
                return False
            tc_arr = np.array([-1 if t is None else t for t in tcs], dtype=np.int64)
        with_td = [obj["token_data"] for obj in objs if "token_data" in obj]
        if with_td and not _all_hex_strings(with_td):
            return False
        # The text of each payload: exactly one plain '"data": "HEX"' per object, holding the value
        # json.loads kept (a key written with escapes or repeated leaves the region to the careful tier).
        found = list(_DATA_TEXT.finditer(buf, first, end))
        if len(found) != n or list(map(_group1, found)) != list(map(str.encode, datas)):
            return False
        starts = np.fromiter(map(_start1, found), dtype=np.int64, count=n)
        if (starts < opens).any() or (starts[:-1] > opens[1:]).any():
            return False
        lengths = np.fromiter(map(len, datas), dtype=np.int64, count=n)
        self._commit(seq_arr, qsl_arr, lengths, starts + base, tc_arr, present)
        if _LOWER_HEX.search("".join(datas)):
            self.lowercase += sum(1 for d in datas if _LOWER_HEX.search(d))
        self.token_data_entries += len(with_td)
        return True

    def _careful(self, buf: bytes, start: int, end: int, line: int, base: int = 0) -> None:
        pos = start
        for m in _OBJECT.finditer(buf, start, end):
            s, e = m.span()
            self.gap(buf, pos, s, line)
            line += buf.count(b"\n", pos, s)
            self.entry(m.group(), line, base + s)
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

    def entry(self, raw: bytes, line: int, offset: int = 0) -> None:
        """Careful path: one object read with ``json.loads`` and checked key by key.

        ``offset`` is the file offset of ``raw``, to locate the text of the payload.
        """
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
        try:
            span_start, span_end = _data_span(raw, data)
        except (ValueError, IndexError):  # pragma: no cover - raw is valid JSON; never seen
            span_start, span_end = -1 - offset, -1 - offset  # offset -1: payload() will say so
        self.state = _IN_ARRAY
        self.p_seq.append(seq)
        self.p_qsl.append(qsl)
        self.p_size.append(len(data) // 2)
        self.p_off.append(offset + span_start)
        self.p_len.append(span_end - span_start)
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
            has_tc = self.tc is not None or any(t >= 0 for t in self.p_tc)
            self._append(self.p_seq, self.p_qsl, self.p_size, self.p_off, self.p_len,
                         np.array(self.p_tc, dtype=np.int64) if has_tc else None)
            self.p_seq, self.p_qsl, self.p_size, self.p_tc = [], [], [], []
            self.p_off, self.p_len = [], []

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

    def arrays(self) -> dict[str, np.ndarray | None]:
        """The per-entry arrays (taken from the columns, which are left empty)."""
        self._flush_careful()
        out: dict[str, np.ndarray | None] = {
            "seq_id": self.seq.take(),
            "qsl_idx": self.qsl.take(),
            "payload_sizes": self.sizes.take(),
            "payload_offsets": self.offsets.take(),
            "payload_lengths": self.lengths.take(),
            "token_count": self.tc.take() if self.tc is not None and self.token_count_entries else None,
        }
        offsets, lengths = out["payload_offsets"], out["payload_lengths"]
        if self.offset_map is not None and offsets is not None and lengths is not None and offsets.size:
            ends = self.offset_map(offsets + lengths)
            out["payload_offsets"] = self.offset_map(offsets)
            out["payload_lengths"] = ends - out["payload_offsets"]
        return out

    def build(self, size: int, sha256: str | None, line_count: int, **extra: Any) -> AccuracyLog:
        arrays = self.arrays()
        seq, qsl, sizes = arrays["seq_id"], arrays["qsl_idx"], arrays["payload_sizes"]
        n = int(qsl.size)
        fields: dict[str, Any] = {
            "size": size,
            "line_count": line_count,
            "entry_count": n,
            "bad_entry_count": self.bad_entries,
            "lowercase_hex_entries": self.lowercase,
            "token_count_entries": self.token_count_entries,
            "token_data_entries": self.token_data_entries,
            **arrays,
        }
        if n:
            unique_qsl, min_qsl, max_qsl = _distinct_count(qsl)
            unique_seq, min_seq, max_seq = _distinct_count(seq)
            lo, hi = int(sizes.min()), int(sizes.max())
            distinct_sizes = [lo] if lo == hi else distinct_sorted(sizes).tolist()
            fields.update(
                unique_qsl_count=unique_qsl,
                duplicate_qsl_count=n - unique_qsl,
                duplicate_seq_count=n - unique_seq,
                min_qsl_idx=min_qsl,
                max_qsl_idx=max_qsl,
                min_seq_id=min_seq,
                max_seq_id=max_seq,
                payload_sizes_distinct=distinct_sizes[:DISTINCT_SIZES_KEPT],
                payload_sizes_distinct_count=len(distinct_sizes),
                min_payload_bytes=lo,
                max_payload_bytes=hi,
                total_payload_bytes=int(sizes.sum()),
            )
        fields.update(extra)
        model = AccuracyLog(**fields)
        model._sha256 = sha256
        return model


def _data_span(raw: bytes, data: str) -> tuple[int, int]:
    """Where, in the raw object text, the value json.loads read as ``data`` is written (quotes excluded).

    Nearly always found by one regular expression; a key or value written with escapes, or a
    repeated key, falls back to walking the object with the json module's own string scanner.
    """
    found = None
    for m in _DATA_TEXT.finditer(raw):
        found = m
    if found is not None and found.group(1) == data.encode():
        return found.span(1)
    text = raw.decode("utf-8", "surrogatepass")  # json.loads accepted raw, so this decodes
    span = _string_spans(text).get("data")
    if span is None:  # pragma: no cover - json.loads found a string "data" value
        return 0, 0
    start = len(text[: span[0]].encode("utf-8", "surrogatepass"))
    return start, start + len(text[span[0] : span[1]].encode("utf-8", "surrogatepass"))


def _string_spans(text: str) -> dict[str, tuple[int, int]]:
    """key → (start, end) of its string value in a flat JSON object known to be valid (last key wins)."""
    spans: dict[str, tuple[int, int]] = {}
    decoder = json.JSONDecoder()
    pos = _JSON_WS.match(text, text.index("{") + 1).end()
    while text[pos] != "}":
        key, pos = scanstring(text, pos + 1)
        pos = _JSON_WS.match(text, pos).end() + 1  # the ':'
        pos = _JSON_WS.match(text, pos).end()
        if text[pos] == '"':
            _, end = scanstring(text, pos + 1)
            spans[key] = (pos + 1, end - 1)
        else:
            _, end = decoder.raw_decode(text, pos)
            spans.pop(key, None)
        pos = _JSON_WS.match(text, end).end()
        if text[pos] == ",":
            pos = _JSON_WS.match(text, pos + 1).end()
    return spans


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
    fast_paths: bool = True,
) -> ParseResult[AccuracyLog]:
    """Read one accuracy log in a single bounded-memory pass (hash + entries). Never raises.

    ``fast_paths=False`` reads every entry with ``json.loads`` (the careful tier): slower, and the
    same model and problems; it exists to cross-check the fast tiers.
    """
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[AccuracyLog](kind=KIND, path=shown)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        sink.add("not_a_file", "a directory where the accuracy log should be", expected="a file")
        result.problems = sink.finish()
        return result
    if st is not None and not stat.S_ISREG(st.st_mode):
        # A FIFO or a device would block or never end: not opened.
        sink.add("not_a_file", "not a regular file (a FIFO, socket or device) where the accuracy log should be",
                 expected="a file")
        result.problems = sink.finish()
        return result
    if st is None:
        sink.add("missing", "the accuracy log does not exist or cannot be read")
        result.problems = sink.finish()
        return result
    try:
        result.model = _parse(path, sink, max(chunk_bytes, 1), max_entry_bytes, fast_paths)
    except OSError as exc:
        sink.add("unreadable", f"read error: {exc.strerror or exc}")
    result.problems = sink.finish()
    return result


def _read_chunks(handle: Any, chunk_bytes: int) -> Iterator[bytes]:
    while True:
        chunk = handle.read(chunk_bytes)
        if not chunk:
            return
        yield chunk


_WORKER: tuple[int, ThreadPoolExecutor] | None = None
#: its thread's name (checker.runtime.only_thread knows it by that)
READER_THREAD_NAME = "accuracy-log-reader"
_WORKER_LOCK = threading.Lock()
#: Files at least this large are read and hashed in the worker thread, ahead of the parser.
_THREAD_MIN_BYTES = 1 << 20
#: The first read of such a file, and the factor by which each next read grows (to chunk_bytes).
_FIRST_READ_BYTES = 256 << 10
_READ_GROWTH = 4


def _worker() -> ThreadPoolExecutor:
    """One shared reading/hashing thread per process (re-created after a fork, which drops threads)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None or _WORKER[0] != os.getpid():
            _WORKER = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix=READER_THREAD_NAME))
        return _WORKER[1]


def stop_reader_thread() -> None:
    """Stop this process's reading/hashing thread (the next large file starts one again), so that a
    process about to fork has no thread left; call it only when no other thread may be parsing."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is not None and _WORKER[0] == os.getpid():
            _WORKER[1].shutdown(wait=True)
        _WORKER = None


def _read_ahead(handle: Any, size: int, chunk_bytes: int) -> Iterator[bytes]:
    """The file's chunks.

    For large files a worker thread reads the next chunk while the parser works on the current one
    (file reads release the GIL); at most two chunks are alive at once.

    The first chunk is small and read here, and each read after it is larger (up to
    ``chunk_bytes``): the parser starts at once instead of waiting for a whole chunk to be copied,
    and, parsing being several times slower than reading, the worker still keeps ahead of it.
    """
    if size < _THREAD_MIN_BYTES:
        yield from _read_chunks(handle, chunk_bytes)
        return
    pool = _worker()
    step = min(chunk_bytes, _FIRST_READ_BYTES)
    reading: Future[bytes] | None = None
    try:
        chunk = handle.read(step)
        while chunk:
            step = min(chunk_bytes, step * _READ_GROWTH)
            reading = pool.submit(handle.read, step)
            yield chunk
            chunk = reading.result()
    finally:
        # The read done before the caller closes the file (also on early exit).
        if reading is not None:
            reading.exception()


def _parse(path: Path, sink: ProblemSink, chunk_bytes: int, max_entry_bytes: int, fast_paths: bool) -> AccuracyLog:
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        model, raw = _parse_handle(handle, st.st_size, sink, chunk_bytes, max_entry_bytes, fast_paths)
    if raw is not None:
        model._source = raw
    else:
        model._source = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    return model


def _parse_handle(
    handle: Any, size: int, sink: ProblemSink, chunk_bytes: int, max_entry_bytes: int, fast_paths: bool
) -> tuple[AccuracyLog, bytes | None]:
    """The model, and the file's bytes when it was small enough to be read whole (and hashed: a
    streamed log is hashed only when asked, see :meth:`AccuracyLog.content_sha256`)."""
    builder = _Builder(sink)
    builder.size_hint = size
    raw: bytes | None = None
    if size <= _TRUNCATED_MAX_BYTES:
        raw = handle.read()
        head = raw[:4096]
    else:
        head = handle.read(4096)
        handle.seek(0)
    sha256 = hashlib.sha256(raw).hexdigest() if raw is not None else None
    if not raw and size <= _TRUNCATED_MAX_BYTES:
        sink.add("empty", "the accuracy log is empty", expected="a JSON array")
        return builder.build(0, sha256, 0), b""
    if looks_binary(head):
        sink.add("binary", "the accuracy log is binary, not JSON text", line=1)
        newlines = 0
        last = b"\n"
        for chunk in [raw] if raw is not None else _read_ahead(handle, size, chunk_bytes):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        return builder.build(size, sha256, newlines + (0 if last == b"\n" else 1)), raw

    if raw is not None:
        trunc = _truncation_shape(raw, sink)
        if trunc is not None:
            return _parse_truncated(trunc, builder, len(raw), sha256, raw, fast_paths), raw
        chunks: Iterator[bytes] = iter([raw])
    else:
        chunks = _read_ahead(handle, size, chunk_bytes)

    splitter = _Splitter(max_entry_bytes, builder.overflow)
    total = 0
    last = b"\n"
    for chunk in chunks:
        total += len(chunk)
        last = chunk[-1:]
        for buf, start, end, base in splitter.push(chunk):
            splitter.line += builder.region(buf, start, end, splitter.line, base, fast_paths)
    rest, line = splitter.rest()
    builder.end(rest, line, splitter.skipping, splitter.skip_line)
    builder.finish_problems()
    complete = builder.closed and builder.structure_ok
    model = builder.build(
        total,
        sha256,
        line - 1 + rest.count(b"\n") + (0 if last == b"\n" else 1),
        complete_json=complete,
        partial=not complete,
    )
    return model, raw


def _crlf_offset_map(raw: bytes, text: bytes) -> Callable[[np.ndarray], np.ndarray] | None:
    """Offsets in ``text`` (``raw`` with CRLF made LF) → offsets in ``raw``; None when they agree."""
    if len(raw) == len(text):
        return None
    crlf = np.array([m.start() for m in re.finditer(rb"\r\n", raw)], dtype=np.int64)
    # The k-th removed '\r' stood just before what is now text[crlf[k] - k] (its '\n').
    newlines = crlf - np.arange(crlf.size, dtype=np.int64)
    return lambda offsets: offsets + np.searchsorted(newlines, offsets, side="right")


def _parse_truncated(
    trunc: _Truncation, builder: _Builder, size: int, sha256: str | None, raw: bytes, fast_paths: bool = True
) -> AccuracyLog:
    head, tail, tail_start = _truncated_regions(trunc)
    text = trunc.text
    builder.offset_map = _crlf_offset_map(raw, text)
    if head is not None:
        builder.region(text, *head, fast_paths=fast_paths)
    # The tail starts mid-entry: whatever precedes its first '{' is the end of a cut entry.
    builder.state = _RESUME
    if tail is not None:
        start, end, line = tail
        builder.region(text, start, end, line, fast_paths=fast_paths)
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
        with open(path, "rb") as handle:
            if looks_binary(handle.read(4096)):
                return
            handle.seek(0)
            if size <= _TRUNCATED_MAX_BYTES:
                raw = handle.read()
                trunc = _truncation_shape(raw, None)
                if trunc is not None:
                    head, tail, _ = _truncated_regions(trunc)
                    for region in (head, tail):
                        if region is not None:
                            yield from _entries_in(trunc.text, *region)
                    return
                chunks: Iterator[bytes] = iter([raw])
            else:
                chunks = _read_chunks(handle, chunk_bytes)
            splitter = _Splitter(max_entry_bytes)
            for chunk in chunks:
                for buf, start, end, _ in splitter.push(chunk):
                    line = splitter.line
                    splitter.line += buf.count(b"\n", start, end)
                    yield from _entries_in(buf, start, end, line)
    except OSError:
        return
