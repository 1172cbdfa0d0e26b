"""LoadGen's ``mlperf_log_detail.txt`` in both generations, read into one key space.

* ``:::MLLOG {json}`` lines (LoadGen ≥ v1.0, and ``:::ENDPTS`` for the endpoints harness): each line
  is one event with a key, a JSON value and ``metadata.is_error`` / ``is_warning``.
* The 2019 text of v0.5/v0.7: ``"pid": …, "tid": …, "ts": …ns : <text>`` records, some continuing
  over unprefixed lines (git log, git status, the SHA-1 table).

Text records are mapped onto the MLLOG key names (``version`` → ``loadgen_version``, a setting in
the "Effective Settings" block → ``effective_<name>``, …) so that checks are written once. Values
keep their line. The file is streamed: we keep the first occurrence of each key (and how often it
occurred), and the errors and warnings LoadGen logged (capped, with exact totals), never every line.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from checker.parse.base import (
    DEFAULT_MAX_LINE_BYTES,
    ParseResult,
    ProblemSink,
    Sourced,
    display_path,
    iter_lines,
    read_small_text,
    shorten,
)
from checker.parse.loadgen_summary import canonical_mode, canonical_scenario

KIND = "loadgen_detail"
MAX_KEYS = 20_000
MAX_MESSAGES = 500
#: What one log may make the parser hold, whatever the file holds: the values of its keys (LoadGen's
#: own logs keep under 2 MB, the loaded sample set included), each message's text, the multi-line
#: records of the 2019 format and the SHA-1 table. Beyond these the rest is reported, not kept, so a
#: GB-sized or hostile log is checked in bounded memory.
MAX_KEPT_BYTES = 48 * 1024 * 1024
SMALL_VALUE_BYTES = 1024  # always kept (MAX_KEYS of them at most)
MAX_MESSAGE_CHARS = 2000
MAX_MULTILINE_CHARS = 1024 * 1024
MAX_SHA1_ENTRIES = 10_000
#: Text records remembered with what they store (see _KNOWN_RECORDS): at most this many, this long.
MAX_KNOWN_RECORDS = 50_000
MAX_KNOWN_RECORD_CHARS = 512

_GENERATED_QUERIES = [
    (re.compile(rf'"{name}"\s*:\s*(\d+)'), key)
    for name, key in (("queries", "generated_query_count"), ("samples per query", "generated_samples_per_query"),
                      ("duration", "generated_query_duration"))
]
#: The three counts in LoadGen's own order and spacing, read by one match (else one search each).
_GENERATED_QUERIES_LINE = re.compile(r'"queries" : (\d+), "samples per query" : (\d+), "duration" : (\d+)')
_WORD = re.compile(r"\w+")
_SHA1_ROWS = re.compile(r"^[ \t\f\v]*([0-9a-f]{40})[ \t\f\v]+([^\n]*\S)[ \t\r\f\v]*$", re.MULTILINE)
#: One match per line holding a non-blank character, blank as str.strip() has it (the line-by-line
#: reader's test: a row after U+001E or U+00A0 is not blank, so the bulk read is declined and the
#: row reported). The match runs on to the line's end so that the search resumes at the next line,
#: not at every character of this one: 6.5 → 2.8 ms over the corpus's SHA-1 tables.
_NON_BLANK_LINE = re.compile(r"^[^\S\n]*+\S[^\n]*+", re.MULTILINE)
_SHA1_LINE = re.compile(r"^([0-9a-f]{40})\s+(\S.*)$")
_COMMIT = re.compile(r"@\s*([0-9a-fA-F]{7,40})")
# The exact shape LoadGen writes: the key, the value, then this tail; other lines take the general
# JSON path.
_VALUE_SEPARATOR = '", "value": '
_TIME_SEPARATOR = ', "time_ms": '
_MLLOG_TAIL = re.compile(
    r', "time_ms": [-+0-9.eE]+, "namespace": "[^"\\]*", "event_type": "[^"\\]*", "metadata": '
    r'\{"is_error": (true|false), "is_warning": (true|false), [^{}\n]*\}\}[ \t\r]*$'
)
# The rest of the metadata is one or more "key": value pairs of plain strings (no brace, as
# _MLLOG_TAIL has it), integers and constants: what LoadGen writes (file, line_no, pid, tid).
# Anything else, such as a quote that would let a string hold a second ', "time_ms": ', leaves the
# line to the careful reader, so that both reads of a file agree.
_META_PAIR = r', "[^"\\\n{}]*+": (?:"[^"\\\n{}]*+"|-?[0-9]++|true|false|null)'
_QUIET_TAIL = (r', "time_ms": [-+0-9.eE]++, "namespace": "[^"\\\n]*+", "event_type": "[^"\\\n]*+", "metadata": '
               rf'\{{"is_error": false, "is_warning": false{_META_PAIR}(?:{_META_PAIR})*+\}}\}}[ \t\r]*+')
# Possessive repeats (``*+``, ``++``) where giving characters back can never help the match: the
# same rows, a few per cent faster.
# One row per line of a whole file (findall): a quiet record as (key, value text, ""), where the
# value is a simple one (number, plain string, constant) or the sample set (a list is admitted for
# ``loaded_qsl_set`` only, by the lookbehind), and any other line as ("", "", its text). Three
# groups, not a group per value type: findall builds a string per group and row (~30 ns each, 78k
# rows in the corpus), and the first character of the value text tells its type.
_QUIET_ROWS = {
    prefix: re.compile(
        rf'^(?:{prefix} \{{"key": "([^"\\\n]*+)", "value": (-?\d++|-?\d+\.\d*(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+'
        rf'|"[^"\\\n]*+"|true|false|null|(?<="loaded_qsl_set", "value": )\[[^\n]*\]){_QUIET_TAIL}'
        r'|([^\n]*+))$',
        re.MULTILINE,
    )
    for prefix in (":::MLLOG", ":::ENDPTS")
}
_QUIET_TAIL_RE = re.compile(_QUIET_TAIL)
#: Sample sets longer than this are cut out of a whole file's text before its row regex runs (see
#: :func:`_cut_sample_sets`); they hold two thirds of the corpus's detail-log bytes.
CUT_MIN_CHARS = 4096
#: Marks a cut sample set in the text the regex reads: ``[\x01<k>]`` for the k-th cut.
_CUT_MARK = "\x01"
#: One row per line of a 2019 text log: (marker, record text, "") for a record, ("", "", line) for any
#: other line. The marker is the prefix's first character: a one-character capture is a cached
#: string, not a new one per record (124k records in the corpus).
_TEXT_ROWS = re.compile(r'^(?:(")pid": -?\d++, "tid": \d++, "ts": -?\d++ns : ?+([^\n]*+)|([^\n]*+))$', re.MULTILINE)
_TEXT_PREFIX = re.compile(r'"pid": -?\d+, "tid": \d+, "ts": -?\d+ns : ?')
_SIMPLE_VALUE = re.compile(r'^(?:(-?\d+)|(-?\d+\.\d*(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+)|"([^"\\]*)"|(true|false|null))$')
_CONSTANTS = {"true": True, "false": False, "null": None}
_LAZY_KEYS = {"loaded_qsl_set"}
#: Keys LoadGen writes once per run (settings and results). Others repeat legitimately: messages,
#: and the sample-set, query-generation, logger and power records of runs with several phases.
_ONCE_PREFIXES = ("effective_", "requested_", "result_", "loadgen_version", "test_datetime", "sut_name",
                  "qsl_name", "qsl_reported_")

# 2019 text keys outside the settings blocks → MLLOG key names.
_TEXT_KEYS = {
    "version": "loadgen_version",
    "build_date_local": "loadgen_build_date_local",
    "build_date_utc": "loadgen_build_date_utc",
    "git_commit_date": "loadgen_git_commit_date",
    "Date + time of test": "test_datetime",
    "System Under Test (SUT) name": "sut_name",
    "Query Sample Library (QSL) name": "qsl_name",
    "QSL total size": "qsl_reported_total_count",
    "QSL performance size*": "qsl_reported_performance_count",
}
_MULTILINE = {"git_log": "loadgen_git_log_message", "git_status": "loadgen_git_status_message"}


class LogMessage(BaseModel, defer_build=True):
    """An error or warning LoadGen logged (``is_error``/``is_warning`` or ``ERROR :``/``WARNING :``)."""

    key: str
    text: str
    line: int


@dataclass(slots=True)
class DetailEntry:
    """First value of a key, its line, and how many times the key occurred in the file.

    A plain dataclass: a detail log has ~100 keys and a corpus has thousands of logs, so the
    per-entry cost matters (pydantic still serialises it in ``parse --format json``).
    """

    value: Any
    line: int
    count: int = 1


class DetailLog(BaseModel, defer_build=True):
    """Every key of a detail log (first occurrence) with its line, plus LoadGen's errors and warnings."""

    format: str = Field(description="'mllog', 'endpoints' or 'text2019'")
    entries: dict[str, DetailEntry] = Field(default_factory=dict)
    errors: list[LogMessage] = Field(default_factory=list)
    warnings: list[LogMessage] = Field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    file_sha1: dict[str, str] = Field(default_factory=dict)
    file_sha1_line: int | None = None
    line_count: int = 0

    def get(self, key: str) -> Sourced[Any] | None:
        entry = self.entries.get(key)
        return None if entry is None else Sourced(value=entry.value, line=entry.line)

    def value(self, key: str, default: Any = None) -> Any:
        entry = self.entries.get(key)
        return default if entry is None else entry.value

    def number(self, key: str) -> Sourced[float] | None:
        """A key's value as a number (text logs hold strings; booleans count as 0/1)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = as_number(entry.value)
        return None if value is None else Sourced(value=value, line=entry.line)

    def integer(self, key: str) -> Sourced[int] | None:
        """Exact integer value (seeds are 64-bit: never round-trip them through float)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = entry.value
        if isinstance(value, bool):
            return Sourced(value=int(value), line=entry.line)
        if isinstance(value, int):
            return Sourced(value=value, line=entry.line)
        if isinstance(value, float) and value.is_integer():
            return Sourced(value=int(value), line=entry.line)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return Sourced(value=int(value), line=entry.line)
        return None

    def boolean(self, key: str) -> Sourced[bool] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = as_bool(entry.value)
        return None if value is None else Sourced(value=value, line=entry.line)

    def int_list(self, key: str) -> list[int] | None:
        """A list-of-integers value (``loaded_qsl_set``), parsed on first use.

        Sample sets can hold hundreds of thousands of indices; they are kept as the logged text
        until a check asks for them.
        """
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = entry.value
        if isinstance(value, str):
            text = value.strip().strip("[]").strip().rstrip(",")
            try:
                import numpy as np  # only for this: a run that reads no sample set never loads numpy

                value = np.array(text.split(","), dtype=np.int64).tolist() if text else []
            except ValueError:
                return None
            entry.value = value
        if isinstance(value, list) and all(isinstance(v, int) for v in value[:8]):
            return value
        return None

    @property
    def loadgen_version(self) -> str | None:
        value = self.value("loadgen_version")
        return value if isinstance(value, str) else None

    @property
    def git_commit(self) -> str | None:
        """The short commit hash LoadGen embeds in its version string (``.5a1 @ 6958607d52``)."""
        version = self.loadgen_version or ""
        match = _COMMIT.search(version)
        return match.group(1).lower() if match else None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return 1.0 if text.lower() == "true" else 0.0
        try:
            return float(text)
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
    return None


