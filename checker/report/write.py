"""Writing reports: atomically, and never into the tree being checked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UnsafeOutput(LookupError):
    """The output path lies inside the checked tree (the tree is read-only for us)."""


def inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def write_atomically(path: Path, text: str, tree: Path | None = None) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename; refuse paths inside ``tree``."""
    if tree is not None and inside(path, tree):
        raise UnsafeOutput(f"refusing to write {path}: it is inside the checked tree {tree}")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
