"""On-disk parse cache (``check --cache DIR``): a file unchanged since the last run is not parsed again.

A parse result is stored with the fingerprint of the file it came from and used only when the file's
fingerprint still matches:

* size and ``st_mtime_ns`` (what any edit changes), and
* a digest (SHA-256, its first 128 bits) of the first and the last 64 KB (the whole file when it is
  at most 128 KB). SHA-256 rather than BLAKE2b: on CPUs with SHA extensions (this project's
  machines) it hashes 1.9 GB/s against 1.2 GB/s, which takes a sixth off reading a fingerprint.

A full digest of every file would cost as much as the baseline hash pass of the benchmark on every
warm run (the large accuracy logs dominate the bytes), which defeats a cache whose point is a warm
run at a small fraction of the cold one. Head and tail catch an edit that keeps size and mtime
(``cp -p``, ``touch -r``, an archive re-extracted) in every small file outright and, in a large log,
in its header and its closing lines (where LoadGen writes the results and the JSON array ends).

Where the entries live: ``DIR/<tag>/``, the tag hashing the tool version, the Python version and the
source of every parser module (a new release or any parser change starts from an empty folder, and
the folders of other tags are removed when a run is done: :func:`prune_other_tags`), then

* **one group file per submitter folder** (``<xx>/<hash>.grp``: every file below one
  ``<division>/<submitter>``; the files above them form one more group), written when the
  partition's checks are done. A cold run so writes a dozen files, not one per parsed file
  (creating 1,300 small files took half a second of a 1.5 s check). The file is an index (each
  file's key, fingerprint and byte ranges) and the pickles; an accuracy log's arrays are stored out
  of band (pickle protocol 5): written from the parsed arrays without a copy, read back as arrays
  over the file's bytes. A byte-identical copy (:class:`checker.parse.memo.ContentMemo` gave it the
  same model) is stored as a reference to the first file, and read back the way the memo makes it.
* **per-file entries** in the group's own folder (``<xx>/<hash>/<key>.pkl``): what a later run parses
  again (a changed file) while the group file stays as it is, so that one changed file costs one
  small write, not a rewrite of the group. When most of a group was parsed again (at least
  :data:`GROUP_MIN` files, and more than it still serves), the group file is written anew with the
  entries still in use. A lookup tries the group, then the file's own entry (only when the folder,
  listed once, has it).

A result pickled whole (no arrays beside it) of over :data:`LARGE_RESULT_BYTES` is kept only when it
is under a :data:`CONDENSED` share of its file (:func:`worth_keeping`): one about as large as its
file, a detail log holding a megabyte-long sample set as text, is cheaper to parse again than to
write and read back.

A group file is written when its partition's checks are done (in the process that checked it), in
one ``writev`` of the pickles and the arrays' own memory; one of :data:`BACKGROUND_BYTES` or more
(the v0.5 accuracy logs' arrays: 120 MB for the round, which the kernel copies at 0.5 GB/s once its
dirty-page limit is reached) by a thread beside the next partition's checks, joined before the next
one starts and when the partitions are done, so the cache is complete when the run returns. Smaller
groups are written in line: a thread has to win the interpreter lock back from the checks after
each of its calls, which made small writes slower beside them than alone. A group file is created
only where there was none when it was looked up, or replaces only the file that was read then
(another writer's newer one is kept, and this run's results go to per-file entries). Every file is
written under a temporary name and renamed into place, so parallel workers and interrupted runs
never leave a half-written entry; an unreadable or stale entry is simply a miss. The cache never
raises into the engine: any OS, pickle or format error is a miss.

Fingerprints read before a partition is checked (the partition stamps of
:mod:`checker.engine.partition_cache` read every file of a submitter folder) are remembered for the
rest of the run (:func:`remember`) with the stat identity (device, inode, size, mtime, ctime) of the
file they were read from, and serve as the parse cache key of a file whose stat is still the same:
a cold run reads each file's head and tail once, not twice. A fingerprint taken before the parse is
always a safe key (a file that changes in between gets a fingerprint that no later run matches). For
the same reason a result that round detection parsed before the stamps were taken and hands on to a
partition is used only if the file still has the fingerprint it was parsed with
(:meth:`ParseCache.unchanged`); otherwise the partition reads the file again.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import pickle
import stat
import struct
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from checker import __version__
from checker.parse.base import OPEN_FLAGS, ParseResult
from checker.parse.memo import moved

EDGE = 64 * 1024
FORMAT = 3
#: a group file that exists is written again (instead of one entry per file) only when at least this
#: many of its files, and at least as many as it still serves, were parsed again
GROUP_MIN = 16
#: a group file at least this large is written by a thread beside the next partition's checks
BACKGROUND_BYTES = 8 << 20
#: a parse result pickled whole (no arrays beside it) larger than this is kept only when it is under a
#: :data:`CONDENSED` share of its file's size (see :func:`worth_keeping`)
LARGE_RESULT_BYTES = 64 << 10
CONDENSED = 0.75
_MAGIC = b"MAPCGRP2"
_HEADER = struct.Struct("<8sQ")
_ALIGN = 16

Stamp = tuple[int, int, str]
Identity = tuple[int, int, int, int, int]


@lru_cache(maxsize=1)
def cache_tag() -> str:
    """Version tag of everything a cached parse result depends on: tool, Python, parser code."""
    digest = hashlib.sha256(f"{__version__}|{sys.version_info[:2]}|{FORMAT}".encode())
    here = Path(__file__).resolve()
    hash_sources(digest, here.parent.parent / "parse", "*.py")  # the parsers make the results,
    hash_sources(digest, here.parent, here.name)  # this module lays them out on disk
    return digest.hexdigest()[:16]


def hash_sources(digest: Any, folder: Path, pattern: str) -> None:
    """Feed ``digest`` the name and content of every file matching ``pattern`` under ``folder``."""
    for path in sorted(folder.rglob(pattern)):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def identity(info: os.stat_result) -> Identity:
    """What any write, ``utime``, rename or replacement of a file changes (see SETTLE_S in
    :mod:`checker.engine.partition_cache` for the one exception, a write within the timestamp tick)."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _pread(fd: int, size: int, offset: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_file(path: str | Path, follow: bool = True) -> tuple[os.stat_result, Stamp] | None:
    """The stat and the fingerprint (size, mtime_ns, head+tail digest) of a regular file, both from
    the one opened file; None when it cannot be read or is not a regular file (opened without
    blocking, so a FIFO swapped in never hangs the run; ``follow`` False: nor through a symlink).
    Every fingerprint of the cache is read here."""
    flags = OPEN_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        size = info.st_size
        digest = hashlib.sha256()
        if size <= 2 * EDGE:
            digest.update(_pread(fd, size, 0))
        else:
            digest.update(_pread(fd, EDGE, 0))
            digest.update(_pread(fd, EDGE, size - EDGE))
    except OSError:
        return None
    finally:
        os.close(fd)
    return info, (size, info.st_mtime_ns, digest.hexdigest()[:32])