def parse_detail(path: Path, root: Path | None = None) -> ParseResult[DetailLog]:
    """Stream one detail log into a :class:`DetailLog`. Never raises."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    reader: _Reader | None = None
    lines = 0
    whole = read_small_text(path, sink, DEFAULT_MAX_LINE_BYTES)
    if whole is not None:
        reader, lines = _parse_whole(whole, sink)
        return _finish(reader, lines, shown, sink)
    for lineno, text in iter_lines(path, sink):
        lines = lineno
        if reader is None:
            if not text.strip():
                continue
            reader = _pick_reader(text, sink, lineno)
            if reader is None:
                break
        reader.feed(lineno, text, sink)
    return _finish(reader, lines, shown, sink)


def _parse_whole(text: str, sink: ProblemSink) -> tuple[_Reader | None, int]:
    """A file that fits in memory is read by the reader's whole-text regex (one row per line)."""
    offset = index = 0
    while offset < len(text):
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        first = text[offset:end]
        if first.strip():
            reader = _pick_reader(first.rstrip("\r"), sink, index + 1)
            if reader is not None:
                return reader, reader.feed_text(text, index, sink)
            break
        offset, index = end + 1, index + 1
    return None, text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def _line_count(text: str, pieces: int) -> int:
    """Lines of ``text`` from the number of pieces it splits into at newlines (or findall rows of a
    pattern matching once per line): a final newline leaves one empty piece that is not a line."""
    return pieces - 1 if text.endswith("\n") else pieces


