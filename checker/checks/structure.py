"""S rules: the tree's layout, required folders and files, benchmark and scenario names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Scope, Severity

_RUN_NUMBER = re.compile(r"^run_?(\d+)$")
LAYOUT_SECTION = "Submission rules, directory structure (results/<system>/<benchmark>/<scenario>/…)"


@rule(
    "S001",
    title="Not a results tree",
    scope="tree",
    what="The folder given to `check` holds no division folder (closed/, open/, network/).",
    why="Every result lives under <division>/<submitter>/results/…; without a division folder nothing "
    "can be checked, and a CI gate that checks nothing must not pass silently.",
    section=LAYOUT_SECTION,
    fix="Pass the root of the results repository (the folder that contains closed/ and open/).",
)
def no_divisions(ctx: Context) -> Iterator[Violation]:
    if not ctx.tree.divisions:
        yield Violation(
            "no division folder found; nothing was checked",
            path=".",
            expected=" or ".join(ctx.pack.layout.divisions),
            found=", ".join(ctx.tree.top_entries[:8]) or "an empty folder",
        )
    elif not ctx.tree.units:
        yield Violation("the tree holds no result folders (…/results/<system>/<benchmark>/<scenario>)", path=".")


@rule(
    "S002",
    title="Unexpected entry in the tree",
    scope="tree",
    severity=Severity.WARNING,
    what="Stray files where the layout has only folders, symlinks that point outside the tree or "
    "nowhere, and folders that cannot be read.",
    why="Results repositories must be self-contained: a symlink leaving the tree is evidence the "
    "reviewer cannot see (and is never followed), a stray file is usually a copying mistake.",
    section=LAYOUT_SECTION,
    fix="Remove the entry or move it to its place in the layout; replace symlinks with the files.",
)
def oddities(ctx: Context) -> Iterator[Violation]:
    allowed = set(ctx.pack.layout.allowed_tree_entries)
    for oddity in ctx.tree.oddities:
        name = Path(oddity.path).name
        if oddity.kind == "stray_file" and (name in allowed or name.startswith(".")):
            continue
        label = {
            "stray_file": "stray file where only folders belong",
            "symlink_outside": "symlink pointing outside the tree (not followed)",
            "broken_symlink": "broken symlink",
            "unreadable": "folder cannot be read",
        }.get(oddity.kind, oddity.kind)
        yield Violation(f"{label}: {oddity.path}", path=oddity.path, found=oddity.detail or None, scope=oddity.scope)


@rule(
    "S003",
    title="Submitter folder without results",
    scope="submitter",
    what="A <division>/<submitter> folder has no results/ folder.",
    why="A submitter folder without results cannot be checked; usually the tree was copied "
    "incompletely.",
    section=LAYOUT_SECTION,
    fix="Add the results/ folder, or remove the submitter folder if it is not part of the submission.",
)
def submitter_without_results(ctx: Context) -> Iterator[Violation]:
    sub = ctx.submission
    assert sub is not None
    if not sub.has_results_dir:
        yield Violation(
            f"no {ctx.pack.layout.results_dir}/ folder in {sub.rel}",
            path=sub.rel,
            expected=f"{sub.rel}/{ctx.pack.layout.results_dir}/",
            found="missing",
        )


@rule(
    "S006",
    title="Required file missing",
    scope="result",
    what="A result's accuracy/ folder or performance run folder lacks a file the round requires "
    "(the LoadGen summary and detail logs, the accuracy log, accuracy.txt).",
    why="These files are the evidence of the result; without them it cannot be verified.",
    section=LAYOUT_SECTION,
    fix="Copy the missing file from the original run output into the folder named.",
)
def required_files(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    if ctx.is_endpoints():
        return  # an endpoints result has no LoadGen logs (S031)
    required = ctx.pack.layout.required_files
    accuracy = ctx.accuracy_dir()
    if not accuracy.is_dir():
        yield Violation("accuracy/ folder missing", path=ctx.rel(accuracy), expected="accuracy/", found="missing")
    else:
        yield from _missing(ctx, accuracy, required.get("accuracy", []))
    for run in ctx.performance_runs():
        yield from _missing(ctx, run, required.get("performance", []))


def _missing(ctx: Context, folder: Path, names: list[str]) -> Iterator[Violation]:
    for name in names:
        if not (folder / name).is_file():
            yield Violation(
                f"{name} missing in {ctx.rel(folder)}",
                path=ctx.rel(folder / name),
                expected=name,
                found="missing",
            )


@rule(
    "S007",
    title="Unexpected file in a run folder",
    scope="result",
    severity=Severity.WARNING,
    what="A result's accuracy/ or performance run folder holds files the round neither requires nor "
    "allows.",
    why="Run folders hold LoadGen's output; other files usually mean outputs of different runs were "
    "mixed, which a reviewer needs to know.",
    section=LAYOUT_SECTION,
    fix="Remove the extra file or move it to the measurements or code folder.",
)
def extra_files(ctx: Context) -> Iterator[Violation]:
    layout = ctx.pack.layout
    folders = [("accuracy", ctx.accuracy_dir())] + [("performance", run) for run in ctx.performance_runs()]
    for kind, folder in folders:
        if not folder.is_dir():
            continue
        known = set(layout.required_files.get(kind, [])) | set(layout.optional_files.get(kind, []))
        try:
            names = sorted(p.name for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
        for name in names:
            if name not in known and not name.startswith("."):
                yield Violation(f"unexpected file {name} in {ctx.rel(folder)}", path=ctx.rel(folder / name),
                                expected=", ".join(sorted(known)), found=name)


@rule(
    "S008",
    title="System description missing",
    scope="system",
    what="A results/<system> folder has no systems/<system>.json.",
    why="Every result must say which system produced it; without the description the result cannot be "
    "categorised or compared.",
    section="Submission rules: system description file systems/<system_desc_id>.json",
    fix="Add systems/<system>.json with the round's required fields (see rule Y001).",
)
def system_json_missing(ctx: Context) -> Iterator[Violation]:
    path = ctx.system_json_path()
    if path is not None and not path.is_file():
        yield Violation(f"no system description for {ctx.system}", path=ctx.rel(path),
                        expected=ctx.rel(path), found="missing")


@rule(
    "S009",
    title="Unknown benchmark",
    scope="result",
    what="The benchmark folder name is not a benchmark of the round (closed division), or cannot be "
    "mapped to one (open division).",
    why="Closed results must run one of the round's benchmarks under its name; rules, targets and "
    "bounds are looked up by it.",
    section="Inference rules: benchmarks of the round",
    fix="Rename the folder to the round's benchmark name (see `mlperf-audit rules --round …`).",
)
def unknown_benchmark(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    name, _, how = ctx.pack.benchmark_match(unit.benchmark)
    scope = Scope(division=unit.division, submitter=unit.submitter, system=unit.system, benchmark=unit.benchmark)
    if name is None:
        severity = Severity.ERROR if unit.division == "closed" else Severity.WARNING
        yield Violation(
            f"benchmark folder {unit.benchmark!r} is not a benchmark of {ctx.pack.round}",
            path=ctx.rel(unit.path.parent),
            expected=", ".join(sorted(ctx.pack.benchmarks)),
            found=unit.benchmark,
            severity=severity,
            scope=scope,
        )
    elif how == "pattern" and unit.division == "closed":
        yield Violation(
            f"benchmark folder {unit.benchmark!r} is not named after its benchmark; read as {name}",
            path=ctx.rel(unit.path.parent),
            expected=name,
            found=unit.benchmark,
            severity=Severity.WARNING,
            scope=scope,
        )


@rule(
    "S010",
    title="Unknown scenario folder",
    scope="result",
    what="The scenario folder is not one of SingleStream, MultiStream, Server, Offline (letter case "
    "is accepted as the rounds accepted it).",
    why="The scenario decides every bound a result is held to.",
    section="Inference rules: scenarios",
    fix="Rename the folder to its scenario's name.",
)
def unknown_scenario(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    allowed = ctx.params.get("scenarios", ["SingleStream", "MultiStream", "Server", "Offline"])
    if unit.scenario is None or unit.scenario not in allowed:
        yield Violation(f"scenario folder {unit.scenario_folder!r} is not a scenario of {ctx.pack.round}",
                        path=unit.rel, expected=", ".join(allowed), found=unit.scenario_folder)


@rule(
    "S011",
    title="Performance run missing",
    scope="result",
    what="A result has fewer performance run folders (performance/run_N) than the round requires "
    "(one; five for Server in v0.5 and v0.7), or lacks run_1 while later runs are present.",
    why="The performance result must be backed by the LoadGen runs the rules ask for.",
    section="Inference rules: scenarios, number of runs",
    fix="Add the missing performance/run_N folders with their LoadGen logs.",
)
def performance_runs(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    if ctx.is_endpoints():
        return  # an endpoints result has no LoadGen runs (S031)
    runs = ctx.performance_runs(extra=True)
    expected = ctx.expected_run_count()
    if len(runs) < expected:
        present = ", ".join(run.name for run in runs) or "none"
        yield Violation(
            f"{len(runs)} performance run(s) found, the round requires {expected}",
            path=ctx.rel(unit.path / "performance"),
            expected=", ".join(f"run_{i}" for i in range(1, expected + 1)),
            found=present,
        )
        return
    first = _RUN_NUMBER.match(runs[0].name) if runs else None
    if first is not None and int(first.group(1)) > 1:
        # run_2 alone is not the run the rules ask for: the counted run is run_1, and a later run
        # standing in for it usually means the submitted run was lost (or picked) when copying
        present = ", ".join(run.name for run in runs)
        yield Violation(
            f"performance/run_1 missing; the other run(s) ({present}) do not replace it",
            path=ctx.rel(unit.path / "performance" / "run_1"),
            expected=", ".join(f"run_{i}" for i in range(1, expected + 1)),
            found=present,
        )


@rule(
    "S012",
    title="Measurements folder missing",
    scope="result",
    what="The result has no measurements folder (measurements/<system>/<benchmark>/<scenario>).",
    why="The measurements folder documents how the result was produced (user.conf, README, "
    "implementation JSON); the rules require one per result.",
    section="Submission rules: measurements/<system>/<benchmark>/<scenario>",
    fix="Add the folder with README.md, user.conf, mlperf.conf and the implementation JSON.",
)
def measurements_dir(ctx: Context) -> Iterator[Violation]:
    if ctx.measurements_dir() is None:
        expected = ctx.measurements_dir_expected()
        yield Violation(f"measurements folder missing: {expected}", path=expected, expected=expected, found="missing")


@rule(
    "S013",
    title="Measurements file missing",
    scope="result",
    what="The measurements folder lacks a required file (README.md, user.conf, mlperf.conf as the "
    "round requires), or a required file is empty.",
    why="These files let others reproduce the run: the settings LoadGen used and how to run it.",
    section="Submission rules: measurements/<system>/<benchmark>/<scenario>",
    fix="Add the file named (the user.conf and mlperf.conf used for the run, a README with the steps).",
)
def measurements_files(ctx: Context) -> Iterator[Violation]:
    folder = ctx.measurements_dir()
    if folder is None:
        return
    for name in ctx.pack.layout.required_files.get("measurements", []):
        if name == "user.conf" and ctx.is_endpoints():
            continue  # the endpoints harness is configured by config.yaml
        path = folder / name
        if not path.is_file():
            yield Violation(f"{name} missing in {ctx.rel(folder)}", path=ctx.rel(path), expected=name, found="missing")
        elif ctx.params.get("non_empty") and path.stat().st_size == 0:
            yield Violation(f"{name} is empty", path=ctx.rel(path), expected="a non-empty file", found="0 bytes")
