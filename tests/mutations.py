"""Seeded mutations of a results tree: the broken trees a checker meets at a submission deadline.

A :class:`Mutation` is one damage to one path of a tree (a deleted file, a truncated log, a JSON of
the wrong type, a symlink out of the tree, ...), chosen and shaped by a seeded :class:`random.Random`
so that a failing case is reproduced from its seed alone. :func:`plan` picks mutations for a tree;
:func:`apply` performs them on a copy. The tests (tests/test_mutations.py) then run the checker on
the copy and hold it to the reliability contract of the design brief: no traceback, no X001, a
finding that names the damaged path when a rule is broken, and every other result keeping its
verdict.

Why a module of its own: the same generator serves the fixed seed set of the normal suite, the long
``slow`` run, and anyone reproducing a case by hand (``python tests/mutations.py TREE SEED``).

Two kinds of damage cannot be made as root, which is how the tests run here: ``chmod 000`` does not
stop root from reading a file. An *unreadable* file is therefore simulated by a FIFO (which blocks a
reader forever if the tool opened it: the tests guard with an alarm) or by a directory or a dangling
symlink under the file's name; all three are what a tool meets on a half-copied or foreign tree.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

#: Parts of a submitter folder that hold per-result evidence, as ``<part>/<system>/<benchmark>/<scenario>``.
RESULT_PARTS = ("results", "measurements", "compliance", "audit")
SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline")

#: Size of the "huge single line" written by the mutation (just over the parsers' 8 MB line limit).
HUGE_LINE_BYTES = 8 * 1024 * 1024 + 4096


@dataclass
class Mutation:
    """One damage: ``kind`` applied to ``target`` (relative to the tree's root)."""

    kind: str
    target: str
    seed: int
    #: True when the damage breaks a rule, so a finding must name ``target`` (or a path inside it)
    breaks_rule: bool
    #: paths a finding may name instead of ``target`` (a renamed or copied result's new folder)
    named: list[str] = field(default_factory=list)
    #: what was done, for failure messages
    detail: str = ""
    #: path prefixes whose results may change verdict (besides the results ``target`` belongs to)
    also_affects: list[str] = field(default_factory=list)

    def label(self) -> str:
        return f"{self.kind}:{self.target} (seed {self.seed}{', ' + self.detail if self.detail else ''})"


# ------------------------------------------------------------------------------------------------
# Reading a tree


@dataclass
class TreeIndex:
    """The files and folders of a tree that mutations aim at, by role."""

    root: Path
    files: list[str]  # every regular file (relative, posix)
    result_dirs: list[str]  # <div>/<sub>/results/<sys>/<bench>/<scen>
    system_jsons: list[str]  # <div>/<sub>/systems/<sys>.json


def index_tree(root: Path) -> TreeIndex:
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                files.append(path.relative_to(root).as_posix())
    result_dirs = []
    for rel in files:
        parts = rel.split("/")
        if len(parts) >= 7 and parts[2] == "results":
            unit = "/".join(parts[:6])
            if unit not in result_dirs:
                result_dirs.append(unit)
    systems = [f for f in files if re.fullmatch(r"[^/]+/[^/]+/systems/[^/]+\.json", f)]
    return TreeIndex(root=root, files=files, result_dirs=sorted(result_dirs), system_jsons=systems)


def required_paths(root: Path, round_name: str) -> set[str]:
    """The files of the tree the round's rule pack requires, as far as they exist (relative paths).

    An oracle written from the pack, independent of the checks: each result's accuracy files and
    its counted performance runs, its measurement files, the compliance runs of divisions that need
    them, and the system descriptions. Damage to one of these breaks a rule; damage elsewhere (a
    second Offline run the round ignores, a README in code/) need not.
    """
    from checker.engine.rulepack import load_pack
    from checker.parse.loadgen_summary import canonical_scenario

    pack = load_pack(round_name)
    layout = pack.layout
    index = index_tree(root)
    existing = {rel.lower(): rel for rel in index.files}
    wanted: set[str] = set(index.system_jsons)
    for unit in index.result_dirs:
        division, submitter, _, system, benchmark, scenario = unit.split("/")
        canonical = canonical_scenario(scenario) or ""
        names = [f"accuracy/{name}" for name in layout.required_files.get("accuracy", [])]
        runs = layout.performance_runs.get(canonical, layout.performance_runs.get("default", 1))
        folders = [f"performance/run_{k}" for k in range(1, runs + 1)]
        if not (root / unit / "performance" / "run_1").is_dir():
            folders += [f"performance/{f}".rstrip("/.") for f in layout.run_fallbacks]
        names += [f"{folder}/{name}" for folder in folders for name in layout.required_files.get("performance", [])]
        candidates = [f"{unit}/{name}" for name in names]
        fields = {"system": system, "benchmark": benchmark, "scenario": scenario}
        measurements = f"{division}/{submitter}/" + layout.measurements_path.format(**fields)
        candidates += [f"{measurements}/{name}" for name in layout.required_files.get("measurements", [])]
        _, bench = pack.benchmark_for(benchmark, division)
        if layout.compliance_path and bench is not None and division in pack.compliance.divisions:
            base = f"{division}/{submitter}/" + layout.compliance_path.format(**fields)
            tests = bench.compliance_tests.get(canonical, bench.compliance_tests.get("any", []))
            for test in tests:
                files = pack.compliance.required_files.get(test) or []
                files = [*files, *(pack.compliance.verify_files.get(test) or [])]
                candidates += [f"{base}/{test}/{name}" for name in files]
        wanted |= {existing[c.lower()] for c in candidates if c.lower() in existing}
    return wanted


@contextmanager
def recording_parsed(root: Path) -> Iterator[dict[str, str]]:
    """Record which files of ``root`` the checker parses (path relative to root -> parser kind)
    while the block runs, by wrapping the engine's parse cache."""
    from checker.engine import evidence

    seen: dict[str, str] = {}
    original = evidence.Evidence.parse

    def parse(self: evidence.Evidence, path: Path, kind: str, scope: object) -> object:
        result = original(self, path, kind, scope)  # type: ignore[arg-type]
        if result is not None:
            with suppress(ValueError):
                seen.setdefault(Path(path).relative_to(root).as_posix(), kind)
        return result

    evidence.Evidence.parse = parse  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        evidence.Evidence.parse = original  # type: ignore[method-assign]


def result_of(rel: str) -> str | None:
    """The ``<div>/<sub>/<part>/<sys>/<bench>/<scen>`` prefix of a path, if it is below one."""
    parts = rel.split("/")
    if len(parts) >= 6 and parts[2] in RESULT_PARTS:
        return "/".join(parts[:6])
    return None


# ------------------------------------------------------------------------------------------------
# Damage to one file


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _truncate(path: Path, rng: random.Random) -> str:
    """Cut the file inside a line before its last one: what a half-finished copy leaves behind."""
    data = path.read_bytes()
    last = data.rstrip(b"\r\n").rfind(b"\n")
    end = last if last > 1 else len(data) - 1
    cut = rng.randrange(1, end) if end > 1 else 0
    # never at a line boundary: a cut there would leave complete lines only
    while cut > 1 and (data[cut - 1:cut] in (b"\n", b"\r") or data[cut:cut + 1] in (b"\n", b"\r")):
        cut -= 1
    _write(path, data[:cut])
    return f"cut at byte {cut} of {len(data)}"


def _binary(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    count = max(64, len(data) // 8)
    start = rng.randrange(0, max(len(data) // 4, 1))
    noise = bytes(rng.randrange(0, 256) for _ in range(count))
    data[start:start + count] = noise
    _write(path, bytes(data))
    return f"{count} random bytes at {start}"


def _invalid_utf8(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    lines = data.split(b"\n")
    index = rng.randrange(0, max(len(lines) - 1, 1))
    bad = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\x80abc", b"\xed\xa0\x80"])
    line = lines[index]
    cut = rng.randrange(0, len(line) + 1)
    lines[index] = line[:cut] + bad + line[cut:]
    _write(path, b"\n".join(lines))
    return f"bytes {bad!r} on line {index + 1}"


def _empty(path: Path, rng: random.Random) -> str:
    _write(path, b"")
    return "0 bytes"


def _wrong_json_type(path: Path, rng: random.Random) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    if text.startswith("["):
        value: object = rng.choice([{"seq_id": 0}, "a string", 42, None])
    else:
        value = rng.choice([[1, 2, 3], "a string", 42, None, [{"system_name": "x"}]])
    _write(path, (json.dumps(value) + "\n").encode())
    return f"top level {type(value).__name__}"


def _huge_line(path: Path, rng: random.Random, size: int = HUGE_LINE_BYTES) -> str:
    data = path.read_bytes()
    lines = data.split(b"\n")
    index = rng.randrange(0, len(lines) + 1)
    filler = b"x" * size
    lines.insert(index, filler)
    _write(path, b"\n".join(lines))
    return f"{size}-byte line at line {index + 1}"


def _duplicate_key(path: Path, rng: random.Random) -> str:
    """A key written twice with different values (JSON object keys, MLLOG records, conf lines)."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    name = path.name
    if name.endswith(".json") and text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict) and value:
            key = rng.choice(sorted(value))
            inner = text.lstrip()[1:]
            first = json.dumps(key)
            path.write_text("{\n    " + first + ': "mutated-duplicate",' + inner,
                            encoding="utf-8", errors="surrogateescape")
            return f"key {key!r} twice"
    lines = text.split("\n")
    # settings and results: LoadGen logs each once per run (messages and power records repeat)
    candidates = [i for i, line in enumerate(lines)
                  if re.match(r':::MLLOG \{"key": "(effective_|requested_|result_)', line) or re.match(r"^\S+\s*=", line)]
    if not candidates:
        candidates = [i for i, line in enumerate(lines) if line.strip()] or [0]
    index = rng.choice(candidates)
    line = lines[index]
    if line.startswith(":::MLLOG"):
        try:
            record = json.loads(line[len(":::MLLOG "):])
            record["value"] = "mutated-duplicate"
            copy = ":::MLLOG " + json.dumps(record)
        except ValueError:
            copy = line
    elif "=" in line:
        copy = line.split("=", 1)[0] + "= 12345"
    else:
        copy = line
    lines.insert(index + 1, copy)
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogateescape")
    return f"line {index + 1} repeated with another value"


FILE_DAMAGE: dict[str, Callable[[Path, random.Random], str]] = {
    "truncate": _truncate,
    "binary": _binary,
    "invalid_utf8": _invalid_utf8,
    "empty": _empty,
    "wrong_json_type": _wrong_json_type,
    "huge_line": _huge_line,
    "duplicate_key": _duplicate_key,
}


# ------------------------------------------------------------------------------------------------
# Damage to the layout


def _replace_with_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inner.txt").write_text("a folder where a file belongs\n")


def _replace_with_file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("a file where a folder belongs\n")


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.unlink()
    os.symlink(path.name + ".does-not-exist", path)


def _loop(path: Path) -> None:
    path.unlink()
    os.symlink(path.name, path)  # a symlink to itself: ELOOP on every open


def _loop_pair(path: Path) -> None:
    path.unlink()
    other = path.with_name(path.name + ".loop")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def _dir_loop(path: Path) -> None:
    """A folder symlink to an ancestor, inside the tree: walkers that follow links never end."""
    os.symlink("../" * 3, path / "loop")


# ------------------------------------------------------------------------------------------------
# Planning


@dataclass
class Planner:
    """Picks targets for each kind of mutation in one tree.

    ``parsed`` maps each file the checker read on the undamaged tree (relative path) to its parser
    kind: damage to a file the checker reads must be reported, damage to a file nobody reads (a
    second performance run the round ignores, a README) need not be, so file damage aims at these.
    """

    index: TreeIndex
    rng: random.Random
    parsed: dict[str, str]
    required: set[str]
    foreign_results: list[Path] = field(default_factory=list)  # result folders of another round

    def pick(self, candidates: Sequence[str]) -> str | None:
        return self.rng.choice(sorted(set(candidates))) if candidates else None

    def read(self, *kinds: str) -> list[str]:
        """Required files the checker read, of the given parser kinds (all kinds when none is given)."""
        return [rel for rel, kind in self.parsed.items() if (not kinds or kind in kinds) and rel in self.required]


KINDS = (
    "delete_file", "delete_folder", "truncate", "binary", "invalid_utf8", "empty", "wrong_json_type",
    "huge_line", "duplicate_key", "symlink_loop", "symlink_outside", "file_for_folder", "folder_for_file",
    "unreadable", "scenario_case", "scenario_other", "foreign_result", "dir_symlink_loop",
)


def plan(root: Path, seed: int, kind: str, parsed: dict[str, str], required: set[str],
         foreign: Sequence[Path] = ()) -> Mutation | None:
    """Choose the mutation ``kind`` for the tree at ``root`` with ``seed``; None if the tree has no target.

    ``parsed``: the files the checker read on the undamaged tree (path -> parser kind);
    ``required``: the files the round requires (:func:`required_paths`).
    """
    rng = random.Random(f"{kind}:{seed}")
    planner = Planner(index=index_tree(root), rng=rng, parsed=dict(parsed), required=set(required),
                      foreign_results=list(foreign))
    return _PLANS[kind](planner, seed)


#: parser kinds of the files whose damage the checker must see whatever the damage is
_EVIDENCE_KINDS = ("loadgen_summary", "loadgen_detail", "accuracy_log", "accuracy_txt", "system_json",
                   "measurements_json", "verify", "conf")


def _required_files(p: Planner) -> list[str]:
    """Files whose absence breaks a rule."""
    return sorted(p.required)


def _plan_delete_file(p: Planner, seed: int) -> Mutation | None:
    target = p.pick(_required_files(p))
    return None if target is None else Mutation("delete_file", target, seed, breaks_rule=True)


def _evidence_folders(p: Planner) -> list[str]:
    """Folders holding required files: run folders, accuracy folders, compliance tests, measurement folders."""
    folders: set[str] = set()
    for rel in p.required:
        parts = rel.split("/")
        if len(parts) >= 8 and parts[2] == "results" and parts[6] in ("accuracy", "performance"):
            folders.add("/".join(parts[:7]) if parts[6] == "accuracy" or len(parts) == 8 else "/".join(parts[:8]))
        elif len(parts) >= 7 and parts[2] == "measurements":
            folders.add("/".join(parts[:6]))
        elif len(parts) >= 8 and parts[2] in ("compliance", "audit") and parts[6].startswith("TEST"):
            folders.add("/".join(parts[:7]))
    return sorted(folders)


def _plan_delete_folder(p: Planner, seed: int) -> Mutation | None:
    target = p.pick(_evidence_folders(p))
    return None if target is None else Mutation("delete_folder", target, seed, breaks_rule=True)


def _plan_file_damage(kind: str) -> Callable[[Planner, int], Mutation | None]:
    def planner(p: Planner, seed: int) -> Mutation | None:
        if kind == "wrong_json_type":
            candidates = p.read("system_json", "measurements_json", "accuracy_log")
        elif kind == "duplicate_key":
            candidates = p.read("system_json", "measurements_json") + [
                f for f in p.read("loadgen_detail") if _is_mllog(p.index.root / f)]
        elif kind == "truncate":
            # a cut is visible in files whose end is always written: JSON, MLLOG lines, summaries
            candidates = p.read("accuracy_log", "system_json", "measurements_json", "loadgen_summary") + [
                f for f in p.read("loadgen_detail") if _is_mllog(p.index.root / f)]
        elif kind == "binary":
            candidates = p.read(*_EVIDENCE_KINDS)
        else:
            candidates = p.read(*_EVIDENCE_KINDS)
        target = p.pick(candidates)
        return None if target is None else Mutation(kind, target, seed, breaks_rule=True)

    return planner


def _is_mllog(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b":::MLLOG"
    except OSError:
        return False


def _plan_required(kind: str) -> Callable[[Planner, int], Mutation | None]:
    def planner(p: Planner, seed: int) -> Mutation | None:
        target = p.pick(_required_files(p))
        return None if target is None else Mutation(kind, target, seed, breaks_rule=True)

    return planner


def _plan_file_for_folder(p: Planner, seed: int) -> Mutation | None:
    target = p.pick(_evidence_folders(p))
    return None if target is None else Mutation("file_for_folder", target, seed, breaks_rule=True)


def _plan_scenario(kind: str) -> Callable[[Planner, int], Mutation | None]:
    def planner(p: Planner, seed: int) -> Mutation | None:
        target = p.pick(p.index.result_dirs)
        if target is None:
            return None
        parent, name = target.rsplit("/", 1)
        siblings = {r.rsplit("/", 1)[1].lower() for r in p.index.result_dirs if r.rsplit("/", 1)[0] == parent}
        if kind == "scenario_case":
            new = name.lower() if name != name.lower() else name.upper()
            return Mutation(kind, target, seed, breaks_rule=False, named=[f"{parent}/{new}"], detail=f"-> {new}")
        others = [s for s in SCENARIO_NAMES if s.lower() not in siblings and s.lower() != name.lower()]
        if not others:
            return None
        new = p.rng.choice(others)
        # the benchmark's scenario set changes: its benchmark-level rules (required scenarios of the
        # system's category) may now fail for every result of the benchmark
        return Mutation(kind, target, seed, breaks_rule=True, named=[f"{parent}/{new}"], detail=f"-> {new}",
                        also_affects=[parent])

    return planner


def _plan_foreign(p: Planner, seed: int) -> Mutation | None:
    target = p.pick(p.index.result_dirs)
    if target is None or not p.foreign_results:
        return None
    source = p.rng.choice(p.foreign_results)
    system_dir = target.rsplit("/", 2)[0]
    new = f"{system_dir}/{source.parent.name}/{source.name}"
    if (p.index.root / new).exists():
        new = f"{system_dir}/{source.parent.name}-foreign/{source.name}"
    return Mutation("foreign_result", new, seed, breaks_rule=True, named=[new], detail=f"from {source}",
                    also_affects=[new.rsplit("/", 1)[0]])


def _plan_dir_loop(p: Planner, seed: int) -> Mutation | None:
    target = p.pick(p.index.result_dirs)
    return None if target is None else Mutation("dir_symlink_loop", target, seed, breaks_rule=False)


_PLANS: dict[str, Callable[[Planner, int], Mutation | None]] = {
    "delete_file": _plan_delete_file,
    "delete_folder": _plan_delete_folder,
    **{kind: _plan_file_damage(kind) for kind in FILE_DAMAGE},
    "symlink_loop": _plan_required("symlink_loop"),
    "symlink_outside": _plan_required("symlink_outside"),
    "folder_for_file": _plan_required("folder_for_file"),
    "unreadable": _plan_required("unreadable"),
    "file_for_folder": _plan_file_for_folder,
    "scenario_case": _plan_scenario("scenario_case"),
    "scenario_other": _plan_scenario("scenario_other"),
    "foreign_result": _plan_foreign,
    "dir_symlink_loop": _plan_dir_loop,
}


# ------------------------------------------------------------------------------------------------
# Applying


def apply(root: Path, mutation: Mutation, outside: Path) -> None:
    """Perform ``mutation`` on the tree at ``root`` (a copy: this destroys evidence)."""
    rng = random.Random(f"apply:{mutation.kind}:{mutation.seed}")
    path = root / mutation.target
    kind = mutation.kind
    if kind in FILE_DAMAGE:
        mutation.detail = FILE_DAMAGE[kind](path, rng)
    elif kind == "delete_file":
        path.unlink()
    elif kind == "delete_folder":
        shutil.rmtree(path)
    elif kind == "symlink_loop":
        (_loop if rng.random() < 0.5 else _loop_pair)(path)
    elif kind == "symlink_outside":
        # the outside copy is valid evidence: a tool that followed the link would see nothing wrong
        outside.mkdir(parents=True, exist_ok=True)
        copy = outside / f"{mutation.seed}-{path.name}"
        shutil.copyfile(path, copy)
        path.unlink()
        os.symlink(copy, path)
        mutation.detail = f"-> {copy}"
    elif kind == "folder_for_file":
        _replace_with_dir(path)
    elif kind == "file_for_folder":
        _replace_with_file(path)
    elif kind == "unreadable":
        how = rng.choice(["fifo", "dangling"])
        (_fifo if how == "fifo" else _dangling)(path)
        mutation.detail = how
    elif kind in ("scenario_case", "scenario_other"):
        new = root / mutation.named[0]
        tmp = path.with_name(path.name + ".renaming")
        path.rename(tmp)
        tmp.rename(new)
    elif kind == "foreign_result":
        source = Path(mutation.detail.removeprefix("from "))
        shutil.copytree(source, path, symlinks=True)
    elif kind == "dir_symlink_loop":
        _dir_loop(path)
    else:  # pragma: no cover - a kind without an implementation is a test bug
        raise ValueError(kind)


def affected_results(mutation: Mutation, result_dirs: Sequence[str]) -> set[str]:
    """Results (by their results/ folder) whose verdict the mutation may change.

    A result depends on its own folder under results/, on its folders under measurements/ and
    compliance/ (letter case of the scenario aside), on its system description, and, for results
    inferred from another scenario (an Offline result backed by a SingleStream run), on that
    scenario's compliance runs: so damage below results/ changes at most that result (a renamed
    or copied result: the folder it names), damage to a benchmark's measurements or compliance runs
    may change that benchmark's results, and damage to ``systems/<system>.json`` the system's.
    """
    paths = [mutation.target, *mutation.named, *mutation.also_affects]
    out: set[str] = set()
    for rel in paths:
        parts = rel.split("/")
        if len(parts) >= 4 and parts[2] == "systems":
            system = parts[3].removesuffix(".json")
            prefix = (parts[0], parts[1], system)
            out |= {r for r in result_dirs if tuple(r.split("/")[i] for i in (0, 1, 3)) == prefix}
            continue
        if len(parts) >= 6 and parts[2] == "results":
            key4 = (parts[0], parts[1], parts[3], parts[4], parts[5].lower())
            out |= {r for r in result_dirs if tuple(r.split("/")[i] for i in (0, 1, 3, 4)) == key4[:4]
                    and r.split("/")[5].lower() == key4[4]}
            continue
        if len(parts) >= 5 and parts[2] in RESULT_PARTS:
            key = (parts[0], parts[1], parts[3], parts[4].lower())
            out |= {r for r in result_dirs
                    if (r.split("/")[0], r.split("/")[1], r.split("/")[3], r.split("/")[4].lower()) == key}
            continue
        if len(parts) >= 4 and parts[2] in RESULT_PARTS:
            key3 = (parts[0], parts[1], parts[3])
            out |= {r for r in result_dirs if tuple(r.split("/")[i] for i in (0, 1, 3)) == key3}
            continue
        out |= {r for r in result_dirs if r.split("/")[:2] == parts[:2]}
    return out


def names_path(finding_path: str | None, message: str, mutation: Mutation) -> bool:
    """True when a finding points at the mutated path: the path itself, a path inside it, its
    folder (a missing file is reported where it should be), or the path quoted in the message."""
    wanted = [mutation.target, *mutation.named]
    for target in wanted:
        if target in message:
            return True
        if not finding_path:
            continue
        if finding_path == target or finding_path.startswith(target + "/"):
            return True
        # the folder a missing or unusable entry belongs to, down to its result folder
        unit = result_of(target)
        if unit and target.startswith(finding_path + "/") and len(finding_path) >= len(unit):
            return True
    return False


if __name__ == "__main__":  # pragma: no cover - reproduce one case by hand
    tree, seed_text, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    every_file = {rel: "unknown" for rel in index_tree(Path(tree)).files}
    chosen = plan(Path(tree), int(seed_text), kind, parsed=every_file, required=set(every_file))
    print(chosen.label() if chosen else "no target")