def _cut_sample_sets(text: str, opener: str, at_record_start: Callable[[str, int, int], bool],
                     tail_ok: Callable[[str, int, int], bool]) -> tuple[str, list[str]]:
    """``text`` with each long sample set (``[…]`` of over :data:`CUT_MIN_CHARS`) replaced by
    ``[\\x01<k>]``, and the cut sets in order: the row regex then skips a megabyte of digits per set
    in C string searches instead of matching them character by character.

    A set is cut only where the reader would store exactly the cut text: ``opener`` (ending in
    ``[``) starts the record (``at_record_start(text, line_start, opener_at)``), the cut ends at the
    line's last ``]`` and the rest of the line passes ``tail_ok(text, after, line_end)``. Lines stay
    lines (no newline is inside a set), so rows and line numbers are those of ``text``. Nothing is
    cut unless every ``\\x01`` of the result is a mark (no real log holds one), so a mark is never
    mistaken."""
    cuts: list[str] = []
    parts: list[str] = []
    done = 0
    at = text.find(opener)
    while at >= 0:
        open_at = at + len(opener) - 1
        line_end = text.find("\n", open_at)
        if line_end < 0:
            line_end = len(text)
        if line_end - open_at > CUT_MIN_CHARS and at_record_start(text, text.rfind("\n", 0, at) + 1, at):
            close_at = text.rfind("]", open_at, line_end)
            if close_at - open_at > CUT_MIN_CHARS and tail_ok(text, close_at + 1, line_end):
                parts += (text[done : open_at + 1], f"{_CUT_MARK}{len(cuts)}")
                cuts.append(text[open_at : close_at + 1])
                done = close_at
        at = text.find(opener, line_end)
    if not cuts:
        return text, cuts
    parts.append(text[done:])
    # the kept text (every other part) holds no mark of its own; ``in`` is a memchr, several times
    # faster than counting the marks of the joined text
    if any(_CUT_MARK in part for part in parts[::2]):
        return text, []
    return "".join(parts), cuts


def _tail_ok(text: str, start: int, end: int) -> bool:
    """Whether an MLLOG line ends, after its sample set, as the quiet-record row pattern needs."""
    return _QUIET_TAIL_RE.fullmatch(text, start, end) is not None


def _at_line_start(text: str, line_start: int, at: int) -> bool:
    """An MLLOG record's opener starts its line."""
    return at == line_start


