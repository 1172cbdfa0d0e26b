"""JSON loading that remembers lines: shared by the system-description and measurements parsers.

Python's :mod:`json` gives values but no positions, and it silently keeps the last of two duplicate
keys. A finding such as "``submitter`` is misspelled" or "``division`` appears twice" is only useful
when it names the line, so this module pairs :func:`json.JSONDecoder.raw_decode` (for the values)
with a small scanner of its own over the raw text (for the line of each top-level key, duplicates
included). It also turns every way a JSON file can be broken (empty, binary, BOM, invalid syntax,
trailing garbage, NaN, wrong top-level type, nesting too deep, a line too long) into a
:class:`~checker.parse.base.ParseProblem` instead of an exception.

:class:`SourcedJsonObject` is the permissive base model both parsers build on: known fields become
typed attributes, anything else lands in ``extra``, and every value carries the line of its key.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Self

from checker.parse.base import (
    DEFAULT_MAX_LINE_BYTES,
    SMALL_FILE_BYTES,
    ProblemSink,
    Sourced,
    decode_reporting,
    file_size,
    iter_lines,
    looks_binary,
    read_head,
    read_small_bytes,
    split_lines,
)

#: Any JSON value, typed loosely on purpose: submitters write numbers as strings and vice versa,
#: and a parser that coerced or rejected them would hide exactly what a rule needs to report.
JsonValue = Union[str, int, float, bool, None, list[Any], dict[str, Any]]  # noqa: UP007 - runtime alias

#: Whole-file limit for JSON documents (the submission rules cap files at 50 MB; description JSONs
#: are a few kB). Larger files are reported, not loaded.
DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024

_BOM = "\ufeff"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_STRUCTURAL = re.compile(r'["{}\[\],]')


class KeyPosition(BaseModel, defer_build=True):
    """One occurrence of a top-level key: its decoded name and the 1-based line and column of its quote."""

    model_config = ConfigDict(frozen=True)

    name: str
    line: int
    column: int


class JsonDocument(BaseModel, defer_build=True):
    """A decoded JSON document together with where its top-level keys were written."""

    value: Any = None
    #: every top-level key occurrence in file order (a duplicated key appears once per occurrence)
    keys: list[KeyPosition] = Field(default_factory=list)

    def lines_of(self, name: str) -> list[int]:
        """All lines a top-level key is written on (more than one when duplicated)."""
        return [k.line for k in self.keys if k.name == name]


#: JSON's whitespace, and a decoder that steps over one value (strict=False: raw control characters
#: in strings, which the decode reports, are no reason to take the slow path here)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_VALUE_SKIPPER = json.JSONDecoder(strict=False)


def scan_top_level_keys(text: str) -> list[KeyPosition]:
    """Find the keys of the top-level JSON object and their positions (see :func:`_scan_tokens`).

    A well-formed object (what a decoded file gives) is read key by key, each value stepped over by
    the C decoder; anything else is scanned token by token."""
    keys = _keys_of_flat_object(text)
    if keys is None:
        keys = _keys_of_well_formed_object(text)
    return _scan_tokens(text) if keys is None else keys


# A flat JSON object: members whose values are strings without escapes, numbers, true, false or
# null (most system descriptions and many measurements files). Only JSON is accepted (strings as
# the strict=False decoder reads them, integers short enough to convert), so every '"' in a text it
# accepts opens or closes a string, and the keys are the strings followed by a colon.
_WS = r"[ \t\n\r]*+"
_PLAIN_STRING = r'"[^"\\]*+"'
# A value the decoder reads to the same end, and nothing the decoder rejects: a string without
# escapes, a number with no more integer digits than convert without error, a literal.
_FLAT_VALUE = (rf"(?:{_PLAIN_STRING}|-?(?:0|[1-9][0-9]{{0,99}})(?![0-9])(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?"
               r"|true|false|null)")
_PLAIN_VALUE = re.compile(_FLAT_VALUE)
_FLAT_MEMBER = rf"{_PLAIN_STRING}{_WS}:{_WS}{_FLAT_VALUE}"
_FLAT_OBJECT = re.compile(rf"{_WS}\{{{_WS}(?:{_FLAT_MEMBER}(?:{_WS},{_WS}{_FLAT_MEMBER})*+)?{_WS}\}}{_WS}")
_PLAIN_STRING_THEN_COLON = re.compile(rf'"([^"\\]*+)"({_WS}:)?')


def _keys_of_flat_object(text: str) -> list[KeyPosition] | None:
    """The top-level keys of a flat object (see _FLAT_OBJECT) by two regexes run in C; None for any
    other text. Stepping over each value with the decoder costs some 4 us a key in Python calls."""
    if _FLAT_OBJECT.fullmatch(text) is None:
        return None
    keys: list[KeyPosition] = []
    where = _Positions(text)
    for string in _PLAIN_STRING_THEN_COLON.finditer(text):
        if string.group(2) is None:
            continue  # a value
        line, column = where.at(string.start())
        keys.append(KeyPosition(name=string.group(1), line=line, column=column))
    return keys


class _Positions:
    """Line and column of offsets taken in increasing order, counting newlines only once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line, self.line_start, self.counted = 1, 0, 0

    def at(self, pos: int) -> tuple[int, int]:
        newlines = self.text.count("\n", self.counted, pos)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.counted, pos) + 1
        self.counted = pos
        return self.line, pos - self.line_start + 1


