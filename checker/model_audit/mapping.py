"""`check --models FILE`: audit the model each result ran, as part of checking a tree.

A submission usually does not contain its model (weights over 2 GB go to the results chair), so the
user says which model file each result ran, in a small YAML file::

    reference: refs/resnet50_v1.onnx            # default reference of every entry (optional)
    models:
      - results: "closed/ACME/results/*/resnet50/*"   # glob on result paths, relative to the tree root
        model: models/resnet50_int8.onnx              # the model those results ran
        reference: refs/resnet50_v1.onnx             # optional; else the top-level reference

Relative model paths are taken from the mapping file's folder. Each distinct (model, reference)
pair is audited once and its findings are attached to every result its glob matches, so a pruned
or retrained model makes those results invalid. An entry whose glob matches no result is M011.
A mapping that cannot be used (not YAML, a missing key, a model file that does not exist, a
reference that is not a readable model) stops `check` with exit 2: it is an argument, not evidence.

The module is imported only when ``--models`` is given, so `check` pays nothing without it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from checker.engine.registry import REGISTRY
from checker.findings import Finding, Scope
from checker.model_audit.audit import audit_models
from checker.model_audit.load import ModelPathError


class MappingError(LookupError):
    """The mapping file cannot be used (the CLI turns it into exit 2)."""


@dataclass(frozen=True)
class MappingEntry:
    results: str
    model: Path
    reference: Path
    model_label: str
    reference_label: str


def read_mapping(path: Path) -> list[MappingEntry]:
    """Parse and validate a mapping file (see the module docstring for the format)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read model mapping {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"model mapping {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise MappingError(f"model mapping {path}: needs a 'models' list (see `mlperf-audit check --help`)")
    base = path.resolve().parent
    default = data.get("reference")
    entries = []
    for index, item in enumerate(data["models"]):
        where = f"model mapping {path}: models[{index}]"
        if not isinstance(item, dict):
            raise MappingError(f"{where}: must be a mapping with 'results' and 'model'")
        results, model, reference = item.get("results"), item.get("model"), item.get("reference", default)
        for key, value in (("results", results), ("model", model), ("reference", reference)):
            if not isinstance(value, str) or not value.strip():
                raise MappingError(f"{where}: '{key}' must be a non-empty string")
        model_path, reference_path = base / str(model), base / str(reference)
        for key, file in (("model", model_path), ("reference", reference_path)):
            if not file.is_file():
                raise MappingError(f"{where}: {key} file not found: {file}")
        entries.append(MappingEntry(str(results).strip("/"), model_path, reference_path, str(model), str(reference)))
    return entries


def _selected(rule_id: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if select and not any(rule_id.startswith(prefix) for prefix in select):
        return False
    return not any(rule_id.startswith(prefix) for prefix in ignore)


def audit_mapped_models(mapping: Path, tree, pack, select: Sequence[str] = (),
                        ignore: Sequence[str] = ()) -> list[Finding]:
    """Findings of the model audits the mapping asks for, each scoped to the results it covers."""
    entries = read_mapping(mapping)
    if not any(_selected(rule_id, select, ignore) for rule_id in REGISTRY if rule_id.startswith("M")):
        return []
    cache: dict[tuple[Path, Path], list[Finding]] = {}
    findings: list[Finding] = []
    for entry in entries:
        units = [unit for unit in tree.units if fnmatch.fnmatchcase(unit.rel, entry.results)]
        if not units:
            if _selected("M011", select, ignore):
                setting = pack.rules.get("M011") if pack is not None else None
                if setting is None or setting.severity != "off":
                    severity = REGISTRY["M011"].default_severity if setting is None else setting.severity
                    findings.append(Finding(rule="M011", severity=severity, scope=Scope(), path=str(mapping),
                                            message=f"model mapping entry {entry.results!r} ({entry.model_label}) "
                                            f"matches no result of the tree", found=entry.results,
                                            hint=REGISTRY["M011"].fix))
            continue
        key = (entry.model.resolve(), entry.reference.resolve())
        if key not in cache:
            try:
                result = audit_models(entry.model, entry.reference, pack=pack, submitted_label=entry.model_label,
                                      reference_label=entry.reference_label)
            except ModelPathError as exc:
                raise MappingError(f"model mapping {mapping}: {exc}") from exc
            cache[key] = [f for f in result.findings if _selected(f.rule, select, ignore)]
        for unit in units:
            findings.extend(f.model_copy(update={"scope": unit.scope}) for f in cache[key])
    return findings
