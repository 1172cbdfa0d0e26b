"""The fact table of official LoadGen sources: which loadgen/ tree every public commit has, and the
SHA-1 of every file of every tree, exactly as LoadGen logs it (``loadgen_file_sha1`` / the 2019
"SHA1 of files" block: plain SHA-1 of the bytes, path relative to ``loadgen/`` with a leading slash).

Shipped with the rule packs as ``rules/loadgen_sha1.json.gz`` (a deduplicated form of the research
table ``loadgen_file_sha1.json``: commits of all branches and tags of mlcommons/inference). Every
worker process of a parallel check loads it, so the compact file, version 2, is laid out to be read
in 3 ms (version 1's 94,000 JSON numbers and 9,050 commit records took 13 ms): long
columns are single strings, split or decoded only when asked for.

* ``files``: every file path that occurs in any tree, sorted; ``shas``: every distinct SHA-1 (hex),
  sorted; ``tree_ids``: the loadgen/ tree ids, sorted;
* ``trees``: per tree id (same order), its files as (file index, sha index) pairs, packed;
* ``versions``: per file (same order as ``files``), the sorted sha indexes it has in any tree;
* ``commit_ids``: every commit id (40 hex digits), sorted, concatenated; ``commit_trees``: each
  commit's tree (index into ``tree_ids``), packed; ``commit_dates``: their ISO dates, one per line;
  ``commit_tags``: commit id -> tags, for the tagged ones.

"Packed": unsigned 16-bit little-endian numbers, written in hex.

Rebuild it with ``python -m checker.engine.loadgen_table SOURCE.json rules/loadgen_sha1.json.gz``
(byte-for-byte reproducible: sorted keys, gzip without a timestamp).
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from checker.resources import data_dir

TABLE_NAME = "loadgen_sha1.json.gz"
FORMAT_VERSION = 2

#: Files LoadGen's build writes into its own folder before hashing it; no commit holds them, so they
#: can only be reported, never verified (mlperf_conf.h is generated from mlperf.conf since v4.x).
GENERATED_FILES = frozenset({"/mlperf_conf.h", "/version_generated.cc"})


@dataclass(frozen=True)
class CommitInfo:
    commit: str
    tree: str
    date: str
    tags: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.commit[:10]

    @property
    def when(self) -> datetime:
        return parse_date(self.date)


def parse_date(text: str) -> datetime:
    """An ISO date or date-time, with or without a zone; dates without one are taken as UTC."""
    from datetime import timezone

    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _pack(values: list[int]) -> str:
    """Numbers as unsigned 16-bit little-endian, in hex (see the module docstring)."""
    try:
        packed = array("H", values)
    except OverflowError as exc:
        raise ValueError("a table index does not fit in 16 bits: the format needs a wider index") from exc
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes().hex()


def _unpack(text: str) -> array:
    numbers = array("H")
    numbers.frombytes(bytes.fromhex(text))
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


class LoadgenTable:
    """Look-ups over the compact table; loaded once per process (see :func:`loadgen_table`).

    Nothing is expanded up front: a tree's files, a commit's record, the sorted commit ids and the
    oldest commit of each tree are built when first asked for (most of the table no check reads)."""

    def __init__(self, data: dict) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported LoadGen table format {data.get('format')!r}")
        self.source: str = data.get("source", "")
        self._files: list[str] = data["files"]
        self._shas: list[str] = data["shas"]
        self.tree_ids: list[str] = data["tree_ids"]
        self._packed_trees: dict[str, str] = dict(zip(self.tree_ids, data["trees"], strict=True))
        self._trees: dict[str, dict[str, str]] = {}
        self._packed_versions: list[list[int]] = data["versions"]
        self._versions: dict[str, set[str]] | None = None
        self._ids: str = data["commit_ids"]
        self._commit_trees = _unpack(data["commit_trees"])
        self._dates: list[str] = data["commit_dates"].split("\n") if data["commit_dates"] else []
        self._tags: dict[str, list[str]] = data["commit_tags"]
        if len(self._ids) % 40 or not len(self._ids) // 40 == len(self._commit_trees) == len(self._dates):
            raise ValueError("LoadGen table: commit columns of different lengths")
        if len(self._packed_versions) != len(self._files):
            raise ValueError("LoadGen table: versions and files of different lengths")
        self._sorted: list[str] | None = None
        self._commits: dict[int, CommitInfo] = {}
        self._first: dict[str, CommitInfo | None] = {}
        self._by_tree: dict[str, list[int]] | None = None

    def _sorted_ids(self) -> list[str]:
        if self._sorted is None:
            ids = self._ids
            self._sorted = [ids[start : start + 40] for start in range(0, len(ids), 40)]
        return self._sorted

    def _commit_info(self, index: int) -> CommitInfo:
        info = self._commits.get(index)
        if info is None:
            commit = self._sorted_ids()[index]
            info = CommitInfo(commit=commit, tree=self.tree_ids[self._commit_trees[index]], date=self._dates[index],
                              tags=tuple(self._tags.get(commit, ())))
            self._commits[index] = info
        return info

    # -- commits ---------------------------------------------------------------------------------
    @property
    def commit_count(self) -> int:
        return len(self._dates)

    def commits_with_prefix(self, prefix: str) -> list[CommitInfo]:
        """Every commit whose id starts with ``prefix`` (LoadGen logs 10 hex digits)."""
        prefix = prefix.lower()
        ids = self._sorted_ids()
        out = []
        for index in range(bisect_left(ids, prefix), len(ids)):
            if not ids[index].startswith(prefix):
                break
            out.append(self._commit_info(index))
        return out

    def commit(self, prefix: str) -> CommitInfo | None:
        """The commit with this id or unique prefix (None when unknown or ambiguous)."""
        if len(prefix) < 7:
            return None
        found = self.commits_with_prefix(prefix)
        return found[0] if len(found) == 1 else None

    def first_commit_of_tree(self, tree: str) -> CommitInfo | None:
        """The oldest commit whose loadgen/ folder is this tree (when these sources first existed),
        the first in the table's order among equally old ones.

        Only the dates of the tree's own commits are parsed, each tree's once: parsing all 9,050
        dates to answer for the few trees a run asks about took 13 ms of every worker process."""
        if tree not in self._first:
            oldest: tuple[datetime, int] | None = None
            for index in self._commits_of_tree(tree):
                when = parse_date(self._dates[index])
                if oldest is None or when < oldest[0]:
                    oldest = (when, index)
            self._first[tree] = self._commit_info(oldest[1]) if oldest is not None else None
        return self._first[tree]

    def _commits_of_tree(self, tree: str) -> list[int]:
        """The indexes of the commits whose loadgen/ folder is ``tree``, in the table's order (all
        trees grouped in one pass, on the first call)."""
        if self._by_tree is None:
            by_position: dict[int, list[int]] = {}
            for index, position in enumerate(self._commit_trees):
                by_position.setdefault(position, []).append(index)
            self._by_tree = {self.tree_ids[position]: indexes for position, indexes in by_position.items()}
        return self._by_tree.get(tree, [])

    # -- trees -----------------------------------------------------------------------------------
    def tree(self, tree_id: str) -> dict[str, str]:
        files = self._trees.get(tree_id)
        if files is None:
            packed = self._packed_trees.get(tree_id)
            if packed is None:
                return {}
            pairs = _unpack(packed)
            names, shas = self._files, self._shas
            files = self._trees[tree_id] = {names[pairs[i]]: shas[pairs[i + 1]] for i in range(0, len(pairs), 2)}
        return files

    def file_versions(self, path: str) -> set[str]:
        """Every SHA-1 the file ``path`` had in any official tree (empty if no tree had it)."""
        if self._versions is None:
            shas = self._shas
            self._versions = {name: {shas[index] for index in indexes}
                              for name, indexes in zip(self._files, self._packed_versions, strict=True) if indexes}
        return self._versions.get(path, set())

    def trees_matching(self, logged: dict[str, str]) -> list[str]:
        """Trees in which every logged file that the tree holds has the logged SHA-1, and which hold
        every logged file that any official tree ever held (files of no tree are build products)."""
        relevant = {path: sha for path, sha in logged.items() if self.file_versions(path)}
        if not relevant:
            return []
        out = []
        for tree_id in self.tree_ids:
            files = self.tree(tree_id)
            if all(files.get(path) == sha for path, sha in relevant.items()):
                out.append(tree_id)
        return out


@lru_cache(maxsize=4)
def loadgen_table(path: str | None = None) -> LoadgenTable:
    """The shipped table (or the one at ``path``). Raises OSError/ValueError when it is unusable."""
    target = Path(path) if path else data_dir("rules") / TABLE_NAME
    with gzip.open(target, "rt", encoding="utf-8") as handle:
        return LoadgenTable(json.load(handle))


def build_compact(source: dict) -> dict:
    """The compact, deduplicated form of the research table (see the module docstring)."""
    trees: dict[str, dict[str, str]] = source["trees"]
    files = sorted({path for tree in trees.values() for path in tree})
    shas = sorted({sha for tree in trees.values() for sha in tree.values()})
    file_index = {path: i for i, path in enumerate(files)}
    sha_index = {sha: i for i, sha in enumerate(shas)}
    tree_ids = sorted(trees)
    tree_position = {tree_id: i for i, tree_id in enumerate(tree_ids)}
    packed_trees = []
    versions: list[set[int]] = [set() for _ in files]
    for tree_id in tree_ids:
        flat: list[int] = []
        for path in sorted(trees[tree_id]):
            flat += [file_index[path], sha_index[trees[tree_id][path]]]
            versions[file_index[path]].add(sha_index[trees[tree_id][path]])
        packed_trees.append(_pack(flat))
    commit_ids = sorted(source["commits"])
    infos = [source["commits"][commit] for commit in commit_ids]
    if any(len(commit) != 40 or "\n" in info["date"] for commit, info in zip(commit_ids, infos, strict=True)):
        raise ValueError("commit ids must have 40 hex digits, dates no line break")
    return {
        "format": FORMAT_VERSION,
        "source": source.get("source", ""),
        "how": source.get("how", ""),
        "files": files,
        "shas": shas,
        "tree_ids": tree_ids,
        "trees": packed_trees,
        "versions": [sorted(indexes) for indexes in versions],
        "commit_ids": "".join(commit_ids),
        "commit_trees": _pack([tree_position[info["loadgen_tree"]] for info in infos]),
        "commit_dates": "\n".join(info["date"] for info in infos),
        "commit_tags": {commit: list(info["tags"]) for commit, info in zip(commit_ids, infos, strict=True)
                        if info.get("tags")},
    }


def write_compact(source_path: Path, target: Path) -> int:
    """Write the compact table (reproducibly); returns its size in bytes."""
    source = json.loads(Path(source_path).read_text(encoding="utf-8"))
    text = json.dumps(build_compact(source), sort_keys=True, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as handle:
        handle.write(text.encode("utf-8"))
    target.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if len(sys.argv) != 3:
        print("usage: python -m checker.engine.loadgen_table SOURCE.json TARGET.json.gz", file=sys.stderr)
        sys.exit(2)
    size = write_compact(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]} ({size} bytes)")
