"""The fact table of official LoadGen sources: which loadgen/ tree every public commit has, and the
SHA-1 of every file of every tree, exactly as LoadGen logs it (``loadgen_file_sha1`` / the 2019
"SHA1 of files" block: plain SHA-1 of the bytes, path relative to ``loadgen/`` with a leading slash).

Shipped with the rule packs as ``rules/loadgen_sha1.json.gz`` (a deduplicated form of the research
table ``loadgen_file_sha1.json``: commits of all branches and tags of mlcommons/inference). Layout of
the compact file, version 1:

* ``files``: every file path that occurs in any tree, sorted;
* ``shas``: every distinct SHA-1 (hex), sorted;
* ``trees``: loadgen tree id -> flat list ``[file index, sha index, file index, sha index, ...]``;
* ``tree_ids``: the tree ids in a fixed order; ``commits``: commit id -> ``[tree position, ISO date,
  tags...]``.

Rebuild it with ``python -m checker.engine.loadgen_table SOURCE.json rules/loadgen_sha1.json.gz``
(byte-for-byte reproducible: sorted keys, gzip without a timestamp).
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from checker.resources import data_dir

TABLE_NAME = "loadgen_sha1.json.gz"
FORMAT_VERSION = 1

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


class LoadgenTable:
    """Look-ups over the compact table; loaded once per process (see :func:`loadgen_table`).

    Every worker process of a parallel check loads it, so nothing is expanded up front: a tree's
    files, a commit's record and the oldest commit of each tree are built when first asked for
    (expanding all 823 trees and 9,050 commits took 30 ms, most of which no check ever reads)."""

    def __init__(self, data: dict) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported LoadGen table format {data.get('format')!r}")
        self.source: str = data.get("source", "")
        self._files: list[str] = data["files"]
        self._shas: list[str] = data["shas"]
        self.tree_ids: list[str] = data["tree_ids"]
        self._flat: dict[str, list[int]] = data["trees"]
        self._trees: dict[str, dict[str, str]] = {}
        self._raw_commits: dict[str, list] = data["commits"]
        self._commits: dict[str, CommitInfo] = {}
        self._sorted = sorted(self._raw_commits)
        pairs: set[tuple[int, int]] = set()
        for flat in self._flat.values():
            pairs.update(zip(flat[0::2], flat[1::2], strict=True))
        self._versions: dict[str, set[str]] = {}
        for file_index, sha_index in pairs:
            self._versions.setdefault(self._files[file_index], set()).add(self._shas[sha_index])
        self._first: dict[str, CommitInfo | None] = {}
        self._by_tree: dict[str, list[str]] | None = None

    def _commit_info(self, commit: str) -> CommitInfo:
        info = self._commits.get(commit)
        if info is None:
            position, date, *tags = self._raw_commits[commit]
            info = CommitInfo(commit=commit, tree=self.tree_ids[position], date=date, tags=tuple(tags))
            self._commits[commit] = info
        return info

    # -- commits ---------------------------------------------------------------------------------
    @property
    def commit_count(self) -> int:
        return len(self._raw_commits)

    def commits_with_prefix(self, prefix: str) -> list[CommitInfo]:
        """Every commit whose id starts with ``prefix`` (LoadGen logs 10 hex digits)."""
        prefix = prefix.lower()
        start = bisect_left(self._sorted, prefix)
        out = []
        for commit in self._sorted[start:]:
            if not commit.startswith(prefix):
                break
            out.append(self._commit_info(commit))
        return out

    def commit(self, prefix: str) -> CommitInfo | None:
        """The commit with this id or unique prefix (None when unknown or ambiguous)."""
        if len(prefix) < 7:
            return None
        found = self.commits_with_prefix(prefix)
        return found[0] if len(found) == 1 else None

    def first_commit_of_tree(self, tree: str) -> CommitInfo | None:
        """The oldest commit whose loadgen/ folder is this tree (when these sources first existed).

        Only the dates of the tree's own commits are parsed, each tree's once: parsing all 9,050
        dates to answer for the few trees a run asks about took 13 ms of every worker process."""
        if tree not in self._first:
            oldest: tuple[datetime, str] | None = None
            for commit in self._commits_of_tree(tree):
                when = parse_date(self._raw_commits[commit][1])
                if oldest is None or when < oldest[0]:
                    oldest = (when, commit)
            self._first[tree] = self._commit_info(oldest[1]) if oldest is not None else None
        return self._first[tree]

    def _commits_of_tree(self, tree: str) -> list[str]:
        """The commits whose loadgen/ folder is ``tree``, in the table's order (all trees grouped
        in one pass, on the first call)."""
        if self._by_tree is None:
            by_position: dict[int, list[str]] = {}
            for commit, (position, *_) in self._raw_commits.items():
                by_position.setdefault(position, []).append(commit)
            self._by_tree = {self.tree_ids[position]: commits for position, commits in by_position.items()}
        return self._by_tree.get(tree, [])

    # -- trees -----------------------------------------------------------------------------------
    def tree(self, tree_id: str) -> dict[str, str]:
        files = self._trees.get(tree_id)
        if files is None:
            flat = self._flat.get(tree_id)
            if flat is None:
                return {}
            names, shas = self._files, self._shas
            files = self._trees[tree_id] = {names[flat[i]]: shas[flat[i + 1]] for i in range(0, len(flat), 2)}
        return files

    def file_versions(self, path: str) -> set[str]:
        """Every SHA-1 the file ``path`` had in any official tree (empty if no tree had it)."""
        return self._versions.get(path, set())

    def trees_matching(self, logged: dict[str, str]) -> list[str]:
        """Trees in which every logged file that the tree holds has the logged SHA-1, and which hold
        every logged file that any official tree ever held (files of no tree are build products)."""
        relevant = {path: sha for path, sha in logged.items() if path in self._versions}
        if not relevant:
            return []
        out = []
        for tree_id in self._flat:
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
    compact_trees = {}
    for tree_id in tree_ids:
        flat: list[int] = []
        for path in sorted(trees[tree_id]):
            flat += [file_index[path], sha_index[trees[tree_id][path]]]
        compact_trees[tree_id] = flat
    commits = {}
    for commit in sorted(source["commits"]):
        info = source["commits"][commit]
        commits[commit] = [tree_position[info["loadgen_tree"]], info["date"], *info.get("tags", [])]
    return {
        "format": FORMAT_VERSION,
        "source": source.get("source", ""),
        "how": source.get("how", ""),
        "files": files,
        "shas": shas,
        "tree_ids": tree_ids,
        "trees": compact_trees,
        "commits": commits,
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
