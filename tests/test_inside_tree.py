"""inside_tree: the fast answer (a file that is no link lies where its folder really is, folders
resolved once per run) is the answer of resolving every link of both paths, on every kind of link a
submitted tree can hold, and a tree changed between two runs is seen as it is now."""

import os
from pathlib import Path

import pytest

from checker.discover import discover, inside_tree


def _resolved_inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


@pytest.fixture
def linked_tree(tmp_path: Path) -> tuple[Path, list[Path]]:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.txt").write_text("x")
    (outside / "deep" / "f.txt").write_text("x")
    root = tmp_path / "tree"
    (root / "closed" / "Acme" / "results").mkdir(parents=True)
    real = root / "closed" / "Acme" / "results" / "file.txt"
    real.write_text("x")
    (root / "closed" / "Acme" / "inner_link").symlink_to(root / "closed" / "Acme" / "results")
    (root / "closed" / "Acme" / "out_link").symlink_to(outside / "deep")
    (root / "closed" / "Acme" / "file_out").symlink_to(outside / "secret.txt")
    (root / "closed" / "Acme" / "relative_in").symlink_to(Path("results") / "file.txt")
    (root / "closed" / "Acme" / "broken").symlink_to(root / "nowhere")
    (root / "closed" / "Acme" / "loop_a").symlink_to(root / "closed" / "Acme" / "loop_b")
    (root / "closed" / "Acme" / "loop_b").symlink_to(root / "closed" / "Acme" / "loop_a")
    (root / "closed" / "Acme" / "up").symlink_to(Path(".."))
    (tmp_path / "root_link").symlink_to(root)
    acme = root / "closed" / "Acme"
    paths = [real, acme / "inner_link" / "file.txt", acme / "out_link" / "f.txt", acme / "file_out",
             acme / "relative_in", acme / "broken", acme / "loop_a", acme / "loop_a" / "x", acme / "up" / "Acme",
             acme / "missing.txt", acme / "results" / "..", acme / "results" / ".", root, tmp_path / "elsewhere.txt",
             acme / "results" / "file.txt" / "not_a_folder", tmp_path / "tree_sibling" / "f"]
    return root, paths


def test_same_answer_as_resolving_every_link(linked_tree):
    root, paths = linked_tree
    for top in (root, root.parent / "root_link"):
        discover(top)  # a new run: the folders are resolved afresh
        for path in paths:
            for probe in (path, top / path.relative_to(root) if path.is_relative_to(root) else path):
                assert inside_tree(top, probe) == _resolved_inside(top, probe), probe
    assert inside_tree(root, paths[0]) and not inside_tree(root, paths[2]) and not inside_tree(root, paths[3])


def test_relative_paths(linked_tree, monkeypatch):
    root, paths = linked_tree
    monkeypatch.chdir(root.parent)
    discover(Path("tree"))
    for path in paths:
        if path.is_relative_to(root.parent):
            relative = path.relative_to(root.parent)
            assert inside_tree(Path("tree"), relative) == _resolved_inside(Path("tree"), relative), relative


def test_a_folder_replaced_by_a_link_is_seen_by_the_next_run(tmp_path: Path):
    root = tmp_path / "tree"
    folder = root / "closed" / "Acme"
    folder.mkdir(parents=True)
    (folder / "f.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("y")
    discover(root)
    assert inside_tree(root, folder / "f.txt")
    os.rename(folder, tmp_path / "moved")
    folder.symlink_to(outside)
    discover(root)
    assert not inside_tree(root, folder / "f.txt")
