"""Shared vocabulary of every parser: values that remember their line, parse problems, results.

A parser never raises on bad input. It returns a :class:`ParseResult` holding the model it could
build (possibly partial) and a list of :class:`ParseProblem` describing what it could not read, with
the file and line, so that the engine can turn each problem into a finding that points at the spot.

Every parse model is declared with ``defer_build=True``: pydantic builds its validator when a
model is first validated, not when its module is imported. A worker process that only loads
parse results from the parse cache (the unchanged files of a changed submitter) never builds them;
building all of them took about 25 ms of each worker's start.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: Lines longer than this are not held in memory: the parser reports them and skips their rest.
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
READ_CHUNK = 1 << 20
#: Files up to this size are read in one piece by :func:`iter_lines` (no line can be too long then).
SMALL_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A value together with the 1-based line it was read from (None when it has no single line).

    A frozen dataclass rather than a pydantic model: parsers create one per value read (tens of
    thousands per corpus), and pydantic still validates and serialises it inside the models.
    """

    value: T
    line: int | None = None

    def __init__(self, value: T, line: int | None = None) -> None:
        # Written straight into the instance dict: the generated frozen __init__ goes through
        # object.__setattr__ per field (0.25 against 0.15 us; 60,000 are made per corpus parse).
        fields = self.__dict__
        fields["value"] = value
        fields["line"] = line


class ParseProblem(BaseModel, defer_build=True):
    """Something a parser could not read as expected. Becomes a finding later; never an exception."""

    path: str
    line: int | None = None
    code: str = Field(description="short machine-readable class: empty, binary, encoding, syntax, ...")
    message: str
    expected: str | None = None
    found: str | None = None


