"""The link sweep and the partition stamps of a cached run, half of them in a forked process.

A warm ``check --cache`` run of a large tree spends most of its time making sure that nothing
changed: discovery's link sweep lists every folder below each submitter folder
(:func:`checker.discover.sweep_submission`), and the partition cache stamps each submitter folder by
the stat of every file (:func:`checker.engine.partition_cache.stamp_files`). On a copy of v1.0 the
size of its results repository (38K folders, 62K files) that is about 0.65 s of a 1.45 s run, on one
core. Both are done per submitter folder and depend on nothing else (not the round, not the pack,
not the other folders), so a forked child takes about half of the folders (by number of results)
while this process does the rest; the oddities are then joined in the tree's order, exactly as a
sweep in one process adds them.

Only when it pays (:func:`worth_splitting`): ``--jobs`` 2 or more, a tree of at least
:data:`MIN_RESULTS` results, a process that may fork (no other thread: nothing to deadlock on), and
a cache that already remembers the fingerprints of most submitter folders. Without them a stamp
reads the head and tail of every file, which a cold run overlaps with checking instead (the engine
sends each missed partition to the workers as soon as it is stamped). The stamps are still taken
before any partition is checked, as the partition cache requires.

A child that fails or dies costs only time: its folders are then swept and stamped here.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from pathlib import Path

from checker.discover import Oddity, Tree, sweep_submission
from checker.engine.partition_cache import (
    FolderStamp,
    Remembered,
    files_entry,
    partitions_folder,
    quick_stamp,
    remembered_of,
    stamp_files,
)
from checker.engine.pool import fork_is_safe

#: results below which a tree is swept and stamped in one process (a fork costs a few milliseconds)
MIN_RESULTS = 200

#: one submitter folder's share: its index in the tree, the oddities its sweep found, its stamp
_Swept = tuple[int, list[Oddity], FolderStamp]


def sweep_and_stamp(tree: Tree, cache_dir: Path, jobs: int) -> dict[str, FolderStamp | Remembered]:
    """Sweep every submitter folder of a tree discovered with ``sweep=False`` (its oddities added to
    ``tree.oddities`` in tree order) and, when that pays, stamp them all now, half in a child process.
    A folder found unchanged by :func:`~checker.engine.partition_cache.quick_stamp` is stamped at
    once and not swept: it holds no symlink. Returns, by submitter folder, the stamp taken, or what
    is remembered of a folder left to the partition cache to stamp (its memo is read once)."""
    folder = partitions_folder(cache_dir)
    if not worth_splitting(tree, cache_dir, jobs):
        early: dict[str, FolderStamp | Remembered] = {}
        for submission in tree.submissions:
            remembered = remembered_of(folder, str(tree.root), submission)
            quick = quick_stamp(folder, str(tree.root), submission, remembered)
            if quick is None:
                tree.oddities.extend(sweep_submission(tree, submission))
            # unchanged to the last folder: no link to sweep for, nothing to list
            early[submission.rel] = quick or remembered
        return early
    theirs, mine = halves(tree)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(writer, tree, theirs, folder), daemon=True,
                            name="mlperf-audit-stamps")
    for stream in (sys.stdout, sys.stderr):  # the child must not write what this process buffered
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        child.start()
    except OSError:  # no process to spare: all of it here
        child = None
    writer.close()
    swept = {index: _sweep_one(tree, index, folder) for index in mine}
    received: list[_Swept] | None = None
    if child is not None:
        try:
            received = reader.recv()
        except Exception:  # noqa: BLE001 - the child died (EOF) or sent nothing usable: done here
            received = None
        child.join(timeout=5)  # it has sent or died; never wait on it for good
        if child.is_alive():
            child.terminate()
    reader.close()
    if received is not None:
        swept.update((item[0], item) for item in received)
    for index in theirs:
        if index not in swept:
            swept[index] = _sweep_one(tree, index, folder)
    stamps: dict[str, FolderStamp | Remembered] = {}
    for index, submission in enumerate(tree.submissions):
        _, oddities, stamp = swept[index]
        tree.oddities.extend(oddities)
        stamps[submission.rel] = stamp
    return stamps


def worth_splitting(tree: Tree, cache_dir: Path, jobs: int) -> bool:
    """Whether to stamp in two processes (see the module docstring)."""
    if jobs < 2 or len(tree.submissions) < 2 or sum(len(s.units) for s in tree.submissions) < MIN_RESULTS:
        return False
    if not fork_is_safe():
        return False
    folder, root = partitions_folder(cache_dir), str(tree.root)
    remembered = sum(1 for submission in tree.submissions if files_entry(folder, root, submission.rel).is_file())
    return 2 * remembered >= len(tree.submissions)


def halves(tree: Tree) -> tuple[list[int], list[int]]:
    """The submitter folders' indices in two groups of about equal results, largest first into the
    lighter group; each group in tree order."""
    groups: tuple[list[int], list[int]] = ([], [])
    weights = [0, 0]
    order = sorted(range(len(tree.submissions)), key=lambda i: -len(tree.submissions[i].units))
    for index in order:
        lighter = 0 if weights[0] <= weights[1] else 1
        groups[lighter].append(index)
        weights[lighter] += len(tree.submissions[index].units) + 1
    return sorted(groups[0]), sorted(groups[1])


def _sweep_one(tree: Tree, index: int, folder: Path) -> _Swept:
    submission = tree.submissions[index]
    remembered = remembered_of(folder, str(tree.root), submission)
    quick = quick_stamp(folder, str(tree.root), submission, remembered)
    if quick is not None:
        return index, [], quick
    oddities = sweep_submission(tree, submission)
    return index, oddities, stamp_files(folder, str(tree.root), submission, tree.listings, tree.listed_since_ns,
                                        remembered)


def _child(writer: multiprocessing.connection.Connection, tree: Tree, indices: list[int], folder: Path) -> None:
    """In the forked child: sweep and stamp ``indices``, send them back (None on any error).

    The files a stamp saw are sent only for a folder whose files changed: the partitions likely to
    be checked, whose parse cache they then serve. Sending all of them (60,000 on the large tree)
    would cost about 60 ms; an unchanged folder that is checked all the same (another pack, other
    options) only has its files' fingerprints read again."""
    try:
        result: list[_Swept] | None = []
        for index in indices:
            _, oddities, stamp = _sweep_one(tree, index, folder)
            result.append((index, oddities, stamp if stamp.changed else stamp._replace(read=None)))
    except BaseException:  # noqa: BLE001 - the parent does them instead
        result = None
    try:
        writer.send(result)
    finally:
        writer.close()