def _any_tail(text: str, start: int, end: int) -> bool:
    """The 2019 reader stores a set up to the line's last ``]``, whatever follows it."""
    return True


#: What starts a sample-set record's text in the 2019 format, right after the record prefix.
_TEXT_SAMPLE_SET = 'Loading QSL : "set" : "['


def _at_text_record_start(text: str, line_start: int, at: int) -> bool:
    prefix = _TEXT_PREFIX.match(text, line_start)
    return prefix is not None and prefix.end() == at


def _uncut(value: str, cuts: list[str]) -> str:
    """The sample set a mark of :func:`_cut_sample_sets` stands for (any other value as it is)."""
    if cuts and value.startswith("[" + _CUT_MARK):
        return cuts[int(value[2:-1])]
    return value


def _finish(reader: _Reader | None, lines: int, shown: str, sink: ProblemSink) -> ParseResult[DetailLog]:
    if reader is None:
        if not sink.problems:
            sink.add("empty", "file has no LoadGen records", expected="':::MLLOG' or '\"pid\": …' lines", found="nothing")
        return ParseResult[DetailLog](kind=KIND, path=shown, model=None, problems=sink.finish())
    model = reader.build(lines)
    if not model.entries and not model.errors:
        sink.add("empty", "no LoadGen records could be read")
    return ParseResult[DetailLog](kind=KIND, path=shown, model=model, problems=sink.finish())


def _pick_reader(first_line: str, sink: ProblemSink, lineno: int) -> _Reader | None:
    stripped = first_line.lstrip("\ufeff")
    if stripped.startswith(":::MLLOG"):
        return _JsonReader("mllog", ":::MLLOG")
    if stripped.startswith(":::ENDPTS"):
        return _JsonReader("endpoints", ":::ENDPTS")
    if _TEXT_PREFIX.match(stripped):
        return _TextReader()
    sink.add(
        "unknown_format",
        "not a LoadGen detail log",
        line=lineno,
        expected="':::MLLOG {json}' or '\"pid\": N, \"tid\": N, \"ts\": Nns : …'",
        found=stripped,
    )
    return None