def read_fingerprint(path: str | Path) -> tuple[Identity, Stamp] | None:
    """The stat identity and the fingerprint of a regular file (see :func:`read_file`)."""
    found = read_file(path)
    return None if found is None else (identity(found[0]), found[1])


def fingerprint(path: Path) -> Stamp | None:
    """(size, mtime_ns, head+tail digest) of a file; None when it cannot be read."""
    found = read_fingerprint(path)
    return None if found is None else found[1]


# -- fingerprints read earlier in this run (by the partition stamps) ----------------------------

_KNOWN: dict[str, tuple[Identity, Stamp]] = {}


def remember(path: str, ident: Identity, stamp: Stamp) -> None:
    """Remember a fingerprint read before the file's partition is checked."""
    _KNOWN[path] = (ident, stamp)


def forget(paths: list[str] | None = None) -> None:
    """Forget some remembered fingerprints (a partition done), or all (a new run)."""
    if paths is None:
        _KNOWN.clear()
        _ADOPTED.clear()
        return
    for path in paths:
        _KNOWN.pop(path, None)


#: the fingerprint each file was read with in this run, by (path, kind): a result round detection
#: read and handed on to a partition is used only if the file still has it (see ParseCache.unchanged)
_READ_WITH: dict[tuple[str, str], Stamp | None] = {}


