"""Locate ../shared and extract the read-only corpus archives into a git-ignored cache, once.

Tests and benchmarks share this: the first caller extracts ``<shared>/corpus/<round>.tar.gz`` into
``<repo>/.cache/corpus/<round>``; later callers find the completion marker and return at once.
"""

from __future__ import annotations

import csv
import os
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLPERF_AUDIT_SHARED", REPO.parent / "shared"))
CACHE = Path(os.environ.get("MLPERF_AUDIT_CACHE", REPO / ".cache" / "corpus"))
ROUNDS = ("v0.5", "v0.7", "v1.0", "v4.1", "v6-sample")


def archive(round_name: str) -> Path:
    return SHARED / "corpus" / f"{round_name}.tar.gz"


def available(round_name: str) -> bool:
    return archive(round_name).is_file()


def corpus_root(round_name: str) -> Path:
    """The extracted tree of one round (``<cache>/<round>``), extracting it on first use."""
    target = CACHE / round_name
    marker = CACHE / f".{round_name}.complete"
    if marker.is_file() and target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive(round_name)) as tar:
        tar.extractall(CACHE, filter="tar")
    marker.write_text("ok\n")
    return target


def verdict_rows(round_name: str) -> list[dict[str, str]]:
    """The official checker's verdict per result (meta/<round>/verdicts.tsv)."""
    path = SHARED / "corpus" / "meta" / round_name / "verdicts.tsv"
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def official_log(round_name: str) -> list[str]:
    path = SHARED / "corpus" / "meta" / round_name / "official_checker.log"
    return path.read_text(encoding="utf-8", errors="replace").splitlines()