class _Reader:
    """Common store: first occurrence per key, capped messages with exact counts."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.entries: dict[str, DetailEntry] = {}
        self.errors: list[LogMessage] = []
        self.warnings: list[LogMessage] = []
        self.error_count = 0
        self.warning_count = 0
        self.file_sha1: dict[str, str] = {}
        self.file_sha1_line: int | None = None
        self.keys_overflow = False
        self.kept_bytes = 0
        self.values_dropped = 0

    def store(self, key: str, value: Any, line: int, sink: ProblemSink, size: int | None = None) -> None:
        """Keep the first value of ``key``; ``size`` is the length of its text in the file."""
        entry = self.entries.get(key)
        if entry is None and type(value) is str and len(value) <= SMALL_VALUE_BYTES and len(self.entries) < MAX_KEYS:
            self.kept_bytes += len(value)  # the common case, a short text value: _cost() inline
            self.entries[key] = DetailEntry(value, line, 1)
            return
        if entry is not None:
            entry.count += 1
            if entry.value != value and key.startswith(_ONCE_PREFIXES):
                sink.add("repeated_key", f"'{key}' logged again with another value (first on line {entry.line}); "
                         "LoadGen logs it once per run, so logs of two runs were mixed or the file was edited",
                         line=line, expected=f"{shorten(str(entry.value), 60)} (line {entry.line})",
                         found=value)
            return
        if len(self.entries) >= MAX_KEYS:
            if not self.keys_overflow:
                self.keys_overflow = True
                sink.add("too_many_keys", f"more than {MAX_KEYS} distinct keys; the rest are not kept", line=line)
            return
        cost = _cost(value, size)
        if cost > SMALL_VALUE_BYTES and self.kept_bytes + cost > MAX_KEPT_BYTES:
            self.values_dropped += 1
            if self.values_dropped == 1:
                sink.add("too_much_data", f"the values of this log exceed {MAX_KEPT_BYTES >> 20} MB; this value "
                         "and later large ones are not kept (LoadGen's own logs hold under 2 MB)", line=line,
                         expected=f"at most {MAX_KEPT_BYTES >> 20} MB of values", found=f"'{key}': {cost} bytes")
            return
        self.kept_bytes += cost
        self.entries[key] = DetailEntry(value=value, line=line, count=1)

    def message(self, kind: str, key: str, text: str, line: int) -> None:
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 1] + "…"
        if kind == "error":
            self.error_count += 1
            if len(self.errors) < MAX_MESSAGES:
                self.errors.append(LogMessage(key=key, text=text, line=line))
        else:
            self.warning_count += 1
            if len(self.warnings) < MAX_MESSAGES:
                self.warnings.append(LogMessage(key=key, text=text, line=line))

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def feed_text(self, text: str, start: int, sink: ProblemSink) -> int:  # pragma: no cover - abstract
        """Read a whole file's text from line ``start`` (0-based); returns the file's line count."""
        raise NotImplementedError

    def finish(self) -> None:
        """Hook for readers that hold a record open until the next one starts."""

    def build(self, line_count: int) -> DetailLog:
        self.finish()
        return DetailLog.model_construct(
            format=self.format,
            entries=self.entries,
            errors=self.errors,
            warnings=self.warnings,
            error_count=self.error_count,
            warning_count=self.warning_count,
            file_sha1=self.file_sha1,
            file_sha1_line=self.file_sha1_line,
            line_count=line_count,
        )


class _JsonReader(_Reader):
    """``:::MLLOG {json}`` lines. A whole file is read by one regex giving a row per line (see
    :meth:`feed_text`); a streamed line of LoadGen's exact shape is cut apart with string searches
    (the value can be a megabyte of sample indices); any other line is decoded as a whole JSON record."""

    def __init__(self, fmt: str, prefix: str) -> None:
        super().__init__(fmt)
        self.prefix = prefix
        self.head = prefix + ' {"key": "'

    def feed_text(self, text: str, start: int, sink: ProblemSink) -> int:
        """The common record is read by one regex over the whole file, one row per line (in C): a
        short number, string or constant, neither error nor warning. Every other line (the row's
        last field) goes through :meth:`feed`; only a key's first occurrence is converted and kept."""
        scan, cuts = _cut_sample_sets(text, self.head + 'loaded_qsl_set", "value": [', _at_line_start, _tail_ok)
        rows = _QUIET_ROWS[self.prefix].findall(scan)
        count = _line_count(text, len(rows))
        entries, feed = self.entries, self.feed
        lines: list[str] | None = None
        for index in range(start, count):
            key, raw, other = rows[index]
            if raw:
                entry = entries.get(key)
                if entry is None:
                    first = raw[0]
                    if first == "[":  # the sample set (the only list the pattern admits)
                        sample_set = _uncut(raw, cuts)
                        self.store(key, sample_set, index + 1, sink, len(sample_set))  # parsed by int_list()
                        continue
                    if key != "loadgen_file_sha1" and len(entries) < MAX_KEYS:
                        if first == '"':
                            value: Any = raw[1:-1]
                            self.kept_bytes += len(raw) - 2
                        else:
                            value = _simple_value(raw, first)
                            self.kept_bytes += len(raw)
                        entries[key] = DetailEntry(value, index + 1, 1)
                        continue
                elif not key.startswith(_ONCE_PREFIXES):
                    entry.count += 1  # a key that legitimately repeats (the sample set too): only counted
                    continue
                if lines is None:  # rare (a once-only key repeated, MAX_KEYS): the line itself is needed
                    lines = text.split("\n")
                other = lines[index]
            feed(index + 1, other, sink)
        return count

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:
        if text.startswith(self.head):
            start = len(self.head)
            end = text.find(_VALUE_SEPARATOR, start)
            tail_at = text.rfind(_TIME_SEPARATOR)
            if start <= end < tail_at:
                key = text[start:end]
                tail = _MLLOG_TAIL.match(text, tail_at)
                if tail is not None and '"' not in key and "\\" not in key:
                    value = _json_value(key, text[end + len(_VALUE_SEPARATOR) : tail_at], lineno, sink)
                    if value is not _INVALID:
                        self._event(lineno, key, value, tail.group(1) == "true", tail.group(2) == "true", sink,
                                    tail_at - end - len(_VALUE_SEPARATOR))
                    return
        self._general(lineno, text.rstrip("\r"), sink)

    def _general(self, lineno: int, text: str, sink: ProblemSink) -> None:
        if not text.strip():
            return
        if not text.startswith(self.prefix):
            sink.add("syntax", f"line does not start with {self.prefix}", line=lineno, found=text)
            return
        body = text[len(self.prefix) :].strip()
        try:
            event = json.loads(body)
        except ValueError as exc:
            sink.add("syntax", f"invalid JSON record: {exc.msg}", line=lineno, found=body)
            return
        if not isinstance(event, dict) or not isinstance(event.get("key"), str):
            sink.add("syntax", "record has no string 'key'", line=lineno, found=shorten(body))
            return
        metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        self._event(lineno, event["key"], event.get("value"), metadata.get("is_error") is True,
                    metadata.get("is_warning") is True, sink, len(body))

    def _event(self, lineno: int, key: str, value: Any, is_error: bool, is_warning: bool, sink: ProblemSink,
               size: int | None = None) -> None:
        if is_error:
            self.message("error", key, _message_text(value), lineno)
        elif is_warning:
            self.message("warning", key, _message_text(value), lineno)
        if key == "loadgen_file_sha1" and isinstance(value, dict) and self.file_sha1_line is None:
            self.file_sha1 = {str(k): str(v) for k, v in itertools.islice(value.items(), MAX_SHA1_ENTRIES)}
            self.file_sha1_line = lineno
        self.store(key, value, lineno, sink, size)


_INVALID = object()


def _simple_value(raw: str, first: str) -> Any:
    """A number or constant of a quiet MLLOG row (``raw`` matched the row pattern, ``first`` is its
    first character): an integer has no ``.``, ``e`` or ``E``, which every real has."""
    if first in "tfn":
        return _CONSTANTS[raw]
    if "." in raw or "e" in raw or "E" in raw:
        return float(raw)
    return int(raw)


