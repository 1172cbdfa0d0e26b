"""Byte-identical files are parsed once: the later copies reuse the first one's parse.

Submission trees hold many exact copies: the same ``mlperf.conf`` in every measurement folder, the
accuracy run copied into ``compliance/…/TEST01/accuracy``, a summary copied next to its audit run.
In the v0.5–v1.0 corpus, 1,500 of 5,800 parsed files repeat an earlier file of the same submitter.

A copy is recognised exactly, never guessed: only files with the same kind, file name and size are
compared, first by their last 4 KB (the whole of most small files; where logs of two runs differ:
results, timestamps, the last entries), then, for larger files whose tails agree, byte for byte
(both read side by side, which costs less than hashing either). Tails are read only when a later
file of that kind, name and size turns up, so a file with no same-size twin costs one dictionary
lookup. A reused result is the same model with the file's own path in
the result and in every problem. Sharing the model is safe: what a model works out later (a sample
set read as integers) comes from the same bytes.

Every parser's result depends on nothing but the file's name and bytes (no parser looks at the
folder around the file), which is what makes the reuse exact. One memo lives as long as one parse
cache (:class:`checker.engine.evidence.Evidence`, one per checked partition), so memory stays bounded
by what that cache keeps anyway.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from checker.parse.base import OPEN_FLAGS, ParseResult, display_path, hand_over

#: Files of one (kind, name, size) remembered for comparison; more is never seen in real trees.
MAX_TWINS = 16
#: Files up to this size are compared byte for byte; larger ones by this tail, then by SHA-256.
TAIL_BYTES = 4096


@dataclass
class _Parsed:
    path: Path
    result: ParseResult
    identity: tuple[int, ...]  # the file's stat when it was parsed: a twin is trusted only while it holds
    tail: bytes | None = None  # the last TAIL_BYTES, read on first need


def _identity(info: os.stat_result) -> tuple[int, ...]:
    """What any write to a file changes (ctime too, so a write that restores the mtime is seen)."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


@dataclass
class _Twins:
    """The files of one (kind, name, size): by tail once their tail has been read (so a new file is
    compared with the files that end as it does, not with each of up to :data:`MAX_TWINS`)."""

    untailed: list[_Parsed]
    by_tail: dict[bytes, list[_Parsed]]
    count: int = 0

    def add(self, parsed: _Parsed) -> None:
        if parsed.tail is None:
            self.untailed.append(parsed)
        else:
            self.by_tail.setdefault(parsed.tail, []).append(parsed)
        self.count += 1

    def ending_with(self, tail: bytes, size: int) -> list[_Parsed]:
        """The files whose last bytes are ``tail`` (reading the tails not read yet)."""
        if self.untailed:
            unread = []
            for twin in self.untailed:
                twin.tail = _tail(twin.path, size)
                if twin.tail is None:
                    unread.append(twin)  # tried again next time, as a read error may pass
                else:
                    self.by_tail.setdefault(twin.tail, []).append(twin)
            self.untailed = unread
        return self.by_tail.get(tail, [])


class ContentMemo:
    """Parse results by exact content (see the module docstring)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int], _Twins] = {}
        #: how many parses were answered by an identical earlier file
        self.reused = 0

    def parse(self, kind: str, path: Path, root: Path | None,
              parser: Callable[..., ParseResult], info: os.stat_result | None = None) -> ParseResult:
        """``parser(path, root=root)``, or the result of an earlier byte-identical file. ``info``: the
        file's stat when the caller has just taken it (saves one)."""
        if info is None:
            try:
                info = os.stat(path)
            except OSError:
                return parser(path, root=root)
        if not stat.S_ISREG(info.st_mode):
            return parser(path, root=root)
        size = info.st_size
        key = (kind, path.name, size)
        twins = self._seen.get(key)
        tail: bytes | None = None
        whole: bytes | None = None  # the whole file, when small: its tail, and what the parser is handed
        if twins is not None:
            whole = _whole(path, size)
            tail = whole if whole is not None else _tail(path, size)
            for twin in [] if tail is None else twins.ending_with(tail, size):
                if not _unchanged(twin):  # its bytes would no longer be those it was parsed from
                    continue
                # a larger file is compared whole, and its twin's stat checked again after the reading
                if size > TAIL_BYTES and not (_same_bytes(path, twin.path, size) and _unchanged(twin)):
                    continue
                self.reused += 1
                return moved(twin.result, display_path(path, root))
        result = parser(path, root=root) if whole is None else _parse_handed(parser, path, root, whole)
        if twins is None:
            twins = self._seen[key] = _Twins([], {})
        if twins.count < MAX_TWINS:
            twins.add(_Parsed(path, result, _identity(info), tail))
        return result