#: results a partition stored for round detection's reader (see ParseCache.adopt)
_ADOPTED: set[tuple[str, str, str]] = set()


def run_done(cache_dir: Path | None = None) -> None:
    """Every partition of the run is done: its group files are on disk; forget what the run read.
    ``cache_dir``: the ``check --cache`` folder, whose parse results of other tags are then removed
    (:func:`prune_other_tags`)."""
    wait_for_writes()
    _READ_WITH.clear()
    if cache_dir is not None:
        prune_other_tags(Path(cache_dir))


#: the file that marks a tag folder as this tool's (only marked folders are ever removed)
TAG_MARKER = "mlperf-audit-parse-cache"


def prune_other_tags(cache_dir: Path) -> None:
    """Mark this run's tag folder as the tool's own and remove the marked folders of other tags.

    A new release or any parser change starts a new tag folder (:func:`cache_tag`), and nothing
    would read the old one again: kept, a CI cache would grow by a folder per release (up to about
    0.5 GB for a whole results repository). Only folders named like a tag that hold the marker are
    removed, never through a link; two versions sharing one cache folder then remove each other's
    results, which only costs them misses. Any error leaves things as they are."""
    own = cache_dir / cache_tag()
    try:
        if own.is_dir() and not (own / TAG_MARKER).exists():
            (own / TAG_MARKER).write_text("parse results of mlperf-audit check --cache (one tag)\n")
        with os.scandir(cache_dir) as listing:
            others = [entry.path for entry in listing
                      if entry.name != own.name and len(entry.name) == 16
                      and all(c in "0123456789abcdef" for c in entry.name)
                      and entry.is_dir(follow_symlinks=False)
                      and os.path.isfile(os.path.join(entry.path, TAG_MARKER))]
    except OSError:
        return
    import shutil

    for path in others:
        shutil.rmtree(path, ignore_errors=True)


def known_fingerprint(path: Path, info: os.stat_result | None) -> Stamp | None:
    """The remembered fingerprint of ``path`` if its stat (``info``) is still the one it was read with."""
    if info is None:
        return None
    known = _KNOWN.get(str(path))
    if known is not None and known[0] == identity(info):
        return known[1]
    return None


# -- the writer of large group files ---------------------------------------------------------------

_writer: threading.Thread | None = None


def _in_worker() -> bool:
    return multiprocessing.parent_process() is not None


def _in_background(write: Any) -> None:
    """Run ``write`` in a thread, after the previous one (so that at most two groups are held)."""
    global _writer
    wait_for_writes()
    # not a daemon: the interpreter waits for it at exit, so no write is cut short
    _writer = threading.Thread(target=write, name="parse-cache-writer")
    _writer.start()


def wait_for_writes() -> None:
    """Return once the group file being written in the background (if any) is on disk or given up."""
    global _writer
    if _writer is not None:
        _writer.join()
        _writer = None


# -- group files ----------------------------------------------------------------------------------

def _group_name(rel: str) -> str:
    parts = rel.split("/", 2)
    return f"{parts[0]}/{parts[1]}" if len(parts) == 3 else ""