def _keys_of_well_formed_object(text: str) -> list[KeyPosition] | None:
    """The top-level keys when ``text`` is one JSON object (whitespace around it allowed); None
    at the first thing that is not, so that the token scanner decides what a broken text holds."""
    space = _JSON_SPACE.match
    pos = space(text).end()
    if not text.startswith("{", pos):
        return None
    keys: list[KeyPosition] = []
    where = _Positions(text)
    pos = space(text, pos + 1).end()
    if text.startswith("}", pos):
        return keys
    while True:
        string = _STRING.match(text, pos)
        if string is None:
            return None
        line, column = where.at(pos)
        name = string.group()
        try:
            name = json.loads(name, strict=False) if "\\" in name else name[1:-1]
        except ValueError:
            return None
        keys.append(KeyPosition(name=name, line=line, column=column))
        pos = space(text, string.end()).end()
        if not text.startswith(":", pos):
            return None
        pos = _skip_value(text, space(text, pos + 1).end())
        if pos is None:
            return None
        pos = space(text, pos).end()
        if text.startswith(",", pos):
            pos = space(text, pos + 1).end()
        elif text.startswith("}", pos):
            return keys
        else:
            return None


def _skip_value(text: str, pos: int) -> int | None:
    """Where the JSON value at ``pos`` ends, None when there is none. A plain value is stepped over by
    one regex; anything else by the C decoder (a Python call of a few microseconds per value)."""
    plain = _PLAIN_VALUE.match(text, pos)
    if plain is not None:
        return plain.end()
    try:
        return _VALUE_SKIPPER.raw_decode(text, pos)[1]
    except (ValueError, RecursionError):
        return None


