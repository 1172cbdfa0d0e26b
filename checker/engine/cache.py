"""On-disk parse cache (``check --cache DIR``): a file unchanged since the last run is not parsed again.

One entry per (tree root, file path, kind), a pickle of the file's :class:`ParseResult` stored with
the fingerprint of the file it came from. An entry is used only when the file's fingerprint still
matches:

* size and ``st_mtime_ns`` (what any edit changes), and
* a BLAKE2b digest of the first and the last 64 KB (the whole file when it is at most 128 KB).

A full SHA-256 of every file would cost as much as the baseline hash pass of the benchmark on every
warm run (the large accuracy logs dominate the bytes), which defeats a cache whose point is a warm
run at a small fraction of the cold one. Head and tail catch an edit that keeps size and mtime
(``cp -p``, ``touch -r``, an archive re-extracted) in every small file outright and, in a large log,
in its header and its closing lines (where LoadGen writes the results and the JSON array ends).

Entries live under ``DIR/<tag>/``, where the tag hashes the tool version, the Python version and
the source of every parser module: a new release or any parser change starts from an empty folder
(old folders are left for the user to delete). Writes go to a temporary file renamed into place,
so parallel workers and interrupted runs never leave a half-written entry; an unreadable or stale
entry is simply a miss. The cache never raises into the engine: any OS or pickle error is a miss.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from checker import __version__
from checker.parse.base import ParseResult

EDGE = 64 * 1024
FORMAT = 1


@lru_cache(maxsize=1)
def cache_tag() -> str:
    """Version tag of everything a cached parse result depends on: tool, Python, parser code."""
    digest = hashlib.sha256(f"{__version__}|{sys.version_info[:2]}|{FORMAT}".encode())
    parse_dir = Path(__file__).resolve().parent.parent / "parse"
    for source in sorted(parse_dir.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(path: Path) -> tuple[int, int, str] | None:
    """(size, mtime_ns, head+tail digest) of a file; None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            digest = hashlib.blake2b(digest_size=16)
            if stat.st_size <= 2 * EDGE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(EDGE))
                handle.seek(-EDGE, os.SEEK_END)
                digest.update(handle.read(EDGE))
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, digest.hexdigest()


class ParseCache:
    """The cache folder of one run; counts hits, misses and writes for the timings."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / cache_tag()
        self.hits = self.misses = self.writes = 0

    def _entry(self, root: Path, rel: str, kind: str) -> Path:
        key = hashlib.sha256(f"{Path(root).resolve()}\0{rel}\0{kind}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key[2:]}.pkl"

    def load(self, root: Path, rel: str, kind: str, stamp: tuple[int, int, str] | None) -> ParseResult | None:
        if stamp is None:
            return None
        try:
            with open(self._entry(root, rel, kind), "rb") as handle:
                stored_stamp, args, fields = pickle.load(handle)
            if stored_stamp != stamp:
                self.misses += 1
                return None
            result = (ParseResult[args] if args else ParseResult).model_construct(**fields)
        except Exception:  # noqa: BLE001 - a missing, truncated or foreign entry is a miss
            self.misses += 1
            return None
        self.hits += 1
        return result

    def store(self, root: Path, rel: str, kind: str, stamp: tuple[int, int, str] | None, result: ParseResult) -> None:
        if stamp is None:
            return
        if write_entry(self._entry(root, rel, kind), (stamp, _type_args(result), dict(result))):
            self.writes += 1


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
