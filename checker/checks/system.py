"""Y rules: system description JSON, implementation ("measurements") JSON, and the code folder."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Severity

SYSTEM_SECTION = "Submission rules: system description (systems/<system_desc_id>.json) fields"
MEASURE_SECTION = "Submission rules: measurements/<system>/<benchmark>/<scenario>/<system>_<impl>_<scenario>.json"


def _system(ctx: Context) -> tuple[Any, Path | None]:
    path = ctx.system_json_path()
    if path is None or not path.is_file():
        return None, path
    return ctx.system_description(), path


def _show(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)


@rule(
    "Y001",
    title="System description field missing",
    scope="system",
    what="A field the round requires in systems/<system>.json is absent (or empty where the round "
    "requires a meaningful value).",
    why="Results are published and compared by these fields (processor, accelerator, software, "
    "availability); a missing field makes the result unpublishable.",
    section=SYSTEM_SECTION,
    fix="Add the field to the system description with the real value.",
)
def system_required_fields(ctx: Context) -> Iterator[Violation]:
    model, path = _system(ctx)
    if model is None:
        return
    rules = ctx.pack.system_description
    for name in rules.required:
        if model.get(name) is None:
            yield Violation(f"required field {name!r} missing", path=ctx.rel(path), expected=name, found="missing")
    for name in rules.non_empty:
        if model.get(name) is not None and model.is_empty(name):
            yield Violation(f"field {name!r} is empty", path=ctx.rel(path), line=model.line_of(name),
                            expected="a meaningful value", found="(empty)")


@rule(
    "Y002",
    title="Unknown system description field",
    scope="system",
    severity=Severity.WARNING,
    what="systems/<system>.json has a field that is neither required nor optional in the round "
    "(often a misspelling such as 'sumitter').",
    why="A misspelt field hides the real one from every tool; v0.5 treated unknown fields as errors, "
    "later rounds as warnings.",
    section=SYSTEM_SECTION,
    fix="Rename the field to the round's spelling, or remove it.",
)
def system_unknown_fields(ctx: Context) -> Iterator[Violation]:
    model, path = _system(ctx)
    if model is None:
        return
    rules = ctx.pack.system_description
    known = set(rules.required) | set(rules.optional) | set(ctx.params.get("also_known", []))
    for name in model.key_order:
        if name not in known:
            yield Violation(f"unknown field {name!r}", path=ctx.rel(path), line=model.line_of(name), found=name)


@rule(
    "Y003",
    title="Submitter does not match its folder",
    scope="system",
    what="The system description's 'submitter' differs from the submitter folder name.",
    why="Results are attributed by folder; a mismatch means the file was copied from another "
    "submission or the folder is misnamed.",
    section=SYSTEM_SECTION,
    fix="Make 'submitter' equal to the folder name (or rename the folder).",
)
def system_submitter(ctx: Context) -> Iterator[Violation]:
    sub = ctx.submission
    assert sub is not None
    yield from _matches_folder(ctx, "submitter", sub.submitter, ctx.pack.system_description.submitter_match)


def _matches_folder(ctx: Context, field: str, folder: str, mode: str) -> Iterator[Violation]:
    """A system description field that must name the folder it sits in (submitter, division)."""
    model, path = _system(ctx)
    if model is None or model.get(field) is None:
        return
    value = str(model.value(field))
    same = value == folder if mode == "exact" else value.lower() == folder.lower()
    if not same:
        yield Violation(f"{field} in the system description differs from its folder", path=ctx.rel(path),
                        line=model.line_of(field), expected=folder, found=value)


@rule(
    "Y004",
    title="Division does not match its folder",
    scope="system",
    what="The system description's 'division' differs from the division folder it is in.",
    why="A closed result described as open (or the reverse) is held to the wrong rules.",
    section=SYSTEM_SECTION,
    fix="Set 'division' to the folder's division (closed/open), in lower case.",
)
def system_division(ctx: Context) -> Iterator[Violation]:
    sub = ctx.submission
    assert sub is not None
    yield from _matches_folder(ctx, "division", sub.division, ctx.pack.system_description.division_match)


@rule(
    "Y005",
    title="Availability status not allowed",
    scope="system",
    what="'status' is not one of the round's availability categories.",
    why="Availability (available, preview, research/development/internal) decides how a result is "
    "published and audited.",
    section="Submission rules: availability categories",
    fix="Use one of the round's status values.",
)
def system_status(ctx: Context) -> Iterator[Violation]:
    model, path = _system(ctx)
    rules = ctx.pack.system_description
    if model is None or rules.status_values is None or model.get("status") is None:
        return
    value = str(model.value("status")).strip().lower()
    value = rules.status_aliases.get(value, value)
    if value not in rules.status_values:
        yield Violation("status is not an availability category of the round", path=ctx.rel(path),
                        line=model.line_of("status"), expected=", ".join(rules.status_values),
                        found=_show(model.value("status")))


@rule(
    "Y006",
    title="System type not allowed",
    scope="system",
    what="'system_type' is not one of the round's categories (datacenter, edge, …).",
    why="The system type decides which benchmarks and scenarios a system must submit.",
    section="Inference rules: system categories",
    fix="Use one of the round's system types.",
)
def system_type(ctx: Context) -> Iterator[Violation]:
    model, path = _system(ctx)
    rules = ctx.pack.system_description
    if model is None or rules.system_types is None:
        return
    if model.get("system_type") is None:
        return  # a missing field is Y001's finding
    value = str(model.value("system_type")).strip().lower().replace(" ", "")
    if value not in rules.system_types:
        yield Violation("system_type is not a category of the round", path=ctx.rel(path),
                        line=model.line_of("system_type"), expected=", ".join(rules.system_types),
                        found=_show(model.value("system_type")))


def measurements_json(ctx: Context) -> tuple[Path | None, list[Path]]:
    """The implementation JSON of a result by the round's naming rules, and all candidates."""
    folder = ctx.measurements_dir()
    unit = ctx.unit
    if folder is None or unit is None:
        return None, []
    try:
        candidates = sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file())
    except OSError:
        return None, []
    for pattern in ctx.pack.measurements.json_names:
        wanted = pattern.format(system=unit.system, scenario=unit.scenario_folder)
        matches = [p for p in candidates if fnmatch.fnmatch(p.name.lower(), wanted.lower())]
        if matches:
            return matches[0], candidates
    return None, candidates


