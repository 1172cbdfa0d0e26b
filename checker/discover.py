"""Discovery: a results tree on disk → submissions (division/submitter) → result units.

Discovery only lists folders; it never parses a file and never raises on an odd tree. Anything
unexpected (a stray file, a symlink leaving the tree, an unreadable folder) is recorded as an
:class:`Oddity` that a structure rule turns into a finding. Names are kept exactly as the folders
spell them (lower-case scenario folders, spaces in submitter names); the canonical scenario is kept
beside the folder name.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from pathlib import Path

from checker.findings import Scope
from checker.parse.loadgen_summary import canonical_scenario

DIVISIONS_ALL = ("closed", "open", "network")


@dataclass
class Oddity:
    """Something discovery saw and did not use: a finding for the structure rules."""

    kind: str  # stray_file, symlink_outside, broken_symlink, unreadable, not_a_directory, hidden
    path: str
    scope: Scope
    detail: str = ""


@dataclass
class ResultUnit:
    """One result: ``<division>/<submitter>/results/<system>/<benchmark>/<scenario>``."""

    division: str
    submitter: str
    system: str
    benchmark: str
    scenario_folder: str
    path: Path
    rel: str
    submission: Submission

    @property
    def scenario(self) -> str | None:
        return canonical_scenario(self.scenario_folder)

    @cached_property  # a frozen model, asked for by every rule of the result
    def scope(self) -> Scope:
        return Scope(
            division=self.division,
            submitter=self.submitter,
            system=self.system,
            benchmark=self.benchmark,
            scenario=self.scenario_folder,
        )

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.division, self.submitter, self.system, self.benchmark, self.scenario_folder)


@dataclass
class Submission:
    """One ``<division>/<submitter>`` folder and what it holds."""

    division: str
    submitter: str
    path: Path
    rel: str
    entries: list[str] = field(default_factory=list)
    result_systems: list[str] = field(default_factory=list)
    benchmarks: dict[str, list[str]] = field(default_factory=dict)  # system -> benchmark folders
    units: list[ResultUnit] = field(default_factory=list)
    has_results_dir: bool = False

    @cached_property
    def scope(self) -> Scope:
        return Scope(division=self.division, submitter=self.submitter)

    def system_scope(self, system: str) -> Scope:
        return Scope(division=self.division, submitter=self.submitter, system=system)


@dataclass
class Tree:
    root: Path
    submissions: list[Submission] = field(default_factory=list)
    divisions: list[str] = field(default_factory=list)
    oddities: list[Oddity] = field(default_factory=list)
    top_entries: list[str] = field(default_factory=list)
    #: with ``discover(keep_listings=True)``: each folder below a submitter folder, by path, as the
    #: link sweep listed it (entries sorted by name; None: unreadable), so that the partition cache's
    #: stamps (:func:`checker.engine.partition_cache.files_digest`) need not list the tree again.
    #: Never handed to a partition (a partition's tree is made without it).
    listings: dict[str, list[os.DirEntry[str]] | None] | None = field(default=None, repr=False, compare=False)
    #: ``time.time_ns()`` before discovery listed any folder: what a listing may be older than at
    #: most (see :class:`checker.engine.partition_cache.Snapshot`); 0 for a tree not discovered
    listed_since_ns: int = field(default=0, repr=False, compare=False)

    @property
    def units(self) -> list[ResultUnit]:
        return [unit for submission in self.submissions for unit in submission.units]

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


#: Folder → its real path (every link on the way followed), for one run: the folders of a tree do
#: not change while it is checked, as discovery's listing assumes too. Emptied by :func:`discover`.
_REAL_FOLDERS: dict[str, str] = {}
MAX_REAL_FOLDERS = 100_000


def _real_folder(folder: str) -> str:
    """The real path of an existing folder (OSError when it is missing or on a symlink loop): its
    parent's, resolved the same way, and its name, unless it is a link itself."""
    real = _REAL_FOLDERS.get(folder)
    if real is None:
        parent, name = os.path.split(folder)
        if parent and parent != folder and name not in ("", ".", "..") and not stat.S_ISLNK(os.lstat(folder).st_mode):
            real = os.path.join(_real_folder(parent), name)
        else:
            real = os.path.realpath(folder, strict=True)
        if len(_REAL_FOLDERS) >= MAX_REAL_FOLDERS:
            _REAL_FOLDERS.clear()
        _REAL_FOLDERS[folder] = real
    return real


