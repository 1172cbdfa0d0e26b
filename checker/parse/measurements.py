"""The per-result implementation ("measurements") JSON and the folder that holds it.

Up to v5.x a result's description lives in ``measurements/<sys>/<benchmark>/<scenario>/`` next to
``README.md``, ``user.conf``, ``mlperf.conf`` (and calibration notes), and the JSON is whichever
file matches ``<sys>*_<scenario>.json``, else ``<sys>*.json``. From v6.0 the folder is
``results/<sys>/<benchmark>/<scenario>/`` and the file is plainly ``measurements.json``. Real trees
bend these rules (a ``_SingleStream.json`` in an ``Offline`` folder, lower-case scenario folders,
files not prefixed by the system name, zero-byte READMEs), so :func:`scan_measurements_dir`
records what is there and which rule chose the JSON, and leaves the verdict to the rule pack.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from checker.parse.base import ParseResult, ProblemSink, Sourced, as_path, display_path
from checker.parse.json_lines import (
    JsonValue,
    SourcedJsonObject,
    load_json_with_lines,
    path_state,
    require_object,
)

KIND = "measurements_json"

#: The five keys every era's checker asks for (presence in v0.5–v1.0, non-empty from v5.x).
MEASUREMENTS_KEYS = (
    "input_data_types",
    "retraining",
    "starting_weights_filename",
    "weight_data_types",
    "weight_transformations",
)

#: The v6 file name (the rules text also calls it ``model-info.json``).
V6_NAME = "measurements.json"

#: LoadGen's scenario names, used to spot a JSON named for a scenario other than its folder's.
SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline", "Interactive")

_CALIBRATION_DOC_SUFFIXES = (".adoc", ".md", ".pdf", ".txt", ".rst", ".html", ".htm", ".docx", ".doc")

Opt = Sourced[JsonValue] | None


class MeasurementsJson(SourcedJsonObject):
    """The five implementation keys plus the v6 optional ``Notes``; any other key goes to ``extra``."""

    input_data_types: Opt = None
    retraining: Opt = None
    starting_weights_filename: Opt = None
    weight_data_types: Opt = None
    weight_transformations: Opt = None
    notes: Opt = Field(default=None, alias="Notes")


def parse_measurements_json(
    path: Path | str, root: Path | str | None = None
) -> ParseResult[MeasurementsJson]:
    """Parse one measurements JSON; never raises. ``model`` is None when no JSON object was read."""
    path = as_path(path)
    shown = display_path(path, as_path(root) if root is not None else None)
    sink = ProblemSink(shown)
    model: MeasurementsJson | None = None
    doc = load_json_with_lines(path, sink)
    if doc is not None:
        obj = require_object(doc, sink, "a measurements JSON")
        if obj is not None:
            model = MeasurementsJson.from_document(obj, doc)
    return ParseResult[MeasurementsJson](kind=KIND, path=shown, model=model, problems=sink.finish())


class DirFile(BaseModel, defer_build=True):
    """One file of the folder: its name, display path and size (None when it cannot be read)."""

    name: str
    path: str
    size: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def empty(self) -> bool:
        """Zero bytes: present by name but with nothing in it."""
        return self.size == 0


SelectionRule = Literal[
    "v6_measurements_json",  # results/<sys>/<bm>/<scn>/measurements.json
    "system_scenario",  # <sys>*_<scenario>.json, same case as the folder name
    "system_scenario_casefold",  # <sys>*_<scenario>.json only when case is ignored
    "system_only",  # <sys>*.json
]


class ScanNote(BaseModel, defer_build=True):
    """Something a rule may want to report about the folder (never an exception)."""

    code: str
    message: str
    file: str | None = None


class MeasurementsDir(BaseModel, defer_build=True):
    """What one measurements folder holds and which JSON the naming rules pick."""

    path: str
    exists: bool
    #: ``measurements`` (v0.5–v5.x), ``results`` (v6+), or ``unknown`` (judged from the grand-grandparent)
    layout: Literal["measurements", "results", "unknown"] = "unknown"
    system: str | None = None
    scenario: str | None = None
    files: list[str] = Field(default_factory=list)
    subdirs: list[str] = Field(default_factory=list)
    readme: DirFile | None = None
    user_conf: DirFile | None = None
    mlperf_conf: DirFile | None = None
    #: other files that look like LoadGen configs (``user_performance.conf``, ``user.conf.resnet50``)
    other_confs: list[DirFile] = Field(default_factory=list)
    calibration_docs: list[DirFile] = Field(default_factory=list)
    json_candidates: list[DirFile] = Field(default_factory=list)
    measurements_json: DirFile | None = None
    selection: SelectionRule | None = None
    #: zero-byte files among README.md, user.conf, mlperf.conf and the selected JSON
    empty_required: list[str] = Field(default_factory=list)
    #: which of README.md, user.conf, mlperf.conf, the JSON are absent (whether each is required is per era)
    absent: list[str] = Field(default_factory=list)
    notes: list[ScanNote] = Field(default_factory=list)


def _layout(dir_path: Path) -> Literal["measurements", "results", "unknown"]:
    marker = dir_path.parent.parent.parent.name
    if marker == "measurements":
        return "measurements"
    if marker == "results":
        return "results"
    return "unknown"


def _pick(names: list[str]) -> str:
    return sorted(names)[0]


def scan_measurements_dir(
    dir_path: Path | str,
    root: Path | str | None = None,
    system: str | None = None,
    scenario: str | None = None,
) -> MeasurementsDir:
    """List a ``<sys>/<benchmark>/<scenario>`` folder and choose its measurements JSON; never raises.

    ``system`` and ``scenario`` default to the folder's grandparent and own names. The JSON choice
    follows the eras' rules in this order: for a ``results/`` (v6) folder ``measurements.json``
    first; then ``<sys>*_<scenario>.json`` (exact case, then ignoring case, because v0.5–v1.0
    folders are often lower-case while files are not or vice versa); then ``<sys>*.json``; and for a
    ``measurements/`` folder ``measurements.json`` last. Ties are broken by name and reported.
    """
    dir_path = Path(dir_path)
    root_path = Path(root) if root is not None else None
    shown = display_path(dir_path, root_path)
    system = system if system is not None else dir_path.parent.parent.name
    scenario = scenario if scenario is not None else dir_path.name
    result = MeasurementsDir(
        path=shown, exists=False, layout=_layout(dir_path), system=system, scenario=scenario
    )
    state = path_state(dir_path)
    if state != "dir":
        code = (
            "missing"
            if state == "missing"
            else "unreadable"
            if state.startswith("error")
            else "not_a_directory"
        )
        result.notes.append(ScanNote(code=code, message=f"{shown} is not a readable directory ({state})"))
        result.absent = ["README.md", "user.conf", "mlperf.conf", "measurements JSON"]
        return result
    result.exists = True
    entries: dict[str, DirFile] = {}
    try:
        with os.scandir(dir_path) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    result.subdirs.append(entry.name)
                    continue
                try:
                    size: int | None = entry.stat().st_size
                except OSError:
                    size = None
                    result.notes.append(
                        ScanNote(code="unreadable", message=f"cannot stat {entry.name}", file=entry.name)
                    )
                entries[entry.name] = DirFile(
                    name=entry.name, path=display_path(dir_path / entry.name, root_path), size=size
                )
    except OSError as exc:
        result.notes.append(
            ScanNote(code="unreadable", message=f"cannot list directory: {exc.strerror or exc}")
        )
    result.files = sorted(entries)
    result.subdirs.sort()

    result.readme = entries.get("README.md")
    result.user_conf = entries.get("user.conf")
    result.mlperf_conf = entries.get("mlperf.conf")
    if result.readme is None:
        near = [n for n in entries if n.lower() == "readme.md"]
        if near:
            result.notes.append(
                ScanNote(
                    code="readme_name_case", message=f"README is named {near[0]}, not README.md", file=near[0]
                )
            )
    for name in result.files:
        lower = name.lower()
        if name not in ("user.conf", "mlperf.conf") and (
            lower.endswith(".conf") or lower.startswith("user.conf") or lower == "audit.config"
        ):
            result.other_confs.append(entries[name])
        if "calibration" in lower and lower.endswith(_CALIBRATION_DOC_SUFFIXES):
            result.calibration_docs.append(entries[name])
        if lower.endswith(".json"):
            result.json_candidates.append(entries[name])

    _select_json(result, entries, system, scenario)

    required = [result.readme, result.user_conf, result.mlperf_conf, result.measurements_json]
    result.empty_required = [f.name for f in required if f is not None and f.empty]
    for label, item in (
        ("README.md", result.readme),
        ("user.conf", result.user_conf),
        ("mlperf.conf", result.mlperf_conf),
        ("measurements JSON", result.measurements_json),
    ):
        if item is None:
            result.absent.append(label)
    return result


def _select_json(result: MeasurementsDir, entries: dict[str, DirFile], system: str, scenario: str) -> None:
    names = [f.name for f in result.json_candidates]
    suffix = f"_{scenario}.json"
    exact = [
        n
        for n in names
        if n.startswith(system) and n.endswith(suffix) and len(n) >= len(system) + len(suffix)
    ]
    folded = [
        n
        for n in names
        if n.lower().startswith(system.lower())
        and n.lower().endswith(suffix.lower())
        and len(n) >= len(system) + len(suffix)
    ]
    prefixed = [n for n in names if n.startswith(system)]
    v6 = [n for n in names if n == V6_NAME]

    order: list[tuple[SelectionRule, list[str]]] = [
        ("system_scenario", exact),
        ("system_scenario_casefold", folded),
        ("system_only", prefixed),
    ]
    if result.layout == "results":
        order.insert(0, ("v6_measurements_json", v6))
    else:
        order.append(("v6_measurements_json", v6))
    for rule, matches in order:
        if matches:
            chosen = _pick(matches)
            result.measurements_json = entries[chosen]
            result.selection = rule
            if len(matches) > 1:
                result.notes.append(
                    ScanNote(
                        code="ambiguous_json",
                        message=f"{len(matches)} files match rule {rule}: {', '.join(sorted(matches))}; "
                        f"chose {chosen}",
                        file=chosen,
                    )
                )
            break
    chosen_name = result.measurements_json.name if result.measurements_json else None
    if chosen_name is None:
        if names:
            result.notes.append(
                ScanNote(
                    code="no_matching_json",
                    message=f"no JSON is named {system}*_{scenario}.json, {system}*.json or {V6_NAME}; "
                    f"found {', '.join(sorted(names))}",
                )
            )
        return
    if result.selection == "system_only":
        stem = chosen_name[:-5]
        for other in SCENARIO_NAMES:
            if other.lower() != scenario.lower() and stem.lower().endswith("_" + other.lower()):
                result.notes.append(
                    ScanNote(
                        code="json_names_other_scenario",
                        message=f"{chosen_name} is named for scenario {other} but sits in folder {scenario}",
                        file=chosen_name,
                    )
                )
                break
    if result.selection != "v6_measurements_json" and V6_NAME in names and chosen_name != V6_NAME:
        result.notes.append(
            ScanNote(
                code="both_naming_schemes",
                message=f"folder has both {chosen_name} and {V6_NAME}; chose {chosen_name} for a "
                f"{result.layout} layout",
                file=chosen_name,
            )
        )
    if result.selection == "v6_measurements_json" and (exact or folded or prefixed):
        others = sorted(set(exact + folded + prefixed))
        result.notes.append(
            ScanNote(
                code="both_naming_schemes",
                message=f"folder has {V6_NAME} and also {', '.join(others)}; chose {V6_NAME} for a results layout",
                file=V6_NAME,
            )
        )