def measurements_model(ctx: Context) -> tuple[Path | None, Any]:
    """The implementation JSON's path and parsed model (None when absent or unreadable)."""
    path, _ = measurements_json(ctx)
    return (path, None) if path is None else (path, ctx.model(path, "measurements_json"))


@rule(
    "Y007",
    title="Implementation JSON missing",
    scope="result",
    what="The measurements folder has no implementation JSON named as the round requires "
    "(<system>_<impl>_<scenario>.json, or <system>*.json).",
    why="The implementation JSON declares weights, data types and transformations: the basis for "
    "judging a closed-division result.",
    section=MEASURE_SECTION,
    fix="Add the JSON with input_data_types, retraining, starting_weights_filename, weight_data_types "
    "and weight_transformations.",
)
def measurements_json_missing(ctx: Context) -> Iterator[Violation]:
    folder = ctx.measurements_dir()
    if folder is None:
        return
    found, candidates = measurements_json(ctx)
    if found is None:
        unit = ctx.unit
        assert unit is not None
        expected = ctx.pack.measurements.json_names[0].format(system=unit.system, scenario=unit.scenario_folder)
        yield Violation(f"no implementation JSON in {ctx.rel(folder)}", path=ctx.rel(folder), expected=expected,
                        found=", ".join(p.name for p in candidates) or "none")