class _Group:
    """A group file as found at the first lookup: its index, its bytes, and what this run used; and
    the names of the group's own per-file entries (its folder beside it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.with_suffix("")
        self.index: dict[tuple[str, str], tuple[Stamp, Any, list[tuple[int, int]]]] = {}
        self.data: memoryview | None = None
        self.seen: Identity | None = None  # the file's stat when read (None: there was no file)
        self.readable = False
        self.used: set[tuple[str, str]] = set()
        self.entries: set[str] = set()
        self.results: dict[tuple[str, str], ParseResult] = {}  # what was read (twins share a model)

    def entry(self, rel: str, kind: str) -> Path:
        key = hashlib.sha256(f"{rel}\0{kind}".encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return self.folder / f"{key}.pkl"

    def read(self, root: str, group: str) -> None:
        with contextlib.suppress(OSError):
            self.entries = set(os.listdir(self.folder))
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            info = os.fstat(fd)
            self.seen = identity(info)
            buffer = bytearray(info.st_size)
            view = memoryview(buffer)
            got = 0
            while got < info.st_size:
                count = os.readv(fd, [view[got:]])
                if count <= 0:
                    break
                got += count
        except (OSError, MemoryError):
            return
        finally:
            os.close(fd)
        try:
            magic, length = _HEADER.unpack_from(buffer, 0)
            start = _HEADER.size + length
            if magic != _MAGIC or got != info.st_size or start > got:
                return
            stored_root, stored_group, index = pickle.loads(view[_HEADER.size:start])
            if stored_root != root or stored_group != group:
                return
            data = view[_padded(start):]
            end = max((off + size for entry in index.values() if isinstance(entry[2], list)
                       for off, size in entry[2]), default=0)
            if end > len(data):
                return
        except Exception:  # noqa: BLE001 - a truncated or foreign file is no group
            return
        self.index, self.data, self.readable = index, data, True

    def result(self, key: tuple[str, str]) -> ParseResult:
        """The stored result of ``key`` (each one read once: a twin shares its original's model)."""
        assert self.data is not None
        known = self.results.get(key)
        if known is not None:
            return known
        _, args, ranges = self.index[key]
        if isinstance(ranges, tuple):  # ("twin", key of the same content, this file's path)
            result = moved(self.result(ranges[1]), ranges[2])
        else:
            chunks = [self.data[off:off + size] for off, size in ranges]
            fields = pickle.loads(chunks[0], buffers=chunks[1:])
            result = (ParseResult[args] if args else ParseResult).model_construct(**fields)
        self.results[key] = result
        return result

    def chunks(self, key: tuple[str, str]) -> tuple[Stamp, Any, Any]:
        assert self.data is not None
        stamp, args, ranges = self.index[key]
        if isinstance(ranges, tuple):
            return stamp, args, ranges
        return stamp, args, [self.data[off:off + size] for off, size in ranges]


def _padded(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def worth_keeping(chunks: list[Any], stamp: Stamp) -> bool:
    """Whether an encoded result (:func:`_encode`) is worth a cache entry. One pickled whole (no
    arrays beside it) that is nearly as large as its file, a detail log's megabyte-long sample set
    kept as text, costs about as much to write and read back as to parse again (the detail-log
    parser reads such logs at 450 MB/s), and it is read back only when its submitter changes: on a
    copy of v1.0 the size of its results repository such entries were 290 of the 490 MB of the cache
    and about 0.4 s of a 9 s cold run. An accuracy log's result is kept whatever its size: its arrays
    (and the payload digests the checks add to them) cost far more to compute again than to read
    back, and they are written and read without a copy. So is every small result."""
    size = sum(len(chunk) for chunk in chunks)
    return size <= LARGE_RESULT_BYTES or len(chunks) > 1 or size < CONDENSED * stamp[0]


def _kept(entries: dict[tuple[str, str], tuple[Stamp, ParseResult]],
          encoded: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], tuple[Stamp, ParseResult]]:
    """The entries :func:`worth_keeping`, for the group file and for entries of their own alike. A
    byte-identical copy shares its first file's model (:class:`checker.parse.memo.ContentMemo`) and
    so its verdict: each model is encoded once, into ``encoded``."""
    verdicts: dict[tuple[str, int], bool] = {}
    kept = {}
    for key, (stamp, result) in entries.items():
        mark = (result.kind, id(result.model)) if result.model is not None else None
        verdict = verdicts.get(mark) if mark is not None else None
        if verdict is None:
            encoded[key] = chunks = _encode(result)
            verdict = worth_keeping(chunks, stamp)
            if mark is not None:
                verdicts[mark] = verdict
        if verdict:
            kept[key] = (stamp, result)
    return kept


def _own_entry(key: tuple[str, str], stamp: Stamp, result: ParseResult,
               encoded: dict[tuple[str, str], list[Any]]) -> tuple[Stamp, Any, list[Any]]:
    """The value of a file's entry of its own: its fingerprint, its model type and its encoding
    (made once, see :func:`_kept`; an array comes back writable, as from a group file)."""
    chunks = encoded.get(key) or _encode(result)
    return stamp, _type_args(result), [bytes(chunks[0]), *(bytearray(chunk) for chunk in chunks[1:])]


def _encode(result: ParseResult) -> list[Any]:
    """The pickle of a result's fields, then its large arrays' raw bytes (out of band, no copy)."""
    buffers: list[pickle.PickleBuffer] = []
    main = pickle.dumps(dict(result), protocol=5, buffer_callback=buffers.append)
    try:
        return [main, *(buffer.raw() for buffer in buffers)]
    except BufferError:  # a non-contiguous buffer: pickle it in band
        return [pickle.dumps(dict(result), protocol=5)]


def _group_bytes(root: str, group: str, entries: dict[tuple[str, str], tuple[Stamp, Any, list[Any]]]) -> list[Any]:
    """The chunks of a group file: header, index, then every entry's chunks, each 16-byte aligned."""
    index: dict[tuple[str, str], tuple[Stamp, Any, list[tuple[int, int]]]] = {}
    body: list[Any] = []
    offset = 0
    for key, (stamp, args, chunks) in entries.items():
        if isinstance(chunks, tuple):  # a twin: nothing of its own to store
            index[key] = (stamp, args, chunks)
            continue
        ranges = []
        for chunk in chunks:
            size = memoryview(chunk).nbytes
            ranges.append((offset, size))
            body.append(chunk)
            pad = _padded(offset + size) - (offset + size)
            if pad:
                body.append(bytes(pad))
            offset += size + pad
        index[key] = (stamp, args, ranges)
    head = pickle.dumps((root, group, index), protocol=5)
    header = _HEADER.pack(_MAGIC, len(head)) + head
    return [header, bytes(_padded(len(header)) - len(header)), *body]


def _views(chunks: list[Any]) -> list[memoryview]:
    return [view for view in (memoryview(chunk).cast("B") for chunk in chunks) if len(view)]


def _write_all(fd: int, views: list[memoryview]) -> None:
    """Write every view with as few calls as possible: each call in the writer thread releases the
    interpreter lock and must take it back from the checks (up to a switch interval each time)."""
    batch = getattr(os, "IOV_MAX", 1024) if hasattr(os, "writev") else 1
    while views:
        part, views = views[:batch], views[batch:]
        written = os.writev(fd, part) if batch > 1 else os.write(fd, part[0])
        if written <= 0:
            raise OSError("nothing written")
        for index, view in enumerate(part):  # a short write: the rest goes first in the next call
            if written < len(view):
                views = [view[written:], *part[index + 1:], *views]
                break
            written -= len(view)


def _write_group(path: Path, chunks: list[memoryview], seen: Identity | None) -> bool:
    """Write a group file unless another writer got there first: created only where there was none
    (``seen`` None), else replacing only the file that was read (same stat)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            try:
                _write_all(handle, chunks)
            finally:
                os.close(handle)
            if seen is None:
                os.link(temporary, path)  # fails if a group file appeared meanwhile
            else:
                if identity(os.stat(path)) != seen:
                    return False
                os.replace(temporary, path)
                temporary = ""
        finally:
            if temporary:
                os.unlink(temporary)
    except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
        return False
    return True


class ParseCache:
    """The cache folder of one run (or one partition); counts hits, misses and writes for the timings.
    Results stored are kept until :meth:`flush` (called when the :class:`Evidence` is released)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / cache_tag()
        self.hits = self.misses = self.writes = 0
        self._roots: dict[Path, str] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._pending: dict[tuple[str, str], dict[tuple[str, str], tuple[Stamp, ParseResult]]] = {}
        self._adopted: set[tuple[str, str, str]] = set()

    def _root(self, root: Path) -> str:
        resolved = self._roots.get(root)
        if resolved is None:
            resolved = self._roots[root] = str(Path(root).resolve())
        return resolved

    def _group(self, root: str, group: str) -> _Group:
        found = self._groups.get((root, group))
        if found is None:
            key = hashlib.sha256(f"{root}\0{group}".encode("utf-8", "surrogateescape")).hexdigest()
            found = self._groups[(root, group)] = _Group(self.folder / key[:2] / f"{key[2:]}.grp")
            found.read(root, group)
        return found

    def stamp(self, path: Path, info: os.stat_result | None = None) -> Stamp | None:
        """The fingerprint to look ``path`` up with: the one read earlier in this run when the file's
        stat (``info``) is unchanged, else read now."""
        return known_fingerprint(path, info) or fingerprint(path)

    def noted(self, path: Path, kind: str, stamp: Stamp | None) -> None:
        """``path`` was read as ``kind`` with fingerprint ``stamp`` (parsed or from the cache)."""
        _READ_WITH[(str(path), kind)] = stamp

    def unchanged(self, path: Path, kind: str, info: os.stat_result | None) -> Stamp | None:
        """The fingerprint ``path`` was read with earlier in this run if it still has it, else None.
        A result parsed before the partition stamps were taken (by round detection) is used only
        then: the partition's stamp, and the cache entries keyed by it, must describe what the
        checks read."""
        was = _READ_WITH.get((str(path), kind))
        return was if was is not None and was == self.stamp(path, info) else None

    def adopt(self, root: Path, rel: str, kind: str, stamp: Stamp, result: ParseResult) -> None:
        """Store a result read by round detection with the partition's own (the reader's cache
        then leaves it out, see :meth:`flush`)."""
        self.store(root, rel, kind, stamp, result)
        with contextlib.suppress(Exception):
            self._adopted.add((self._root(root), rel, kind))
            _ADOPTED.add((self._root(root), rel, kind))

    def load(self, root: Path, rel: str, kind: str, stamp: Stamp | None) -> ParseResult | None:
        if stamp is None:
            return None
        try:
            group = self._group(self._root(root), _group_name(rel))
        except Exception:  # noqa: BLE001 - a cache folder we cannot even name is a miss
            self.misses += 1
            return None
        try:
            entry = group.index.get((rel, kind))
            if entry is not None and entry[0] == stamp:
                result = group.result((rel, kind))
                group.used.add((rel, kind))
                self.hits += 1
                return result
        except Exception:  # noqa: BLE001 - a broken group entry: try the file's own entry
            pass
        try:
            if not group.entries:  # no file of the group has an entry of its own: nothing to open
                raise FileNotFoundError
            path = group.entry(rel, kind)
            if path.name not in group.entries:
                raise FileNotFoundError
            stored_stamp, args, chunks = read_entry(path)
            if stored_stamp != stamp:
                self.misses += 1
                return None
            fields = pickle.loads(chunks[0], buffers=chunks[1:])
            result = (ParseResult[args] if args else ParseResult).model_construct(**fields)
        except Exception:  # noqa: BLE001 - a missing, truncated or foreign entry is a miss
            self.misses += 1
            return None
        self.hits += 1
        return result

    def store(self, root: Path, rel: str, kind: str, stamp: Stamp | None, result: ParseResult) -> None:
        if stamp is None:
            return
        try:
            key = (self._root(root), _group_name(rel))
        except Exception:  # noqa: BLE001
            return
        self._pending.setdefault(key, {})[(rel, kind)] = (stamp, result)

    def flush(self) -> None:
        """Write what :meth:`store` collected: a group file where there was none (or most of it
        changed), else one entry per file."""
        pending, self._pending = self._pending, {}
        for (root, name), entries in pending.items():
            entries = {key: value for key, value in entries.items()
                       if (root, *key) not in _ADOPTED or (root, *key) in self._adopted}
            encoded: dict[tuple[str, str], list[Any]] = {}
            entries = _kept(entries, encoded)
            if not entries:
                continue
            try:
                group = self._group(root, name)
            except Exception:  # noqa: BLE001 - any cache error is a miss: nothing written
                continue
            try:
                if group.seen is None:  # none was there: create it, unless another writer just did
                    write = not group.path.exists()
                elif not group.readable:  # an unusable one: replace it
                    write = True
                else:  # most of it changed: write it again
                    write = len(entries) >= GROUP_MIN and len(entries) >= len(group.used)
                if write:
                    self._flush_group(root, name, group, entries, encoded)
                    continue
            except Exception:  # noqa: BLE001 - fall back to one entry per file
                pass
            for key, (stamp, result) in entries.items():
                if write_entry(group.entry(*key), _own_entry(key, stamp, result, encoded)):
                    self.writes += 1

    def _flush_group(self, root: str, name: str, group: _Group,
                     entries: dict[tuple[str, str], tuple[Stamp, ParseResult]],
                     encoded_now: dict[tuple[str, str], list[Any]]) -> None:
        """``encoded_now``: encodings :func:`_kept` made of some of ``entries``."""
        encoded = {key: group.chunks(key) for key in group.used - set(entries)} if group.readable else {}
        for key in list(encoded):  # a reused twin whose original is not kept: stored in full again
            ranges = encoded[key][2]
            if isinstance(ranges, tuple) and ranges[1] not in encoded:
                stamp, args, _ = encoded[key]
                encoded[key] = (stamp, args, _encode(group.result(key)))
        firsts: dict[tuple[str, int], tuple[tuple[str, str], ParseResult]] = {}
        for key, (stamp, result) in entries.items():
            model = result.model
            first = firsts.get((result.kind, id(model))) if model is not None else None
            if first is not None and type(first[1]) is type(result) and moved(first[1], result.path) == result:
                encoded[key] = (stamp, _type_args(result), ("twin", first[0], result.path))
                continue
            if model is not None:
                firsts.setdefault((result.kind, id(model)), (key, result))
            encoded[key] = (stamp, _type_args(result), encoded_now.get(key) or _encode(result))
        self.writes += len(entries)
        views = _views(_group_bytes(root, name, encoded))

        def write() -> None:
            if _write_group(group.path, views, group.seen):
                return
            # another writer's group is there: this run's parses go to entries of their own
            for key, (stamp, result) in entries.items():
                with contextlib.suppress(Exception):
                    write_entry(group.entry(*key), _own_entry(key, stamp, result, encoded_now))

        if sum(len(view) for view in views) < BACKGROUND_BYTES or _in_worker():
            write()
        else:
            _in_background(write)


def read_entry(entry: Path) -> Any:
    """The value pickled in a cache entry of ``check --cache`` (this module is the tool's one unpickler:
    the parse cache, and the partition, detection and rule-pack entries of
    :mod:`checker.engine.partition_cache`, :mod:`checker.engine.roundsel`, :mod:`checker.engine.rulepack`).
    Raises on a missing or unreadable entry; callers treat any exception as a miss."""
    with open(entry, "rb") as handle:
        return pickle.load(handle)


def write_entry(entry: Path, value: Any) -> bool:
    """Pickle ``value`` into ``entry`` through a temporary file renamed into place, so that parallel
    workers and interrupted runs never leave a half-written entry. False on any error: a cache that
    cannot be written only costs time."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
        return False
    return True


def _type_args(result: ParseResult) -> Any:
    """The model type of a ``ParseResult[Model]`` (a parametrized class pickle cannot name)."""
    args = getattr(type(result), "__pydantic_generic_metadata__", {}).get("args") or ()
    return args[0] if len(args) == 1 else None