def _json_value(key: str, raw: str, lineno: int, sink: ProblemSink) -> Any:
    """The value text of one MLLOG record as Python; ``_INVALID`` (and a problem) when it is not JSON.
    Numbers, plain strings and constants skip the JSON decoder; sample sets stay text until used."""
    if key in _LAZY_KEYS and raw.startswith("[") and raw.endswith("]"):
        return raw
    simple = _SIMPLE_VALUE.match(raw)
    if simple is not None:
        integer, real, string, constant = simple.groups()
        if integer is not None:
            return int(integer)
        if real is not None:
            return float(real)
        if string is not None:
            return string
        return _CONSTANTS[constant]
    try:
        return json.loads(raw)
    except ValueError as exc:
        sink.add("syntax", f"invalid JSON value: {exc.msg}", line=lineno, found=raw)
        return _INVALID


def _message_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)[: MAX_MESSAGE_CHARS + 1]


def _cost(value: Any, size: int | None) -> int:
    """Roughly what keeping ``value`` costs: its text for a string; for lists and objects, several
    times their text (a JSON integer of a few characters becomes a 28-byte Python object)."""
    if isinstance(value, str):
        return len(value)
    if size is None:
        return 64
    return size * 8 if isinstance(value, list | dict) else size


@lru_cache(maxsize=4096)
def _settings_key(name: str) -> str:
    """``target_latency (ns)`` → ``target_latency_ns``; ``Test mode`` → ``test_mode``."""
    name = name.strip().lower().replace("(", "").replace(")", "").replace("*", "")
    return re.sub(r"[\s/]+", "_", name).strip("_")


#: (settings block, record text) → the (key, value) the record stores, for records whose meaning is
#: nothing but that. The same records recur within a file (a run of many phases logs its counters
#: and titles each time) and across the logs of a submission (settings, versions, seeds), so each
#: distinct one is interpreted once. Values are immutable (str, int); see clear_caches().
_KNOWN_RECORDS: dict[tuple[str | None, str], tuple[str, Any]] = {}


def clear_caches() -> None:
    """Forget what earlier files taught (a benchmark pass starts as cold as a fresh process)."""
    _KNOWN_RECORDS.clear()
    _settings_key.cache_clear()