@rule(
    "Y008",
    title="Implementation JSON field missing",
    scope="result",
    what="The implementation JSON lacks a field the round requires (or it is empty where the round "
    "requires a value).",
    why="Reviewers judge retraining, quantization and weight transformations from these fields.",
    section=MEASURE_SECTION,
    fix="Add the field with the real value.",
)
def measurements_fields(ctx: Context) -> Iterator[Violation]:
    path, model = measurements_model(ctx)
    if model is None:
        return
    for name in ctx.pack.measurements.required:
        if model.get(name) is None:
            yield Violation(f"required field {name!r} missing", path=ctx.rel(path), expected=name, found="missing")
        elif ctx.params.get("non_empty") and model.is_empty(name):
            yield Violation(f"field {name!r} is empty", path=ctx.rel(path), line=model.line_of(name),
                            expected="a meaningful value", found="(empty)")


@rule(
    "Y009",
    title="Unknown implementation JSON field",
    scope="result",
    severity=Severity.WARNING,
    what="The implementation JSON has a field the round does not know.",
    why="v0.5 rejected unknown fields (they are usually misspellings of required ones).",
    section=MEASURE_SECTION,
    fix="Rename the field to the round's spelling, or remove it.",
)
def measurements_unknown(ctx: Context) -> Iterator[Violation]:
    path, model = measurements_model(ctx)
    if model is None:
        return
    known = set(ctx.pack.measurements.required) | set(ctx.pack.measurements.optional)
    for name in model.key_order:
        if name not in known:
            yield Violation(f"unknown field {name!r}", path=ctx.rel(path), line=model.line_of(name), found=name)


def code_folder_names(ctx: Context) -> list[str]:
    """Names a benchmark's code folder goes by: the results folder's, the round's, its aliases, and
    the family name without the accuracy suffix (``bert`` for ``bert-99``), as real trees use them."""
    unit = ctx.unit
    assert unit is not None
    names = [unit.benchmark]
    name, bench = ctx.benchmark()
    if name is not None and bench is not None:
        names += [name, *bench.aliases]
        if bench.mlperf_conf_name:
            names.append(bench.mlperf_conf_name)
    for candidate in list(names):
        family = candidate.split("-99")[0]
        if family != candidate:
            names.append(family)
    return list(dict.fromkeys(names))


def implementation_name(stem: str, system: str, scenario: str) -> str:
    """``<system>_<impl>_<scenario>`` → ``<impl>``; empty when the JSON is named ``<system>_<scenario>``."""
    rest = stem[len(system):] if stem.lower().startswith(system.lower()) else stem
    rest = rest.lstrip("_")
    if rest.lower() == scenario.lower():
        return ""
    suffix = f"_{scenario}"
    if rest.lower().endswith(suffix.lower()):
        rest = rest[: -len(suffix)]
    return rest


@rule(
    "S014",
    title="Code folder missing",
    scope="result",
    what="The implementation's source folder is missing: code/<benchmark>/<impl> where <impl> comes "
    "from the implementation JSON's name (or code/<benchmark> where the round accepts it).",
    why="Closed results must publish the code that produced them.",
    section="Submission rules: code/<benchmark>/<implementation>",
    fix="Add the implementation's code under the folder named, or name the JSON after the code folder.",
)
def code_folder(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    path, _ = measurements_json(ctx)
    roots = [unit.submission.path / name for name in ctx.pack.layout.code_dirs]
    code_root = next((r for r in roots if r.is_dir()), None)
    if code_root is None:
        yield Violation("no code folder in the submission", path=f"{unit.submission.rel}/{ctx.pack.layout.code_dirs[0]}",
                        expected="/".join(ctx.pack.layout.code_dirs), found="missing")
        return
    if path is None or not ctx.pack.measurements.implementation_from_name:
        return
    impl = implementation_name(path.stem, unit.system, unit.scenario_folder)
    folders = code_folder_names(ctx)
    candidates = [code_root / name / impl if impl else code_root / name for name in folders]
    if ctx.params.get("accept_benchmark_folder", False):
        candidates += [code_root / name for name in folders]
    if not any(c.exists() for c in candidates):
        yield Violation(f"code folder {ctx.rel(candidates[0])} missing", path=ctx.rel(candidates[0]),
                        expected=ctx.rel(candidates[0]), found="missing")
