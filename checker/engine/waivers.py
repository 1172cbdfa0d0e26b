"""Waivers: a reasoned, scoped, optionally expiring exception to one rule.

A waivers file is TOML (``--waivers FILE``, or ``mlperf-audit.toml`` at the tree's root)::

    [[waiver]]
    rule = "P008"                                   # one rule ID (required)
    path = "closed/Acme/results/sys1/resnet/*"      # a glob, or a list of globs (required)
    reason = "seeds fixed upstream, see issue 12"   # why (required, non-empty)
    expires = 2021-03-31                            # last day it applies (optional; TOML date or "YYYY-MM-DD")

Globs are matched against tree-relative paths with ``/`` separators: ``*`` and ``?`` stay within
one path segment, ``**`` crosses segments, ``[abc]`` is a character class. A glob naming a folder
covers everything below it. A finding is waived for a result when the rule matches and a glob
matches the result's folder (``closed/Acme/results/sys1/resnet/Offline``), the finding's scope path
(``closed/Acme/sys1`` for a system-level finding) or the file the finding points at. So a
system-level finding can be waived for some of its results only: those stay waived, the others
invalid. An expired waiver is ignored and reported (S023); a waiver that matched nothing among
the rules that ran is reported (S022); an unusable entry in a tree's ``mlperf-audit.toml`` is
reported (S021) and skipped, while one in a ``--waivers`` file stops the tool (exit 2).

Files are read with the standard TOML parser (``tomllib``, or ``tomli`` before Python 3.11): data
only, nothing is evaluated.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TREE_FILE = "mlperf-audit.toml"
ENTRY_KEYS = {"rule", "path", "reason", "expires"}
MAX_FILE_BYTES = 1 << 20


class WaiverFileError(LookupError):
    """A waivers file given on the command line cannot be used (exit 2); names the file and entry."""


@dataclass
class Waiver:
    rule: str
    paths: tuple[str, ...]
    reason: str
    source: str
    entry: int
    expires: date | None = None
    tree_path: str | None = None  # the file's tree-relative path when it lies in the tree
    matched: int = 0
    state: str = "unused"  # applied | unused | expired, set by the engine
    _patterns: list[re.Pattern[str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._patterns = [glob_regex(p) for p in self.paths]

    @property
    def label(self) -> str:
        return f"{self.source} waiver #{self.entry} ({self.rule})"

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, rule: str, candidates: list[str]) -> bool:
        if rule != self.rule:
            return False
        for candidate in candidates:
            for prefix in _self_and_parents(candidate):
                if any(pattern.fullmatch(prefix) for pattern in self._patterns):
                    return True
        return False


def _self_and_parents(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


@lru_cache(maxsize=512)
def glob_regex(glob: str) -> re.Pattern[str]:
    """A path glob as a regex: ``*``/``?`` within a segment, ``**`` across segments, ``[...]`` classes."""
    glob = glob.strip().strip("/")
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = glob.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = glob[i + 1:end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out))


def _parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value if not hasattr(value, "hour") else value.date()  # type: ignore[union-attr]
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_waivers(data: Any, source: str, known_rules: set[str] | None = None,
                  tree_path: str | None = None) -> tuple[list[Waiver], list[str]]:
    """Waivers from a decoded TOML document, and a problem message per unusable entry."""
    if not isinstance(data, dict):
        return [], [f"{source}: not a TOML table"]
    problems: list[str] = []
    unknown_top = sorted(set(data) - {"waiver"})
    if unknown_top:
        problems.append(f"{source}: unknown top-level key(s) {', '.join(unknown_top)} (expected [[waiver]] entries)")
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        return [], [*problems, f"{source}: 'waiver' must be an array of tables ([[waiver]])"]
    waivers: list[Waiver] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: waiver #{number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a table")
            continue
        rule = entry.get("rule")
        if isinstance(rule, str):
            where += f" (rule {rule})"
        errors = []
        extra = sorted(set(entry) - ENTRY_KEYS)
        if extra:
            errors.append(f"unknown key(s) {', '.join(extra)}")
        if not isinstance(rule, str) or not rule.strip():
            errors.append("'rule' (a rule ID such as P008) is required")
        elif known_rules is not None and rule.strip().upper() not in known_rules:
            errors.append(f"unknown rule ID {rule!r} (see `mlperf-audit rules`)")
        paths = entry.get("path")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
            errors.append("'path' (a glob of result paths, or a list of globs) is required")
            paths = []
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            errors.append("'reason' is required and must not be empty")
        expires = None
        if "expires" in entry:
            expires = _parse_date(entry["expires"])
            if expires is None:
                errors.append(f"'expires' must be a date (YYYY-MM-DD), found {entry['expires']!r}")
        if errors:
            problems.append(f"{where}: {'; '.join(errors)}")
            continue
        waivers.append(Waiver(rule=str(rule).strip().upper(), paths=tuple(p.strip() for p in paths),
                              reason=str(reason).strip(), source=source, entry=number, expires=expires,
                              tree_path=tree_path))
    return waivers, problems


def read_waiver_file(path: Path, source: str | None = None, known_rules: set[str] | None = None,
                     tree_path: str | None = None) -> tuple[list[Waiver], list[str]]:
    """Read and parse one waivers file; never raises (problems are returned as messages)."""
    source = source or str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [], [f"{source}: larger than {MAX_FILE_BYTES} bytes; not read"]
        raw = path.read_bytes()
    except OSError as exc:
        return [], [f"{source}: cannot read: {exc.strerror or exc}"]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return [], [f"{source}: not UTF-8 text"]
    except tomllib.TOMLDecodeError as exc:
        return [], [f"{source}: not valid TOML: {exc}"]
    return parse_waivers(data, source, known_rules, tree_path)


def load_cli_waivers(path: Path, known_rules: set[str] | None = None) -> list[Waiver]:
    """A ``--waivers`` file: any problem is a :class:`WaiverFileError` (exit 2) naming file and entry."""
    if not path.is_file():
        raise WaiverFileError(f"{path}: no such waivers file")
    waivers, problems = read_waiver_file(path, known_rules=known_rules)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise WaiverFileError(problems[0] + more)
    return waivers


def match(waivers: list[Waiver], rule: str, candidates: list[str]) -> Waiver | None:
    for waiver in waivers:
        if waiver.matches(rule, candidates):
            return waiver
    return None