class ParseResult(BaseModel, Generic[M], defer_build=True):
    """What a parser returns: the model (None when nothing usable was found) and its problems."""

    kind: str
    path: str
    model: M | None = None
    problems: list[ParseProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.model is not None and not self.problems


class ProblemSink:
    """Collects problems for one file; parsers call :meth:`add` instead of raising."""

    def __init__(self, path: str, limit: int = 200) -> None:
        self.path = path
        self.problems: list[ParseProblem] = []
        self.limit = limit
        self.dropped = 0

    def add(
        self,
        code: str,
        message: str,
        line: int | None = None,
        expected: str | None = None,
        found: Any = None,
    ) -> None:
        if len(self.problems) >= self.limit:
            self.dropped += 1
            return
        found_text = None if found is None else shorten(str(found))
        self.problems.append(
            ParseProblem(path=self.path, line=line, code=code, message=message, expected=expected, found=found_text)
        )

    def finish(self) -> list[ParseProblem]:
        if self.dropped:
            self.problems.append(
                ParseProblem(
                    path=self.path,
                    code="too_many_problems",
                    message=f"{self.dropped} further problems in this file were not listed",
                )
            )
            self.dropped = 0
        return self.problems


def shorten(text: str, limit: int = 120) -> str:
    """Keep messages readable: long or binary-looking values are cut and escaped."""
    text = text.replace("\x00", "\\0")
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def as_path(value: Path | str) -> Path:
    """``value`` as a Path; a Path as it is (``Path(path)`` parses the text again: some 3 us a call)."""
    return value if isinstance(value, Path) else Path(value)


def display_path(path: Path, root: Path | None) -> str:
    """The path as findings show it: relative to the checked tree's root when one is given."""
    if root is not None:
        text, base = os.fspath(path), os.fspath(root)
        prefix = base if base.endswith("/") else base + "/"
        if os.sep == "/" and text.startswith(prefix):
            # what relative_to gives (Path objects are normalised), without building Path objects
            return text[len(prefix) :]
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def iter_lines(
    path: Path,
    sink: ProblemSink,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    head_only_bytes: int | None = None,
    chunk_bytes: int = 4 * READ_CHUNK,
) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for each line of a file in bounded memory.

    The file is read in large chunks and split in C, so the per-line cost stays small. Bytes that
    are not UTF-8 are replaced (one ``encoding`` problem per file); a line longer than
    ``max_line_bytes`` is reported as ``line_too_long`` and skipped without holding it in memory.
    ``head_only_bytes`` stops early for parsers that only need the start of a file.
    """
    state = {"encoding_reported": False}

    def decode(raw: bytes, lineno: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not state["encoding_reported"]:
                state["encoding_reported"] = True
                _encoding_problem(sink, lineno, raw[exc.start], exc.start + 1)
            return raw.decode("utf-8", errors="replace")

    def too_long(lineno: int, size: int) -> None:
        sink.add(
            "line_too_long",
            f"line of {size} bytes is longer than the {max_line_bytes}-byte limit; skipped",
            line=lineno,
            expected=f"at most {max_line_bytes} bytes per line",
            found=f"{size} bytes",
        )

    handle = open_regular(path)
    if handle is None:
        odd = not_regular(path)
        if odd is not None:
            sink.add("not_a_file", f"not a regular file ({odd}); not read", expected="a file", found=odd)
            return
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed in finally, generator
        except OSError as exc:
            sink.add("unreadable", f"cannot open file: {exc.strerror or exc}")
            return
    try:
        small = min(max_line_bytes, SMALL_FILE_BYTES)
        size = _size(handle)
        if head_only_bytes is None and size <= small:
            # the common case, a small file: one read, one decode, one split in C
            try:
                data = _read_upto(handle, size, small)
            except OSError as exc:
                sink.add("unreadable", f"read error: {exc.strerror or exc}", line=1)
                return
            if len(data) <= small:  # else it grew since fstat: stream it from the start
                yield from enumerate(split_lines(decode_reporting(data, sink)), 1)
                return
            handle.seek(0)
        lineno = 0
        consumed = 0
        carry = b""
        skipping = 0  # bytes of an overlong line being skipped
        while True:
            try:
                chunk = handle.read(chunk_bytes)
            except OSError as exc:
                sink.add("unreadable", f"read error: {exc.strerror or exc}", line=lineno + 1)
                return
            if not chunk:
                break
            consumed += len(chunk)
            parts = chunk.split(b"\n")
            last = parts.pop()
            for index, part in enumerate(parts):
                if skipping or (index == 0 and len(carry) + len(part) > max_line_bytes):
                    lineno += 1
                    total = skipping + len(carry) + len(part) + 1 if index == 0 else len(part) + 1
                    too_long(lineno, total)
                    skipping = 0
                    carry = b""
                    continue
                raw = carry + part if index == 0 else part
                if index == 0:
                    carry = b""
                if len(raw) > max_line_bytes:
                    lineno += 1
                    too_long(lineno, len(raw) + 1)
                    continue
                lineno += 1
                yield lineno, decode(raw, lineno).rstrip("\r")
            if skipping or len(carry) + len(last) > max_line_bytes:
                skipping += len(carry) + len(last)
                carry = b""
            else:
                carry += last
            if head_only_bytes is not None and consumed >= head_only_bytes:
                break
        if skipping:
            lineno += 1
            too_long(lineno, skipping)
        elif carry and (head_only_bytes is None or consumed < head_only_bytes):
            lineno += 1
            yield lineno, decode(carry, lineno).rstrip("\r")
    finally:
        handle.close()


#: How tree files are opened: read-only and without blocking (a FIFO in the tree cannot hang a read).
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def open_regular(path: Path) -> BinaryIO | None:
    """The file opened for reading when it is a regular file, else None (the caller then finds out
    what it is and reports it). One open and one fstat: opening without blocking means a FIFO in the
    tree cannot hang the checker, and the type is checked on what was opened, not on a name."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return open(fd, "rb")  # noqa: SIM115 - the caller closes it
    except OSError:
        pass
    os.close(fd)
    return None


def split_lines(text: str) -> list[str]:
    """The lines of a whole file's text, without their newline (and the CR of a CRLF)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    return lines


def _size(handle: Any) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except OSError:
        return 1 << 62


def _read_upto(handle: Any, expected: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a file ``expected`` bytes long. ``read(n)`` allocates ``n``
    bytes up front, so asking for the limit itself would cost a megabyte-sized buffer per file."""
    data = handle.read(expected + 1)
    if len(data) > expected:  # the file grew since it was measured
        data += handle.read(limit + 1 - len(data))
    return data


class _Handed(threading.local):
    """The bytes of one file its parser's caller has just read whole, as (path, bytes)."""

    item: tuple[Path, bytes] | None = None


_HANDED = _Handed()


def hand_over(path: Path | None, data: bytes = b"") -> None:
    """Let the next :func:`read_small_bytes` of ``path`` (in this thread) take ``data``, read whole
    from it by :func:`read_small_bytes` a moment ago, instead of reading the file again; None takes
    back what was not taken. The content memo reads a small file whole to compare it with its
    twins; when none matches, the parser is handed those bytes, so that it parses exactly them."""
    _HANDED.item = None if path is None else (path, data)


def read_small_bytes(path: Path, limit: int) -> bytes | None:
    """The whole file when it is a regular file of at most ``limit`` bytes, else None: the caller then
    takes its careful path, which reports what cannot be read (a folder, a FIFO, an error).

    Plain ``os.read`` on a descriptor opened without blocking (a FIFO in the tree cannot hang the
    read): a buffered file object and a second fstat were a third of the time to read a 2 kB file.
    Bytes handed over for ``path`` (:func:`hand_over`) are taken instead, once."""
    handed = _HANDED.item
    if handed is not None and handed[0] == path:
        _HANDED.item = None
        data = handed[1]
        return data if len(data) <= limit else None
    try:
        fd = os.open(path, OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = os.read(fd, info.st_size + 1)
        if len(data) != info.st_size:  # else all fstat counted and no more (one more was asked for)
            data = _read_on(fd, data, limit)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if len(data) > limit else data  # longer: it grew since fstat


def _read_on(fd: int, data: bytes, limit: int) -> bytes:
    """``data``, the start of a file, and what follows it, to the end or past ``limit``: for a file
    that grew or shrank since its fstat, or gave a short read, as a buffered read goes on. A file
    that gave just the size fstat saw is whole without this (a read to see the end: 0.4 us)."""
    while data and len(data) <= limit:
        more = os.read(fd, limit + 1 - len(data))
        if not more:
            break
        data += more
    return data


def read_small_text(path: Path, sink: ProblemSink, limit: int) -> str | None:
    """:func:`read_small_bytes` as text; undecodable bytes are replaced and reported once."""
    data = read_small_bytes(path, limit)
    return None if data is None else decode_reporting(data, sink)


def decode_reporting(data: bytes, sink: ProblemSink) -> str:
    """``data`` as UTF-8 text; bytes that are not UTF-8 are replaced and the first is reported once
    with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        _encoding_problem(sink, line, data[exc.start], column)
        return data.decode("utf-8", errors="replace")


def _encoding_problem(sink: ProblemSink, line: int, byte: int, column: int) -> None:
    """The one problem a file with bytes that are not UTF-8 gets, wherever it was read."""
    sink.add("encoding", "bytes that are not valid UTF-8 (replaced while reading)", line=line,
             expected="UTF-8 text", found=f"byte 0x{byte:02x} at column {column}")


def file_sha256(path: Path) -> str | None:
    """SHA-256 (hex) of a whole file, read in 1 MB steps; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            step = min(_size(handle) + 1, 1 << 20)  # read(n) allocates n bytes first
            while chunk := handle.read(step):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def file_size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)


def looks_binary(sample: bytes) -> bool:
    """True when a file's first bytes are unlikely to be text (many control bytes)."""
    if not sample:
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > max(8, len(sample) // 20)


def not_regular(path: Path) -> str | None:
    """What ``path`` is when it exists but is not a regular file (``directory``, ``FIFO``, ``device``,
    ``socket``), else None (a missing or unstatable path fails at open and is reported there).
    Checked before every open: opening a FIFO blocks until someone writes to it, and reading a
    device may never end, so such a path in a tree must not hang the checker."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def unreadable_text(path: Path, sink: ProblemSink, what: str) -> bool:
    """The checks every small text parser makes before reading: a folder, a missing file, a FIFO
    or device, or binary content is reported once (``what`` names the file in the message) and the
    parser returns an empty result. True when the file must not be read."""
    if not path.exists() and not path.is_symlink():
        sink.add("missing", f"{what} does not exist")
        return True
    odd = not_regular(path)
    if odd is not None:
        _report_odd(sink, what, odd)
        return True
    if looks_binary(read_head(path)):
        sink.add("binary", f"{what} is binary, not text", line=1)
        return True
    return False


def _report_odd(sink: ProblemSink, what: str, odd: str) -> None:
    if odd == "directory":
        sink.add("not_a_file", f"a directory where {what} should be", expected="a text file")
    else:
        sink.add("not_a_file", f"{what} is not a regular file ({odd}); not read", expected="a file", found=odd)


def text_lines(path: Path, sink: ProblemSink, what: str) -> Iterable[tuple[int, str]] | None:
    """:func:`unreadable_text` and :func:`iter_lines` in one: None (and the problem reported) when
    the file must not be read, else its numbered lines. A small regular file is opened once and
    read whole (the common case: a few hundred bytes); anything else takes the careful path."""
    found = text_or_lines(path, sink, what)
    return list(enumerate(split_lines(found), 1)) if isinstance(found, str) else found


def text_or_lines(path: Path, sink: ProblemSink, what: str) -> str | Iterable[tuple[int, str]] | None:
    """:func:`text_lines`, but a small regular file comes back as its whole text (its lines are
    ``split_lines`` of it): a parser can then run one regex over the whole file, in C, instead of
    one per line. A larger or odd file gives the numbered lines of the careful path, or None."""
    data = read_small_bytes(path, SMALL_FILE_BYTES)
    if data is None:
        return None if unreadable_text(path, sink, what) else iter_lines(path, sink)
    if looks_binary(data[:4096]):
        sink.add("binary", f"{what} is binary, not text", line=1)
        return None
    return decode_reporting(data, sink)


def read_head(path: Path, size: int = 4096) -> bytes:
    if not_regular(path) is not None:
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""
