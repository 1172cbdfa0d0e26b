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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
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

_TEXT_RECORD = re.compile(r'^"pid": (\d+), "tid": (\d+), "ts": (-?\d+)ns : ?(.*)$')
_SHA1_LINE = re.compile(r"^([0-9a-f]{40})\s+(\S.*)$")
_GIT_LOG_LINE = re.compile(r"^[0-9a-f]{40}\b")
_COMMIT = re.compile(r"@\s*([0-9a-fA-F]{7,40})")
# The exact shape LoadGen writes; lines that do not match take the general JSON path.
_FAST_MLLOG = re.compile(
    r'^:::(?:MLLOG|ENDPTS) \{"key": "([^"\\]*)", "value": (.*), "time_ms": [-+0-9.eE]+, '
    r'"namespace": "[^"\\]*", "event_type": "[^"\\]*", "metadata": \{"is_error": (true|false), '
    r'"is_warning": (true|false), [^{}\n]*\}\}[ \t\r]*$',
    re.MULTILINE,
)
_TEXT_RECORD_M = re.compile(r'^"pid": (-?\d+), "tid": (\d+), "ts": (-?\d+)ns : ?(.*)$', re.MULTILINE)
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


class LogMessage(BaseModel):
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


class DetailLog(BaseModel):
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
        return None if entry is None else Sourced[Any](value=entry.value, line=entry.line)

    def value(self, key: str, default: Any = None) -> Any:
        entry = self.entries.get(key)
        return default if entry is None else entry.value

    def number(self, key: str) -> Sourced[float] | None:
        """A key's value as a number (text logs hold strings; booleans count as 0/1)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = as_number(entry.value)
        return None if value is None else Sourced[float](value=value, line=entry.line)

    def integer(self, key: str) -> Sourced[int] | None:
        """Exact integer value (seeds are 64-bit: never round-trip them through float)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = entry.value
        if isinstance(value, bool):
            return Sourced[int](value=int(value), line=entry.line)
        if isinstance(value, int):
            return Sourced[int](value=value, line=entry.line)
        if isinstance(value, float) and value.is_integer():
            return Sourced[int](value=int(value), line=entry.line)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return Sourced[int](value=int(value), line=entry.line)
        return None

    def boolean(self, key: str) -> Sourced[bool] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = as_bool(entry.value)
        return None if value is None else Sourced[bool](value=value, line=entry.line)

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
    """A file that fits in memory is scanned with one multi-line regex instead of line by line."""
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    offset = 0
    lineno = 1
    while offset < len(text):
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        first = text[offset:end].rstrip("\r")
        if first.strip():
            reader = _pick_reader(first, sink, lineno)
            if reader is not None:
                reader.feed_text(text, offset, lineno, sink)
            return reader, lines
        offset, lineno = end + 1, lineno + 1
    return None, lines


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
    if _TEXT_RECORD.match(stripped):
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
                self.errors.append(LogMessage.model_construct(key=key, text=text, line=line))
        else:
            self.warning_count += 1
            if len(self.warnings) < MAX_MESSAGES:
                self.warnings.append(LogMessage.model_construct(key=key, text=text, line=line))

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    pattern: re.Pattern[str]

    def matched(self, lineno: int, match: re.Match[str], sink: ProblemSink) -> None:  # pragma: no cover
        raise NotImplementedError

    def feed_text(self, text: str, offset: int, lineno: int, sink: ProblemSink) -> None:
        """Scan a whole file: records matching ``pattern`` take the fast path, every other line
        (continuations, odd lines) goes through :meth:`feed` with its own line number."""
        pos, line = offset, lineno
        at_line_start = True
        for match in self.pattern.finditer(text, offset):
            start = match.start()
            if start == pos + 1 and not at_line_start:
                line += 1  # the usual case: the next record starts on the next line
            elif start > pos:
                self._gap(text[pos:start], line, at_line_start, sink)
                line += text.count("\n", pos, start)
            self.matched(line, match, sink)
            pos, at_line_start = match.end(), False
        if pos < len(text):
            self._gap(text[pos:], line, at_line_start, sink)

    def _gap(self, gap: str, line: int, at_line_start: bool, sink: ProblemSink) -> None:
        parts = gap.split("\n")
        if not at_line_start:
            parts = parts[1:]  # the rest of the line the previous record ended on
            line += 1
        if gap.endswith("\n") or not parts[-1]:
            parts = parts[:-1]  # the start of the line the next record begins on
        for index, part in enumerate(parts):
            self.feed(line + index, part.rstrip("\r"), sink)

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
    def __init__(self, fmt: str, prefix: str) -> None:
        super().__init__(fmt)
        self.prefix = prefix
        self.decoder = json.JSONDecoder()

    pattern = _FAST_MLLOG

    def matched(self, lineno: int, match: re.Match[str], sink: ProblemSink) -> None:
        self._fast(lineno, match, sink)

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:
        fast = _FAST_MLLOG.match(text)
        if fast is not None:
            self._fast(lineno, fast, sink)
            return
        self._general(lineno, text, sink)

    def _fast(self, lineno: int, fast: re.Match[str], sink: ProblemSink) -> None:
        if True:
            key, raw, is_error, is_warning = fast.groups()
            if key in _LAZY_KEYS and raw.startswith("[") and raw.endswith("]"):
                self._event(lineno, key, raw, is_error == "true", is_warning == "true", sink, len(raw))
                return
            simple = _SIMPLE_VALUE.match(raw)
            if simple is not None:
                integer, real, string, constant = simple.groups()
                if integer is not None:
                    value: Any = int(integer)
                elif real is not None:
                    value = float(real)
                elif string is not None:
                    value = string
                else:
                    value = _CONSTANTS[constant]
            else:
                try:
                    value = json.loads(raw)
                except ValueError as exc:
                    sink.add("syntax", f"invalid JSON value: {exc.msg}", line=lineno, found=raw)
                    return
            self._event(lineno, key, value, is_error == "true", is_warning == "true", sink, len(raw))

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