def _whole(path: Path, size: int) -> bytes | None:
    """A file of at most TAIL_BYTES read whole (its tail), when it is still a regular file of the
    ``size`` it had: what the parser's read_small_bytes would read. Else None (its tail is read)."""
    if size > TAIL_BYTES or not hasattr(os, "pread"):
        return None
    data = _read_at(path, size + 1, 0, size)  # short of size + 1 on a regular file: its end was reached
    return data if data is not None and len(data) == size else None


def _parse_handed(parser: Callable[..., ParseResult], path: Path, root: Path | None, data: bytes) -> ParseResult:
    """``parser(path, root=root)`` reading ``data`` (the file, just read whole) instead of the file
    again: read_small_bytes takes it once. Parsers that read otherwise still open the file."""
    hand_over(path, data)
    try:
        return parser(path, root=root)
    finally:
        hand_over(None)


def _unchanged(twin: _Parsed) -> bool:
    try:
        return _identity(os.stat(twin.path)) == twin.identity
    except OSError:
        return False


def _tail(path: Path, size: int) -> bytes | None:
    if not hasattr(os, "pread"):  # pragma: no cover - not POSIX
        try:
            with open(path, "rb") as handle:
                handle.seek(max(size - TAIL_BYTES, 0))
                return handle.read(TAIL_BYTES)
        except OSError:
            return None
    return _read_at(path, TAIL_BYTES, max(size - TAIL_BYTES, 0))


def _read_at(path: Path, length: int, offset: int, size: int | None = None) -> bytes | None:
    """Up to ``length`` bytes of ``path`` from ``offset``, or None on any error; with ``size``, None
    also unless it is still a regular file of that size."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None
    try:
        if size is not None:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size != size:
                return None
        return os.pread(fd, length, offset)
    except OSError:
        return None
    finally:
        os.close(fd)


#: Bytes read from each file per step when two files of one size are compared whole.
COMPARE_BLOCK = 1 << 20


def _same_bytes(first: Path, second: Path, size: int) -> bool:
    """Whether both files hold the same ``size`` bytes and end there; False on any read error.

    Read side by side in blocks: two reads from the page cache and a comparison cost far less than
    hashing either file (SHA-256 runs at about a byte per nanosecond)."""
    try:
        one = os.open(first, OPEN_FLAGS)
    except OSError:
        return False
    try:
        two = os.open(second, OPEN_FLAGS)
    except OSError:
        os.close(one)
        return False
    try:
        done = 0
        while True:
            step = min(COMPARE_BLOCK, size - done) or 1  # at the end: one more byte, to see both end
            a, b = os.read(one, step), os.read(two, step)
            if a != b:
                return False
            if done == size:
                return not a
            if len(a) < step:
                return False
            done += step
    except OSError:
        return False
    finally:
        os.close(one)
        os.close(two)


def moved(result: ParseResult, shown: str) -> ParseResult:
    """The same parse, told about another path (the model itself holds no path)."""
    problems = [problem.model_copy(update={"path": shown}) for problem in result.problems]
    return result.model_copy(update={"path": shown, "problems": problems})
