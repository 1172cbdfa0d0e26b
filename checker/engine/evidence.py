"""Parse-once cache: every file of the tree is parsed at most once per run, on first request.

Checks ask the :class:`Evidence` for a file's model; the first request parses it and remembers the
scope that asked, so that the file's parse problems are reported once (rules S004/S005) against the
result or system the file belongs to. A file that does not exist is simply ``None``: whether that
matters is a structure rule's business. A file reached through a symlink that leaves the tree is
never opened (an S004 finding says it was not followed).
"""

from __future__ import annotations

import os
import stat
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker.discover import inside_tree
from checker.findings import Scope
from checker.parse.base import ParseProblem, ParseResult
from checker.parse.kinds import parser_for
from checker.parse.memo import ContentMemo

if TYPE_CHECKING:
    from checker.engine.cache import ParseCache


@dataclass
class ParsedFile:
    result: ParseResult
    scope: Scope


class Evidence:
    def __init__(self, root: Path, disk: ParseCache | None = None,
                 donated: dict[tuple[Path, str], ParseResult] | None = None) -> None:
        self.root = root
        self._cache: dict[tuple[Path, str], ParsedFile] = {}
        self._lock = threading.Lock()
        #: the on-disk cache of ``check --cache`` (None: every file is parsed)
        self.disk = disk
        #: results read before the checks ran (round detection): used once, then forgotten
        self.donated = donated if donated is not None else {}
        #: parser calls made by this Evidence (not counting disk-cache hits and reused copies)
        self.parser_calls = 0
        #: byte-identical files (results copied into compliance/, one mlperf.conf everywhere) parse once
        self.memo = ContentMemo()
        #: what checks derived from the parsed files and share (see Context.memo); dropped with them
        self.derived: dict[tuple[Any, ...], Any] = {}
        self._rel: dict[Path, str] = {}
        self._children: dict[tuple[Path, str], Path] = {}

    def child(self, folder: Path, name: str) -> Path:
        """``folder / name``, one object per pair for the partition: rules ask for the same files of
        every result many times (a detail log about 80 times), and a new Path costs a join and, as a
        parse-cache key, a hash of all its parts each time (about 50 ms of a corpus round)."""
        key = (folder, name)
        path = self._children.get(key)
        if path is None:
            path = self._children[key] = folder / name
        return path

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, as findings name it (each path worked out once)."""
        known = self._rel.get(path)
        if known is None:
            try:
                known = path.relative_to(self.root).as_posix()
            except ValueError:
                known = path.as_posix()
            self._rel[path] = known
        return known

    def parse(self, path: Path, kind: str, scope: Scope) -> ParseResult | None:
        """The parse result of ``path`` as ``kind``; None when the file does not exist."""
        key = (path, kind)
        cached = self._cache.get(key)
        if cached is not None:
            return cached.result
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        result = self.donated.pop(key, None)
        if result is not None and self.disk is not None:
            stamp = self.disk.unchanged(path, kind, info)
            if stamp is None:
                result = None  # changed since round detection read it: read it again
            else:
                self.disk.adopt(self.root, self.rel(path), kind, stamp, result)
        if result is None:
            result = self.read(path, kind, info)
        with self._lock:
            self._cache.setdefault(key, ParsedFile(result=result, scope=scope))
        return result

    def model(self, path: Path, kind: str, scope: Scope) -> Any:
        result = self.parse(path, kind, scope)
        return None if result is None else result.model

    def parsed_files(self) -> list[ParsedFile]:
        return list(self._cache.values())

    def read(self, path: Path, kind: str, info: os.stat_result | None = None) -> ParseResult:
        """Parse an existing file without recording it (no scope, no S004/S005): from the disk
        cache when its fingerprint still matches, else with the kind's parser. ``info``: the file's
        stat just taken (the disk cache then uses a fingerprint read earlier in the run if the stat
        is the same)."""
        if not inside_tree(self.root, path):
            return _not_followed(path, kind, self.rel(path))
        if self.disk is None:
            return self._parse_file(path, kind, info)
        rel = self.rel(path)
        stamp = self.disk.stamp(path, info)
        self.disk.noted(path, kind, stamp)
        result = self.disk.load(self.root, rel, kind, stamp)
        if result is None:
            result = self._parse_file(path, kind, info)
            self.disk.store(self.root, rel, kind, stamp, result)
        return result

    def _parse_file(self, path: Path, kind: str, info: os.stat_result | None = None) -> ParseResult:
        reused = self.memo.reused
        try:
            result = self.memo.parse(kind, path, self.root, parser_for(kind), info)
        except Exception as exc:  # noqa: BLE001 - a parser bug costs that file, not the run
            result = _parser_failed(path, kind, self.rel(path), exc)
        self.parser_calls += self.memo.reused == reused
        return result

    def release(self) -> None:
        """Forget every parsed file (the report's extras have been read); the disk cache writes what
        was parsed."""
        if self.disk is not None:
            self.disk.flush()
        self._cache.clear()
        self.donated.clear()
        self.memo = ContentMemo()
        self.derived.clear()
        self._rel.clear()
        self._children.clear()


def _parser_failed(path: Path, kind: str, shown: str, exc: Exception) -> ParseResult:
    """A parser raised (a bug: parsers report problems as values): the file becomes unusable (rule
    S004) with the exception named, so that a reviewer sees it and the run goes on."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    found = f"{type(exc).__name__}: {exc}"[:200] + (f" ({Path(where.filename).name}:{where.lineno})" if where else "")
    problem = ParseProblem(path=shown, code="internal", expected=f"a {kind.replace('_', ' ')} the parser can read",
                           found=found, message="internal error in the parser; the file was not read")
    return ParseResult(kind=kind, path=shown, model=None, problems=[problem])


def _not_followed(path: Path, kind: str, shown: str) -> ParseResult:
    """A file whose path leaves the tree through a symlink is never opened: it becomes an unusable
    file (rule S004) that says so, instead of evidence read from somewhere the reviewer cannot see."""
    try:
        target = str(path.resolve())
    except (OSError, RuntimeError):
        target = "?"
    problem = ParseProblem(path=shown, code="symlink_outside", expected="a file inside the checked tree",
                           found=f"symlink to {target}",
                           message="symlink pointing outside the tree; not followed, so the file was not read")
    return ParseResult(kind=kind, path=shown, model=None, problems=[problem])