class _TextReader(_Reader):
    """The 2019 text format: prefixed records, settings blocks, unprefixed continuation lines."""

    def __init__(self) -> None:
        super().__init__("text2019")
        self.block: str | None = None  # 'effective' | 'requested' | None
        self.open_multiline: tuple[str, int, list[str]] | None = None
        self.multiline_chars = 0  # text collected for the open multi-line record

    pattern = _TEXT_RECORD_M

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:
        match = _TEXT_RECORD.match(text)
        if match is None:
            self._continuation(lineno, text, sink)
            return
        self.matched(lineno, match, sink)

    def matched(self, lineno: int, match: re.Match[str], sink: ProblemSink) -> None:
        self.finish()
        body = match.group(4).replace("\x00", "").rstrip()  # also drops a CR of CRLF files
        if not body.strip():
            self.block = None
            return
        self._record(lineno, body, sink)

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

    def _record(self, lineno: int, body: str, sink: ProblemSink) -> None:
        stripped = body.strip()
        if stripped in ("Effective Settings:", "Requested Settings:"):
            self.block = "effective" if stripped.startswith("Effective") else "requested"
            return
        if stripped.startswith("ERROR"):
            self.message("error", "error", stripped.split(":", 1)[-1].strip(), lineno)
            return
        if stripped.startswith("WARNING"):
            self.message("warning", "warning", stripped.split(":", 1)[-1].strip(), lineno)
            return
        head, sep, tail = stripped.partition(":")
        head, tail = head.strip(), tail.strip()
        if head in _MULTILINE and not tail:
            self.open_multiline = (head, lineno, [])
            return
        if head == "SHA1 of files" and not tail:
            self.open_multiline = ("sha1", lineno, [])
            self.file_sha1_line = lineno
            return
        if head == "Loading QSL":
            self._loaded_set(lineno, tail, sink)
            return
        if head == "GeneratedQueries":
            for name, key in (("queries", "generated_query_count"), ("samples per query", "generated_samples_per_query"),
                              ("duration", "generated_query_duration")):
                found = re.search(rf'"{name}"\s*:\s*(\d+)', tail)
                if found:
                    self.store(key, int(found.group(1)), lineno, sink)
            return
        if head in ("POWER_BEGIN", "POWER_END"):
            self.store(head.lower(), tail, lineno, sink)
            return
        if not sep or (not tail and self.block is None) or head.startswith("Ending"):
            self.store("generic_message", stripped, lineno, sink)
            return
        if head.isdigit() and re.fullmatch(r"\w+", tail):
            self.store(f"logger_{tail}", int(head), lineno, sink)
            return
        if self.block is not None:
            self._setting(lineno, head, tail, sink)
            return
        key = _TEXT_KEYS.get(head)
        if key is not None:
            value: Any = tail
            if key.startswith("qsl_reported") and tail.isdigit():
                value = int(tail)
            self.store(key, value, lineno, sink)
            return
        self.store(_settings_key(head) or "generic_message", tail, lineno, sink)

    def _setting(self, lineno: int, head: str, tail: str, sink: ProblemSink) -> None:
        name = _settings_key(head)
        prefix = f"{self.block}_"
        if name == "scenario":
            canonical = canonical_scenario(tail)
            if canonical is None:
                sink.add("unknown_value", "unknown scenario name", line=lineno, found=tail)
            self.store(prefix + "scenario", canonical or tail, lineno, sink)
            return
        if name == "test_mode":
            self.store(prefix + "test_mode", canonical_mode(tail) or tail, lineno, sink)
            return
        self.store(prefix + name, tail, lineno, sink)

    def _loaded_set(self, lineno: int, tail: str, sink: ProblemSink) -> None:
        start, end = tail.find("["), tail.rfind("]")
        if start < 0 or end < start:
            sink.add("syntax", "cannot read the loaded sample set", line=lineno, found=tail)
            return
        self.store("loaded_qsl_set", tail[start : end + 1], lineno, sink)  # parsed by int_list()