def _scan_tokens(text: str) -> list[KeyPosition]:
    """Find the keys of the top-level JSON object and their positions, without decoding values.

    The scanner only tracks what it must: string literals (skipped whole, escapes included, so a
    brace inside a string does not count), nesting depth, and whether the next string at depth 1
    is a key (after ``{`` or ``,``). It stops when the top-level value closes, so trailing garbage
    is ignored, and it never raises: malformed text just yields the keys seen so far.
    """
    keys: list[KeyPosition] = []
    depth = 0
    stack: list[str] = []
    expect_key = False
    line = 1
    line_start = 0  # index of the first character of the current line
    counted_to = 0  # text[:counted_to] has been scanned for newlines
    pos = 0
    started = False
    while True:
        match = _STRUCTURAL.search(text, pos)
        if match is None:
            break
        i = match.start()
        char = text[i]
        if char == '"':
            string = _STRING.match(text, i)
            end = string.end() if string else len(text)
            if depth == 1 and stack and stack[-1] == "{" and expect_key:
                newlines = text.count("\n", counted_to, i)
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", counted_to, i) + 1
                counted_to = i
                raw = text[i:end]
                try:
                    name = json.loads(raw, strict=False)
                except ValueError:
                    name = raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
                keys.append(KeyPosition(name=str(name), line=line, column=i - line_start + 1))
                expect_key = False
            pos = end
            continue
        if char in "{[":
            if depth == 0 and started:
                break
            started = True
            depth += 1
            stack.append(char)
            expect_key = char == "{" and depth == 1
        elif char in "}]":
            depth -= 1
            if stack:
                stack.pop()
            if depth <= 0:
                break
        elif char == "," and depth == 1:
            expect_key = bool(stack) and stack[-1] == "{"
        pos = i + 1
    return keys


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def path_state(path: Path) -> str:
    """``file``, ``dir``, ``missing`` or ``other``, or ``error: <reason>``; never raises.

    ``Path.exists()``/``is_dir()`` raise on permission errors, which a parser must not.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "missing"
    except OSError as exc:
        return f"error: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def read_json_text(path: Path, sink: ProblemSink, max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> str | None:
    """The file's text for JSON decoding, or None (with a problem) when there is nothing to decode.

    Reads through :func:`iter_lines` so that encoding errors and overlong lines are reported the
    same way as in every other parser; a skipped overlong line is kept as an empty line so the
    line numbers of everything after it stay right.
    """
    fast = _read_small_json_text(path, sink, max_bytes)
    if fast is not None:
        return fast if isinstance(fast, str) else None
    state = path_state(path)
    if state == "missing":
        sink.add("missing", "file does not exist")
        return None
    if state == "dir":
        sink.add(
            "not_a_file", "expected a JSON file, found a directory", expected="a file", found="directory"
        )
        return None
    if state == "other":
        sink.add("not_a_file", "not a regular file (device, FIFO or socket); not read", expected="a file")
        return None
    if state.startswith("error"):
        sink.add("unreadable", f"cannot read file: {state[7:]}")
        return None
    size = file_size(path)
    if size is None:
        sink.add("unreadable", "cannot stat file")
        return None
    if size == 0:
        sink.add("empty", "file is empty (0 bytes)", line=1, expected="a JSON object")
        return None
    if size > max_bytes:
        sink.add(
            "too_large",
            f"file of {size} bytes is larger than the {max_bytes}-byte limit for JSON; not loaded",
            expected=f"at most {max_bytes} bytes",
            found=f"{size} bytes",
        )
        return None
    head = read_head(path)
    if looks_binary(head):
        sink.add("binary", "file looks binary, not JSON text", line=1, expected="JSON text")
        return None
    lines: list[str] = []
    max_line = min(DEFAULT_MAX_LINE_BYTES, max_bytes)
    for lineno, text in iter_lines(path, sink, max_line_bytes=max_line):
        while len(lines) < lineno - 1:  # a skipped (overlong) line keeps its slot
            lines.append("")
        lines.append(text)
    return "\n".join(lines)


def _read_small_json_text(path: Path, sink: ProblemSink, max_bytes: int) -> str | bool | None:
    """The common case of :func:`read_json_text` in one open: a regular, non-empty file small enough
    that no line can be too long. False when it is binary (reported); None for the careful path."""
    data = read_small_bytes(path, min(max_bytes, SMALL_FILE_BYTES))
    if not data:
        return None  # absent, odd, large or empty: the careful path decides and reports
    if looks_binary(data[:4096]):
        sink.add("binary", "file looks binary, not JSON text", line=1, expected="JSON text")
        return False
    return "\n".join(split_lines(decode_reporting(data, sink)))


def load_json_with_lines(
    path: Path, sink: ProblemSink, max_bytes: int = DEFAULT_MAX_JSON_BYTES
) -> JsonDocument | None:
    """Decode one JSON file; report every structural problem to ``sink``; never raise.

    Returns None when no value could be decoded (missing, empty, binary, invalid syntax). Trailing
    data after a complete value, a BOM, NaN/Infinity and raw control characters in strings are
    reported but the value is still returned, because the rest of the file is usable. Duplicate
    keys are reported with every line they appear on; the value kept is the last one, as
    :func:`json.load` (and therefore the official checker) keeps it.
    """
    text = read_json_text(path, sink, max_bytes)
    if text is None:
        return None
    if text.startswith(_BOM):
        sink.add(
            "bom",
            "file starts with a UTF-8 byte-order mark; json.load() on a text stream rejects it",
            line=1,
            expected="no BOM",
            found="EF BB BF",
        )
        text = text[1:]
    start = len(text) - len(text.lstrip())
    if start == len(text):
        sink.add("empty", "file contains only whitespace", line=1, expected="a JSON object")
        return None

    constants: list[str] = []
    nested_duplicates: list[tuple[int, list[str]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            dups = []
            for key, _ in pairs:
                if key in seen and key not in dups:
                    dups.append(key)
                seen.add(key)
            nested_duplicates.append((id(obj), dups))
        return obj

    def constant_hook(name: str) -> float:
        constants.append(name)
        return float(name.replace("Infinity", "inf"))

    def decode(strict: bool) -> tuple[Any, int]:
        decoder = json.JSONDecoder(object_pairs_hook=pairs_hook, parse_constant=constant_hook, strict=strict)
        return decoder.raw_decode(text, start)

    try:
        try:
            value, end = decode(strict=True)
        except json.JSONDecodeError as exc:
            if not exc.msg.startswith("Invalid control character"):
                raise
            nested_duplicates.clear()
            constants.clear()
            value, end = decode(strict=False)
            sink.add(
                "control_character",
                "a string contains a raw control character (tab, newline, ...); strict JSON readers reject it",
                line=exc.lineno,
                expected="escaped control characters (\\t, \\n)",
                found=f"line {exc.lineno} column {exc.colno}",
            )
    except json.JSONDecodeError as exc:
        # an unterminated string always runs to the end of the text (a raw newline would have
        # been reported as a control character), so it is a truncation too
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        sink.add(
            "truncated" if truncated else "syntax",
            f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
            + ("; the file ends before the JSON value is complete" if truncated else ""),
            line=exc.lineno,
            expected="valid JSON",
            found=f"line {exc.lineno} column {exc.colno}",
        )
        return None
    except RecursionError:
        sink.add("syntax", "JSON nesting is too deep to decode", expected="a shallow JSON object")
        return None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        sink.add("syntax", f"invalid JSON value: {exc}", expected="valid JSON")
        return None

    rest = text[end:]
    if rest.strip():
        offset = end + (len(rest) - len(rest.lstrip()))
        line, col = _line_col(text, offset)
        sink.add(
            "trailing_data",
            f"extra data after the JSON value at line {line} column {col}; json.load() rejects the file",
            line=line,
            expected="nothing after the closing bracket",
            found=rest.strip()[:40],
        )
    if constants:
        names = sorted(set(constants))
        sink.add(
            "non_standard_json",
            f"non-standard number constant(s) {', '.join(names)}; not valid JSON",
            line=_first_constant_line(text),
            expected="finite numbers",
            found=", ".join(names),
        )

    keys = scan_top_level_keys(text[: end if end else len(text)]) if isinstance(value, dict) else []
    doc = JsonDocument(value=value, keys=keys)
    if isinstance(value, dict):
        by_name: dict[str, list[int]] = {}
        for key in keys:
            by_name.setdefault(key.name, []).append(key.line)
        for name, lines in by_name.items():
            if len(lines) > 1:
                joined = ", ".join(str(n) for n in lines)
                sink.add(
                    "duplicate_key",
                    f"key '{name}' appears {len(lines)} times (lines {joined}); json.load() keeps the "
                    f"value from line {lines[-1]} and silently drops the others",
                    line=lines[0],
                    expected="each key once",
                    found=f"lines {joined}",
                )
    if nested_duplicates:
        owners = _owning_keys(value, {obj_id for obj_id, _ in nested_duplicates})
        for obj_id, dups in nested_duplicates:
            if obj_id == id(value):
                continue
            owner = owners.get(obj_id)
            where = f" under top-level key '{owner}'" if owner is not None else ""
            sink.add(
                "duplicate_key",
                f"nested object{where} has duplicate key(s) {', '.join(repr(d) for d in dups)}; "
                "json.load() keeps the last",
                line=doc.lines_of(owner)[-1] if owner is not None and doc.lines_of(owner) else None,
                expected="each key once",
                found=", ".join(dups),
            )
    return doc


def _owning_keys(value: Any, wanted: set[int]) -> dict[int, str]:
    """For nested objects (by id) in ``wanted``: the top-level key whose value contains them."""
    owners: dict[int, str] = {}
    if not isinstance(value, dict):
        return owners
    for name, child in value.items():
        stack = [child]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if id(item) in wanted:
                    owners.setdefault(id(item), name)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return owners


def _first_constant_line(text: str) -> int | None:
    """Line of the first NaN/Infinity outside string literals."""
    blanked = _STRING.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    match = re.search(r"NaN|Infinity", blanked)
    return None if match is None else blanked.count("\n", 0, match.start()) + 1


def require_object(doc: JsonDocument, sink: ProblemSink, what: str) -> dict[str, Any] | None:
    """The decoded value when it is a JSON object; otherwise a ``not_an_object`` problem and None."""
    if isinstance(doc.value, dict):
        return doc.value
    sink.add(
        "not_an_object",
        f"{what} must be a JSON object at the top level, found {_type_name(doc.value)}",
        line=1,
        expected="a JSON object {...}",
        found=_type_name(doc.value),
    )
    return None


@functools.cache
def _json_to_attr(cls: type[SourcedJsonObject]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        if name in SourcedJsonObject._BASE_FIELDS:
            continue
        mapping[info.alias or name] = name
    return mapping


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return False


class SourcedJsonObject(BaseModel, defer_build=True):
    """Permissive model of a top-level JSON object whose every value remembers the line of its key.

    Subclasses declare the fields they know as ``Sourced[JsonValue] | None`` attributes (with an
    alias when the JSON name is not a Python identifier); every other key goes to ``extra``. No
    field is required and no type is enforced here: which keys an era demands, and of what type,
    is a rule-pack decision, and it needs to see the file as written to report on it.
    """

    model_config = ConfigDict(populate_by_name=True)

    #: keys that were not declared as fields, in file order, with the line of their key
    extra: dict[str, Sourced[JsonValue]] = Field(default_factory=dict)
    #: every top-level key in the order it first appears in the file
    key_order: list[str] = Field(default_factory=list)
    #: keys written more than once -> all their lines (the value kept is the last one)
    duplicate_keys: dict[str, list[int]] = Field(default_factory=dict)

    _BASE_FIELDS: ClassVar[frozenset[str]] = frozenset({"extra", "key_order", "duplicate_keys"})

    @classmethod
    def json_to_attr(cls) -> dict[str, str]:
        """Map of JSON key -> attribute name for the declared (known) fields."""
        return _json_to_attr(cls)

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        """The JSON names of the declared fields."""
        return tuple(cls.json_to_attr())

    @classmethod
    def from_document(cls, obj: dict[str, Any], doc: JsonDocument) -> Self:
        """Build the model from a decoded object and the key positions of its document."""
        lines: dict[str, list[int]] = {}
        for key in doc.keys:
            lines.setdefault(key.name, []).append(key.line)
        mapping = cls.json_to_attr()
        known: dict[str, Sourced[JsonValue]] = {}
        extra: dict[str, Sourced[JsonValue]] = {}
        for name, value in obj.items():
            where = lines.get(name)
            sourced = Sourced(value=value, line=where[-1] if where else None)
            attr = mapping.get(name)
            if attr is not None:
                known[attr] = sourced
            else:
                extra[name] = sourced
        return cls(
            **known,
            extra=extra,
            key_order=list(obj.keys()),
            duplicate_keys={k: v for k, v in lines.items() if len(v) > 1},
        )

    def get(self, name: str) -> Sourced[JsonValue] | None:
        """The value and line of a top-level key by its JSON name (known or extra); None if absent."""
        attr = self.json_to_attr().get(name)
        if attr is not None:
            return getattr(self, attr)
        return self.extra.get(name)

    def has(self, name: str) -> bool:
        """True when the key is present in the file (even with a null or empty value)."""
        return self.get(name) is not None

    def value(self, name: str, default: Any = None) -> Any:
        """The plain value of a key, or ``default`` when the key is absent."""
        item = self.get(name)
        return default if item is None else item.value

    def line_of(self, name: str) -> int | None:
        """Line of a key (its last occurrence when duplicated), None when absent."""
        item = self.get(name)
        return None if item is None else item.line

    def text(self, name: str) -> str | None:
        """A scalar value as stripped text (numbers and booleans as JSON writes them); None otherwise."""
        item = self.get(name)
        if item is None or item.value is None or isinstance(item.value, (list, dict)):
            return None
        if isinstance(item.value, bool):
            return "true" if item.value else "false"
        return str(item.value).strip()

    def is_empty(self, name: str) -> bool:
        """True when the key is missing, null, a blank string, or an empty list/object.

        Blank means only whitespace: ``"  "`` gives no information any more than ``""`` does.
        """
        item = self.get(name)
        return item is None or _is_blank(item.value)

    def fields(self) -> dict[str, Sourced[JsonValue]]:
        """Every key present, known and extra, in file order."""
        result: dict[str, Sourced[JsonValue]] = {}
        for name in self.key_order:
            item = self.get(name)
            if item is not None:
                result[name] = item
        return result

    def unknown_keys(self) -> list[str]:
        """Keys that are not declared fields of this model, in file order."""
        return list(self.extra)

    def to_plain(self) -> dict[str, Any]:
        """The object as a plain dict (values only), in file order."""
        return {name: item.value for name, item in self.fields().items()}
