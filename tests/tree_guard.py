"""Watch a checker run for what it must never do to the checked tree, without strace.

CPython raises an *audit event* for every file open (with its flags), every rename, removal,
chmod, utime, directory creation, import, compile, subprocess and pickle lookup, in every thread
(:pep:`578`). :func:`watching` installs one process-wide hook (hooks cannot be removed, so it is
installed once and switched on and off) and collects, while the block runs:

* ``writes``: an open with a write flag, or a mutating call, on a path inside the tree;
* ``escapes``: an open of a path inside the tree whose real path (symlinks followed) is outside it:
  the tool followed a symlink out of the tree;
* ``opened_outside``: opens whose real path lies in one of the ``forbidden`` folders (where the
  tests keep the targets of outgoing symlinks: the tool must never read them);
* ``executed``: an import or compile of a file inside the tree, a program started or a library
  loaded with a tree path among its arguments (a file name handed to another program), and any
  ``os.system`` (a shell) at all: nothing from the tree is imported or executed. The tool's own
  worker processes (``--jobs``) are not a violation; what they do to the tree shows in the snapshot.

This sees every open the Python process makes, including those of C extensions that go through
Python's ``open``/``os.open`` (numpy's file readers do); it cannot see opens made by C code with
``fopen`` directly, which the checker's code paths do not use for tree files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: events whose first argument is a path the call changes
_MUTATING = {
    "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.utime", "os.truncate", "os.chflags",
    "os.lchflags", "os.setxattr", "os.removexattr", "shutil.rmtree", "shutil.chown",
}
#: events whose first two arguments are paths (both count)
_MUTATING_PAIRS = {"os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
                   "shutil.copytree", "shutil.move"}
#: events that start a program or load code: a violation when a tree path is among their arguments
_STARTING = {"subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "ctypes.dlopen"}


@dataclass
class Watch:
    tree: Path
    forbidden: list[Path] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    opened_outside: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    opens_in_tree: int = 0

    def __post_init__(self) -> None:
        self._roots = {os.path.abspath(self.tree), os.path.realpath(self.tree)}
        self._real_root = os.path.realpath(self.tree)
        self._forbidden = [os.path.realpath(p) for p in self.forbidden]

    def _in_tree(self, path: str) -> bool:
        return any(path == root or path.startswith(root + os.sep) for root in self._roots)

    def _path(self, value: Any) -> str | None:
        if isinstance(value, int) or value is None:
            return None
        try:
            return os.path.abspath(os.fsdecode(value))
        except (TypeError, ValueError):
            return None

    def event(self, name: str, args: tuple[Any, ...]) -> None:
        if name == "open":
            path = self._path(args[0] if args else None)
            if path is None:
                return
            real = os.path.realpath(path)
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            if any(p == real or real.startswith(p + os.sep) for p in self._forbidden):
                self.opened_outside.append(path)
            if not self._in_tree(path):
                return
            self.opens_in_tree += 1
            if flags & _WRITE_FLAGS or any(c in mode for c in "wax+"):
                self.writes.append(f"open({path!r}, {mode or flags})")
            if not (real == self._real_root or real.startswith(self._real_root + os.sep)):
                self.escapes.append(f"{path} -> {real}")
        elif name in _MUTATING:
            path = self._path(args[0] if args else None)
            if path is not None and self._in_tree(path):
                self.writes.append(f"{name}({path!r})")
        elif name in _MUTATING_PAIRS:
            for value in args[:2]:
                path = self._path(value)
                if path is not None and self._in_tree(path):
                    self.writes.append(f"{name}({path!r})")
        elif name in ("import", "compile", "exec"):
            filename = args[1] if name in ("import", "compile") and len(args) > 1 else None
            if name == "exec":
                code = args[0] if args else None
                filename = getattr(code, "co_filename", None)
            path = self._path(filename) if isinstance(filename, str | bytes) else None
            if path is not None and self._in_tree(path):
                self.executed.append(f"{name} {path}")
        elif name == "os.system":
            self.executed.append(f"{name} {args[:1]!r}")
        elif (name in _STARTING or name.startswith(("os.exec", "os.spawn"))) and \
                any(self._mentions_tree(value) for value in args):
            self.executed.append(f"{name} {args[:2]!r}")

    def _mentions_tree(self, value: Any) -> bool:
        if isinstance(value, str | bytes | os.PathLike):
            text = os.fsdecode(value)
            return any(root in text for root in self._roots)
        if isinstance(value, list | tuple):
            return any(self._mentions_tree(v) for v in value)
        return False

    @property
    def clean(self) -> bool:
        return not (self.writes or self.escapes or self.opened_outside or self.executed)

    def report(self) -> str:
        parts = []
        for label in ("writes", "escapes", "opened_outside", "executed"):
            values = getattr(self, label)
            if values:
                parts.append(f"{label}: {values[:10]}")
        return "; ".join(parts) or "clean"


_ACTIVE: list[Watch] = []
_INSTALLED = False


def _hook(name: str, args: tuple[Any, ...]) -> None:
    for watch in _ACTIVE:
        watch.event(name, args)


@contextmanager
def watching(tree: Path, forbidden: Sequence[Path] = ()) -> Iterator[Watch]:
    """Collect what the code run inside the block does to ``tree`` (see the module docstring)."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED = True
    watch = Watch(tree=Path(tree), forbidden=list(forbidden))
    _ACTIVE.append(watch)
    try:
        yield watch
    finally:
        _ACTIVE.remove(watch)


def snapshot(tree: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``tree`` (and the tree itself): type and mode, size, mtime, and the SHA-256
    of a file's content or a symlink's target text. Symlinks are not followed."""
    import hashlib
    import stat

    state: dict[str, tuple[Any, ...]] = {}

    def record(path: str) -> None:
        info = os.lstat(path)
        rel = os.path.relpath(path, tree)
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            content = digest.hexdigest()
        elif stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        else:
            content = None
        state[rel] = (info.st_mode, info.st_size if not stat.S_ISDIR(info.st_mode) else None,
                      info.st_mtime_ns, info.st_uid, info.st_gid, content)

    record(str(tree))
    for folder, dirs, files in os.walk(tree, followlinks=False):
        for name in [*dirs, *files]:
            record(os.path.join(folder, name))
    return state


def changes(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> list[str]:
    """What differs between two snapshots, readably."""
    out = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            out.append(f"removed {rel}")
        elif rel not in before:
            out.append(f"added {rel}")
        elif before[rel] != after[rel]:
            out.append(f"changed {rel}: {before[rel]} -> {after[rel]}")
    return out
