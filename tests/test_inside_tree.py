"""inside_tree: the fast answer (a file that is no link lies where its folder really is, folders
resolved once per run) is the answer of resolving every link of both paths, on every kind of link a
submitted tree can hold, and a tree changed between two runs is seen as it is now."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------------------------------------------
# Random trees of folders, files and links of every kind

_NAMES = ["a", "b", "c"]
_NODE = st.one_of(
    st.just(("dir",)), st.just(("file",)),
    st.tuples(st.just("link"), st.lists(st.sampled_from([*_NAMES, "..", ".", "OUT", "ROOT"]), min_size=1, max_size=4),
              st.booleans()),
)


@settings(max_examples=int(os.environ.get("MLPERF_AUDIT_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(layout=st.lists(st.tuples(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3), _NODE), max_size=12))
def test_random_trees_of_links(tmp_path_factory, layout):
    """Whatever the links (into the tree, out of it, up, to themselves, relative or absolute, nowhere),
    every path below the tree, existing or not, gets the answer of resolving every link."""
    base = tmp_path_factory.mktemp("links")
    root, outside = base / "tree", base / "outside"
    for folder in (root, outside / "a" / "b"):
        folder.mkdir(parents=True)
    for parts, node in layout:
        path = root.joinpath(*parts)
        if os.path.lexists(path):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if node[0] == "dir":
                path.mkdir()
            elif node[0] == "file":
                path.write_text("x")
            else:
                steps, absolute = node[1], node[2]
                start = outside if steps[0] == "OUT" else root if steps[0] == "ROOT" else None
                rest = [s for s in steps if s not in ("OUT", "ROOT")]
                target = (start or (path.parent if absolute else Path())).joinpath(*rest)
                path.symlink_to(target)
        except OSError:
            continue  # a parent that is a file or a link: that node is simply not made
    discover(root)
    probes = [root.joinpath(*parts) for parts, _ in layout]
    probes += [probe / name for probe in probes for name in ("a", "x")]
    for probe in probes:
        assert inside_tree(root, probe) == _resolved_inside(root, probe), probe