def _inside(root: Path, target: Path) -> bool:
    """See :func:`inside_tree`. A file that is no symlink lies where its folder really is: one lstat
    and two look-ups of folders resolved before, instead of an lstat of every component of both
    paths (resolving both took 60-90 ms of every corpus round's check, 1,400 files each). Anything
    else (a link, a missing file, a loop) is resolved in full."""
    path = os.fspath(target)
    folder, name = os.path.split(path)
    try:
        if name not in ("", ".", "..") and not stat.S_ISLNK(os.lstat(path).st_mode):
            real = os.path.join(_real_folder(folder or os.curdir), name)
            top = _real_folder(os.fspath(root))
            return real == top or real.startswith(top.rstrip(os.sep) + os.sep)
    except (OSError, ValueError):
        pass  # the full resolution below decides
    try:
        target.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def inside_tree(root: Path, path: Path) -> bool:
    """True when ``path``, with every symlink on the way followed, stays inside ``root``.

    The one test every reader of tree files applies before opening one: a symlink that leaves the
    tree is evidence the reviewer cannot see, and following it could read anything on the machine
    (a device, a FIFO that blocks forever, someone else's files). Broken links and loops are False.
    """
    return _inside(root, path)


_BY_NAME = attrgetter("name")


def list_dir(tree: Tree, path: Path, scope: Scope) -> list[os.DirEntry[str]]:
    """Entries of a folder, sorted by name; symlinks leaving the tree are reported and left out."""
    try:
        with os.scandir(path) as iterator:
            entries = sorted(iterator, key=_BY_NAME)
    except OSError as exc:
        tree.oddities.append(Oddity("unreadable", tree.rel(path), scope, exc.strerror or str(exc)))
        return []
    kept = []
    for entry in entries:
        if entry.is_symlink():
            target = Path(entry.path)
            if not target.exists():
                tree.oddities.append(Oddity("broken_symlink", tree.rel(target), scope, "points nowhere"))
                continue
            if not _inside(tree.root, target):
                tree.oddities.append(
                    Oddity("symlink_outside", tree.rel(target), scope, "points outside the tree; not followed")
                )
                continue
        kept.append(entry)
    return kept


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def discover(root: Path, results_dir: str = "results", submitter: str | None = None,
             divisions: tuple[str, ...] = DIVISIONS_ALL, keep_listings: bool = False, sweep: bool = True) -> Tree:
    """Walk a results tree (the folder holding ``closed/``, ``open/``…) into a :class:`Tree`;
    ``keep_listings``: fill :attr:`Tree.listings`. ``sweep`` False: the layout only; the caller
    then sweeps each submitter folder for links (:func:`sweep_submission`) and adds what it finds to
    :attr:`Tree.oddities` in the order of :attr:`Tree.submissions`, as this function does (see
    :mod:`checker.engine.prestamp`, which sweeps half of them in another process)."""
    _REAL_FOLDERS.clear()  # a new run: folders may have changed since the last one
    tree = Tree(root=root, listings={} if keep_listings else None, listed_since_ns=time.time_ns())
    top_scope = Scope()
    for entry in list_dir(tree, root, top_scope):
        tree.top_entries.append(entry.name)
        if entry.name in divisions and _is_dir(entry):
            tree.divisions.append(entry.name)
    for division in tree.divisions:
        div_path = root / division
        for entry in list_dir(tree, div_path, Scope(division=division)):
            if not _is_dir(entry):
                tree.oddities.append(Oddity("stray_file", tree.rel(Path(entry.path)), Scope(division=division)))
                continue
            if submitter is not None and entry.name != submitter:
                continue
            tree.submissions.append(_submission(tree, division, entry.name, Path(entry.path), results_dir))
    if sweep:
        for submission in tree.submissions:
            tree.oddities.extend(sweep_submission(tree, submission))
    return tree


