"""On-disk cache of whole partition results (``check --cache DIR``): an unchanged submitter is not checked again.

The runner checks a tree as one partition per submitter folder (:func:`checker.engine.runner.check_partition`)
and a partition returns plain data (findings, each result's headline metric and report facts, its
systems' facts). This module stores that :class:`~checker.engine.runner.Partition` and hands it back on a
later run when nothing it depends on has changed; a changed partition is checked again (its files then
come from the per-file parse cache of :mod:`checker.engine.cache` where they are unchanged).

What a partition's result depends on, and so what its entry is keyed by:

* **the checker itself**: the tool version, the Python version, this cache's format and the bytes of
  every ``.py`` file of the ``checker`` package (not only the parsers: a change to any rule, the
  engine or a helper must not serve an old result), and every file of the ``rules`` and ``schemas``
  data folders (the packs and the LoadGen SHA-1 table the integrity rules read);
* **the run's configuration**: the merged rule pack (its full dump), the rules that run on partitions
  (pack severities, ``--select`` and ``--ignore`` applied), the two prefix lists themselves (they also
  filter the S004/S005 parse findings), and the check options (``--annotations`` files by path,
  size, mtime and head/tail digest);
* **the tree around the partition**: the resolved tree root, its division folders, top-level
  entries and discovery's oddities (partitions see the whole tree's lists, even though only
  tree-scope rules read them today);
* **the partition's files**: every entry below the submitter folder, by relative path, type and
  mode, and for a regular file the fingerprint of the parse cache (:func:`checker.engine.cache.fingerprint`:
  size, ``st_mtime_ns``, a digest of the first and last 64 KB). A symlink adds its target and the
  fingerprint of what it points at (a file elsewhere in the tree that changes changes the link's
  stamp); a partition holding a symlink to a folder, or a folder that cannot be listed, is never
  cached (checked on every run), since what it reads lies outside the walk. Other entries (FIFOs,
  devices) are never opened.

Waivers and ``--models`` are not part of the key: the engine applies waivers after the partitions,
and the model audit and the tree-scope rules (round detection included) run on every run.

Why the head/tail digest and not only size and mtime: it exists to catch an edit that keeps both
(``cp -p``, ``touch -r``, an archive re-extracted), see :mod:`checker.engine.cache`; a partition
entry must not be weaker than the parse cache below it, or a hit would serve what a re-check would
have caught. The inode change time would catch those edits without opening a file, but it also
moves when anyone adds or removes a hard link to the file (linked copies of a tree, backups), so a
shared corpus would miss all the time. It serves instead to skip the reading: each submitter's
fingerprints are remembered (``DIR/partitions/<xx>/<hash>.files``) with the file's device, inode,
size, mtime and ctime, and a file whose stat is unchanged keeps its fingerprint unread, since any
write, ``utime`` or rename moves the ctime or the inode. Only files that had settled (mtime and
ctime over :data:`SETTLE_S` seconds old when they were read) are remembered: a write within the
file system's timestamp granularity of the reading would keep the stat the same (git's "racily
clean" problem), so a recently changed file is read again on every run until it settles. A
hard-linked copy then costs one read of every file (about 80 ms for the 3,900 files of the v1.0
corpus round), and later runs only stat the tree. On a large tree whose fingerprints are remembered,
those stats (and discovery's listing of the folders) are taken before any partition is checked, half of
the submitter folders in a forked process (:mod:`checker.engine.prestamp`). The memo also keeps the
stat identity of every folder (a :class:`Snapshot`): a folder's identity moves with any entry added,
removed or renamed in it, so when every folder and file still has its identity, the stamp is the one
remembered and nothing is listed (:func:`quick_stamp`: on a copy of v1.0 the size of its results
repository, 0.33 of a 1.04 s warm run became 0.16).

The stamp is taken before the partition is checked, so that it describes no later state of a file
than the one the checks read (a file changed in between gets a stamp no later run matches). A file
the memo does not know is read at once, without a stat first (one open and ``fstat``, never
through a symlink: its stat and mode come from the opened file). For a partition that is checked,
the fingerprints just read become the parse cache's keys for its files
(:func:`checker.engine.cache.remember`), so a cold run reads each file's head and tail once.

An entry is one file per (tree root, submitter folder, configuration):
``DIR/partitions/<xx>/<hash>.pkl`` holding the check-level stamp (tool, tree around, files) and the
pickled partition; a changed submitter overwrites its entry, so the folder does not grow with edits.
Writes go to a temporary file renamed into place; any OS, pickle or format error while reading or
writing is a miss, never an exception into the engine.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from checker import __version__
from checker.runtime import long_lived

if TYPE_CHECKING:
    from checker.discover import Submission, Tree
    from checker.engine.runner import Partition, _Job

FORMAT = 4
#: a file changed less than this many seconds before it was read is not remembered (see above)
SETTLE_S = 2


@lru_cache(maxsize=1)
def checker_digest() -> str:
    """The tool version, Python version, cache format, every checker source file and data file."""
    from checker.engine.cache import hash_sources
    from checker.resources import data_dir

    digest = hashlib.sha256(f"{__version__}|{sys.version_info[:3]}|{FORMAT}".encode())
    hash_sources(digest, Path(__file__).resolve().parent.parent, "*.py")
    for name in ("rules", "schemas"):
        digest.update(f"\0data:{name}\0".encode())
        hash_sources(digest, data_dir(name), "*")
    return digest.hexdigest()


def _stat_token(path: Path) -> tuple[int, int, str] | None:
    from checker.engine.cache import fingerprint

    return fingerprint(path) if path.is_file() else None


def _token(value: Any) -> Any:
    """A stable, comparable form of a check option (paths with the stat of the file they name)."""
    if isinstance(value, dict):
        return sorted((str(k), _token(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_token(v) for v in value]
    if isinstance(value, Path):
        return ("path", str(value), str(value.resolve()), _stat_token(value))
    return repr(value)


def config_digest(job: _Job) -> str:
    """What every partition of this run depends on besides the files: pack, rules, prefixes, options."""
    digest = hashlib.sha256(job.pack.model_dump_json().encode())
    parts = [
        [spec.id for spec in job.specs],
        list(job.select),
        list(job.ignore),
        _token(job.options),
    ]
    digest.update(repr(parts).encode())
    return digest.hexdigest()


def tree_digest(tree: Tree) -> str:
    """The tree around the partitions: root, divisions, top-level entries, discovery's oddities."""
    try:
        root = str(Path(tree.root).resolve())
    except (OSError, RuntimeError):
        root = str(tree.root)
    parts = [
        root,
        list(tree.divisions),
        list(tree.top_entries),
        [(o.kind, o.path, o.scope.label(), o.detail) for o in tree.oddities],
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class Snapshot:
    """What lets a later run find a submitter folder unchanged by stat calls alone (:func:`quick_stamp`):
    the stat identity of every folder below it, taken while :func:`files_digest` walks it.

    A folder's identity (device, inode, size, mtime, ctime) changes whenever an entry is added,
    removed or renamed in it, and a file's whenever it is written, so when every folder and every
    file remembered still has its identity, the walk would list the same names and read the same
    fingerprints: its digest is the one remembered. That holds only when the walk saw nothing else
    (no symlink, whose target may change elsewhere; no FIFO or device; no unreadable folder), every
    file's fingerprint was remembered, and every folder had settled (mtime and ctime over
    :data:`SETTLE_S` seconds older than ``listed_since_ns``, the moment before its listing was
    taken: a change after that instant, or within the timestamp tick before it, leaves no trace in
    an identity taken later); else :attr:`usable` turns False and nothing is remembered."""

    __slots__ = ("settled_ns", "folders", "usable")

    def __init__(self, listed_since_ns: int) -> None:
        self.settled_ns = listed_since_ns - SETTLE_S * 1_000_000_000
        #: (path relative to the submitter folder, "" for itself; stat identity), in walk order
        self.folders: list[tuple[str, tuple]] = []
        self.usable = True

    def add_folder(self, rel: str, info: os.stat_result) -> None:
        from checker.engine.cache import identity

        key = identity(info)
        if not stat.S_ISDIR(info.st_mode) or key[3] >= self.settled_ns or key[4] >= self.settled_ns:
            self.usable = False
        else:
            self.folders.append((rel, key))


def files_digest(folder: Path, root: Path | None = None, memo: dict | None = None,
                 fresh: dict | None = None, read: list | None = None,
                 listings: dict[str, list[os.DirEntry[str]] | None] | None = None,
                 snapshot: Snapshot | None = None) -> str | None:
    """Stamp of every entry below ``folder`` (see the module docstring); None when it cannot be cached.

    A symlink that leaves ``root`` (the checked tree) is recorded by its target text only: it is
    never followed, neither here nor by the checks (discovery reports it). ``memo``: remembered
    fingerprints by relative path (see :data:`SETTLE_S`); ``fresh`` receives those to remember now;
    ``read`` receives the path, stat identity and fingerprint of every regular file (the parse cache
    may use them for the rest of the run, :func:`checker.engine.cache.remember`). ``listings``: the
    folders discovery listed (:attr:`checker.discover.Tree.listings`), each taken out as it is used;
    a folder not in it is listed here. ``snapshot``: receives the folders' identities (see
    :class:`Snapshot`; folders are then stat'ed, one call each)."""
    from checker.discover import inside_tree
    from checker.engine import cache

    memo = memo or {}
    fresh = {} if fresh is None else fresh
    read = [] if read is None else read
    settled = time.time_ns() - SETTLE_S * 1_000_000_000
    read_file, identity = cache.read_file, cache.identity
    is_regular = stat.S_ISREG
    by_name = attrgetter("name")

    def remembered(path: str, rel: str, info: os.stat_result | None,
                   follow: bool = False) -> tuple[int, tuple[int, int, str] | None]:
        """The mode and fingerprint of a regular file: from the memo when its stat (``info``) is
        unchanged, else read (through a symlink only if ``follow``). ``info`` None: a file the memo
        does not know, read at once, its stat taken from the opened file; mode 0 when unreadable."""
        if info is not None:
            key = identity(info)
            known = memo.get(rel)
            if known is not None and known[0] == key:
                fresh[rel] = known
                read.append((path, key, known[1]))
                return info.st_mode, known[1]
        seen = read_file(path, follow=follow)
        if seen is None:
            return (0 if info is None else info.st_mode), None
        opened, found = seen
        key = identity(opened)
        read.append((path, key, found))
        if key[3] < settled and key[4] < settled:
            fresh[rel] = (key, found)
        return opened.st_mode, found

    digest = hashlib.blake2b(digest_size=32)
    if snapshot is not None:
        try:
            snapshot.add_folder("", os.lstat(folder))
        except OSError:
            return None
    stack = [(folder, "")]
    while stack:
        current, rel = stack.pop()
        listed = listings.pop(os.fspath(current), False) if listings else False
        if listed is False:
            try:
                with os.scandir(current) as iterator:
                    listed = sorted(iterator, key=by_name)
            except OSError:
                return None
        if listed is None:
            return None
        entries = listed
        records = [f"\0D{rel}\0{len(entries)}"]
        folders = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_symlink():
                    if snapshot is not None:
                        snapshot.usable = False
                    target = os.readlink(entry.path)
                    if root is not None and not inside_tree(root, Path(entry.path)):
                        records.append(f"\0L{name}\0{target}\0outside")
                        continue
                    try:
                        info = os.stat(entry.path)
                    except OSError:
                        records.append(f"\0L{name}\0{target}\0broken")
                        continue
                    if stat.S_ISDIR(info.st_mode):
                        return None  # a linked folder: its contents lie outside this walk
                    seen = remembered(entry.path, f"{rel}/{name}", info, True)[1] if is_regular(info.st_mode) else None
                    records.append(f"\0L{name}\0{target}\0{info.st_mode}\0{seen}")
                elif entry.is_dir(follow_symlinks=False):
                    records.append(f"\0d{name}")
                    folders.append((entry.path, f"{rel}/{name}"))
                    if snapshot is not None and snapshot.usable:
                        snapshot.add_folder(f"{rel}/{name}", entry.stat(follow_symlinks=False))
                else:
                    path, child = entry.path, f"{rel}/{name}"
                    mode, seen = 0, None
                    if child not in memo and entry.is_file(follow_symlinks=False):
                        mode, seen = remembered(path, child, None)  # one open and fstat, no lstat first
                    if seen is None:  # known to the memo, not a regular file, or unreadable
                        info = entry.stat(follow_symlinks=False)
                        mode = info.st_mode
                        if is_regular(mode):
                            mode, seen = remembered(path, child, info)
                    records.append(f"\0f{name}\0{mode}\0{seen}")
                    if snapshot is not None and (seen is None or child not in fresh):
                        snapshot.usable = False  # not a regular file, unreadable, or not settled
            except OSError:
                return None
        digest.update("".join(records).encode("utf-8", "surrogateescape"))
        stack.extend(reversed(folders))
    return digest.hexdigest()


def partitions_folder(cache_dir: Path) -> Path:
    """The partition cache's folder inside the folder of ``check --cache``."""
    return Path(cache_dir) / "partitions"


def files_entry(folder: Path, root: str, rel: str) -> Path:
    """Where the fingerprints of submitter folder ``rel`` of tree ``root`` are remembered, in the
    partition cache's ``folder`` (``DIR/partitions``)."""
    return _keyed(folder, ".files", root, rel)


def _keyed(folder: Path, suffix: str, *parts: str) -> Path:
    """An entry of ``folder`` named by the digest of ``parts`` (fanned out by its first two digits)."""
    key = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return folder / key[:2] / f"{key[2:]}{suffix}"


class FolderStamp(NamedTuple):
    """What :func:`stamp_files` found in a submitter folder."""

    #: :func:`files_digest` (None: the folder cannot be cached, or its walk failed)
    files: str | None
    #: (path, stat identity, fingerprint) of every regular file seen; None when not kept
    read: list | None
    #: whether :attr:`files` differs from the folder's stamp of the last run (or none is known): a
    #: partition of such a folder is likely checked again
    changed: bool


class Remembered(NamedTuple):
    """What the memo of a submitter folder holds (:func:`remembered_of`), read once per run and
    handed to :func:`quick_stamp` and then, when that fails, to :func:`stamp_files`."""

    #: fingerprints by path relative to the folder (empty when none are remembered)
    fingerprints: dict
    #: (stamp, folder identities) of the folder's :class:`Snapshot`; None when there is none
    snapshot: tuple[str, list] | None
    #: the folder's stamp of the last run; None when there is none
    last: str | None

    #: a folder still to be stamped is likely changed: its quick stamp failed (see FolderStamp.changed)
    changed = True


def remembered_of(folder: Path, root: str, submission: Submission) -> Remembered:
    """What is remembered of a submitter folder (nothing, when the memo is missing or unreadable)."""
    from checker.engine import cache

    try:
        with long_lived():
            stored_format, memo, quick, last = cache.read_entry(files_entry(folder, root, submission.rel))
        if stored_format == FORMAT and isinstance(memo, dict):
            return Remembered(memo, quick, last)
    except Exception:  # noqa: BLE001 - nothing remembered: every file is read
        pass
    return Remembered({}, None, None)


def stamp_files(folder: Path, root: str, submission: Submission,
                listings: dict[str, list[os.DirEntry[str]] | None] | None = None,
                listed_since_ns: int = 0, remembered: Remembered | None = None) -> FolderStamp:
    """:func:`files_digest` of a submitter folder through its remembered fingerprints, which are
    rewritten when they changed, together with the folder's :class:`Snapshot` for :func:`quick_stamp`.
    ``listed_since_ns``: when ``listings`` began to be taken (:attr:`checker.discover.Tree.listed_since_ns`);
    0: now, as the folders not in ``listings`` are listed here. ``remembered``: the folder's memo when
    the caller has read it (:func:`remembered_of`)."""
    from checker.engine import cache

    memo, known_snapshot, last = remembered or remembered_of(folder, root, submission)
    fresh: dict = {}
    read: list = []
    snapshot = Snapshot(listed_since_ns or time.time_ns())
    try:
        files = files_digest(submission.path, Path(root), memo, fresh, read, listings, snapshot)
    except Exception:  # noqa: BLE001
        return FolderStamp(None, read, True)
    quick = (files, snapshot.folders) if files is not None and snapshot.usable else None
    if files is not None and (fresh != memo or quick != known_snapshot or files != last):
        cache.write_entry(files_entry(folder, root, submission.rel), (FORMAT, fresh, quick, files))
    return FolderStamp(files, read, files is None or files != last)


def quick_stamp(folder: Path, root: str, submission: Submission,
                remembered: Remembered | None = None) -> FolderStamp | None:
    """The stamp of a submitter folder whose folders and files all still have the stat identities its
    :class:`Snapshot` remembered: its digest then is the one remembered, and no folder is listed. None
    when anything differs or nothing usable is remembered (the caller walks the folder).
    ``remembered``: the folder's memo when the caller has read it (:func:`remembered_of`)."""
    from checker.engine.cache import identity

    memo, quick, _ = remembered or remembered_of(folder, root, submission)
    if quick is None:
        return None
    try:
        files, folders = quick
        base = os.fspath(submission.path)
        lstat = os.lstat
        for rel, key in folders:
            if identity(lstat(base + rel)) != key:
                return None
        read = []
        for rel, (key, found) in memo.items():
            path = base + rel
            if identity(lstat(path)) != key:
                return None
            read.append((path, key, found))
    except (OSError, TypeError, ValueError):  # gone, or a memo of another shape: walk it
        return None
    return FolderStamp(files, read, False)


class PartitionCache:
    """The partition entries of one run (one configuration); counts hits, misses and writes."""

    def __init__(self, folder: Path, job: _Job, tree: Tree,
                 early: dict[str, FolderStamp | Remembered] | None = None) -> None:
        from checker.engine import cache

        cache.wait_for_writes()  # an earlier run's group files (a library caller's) are complete
        cache.forget()  # fingerprints read by an earlier run in this process are not this run's
        self.folder = partitions_folder(folder)
        self.hits = self.misses = self.writes = 0
        try:
            self._config = config_digest(job)
            self._context = f"{checker_digest()}|{tree_digest(tree)}"
        except Exception:  # noqa: BLE001 - a configuration we cannot fingerprint is never cached
            self._config = None
        self._root = str(tree.root)
        self._listings = tree.listings
        self._listed_since = tree.listed_since_ns if tree.listings is not None else 0
        #: :func:`stamp_files` of submitter folders, by relative path, taken before this run's
        #: partitions were (:mod:`checker.engine.prestamp`), or what is remembered of a folder still
        #: to be stamped: the caller's dict, each taken out as it is used, so that the files they
        #: list are dropped with their partition
        self._early = early if early is not None else {}
        #: each submitter's files read by its stamp: (path, stat identity, fingerprint), handed to the
        #: parse cache when the submitter is checked (:func:`checker.engine.cache.remember`)
        self._read: dict[str, list] = {}
        #: the files handed to the parse cache, forgotten when their submitter is done
        self._remembered: dict[str, list[str]] = {}
        #: each missed submitter's fingerprints, for a worker process that checks it (:meth:`handoff`)
        self._handoff: dict[str, list] = {}

    def _entry(self, submission: Submission) -> Path:
        return _keyed(self.folder, ".pkl", str(self._config), self._root, submission.rel)

    def _done(self, submission: Submission) -> None:
        from checker.engine import cache

        self._read.pop(submission.rel, None)
        self._handoff.pop(submission.rel, None)
        cache.forget(self._remembered.pop(submission.rel, []))

    def stamp(self, submission: Submission) -> str | None:
        """The stamp a cached result of ``submission`` must carry; None: not cacheable."""
        if self._config is None:
            return None
        early = self._early.pop(submission.rel, None)
        if isinstance(early, FolderStamp):
            found = early
        else:
            found = stamp_files(self.folder, self._root, submission, self._listings, self._listed_since, early)
        self._read[submission.rel] = found.read or []  # None: not kept; the parse cache then reads them
        return None if found.files is None else f"{self._context}|{found.files}"

    def _miss(self, submission: Submission) -> None:
        """The submitter will be checked: its files' fingerprints serve as its parse cache keys."""
        from checker.engine import cache

        self.misses += 1
        read = self._read.pop(submission.rel, [])
        for path, ident, found in read:
            cache.remember(path, ident, found)
        self._remembered[submission.rel] = [path for path, _, _ in read]
        self._handoff[submission.rel] = read

    def handoff(self, submission: Submission) -> list:
        """The fingerprints a missed submitter's files were stamped with, (path, stat identity,
        fingerprint) each: a worker process remembers them (:func:`checker.engine.cache.remember`)
        so that it reads no file's head and tail again, whether forked before or after the stamp, or
        spawned."""
        return self._handoff.pop(submission.rel, [])

    def load(self, submission: Submission, stamp: str | None) -> Partition | None:
        if stamp is None:
            self._miss(submission)
            return None
        from checker.engine.cache import read_entry

        try:
            with long_lived():
                stored_format, stored_stamp, partition = read_entry(self._entry(submission))
            if stored_format != FORMAT or stored_stamp != stamp:
                self._miss(submission)
                return None
        except Exception:  # noqa: BLE001 - a missing, truncated or foreign entry is a miss
            self._miss(submission)
            return None
        self.hits += 1
        self._done(submission)
        return partition

    def store(self, submission: Submission, stamp: str | None, partition: Partition) -> None:
        try:
            if stamp is None:
                return
            from checker.engine.cache import write_entry

            if write_entry(self._entry(submission), (FORMAT, stamp, partition)):
                self.writes += 1
        finally:
            self._done(submission)