class _TextReader(_Reader):
    """The 2019 text format: prefixed records, settings blocks, unprefixed continuation lines."""

    def __init__(self) -> None:
        super().__init__("text2019")
        self.block: str | None = None  # 'effective' | 'requested' | None
        self.open_multiline: tuple[str, int, list[str]] | None = None
        self.multiline_chars = 0  # text collected for the open multi-line record
        self.sha1_declined: int | None = None  # line of a SHA-1 table the bulk reader turned down
        self.cuts: list[str] = []  # sample sets cut out of the text the row regex reads
        self.known = _KNOWN_RECORDS
        self.repeated_queries: dict[str, list[DetailEntry]] = {}  # see _queries_again()

    def feed_text(self, text: str, start: int, sink: ProblemSink) -> int:
        """One regex over the whole file gives a row per line (in C): a record's text, or the line
        when it is not a record. A SHA-1 table (thousands of lines in some logs) is read in one go."""
        scan, self.cuts = _cut_sample_sets(text, _TEXT_SAMPLE_SET, _at_text_record_start, _any_tail)
        rows = _TEXT_ROWS.findall(scan)  # one row per line, as many as text.split("\n") gives
        count = _line_count(text, len(rows))
        index, known, entries, record_text, store = start, self.known, self.entries, self._record_text, self.store
        # Outside a settings block, a record text seen before in this file whose key repeats
        # legitimately (phase titles, logger counters, messages) is only counted again: one look-up.
        counted: dict[str, DetailEntry] = {}
        block, multiline = self.block, self.open_multiline  # changed by record_text() only
        while index < count:
            marker, body, other = rows[index]
            index += 1
            if not marker:
                self._continuation(index, other.rstrip("\r"), sink)
                continue
            if multiline is None:
                if block is None:
                    entry = counted.get(body)
                    if entry is not None:
                        entry.count += 1
                        continue
                # inline for the most common record: one whose meaning is known (from any file)
                stored = known.get((block, body)) if len(body) <= MAX_KNOWN_RECORD_CHARS else None
                if stored is not None:
                    key, value = stored
                    entry = entries.get(key)
                    if entry is None:
                        # store()'s common case inline: a first value that is an int or short text
                        if len(entries) < MAX_KEYS and (type(value) is not str or len(value) <= SMALL_VALUE_BYTES):
                            self.kept_bytes += len(value) if type(value) is str else _cost(value, None)
                            entries[key] = DetailEntry(value, index, 1)
                        else:
                            store(key, value, index, sink)
                    elif not key.startswith(_ONCE_PREFIXES):
                        entry.count += 1
                        if block is None:
                            counted[body] = entry
                    else:
                        store(key, value, index, sink)
                    continue
                if self._counted_again(body):
                    continue
            record_text(index, body, sink)
            block, multiline = self.block, self.open_multiline
            if multiline is None:
                continue
            if multiline[0] != "sha1":
                index = self._multiline_rows(rows, index, count, multiline[2])
            elif multiline[1] != self.sha1_declined:
                read = self._sha1_table(rows, index, count)
                if read == index:  # read line by line from here, not tried again at every line
                    self.sha1_declined = multiline[1]
                index = read
        return count

    def _counted_again(self, body: str) -> bool:
        """Count a repeat of a phase record (sample set, query counts, power marks: logged once per
        phase, a thousand times in some logs) whose keys all have their first value already; such a
        repeat only counts them, and these records are never remembered (their text differs per
        phase). Returns False, nothing done, unless the record has exactly its usual shape and the
        careful path would store exactly these keys; the caller then takes that path."""
        head, _, tail = body.partition(":")
        key = _PHASE_KEYS.get(head)
        if key is None:
            return head == "GeneratedQueries" and self._queries_again(body, tail)
        entry = self.entries.get(key)
        if entry is None or "\x00" in body:
            return False
        if key == "loaded_qsl_set" and not 0 <= tail.find("[") <= tail.rfind("]"):
            return False  # not a set: the careful path reports it
        entry.count += 1  # no once-only prefix: store() would only count it
        return True

    def _queries_again(self, body: str, tail: str) -> bool:
        """:meth:`_counted_again` for ``GeneratedQueries`` in LoadGen's exact words, which store its
        three counts; a text already seen in this file is not matched again."""
        found = self.repeated_queries.get(body)
        if found is None:
            if "\x00" in body or _GENERATED_QUERIES_LINE.fullmatch(tail.strip()) is None:
                return False
            entries = self.entries
            found = [entries.get(key) for _, key in _GENERATED_QUERIES]
            if None in found:
                return False
            self.repeated_queries[body] = found
        for entry in found:
            entry.count += 1
        return True

    def _multiline_rows(self, rows: list[tuple[str, str, str]], start: int, count: int, collected: list[str]) -> int:
        """The unprefixed lines of an open git log or status, up to the next record, in one loop (what
        :meth:`_continuation` does with each: kept within the caps); returns the next row's index."""
        chars = self.multiline_chars
        index = start
        while index < count:
            marker, _, other = rows[index]
            if marker:
                break
            text = other.rstrip("\r")
            if len(collected) < 10_000 and chars + len(text) <= MAX_MULTILINE_CHARS:
                collected.append(text)
                chars += len(text)
            index += 1
        self.multiline_chars = chars
        return index

    def _sha1_table(self, rows: list[tuple[str, str, str]], start: int, count: int) -> int:
        """Read the table's lines up to the next record; returns the index of the first line not read.
        When a line is not ``<sha1> <path>`` the block is left to line-by-line reading (which reports it)."""
        end = start
        while end < count and not rows[end][0] and not rows[end][2].startswith('"pid"'):
            end += 1
        block = "\n".join([row[2] for row in rows[start:end]])
        found = _SHA1_ROWS.findall(block)
        if len(found) != len(_NON_BLANK_LINE.findall(block)) or len(self.file_sha1) + len(found) > MAX_SHA1_ENTRIES:
            return start
        for sha, name in found:
            self.file_sha1[name[:4096]] = sha
        return end

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:
        prefix = _TEXT_PREFIX.match(text)
        if prefix is None:
            self._continuation(lineno, text.rstrip("\r"), sink)
            return
        self._record_text(lineno, text[prefix.end() :], sink)

    def _record_text(self, lineno: int, body: str, sink: ProblemSink) -> None:
        """A record's text after its ``"pid": …ns :`` prefix."""
        if self.open_multiline is not None:
            self.finish()
        if "\x00" in body:
            body = body.replace("\x00", "")
        body = body.strip()  # also drops a CR of CRLF files
        if not body:
            self.block = None  # an empty record ends a settings block
            return
        known = self.known.get((self.block, body)) if len(body) <= MAX_KNOWN_RECORD_CHARS else None
        if known is None:
            known = self._record(lineno, body, sink)
            if known is None:
                return
            if len(body) <= MAX_KNOWN_RECORD_CHARS:
                if len(self.known) >= MAX_KNOWN_RECORDS:
                    self.known.clear()
                self.known[(self.block, body)] = known
        self.store(known[0], known[1], lineno, sink)

    def _continuation(self, lineno: int, text: str, sink: ProblemSink) -> None:
        if self.open_multiline is None:
            if text.strip():
                sink.add("syntax", "unprefixed line outside a multi-line record", line=lineno, found=text)
            return
        key, _, collected = self.open_multiline
        if key == "sha1":
            sha = _SHA1_LINE.match(text.strip())
            if sha and len(self.file_sha1) < MAX_SHA1_ENTRIES:
                self.file_sha1[sha.group(2).strip()[:4096]] = sha.group(1)
            elif text.strip():
                sink.add("syntax", "line in the SHA1 table is not '<sha1> /path'", line=lineno, found=text)
            return
        if len(collected) < 10_000 and self.multiline_chars + len(text) <= MAX_MULTILINE_CHARS:
            collected.append(text)
            self.multiline_chars += len(text)

    def finish(self) -> None:
        if self.open_multiline is None:
            return
        key, line, collected = self.open_multiline
        self.open_multiline = None
        self.multiline_chars = 0
        if key == "sha1":
            self.entries.setdefault("loadgen_file_sha1", DetailEntry(value=dict(self.file_sha1), line=line, count=1))
            return
        self.entries.setdefault(
            _MULTILINE[key], DetailEntry(value="\n".join(collected).strip(), line=line, count=1)
        )

    def _record(self, lineno: int, stripped: str, sink: ProblemSink) -> tuple[str, Any] | None:
        """One record's text (stripped): a message, a block title, a special record or ``key : value``.
        Returns the (key, value) to store when that is all the record does, else None (done here)."""
        if stripped[0] in "EW":
            if stripped.startswith("ERROR"):
                self.message("error", "error", stripped.split(":", 1)[-1].strip(), lineno)
                return None
            if stripped.startswith("WARNING"):
                self.message("warning", "warning", stripped.split(":", 1)[-1].strip(), lineno)
                return None
        head, sep, tail = stripped.partition(":")
        head, tail = head.rstrip(), tail.lstrip()
        special = _SPECIAL_RECORDS.get(head)
        if special is not None and special(self, lineno, tail, sink):
            return None
        if not sep or (not tail and self.block is None) or head.startswith("Ending"):
            return "generic_message", stripped
        if tail and head.isdigit() and _WORD.fullmatch(tail):
            return f"logger_{tail}", int(head)
        if self.block is not None:
            return self._setting(lineno, head, tail, sink)
        key = _TEXT_KEYS.get(head)
        if key is not None:
            if key.startswith("qsl_reported") and tail.isdigit():
                return key, int(tail)
            return key, tail
        return _settings_key(head) or "generic_message", tail

    def _block_title(self, lineno: int, tail: str, sink: ProblemSink, block: str) -> bool:
        if tail:
            return False
        self.block = block
        return True

    def _multiline(self, lineno: int, tail: str, sink: ProblemSink, head: str) -> bool:
        if tail:
            return False
        self.open_multiline = (head, lineno, [])
        if head == "sha1":
            self.file_sha1_line = lineno
        return True

    def _generated_queries(self, lineno: int, tail: str, sink: ProblemSink) -> bool:
        usual = _GENERATED_QUERIES_LINE.match(tail)
        if usual is not None and usual.end() == len(tail):
            for (_, key), value in zip(_GENERATED_QUERIES, usual.groups(), strict=True):
                self.store(key, int(value), lineno, sink)
            return True
        for pattern, key in _GENERATED_QUERIES:
            found = pattern.search(tail)
            if found:
                self.store(key, int(found.group(1)), lineno, sink)
        return True

    def _power(self, lineno: int, tail: str, sink: ProblemSink, key: str) -> bool:
        self.store(key, tail, lineno, sink)
        return True

    def _setting(self, lineno: int, head: str, tail: str, sink: ProblemSink) -> tuple[str, Any] | None:
        name = _settings_key(head)
        prefix = f"{self.block}_"
        if name == "scenario":
            canonical = canonical_scenario(tail)
            if canonical is None:
                sink.add("unknown_value", "unknown scenario name", line=lineno, found=tail)
                self.store(prefix + "scenario", tail, lineno, sink)
                return None  # not remembered: a repeat must be reported again
            return prefix + "scenario", canonical
        if name == "test_mode":
            return prefix + "test_mode", canonical_mode(tail) or tail
        return prefix + name, tail

    def _loaded_set(self, lineno: int, tail: str, sink: ProblemSink) -> bool:
        start, end = tail.find("["), tail.rfind("]")
        if start < 0 or end < start:
            sink.add("syntax", "cannot read the loaded sample set", line=lineno, found=tail)
            return True
        value = _uncut(tail[start : end + 1], self.cuts)
        if "\x00" in value:  # as _record_text drops them from the record it sees whole
            value = value.replace("\x00", "")
        self.store("loaded_qsl_set", value, lineno, sink)  # parsed by int_list()
        return True


#: Records of the 2019 text that are not plain ``key : value``, by their head; a handler returns
#: False when the record turns out to be ordinary after all (e.g. a title followed by text).
_SPECIAL_RECORDS: dict[str, Callable[[_TextReader, int, str, ProblemSink], bool]] = {
    "Effective Settings": partial(_TextReader._block_title, block="effective"),
    "Requested Settings": partial(_TextReader._block_title, block="requested"),
    "git_log": partial(_TextReader._multiline, head="git_log"),
    "git_status": partial(_TextReader._multiline, head="git_status"),
    "SHA1 of files": partial(_TextReader._multiline, head="sha1"),
    "Loading QSL": _TextReader._loaded_set,
    "GeneratedQueries": _TextReader._generated_queries,
    "POWER_BEGIN": partial(_TextReader._power, key="power_begin"),
    "POWER_END": partial(_TextReader._power, key="power_end"),
}


#: Phase records counted by :meth:`_TextReader._counted_again`, by their text before the first
#: ``:`` exactly as LoadGen writes it (any other spelling takes the careful path), with their key.
_PHASE_KEYS = {"POWER_BEGIN": "power_begin", "POWER_END": "power_end", "Loading QSL ": "loaded_qsl_set"}