def sweep_submission(tree: Tree, sub: Submission) -> list[Oddity]:
    """Every symlink below a submitter folder that leaves the tree or points nowhere, as oddities
    (the caller adds them to the tree's; those discovery's layout walk already reported are left out).

    The layout walk above only lists the folders down to the scenario; links further down (a log
    file, a run folder, a measurements file) are found here, so that each is reported once and no
    reader follows it (see :func:`inside_tree`). Symlinked folders are not descended into.
    """
    seen = {oddity.path for oddity in tree.oddities}
    found: list[Oddity] = []
    # a pre-order walk in name order (what os.walk(followlinks=False) with sorted names gives), with
    # the entries' own type bits: no stat call except for the symlinks themselves
    stack = [str(sub.path)]
    listings = tree.listings
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as iterator:
                entries = sorted(iterator, key=_BY_NAME)
        except OSError:
            if listings is not None:
                listings[folder] = None
            continue  # an unreadable folder below the layout: os.walk skipped it too
        if listings is not None:
            listings[folder] = entries
        folders = []
        for entry in entries:
            try:
                if not entry.is_symlink():
                    if entry.is_dir():
                        folders.append(entry.path)
                    continue
                path = Path(entry.path)
                broken = not path.exists()
            except OSError:
                continue
            rel = tree.rel(path)
            if rel in seen:
                continue
            scope = _scope_of(sub, rel)
            if broken:
                found.append(Oddity("broken_symlink", rel, scope, "points nowhere (or is a loop)"))
            elif not _inside(tree.root, path):
                found.append(Oddity("symlink_outside", rel, scope, "points outside the tree; not followed"))
        stack.extend(reversed(folders))
    return found


def _scope_of(sub: Submission, rel: str) -> Scope:
    """The narrowest scope of a path below a submitter folder (``<part>/<system>/<benchmark>/<scenario>``)."""
    parts = rel.split("/")[2:]
    if len(parts) < 2 or parts[0] not in ("results", "measurements", "compliance", "audit"):
        return sub.scope
    system, benchmark, scenario = (parts[1:4] + [None, None, None])[:3]
    return Scope(division=sub.division, submitter=sub.submitter, system=system, benchmark=benchmark,
                 scenario=scenario)


def _submission(tree: Tree, division: str, name: str, path: Path, results_dir: str) -> Submission:
    sub = Submission(division=division, submitter=name, path=path, rel=tree.rel(path))
    sub.entries = [entry.name for entry in list_dir(tree, path, sub.scope)]
    results = path / results_dir
    if not results.is_dir():
        return sub
    sub.has_results_dir = True
    for system_entry in list_dir(tree, results, sub.scope):
        if not _is_dir(system_entry):
            tree.oddities.append(Oddity("stray_file", tree.rel(Path(system_entry.path)), sub.scope))
            continue
        system = system_entry.name
        sub.result_systems.append(system)
        system_scope = sub.system_scope(system)
        benchmarks = sub.benchmarks.setdefault(system, [])
        for bench_entry in list_dir(tree, Path(system_entry.path), system_scope):
            if not _is_dir(bench_entry):
                tree.oddities.append(Oddity("stray_file", tree.rel(Path(bench_entry.path)), system_scope))
                continue
            benchmarks.append(bench_entry.name)
            bench_scope = Scope(division=division, submitter=name, system=system, benchmark=bench_entry.name)
            for scen_entry in list_dir(tree, Path(bench_entry.path), bench_scope):
                if not _is_dir(scen_entry):
                    tree.oddities.append(Oddity("stray_file", tree.rel(Path(scen_entry.path)), bench_scope))
                    continue
                unit_path = Path(scen_entry.path)
                sub.units.append(
                    ResultUnit(
                        division=division,
                        submitter=name,
                        system=system,
                        benchmark=bench_entry.name,
                        scenario_folder=scen_entry.name,
                        path=unit_path,
                        rel=tree.rel(unit_path),
                        submission=sub,
                    )
                )
    return sub


def resolve_case_insensitive(base: Path, *parts: str) -> Path | None:
    """Follow ``parts`` under ``base`` allowing a different letter case per part; None if absent.

    Real trees name the same scenario ``Offline`` under results/ and ``offline`` under
    measurements/ or compliance/; the rules accept either.
    """
    current = base
    for part in parts:
        candidate = current / part
        if candidate.exists():
            current = candidate
            continue
        try:
            names = os.listdir(current)
        except OSError:
            return None
        matches = sorted(name for name in names if name.lower() == part.lower())
        if not matches:
            return None
        current = current / matches[0]
    return current
