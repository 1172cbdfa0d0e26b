"""Rule packs: one YAML file per round in ``rules/``, validated, with ``extends`` inheritance.

A pack is data: the round's benchmarks, thresholds, seeds, layout, required files and fields, and
which rules run with which severity. A pack may ``extends`` an earlier round and override keys
(mappings merge key by key, anything else replaces; ``null`` deletes an inherited key; the
top-level keys listed under ``replace`` are taken whole from the extending pack). The merged
pack is checked against ``schemas/rulepack.schema.json`` (generated from the models below, a test
keeps them equal); a bad pack stops the tool with exit 2 naming the file and the key.

Every ``check`` loads all the packs (round detection compares the tree with each), so loading is
kept cheap: a shipped pack file comes already parsed from a record of them (:data:`PARSED_RECORD`)
and any other YAML file is parsed once per process however many packs extend it, jsonschema is
imported only when a pack is actually validated, and with ``check --cache DIR`` a validated
pack is kept in ``DIR/packs/`` (:func:`load_pack_cached`), keyed by a digest of every checker source
and data file, so a warm run neither parses nor validates. A shipped pack that passed the schema
when the tool was made is not checked against it again (:data:`VALIDATED_RECORD`).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from checker.findings import Severity
from checker.resources import data_dir

SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline", "Interactive")


class PackError(Exception):
    """A rule pack that cannot be used; the CLI turns it into exit code 2."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class RuleSetting(Strict):
    severity: Literal["error", "warning", "info", "off"] = "error"
    params: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(None, description="why this round sets it so, e.g. what the official checker did")


class AccuracyTarget(Strict):
    metric: str = Field(description="metric name as accuracy_txt reports it (acc, mAP, bleu, F1, AUC, DICE, ...)")
    target: float
    direction: Literal["min", "max"] = Field(
        "min", description="min: the value must be >= target (a quality target); max: <= target (an upper limit, "
        "e.g. tokens per sample)"
    )
    scenarios: list[str] | None = Field(
        None, description="folder scenarios the target applies to (default: all), e.g. a lower target for Interactive"
    )


class LatencyBound(Strict):
    ns: int
    percentile: float


class ScenarioSet(Strict):
    required: list[str] = Field(default_factory=list)
    optional: list[str] = Field(default_factory=list)
    one_of: list[list[str]] = Field(
        default_factory=list,
        description="groups of optional scenarios of which at least one must be present (e.g. [Server, Interactive])",
    )


class RecomputeSpec(Strict):
    """How the A rules recompute a benchmark's accuracy from its accuracy log (checker.metrics)."""

    plugin: str = Field(description="registered accuracy plug-in, e.g. 'imagenet-top1' (see checker.metrics)")
    metric: str = Field(description="the accuracy.txt metric it reproduces (one of the benchmark's targets)")
    dataset: str = Field(description="annotation key the user passes with `check --annotations KEY=PATH`")
    tree_files: list[str] = Field(
        default_factory=list,
        description="copies of the annotation file a submission may ship, relative to a submitter folder",
    )
    known_sha256: list[str] = Field(
        default_factory=list, description="SHA-256 of the official annotation file(s); a tree copy must match one"
    )


class TokenLatencyLimit(Strict):
    """LLM latency limits of one scenario, compared with LoadGen's 99th percentiles (strictly below)."""

    ttft_ns: int = Field(description="time to first token, ns")
    tpot_ns: int = Field(description="time per output token, ns")
    percentile: float = Field(99.0, description="the percentile LoadGen reports that is compared")
    note: str | None = None


class TokenSpec(Strict):
    """How an LLM benchmark's outputs are encoded in the accuracy log (for TEST06)."""

    dtype: str = Field("<i4", description="numpy dtype of one token id in the logged bytes")
    eos_token_id: int | None = Field(None, description="end-of-sequence token id")


class SampleOutputs(Strict):
    """Generated outputs (images, videos) the accuracy folder must include, by sample id."""

    ids: list[str]
    extension: str = Field(description="file extension, e.g. png")


class MetricSource(Strict):
    """Where a result's headline value is read: a summary label or a detail-log key."""

    source: Literal["summary", "detail"]
    key: str
    unit: str
    scale: float = 1.0


class Benchmark(Strict):
    aliases: list[str] = Field(default_factory=list)
    open_patterns: list[str] = Field(default_factory=list, description="regexes mapping open-division model names")
    accuracy: list[AccuracyTarget] = Field(default_factory=list)
    performance_sample_count: int | None = None
    latency_bounds: dict[str, LatencyBound] = Field(default_factory=dict)
    min_query_count: dict[str, int] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioSet] = Field(
        default_factory=dict, description="system type (or 'any') -> required/optional scenarios"
    )
    compliance_tests: dict[str, list[str]] = Field(
        default_factory=dict, description="scenario (or 'any') -> tests required for closed results"
    )
    dataset_size: int | None = Field(None, description="samples in the accuracy data set (the QSL of an accuracy run)")
    mlperf_conf_name: str | None = None
    recompute: RecomputeSpec | None = None
    metric: dict[str, MetricSource] = Field(
        default_factory=dict,
        description="folder scenario -> headline metric overriding the round's (e.g. tokens/s for LLMs)",
    )
    equal_issue: bool = Field(
        False, description="performance runs must use equal-issue mode (sample_concatenate_permutation)"
    )
    token_latency: dict[str, TokenLatencyLimit] = Field(
        default_factory=dict,
        description="folder scenario -> first-token and per-output-token latency limits (LLMs); a scenario listed "
        "here also requires LoadGen's token latencies",
    )
    tokens: TokenSpec | None = Field(None, description="how the LLM's outputs are encoded (TEST06)")
    offline_min_samples_per_query: int | None = Field(
        None, description="samples the Offline query must hold, overriding the round's value"
    )
    min_duration_ms: int | None = Field(None, description="minimum run duration overriding the round's value")
    sample_outputs: dict[str, SampleOutputs] = Field(
        default_factory=dict,
        description="folder under accuracy/ -> generated outputs the submission must include (SDXL images)",
    )
    output_tokens_mean: tuple[float, float] | None = Field(
        None, description="TEST09: bounds of the mean output length (tokens) of the performance run"
    )


class Layout(Strict):
    divisions: list[str]
    results_dir: str = "results"
    systems_dir: str = "systems"
    code_dirs: list[str] = Field(default_factory=lambda: ["code"])
    measurements_path: str = Field(description="template relative to the submitter folder")
    compliance_path: str | None = Field(None, description="template relative to the submitter folder")
    performance_runs: dict[str, int] = Field(default_factory=lambda: {"default": 1})
    run_fallbacks: list[str] = Field(default_factory=list, description="other run folder names accepted")
    required_files: dict[str, list[str]] = Field(default_factory=dict)
    optional_files: dict[str, list[str]] = Field(default_factory=dict)
    allowed_tree_entries: list[str] = Field(default_factory=list)


class SystemDescriptionRules(Strict):
    required: list[str] = Field(default_factory=list)
    optional: list[str] = Field(default_factory=list)
    non_empty: list[str] = Field(default_factory=list)
    submitter_match: Literal["exact", "case-insensitive"] = "case-insensitive"
    division_match: Literal["exact", "case-insensitive"] = "exact"
    status_values: list[str] | None = None
    status_aliases: dict[str, str] = Field(default_factory=dict)
    system_types: list[str] | None = None


class MeasurementsRules(Strict):
    required: list[str] = Field(default_factory=list)
    optional: list[str] = Field(default_factory=list)
    json_names: list[str] = Field(default_factory=lambda: ["{system}*_{scenario}.json", "{system}*.json"])
    implementation_from_name: bool = True


class AccuracyRules(Strict):
    line_select: Literal["first", "last"] = "last"
    hash_required: bool = False
    max_log_bytes: int | None = None
    applies_to_open: bool = False
    metric_patterns: dict[str, str] = Field(
        default_factory=dict, description="metric -> which accuracy_txt pattern variant counts ('start'|'anywhere')"
    )


class PerformanceTolerance(Strict):
    """How far a compliance run's headline figure may be from its reference (the submission run, or
    TEST04-A for TEST04-B), in percent of the reference; a wider band for very short latencies."""

    percent: float = Field(gt=0, description="allowed deviation in percent of the reference figure")
    short_latency_percent: float | None = Field(
        None, gt=0, description="the band when the reference is a latency at or below short_latency_max_ns"
    )
    short_latency_max_ns: float | None = Field(None, gt=0, description="reference latency (ns) up to which the wider band applies")
    short_latency_scenarios: list[str] = Field(
        default_factory=lambda: ["SingleStream"], description="scenarios the wider band applies to"
    )
    direction: Literal["both", "slower"] = Field(
        "both", description="both: the band applies both ways; slower: only a test run slower than the reference "
        "beyond the band fails (the one-sided TEST05 script of v2.0-v4.1)"
    )


SettingValue = bool | int | float | str


class AuditSettings(Strict):
    """What a compliance test's audit.config sets, as the run's logs must show it.

    Keys are LoadGen setting names without the ``effective_`` prefix (``accuracy_log_rng_seed``);
    the detail log's ``effective_<key>`` is read, else the summary's "Test Parameters Used".
    """

    signature: list[str] = Field(
        default_factory=list,
        description="settings of which at least one must be non-zero/true: without them the run is a plain "
        "rerun, not this test",
    )
    settings: dict[str, SettingValue] = Field(default_factory=dict, description="exact values, every scenario")
    by_scenario: dict[str, dict[str, SettingValue]] = Field(
        default_factory=dict, description="scenario -> exact values (e.g. v0.5's TEST01 seeds per scenario)"
    )
    by_benchmark: dict[str, dict[str, SettingValue]] = Field(
        default_factory=dict, description="benchmark (pack name) -> exact values (e.g. TEST01 sampling targets)"
    )
    test05_seeds: bool = Field(
        False, description="the run must use the pack's test05_seeds, and not the round's seeds (TEST05)"
    )


class ComplianceRules(Strict):
    divisions: list[str] = Field(default_factory=lambda: ["closed"])
    required_files: dict[str, list[str]] = Field(default_factory=dict)
    verify_files: dict[str, list[str]] = Field(default_factory=dict)
    test01_fallback_delta_percent: dict[str, float] = Field(
        default_factory=dict,
        description="TEST01 non-determinism fallback: max |1 - compliance/baseline| in percent; keys are "
        "'default' or a substring of the benchmark name (e.g. '99.9')",
    )
    audit_settings: dict[str, AuditSettings] = Field(
        default_factory=dict, description="test (TEST01, TEST04-A, ...) -> the settings its audit.config makes"
    )
    tolerance: dict[str, PerformanceTolerance] = Field(
        default_factory=dict,
        description="test (TEST01, TEST03, TEST04, TEST05) -> allowed deviation of its headline figure",
    )
    sampled_log: list[str] = Field(
        default_factory=lambda: ["accuracy/mlperf_log_accuracy.json"],
        description="where TEST01's performance-mode accuracy log may be, relative to the TEST01 folder (first found)",
    )
    test_runs: list[str] = Field(
        default_factory=lambda: ["performance/run_1"],
        description="where a compliance test's LoadGen logs may be, relative to its folder (first found)",
    )
    performance_metric: dict[str, MetricSource] = Field(
        default_factory=dict,
        description="scenario (or '<test>/<scenario>', e.g. 'TEST04/SingleStream') -> the figure compliance runs "
        "are compared by; default: the round's headline metric",
    )


class LoadgenRules(Strict):
    """The LoadGen builds a round allows (rules L001/L002; L003+ need no pack data).

    Approval goes by the loadgen/ *sources*: a build whose commit has the same loadgen/ tree as an
    approved commit is approved. A build whose sources first appeared before every approved tree is
    older than the round allows; one whose sources appeared after the newest approved commit is
    newer than the round; anything else is a revision the round's list does not name.
    """

    round: str | None = Field(
        None, description="the round this list was written for; a pack of another round that extends this one "
        "does not inherit the versions and approved commits (they are facts of one round)",
    )
    versions: list[str] = Field(
        default_factory=list, description="allowed version strings (the text before '@'); empty: any"
    )
    approved_commits: list[str] = Field(
        default_factory=list, description="commit ids (>= 10 hex digits) of the round's approved LoadGen revisions"
    )
    approved_source: str | None = Field(None, description="where the approved list comes from")
    compliance_accuracy_tests: list[str] = Field(
        default_factory=list,
        description="compliance tests whose accuracy/ folder holds an AccuracyOnly run (v0.5 TEST03); every "
        "other compliance log must be a performance-mode run",
    )


class Detection(Strict):
    loadgen_version_prefixes: list[str] = Field(
        default_factory=list,
        description="LoadGen versions of the round (text before '@'), matched by prefix; the longest match among "
        "rounds wins (6.0.16 is v6.1's, 6.0. v6.0's)",
    )
    seeds_match: bool = True
    compliance_dir: str | None = None


class EarlyStoppingRules(Strict):
    """Rounds since v2.0: early stopping replaces the fixed query minimums of these scenarios."""

    scenarios: list[str] = Field(description="LoadGen scenarios whose runs must meet early stopping")
    estimates: dict[str, str] = Field(
        default_factory=dict,
        description="LoadGen scenario -> detail key of the early-stopping latency estimate the result reports",
    )


class PowerRules(Strict):
    """Optional power results (PTDaemon): where the logs are and how the energy metric is computed."""

    power_dir: str = "performance/power"
    ranging_dir: str = "performance/ranging"
    power_files: list[str] = Field(
        default_factory=lambda: ["client.json", "client.log", "ptd_logs.txt", "server.json", "server.log"]
    )
    run_files: list[str] = Field(
        default_factory=lambda: ["mlperf_log_summary.txt", "mlperf_log_detail.txt", "spl.txt"],
        description="files of the ranging and the testing (performance/run_1) run",
    )
    utc_timestamps: bool = Field(True, description="spl.txt and power_begin/end are in the same time base")
    max_gap_s: float = Field(5.0, description="largest gap between power samples inside the measured window")


class EndpointsRules(Strict):
    """The "endpoints" harness: config.yaml and JSON results instead of LoadGen's logs."""

    config_files: list[str] = Field(default_factory=lambda: ["config.yaml", "config.yml"])
    performance_summary: str = "performance/result_summary.json"
    accuracy_results: str = "accuracy/accuracy_results.json"
    audit_dir: str = "audit"
    audit_tests: dict[str, str] = Field(
        default_factory=dict, description="compliance test -> the test name its audit_<name>.json carries"
    )
    benchmarks: list[str] = Field(default_factory=list, description="benchmarks that may use the harness")


class RulePack(Strict):
    round: str
    title: str
    extends: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    detection: Detection = Field(default_factory=Detection)
    log_format: Literal["text2019", "mllog"]
    layout: Layout
    seeds: dict[str, int]
    test05_seeds: dict[str, int] = Field(default_factory=dict)
    min_duration_ms: int
    offline_min_samples_per_query: int | None = None
    loadgen_error_ignore: list[str] = Field(default_factory=list)
    loadgen: LoadgenRules = Field(default_factory=LoadgenRules)
    system_description: SystemDescriptionRules
    measurements: MeasurementsRules
    accuracy: AccuracyRules
    compliance: ComplianceRules = Field(default_factory=ComplianceRules)
    metric: dict[str, MetricSource]
    inferred_metric: dict[str, MetricSource] = Field(default_factory=dict)
    inferred_scenarios: dict[str, list[str]] = Field(
        default_factory=dict, description="folder scenario -> log scenarios accepted as an inferred result"
    )
    scenario_runs_as: dict[str, str] = Field(
        default_factory=dict,
        description="folder scenario -> the LoadGen scenario it is run as (Interactive runs as Server); the "
        "result is the folder's own, not inferred",
    )
    early_stopping: EarlyStoppingRules | None = None
    power: PowerRules | None = None
    endpoints: EndpointsRules | None = None
    benchmarks: dict[str, Benchmark]
    rules: dict[str, RuleSetting] = Field(default_factory=dict)
    csv_columns: list[str] = Field(
        default_factory=list,
        description="the official checker's summary.csv header of the round, in order (--format csv)",
    )
    source_file: str | None = None

    # -- lookups used by the checks -------------------------------------------------------------
    def benchmark_match(self, folder: str) -> tuple[str | None, Benchmark | None, str]:
        """Map a benchmark folder to the round's benchmark: by name, alias, or name pattern.

        The third value says how it matched ('name', 'alias', 'pattern' or 'none'); the rounds'
        checkers read closed folders such as ``ssd-mobilenet-non-quantized`` by pattern too.
        """
        import re

        lowered = folder.lower()
        for name, bench in self.benchmarks.items():
            if lowered == name.lower():
                return name, bench, "name"
            if lowered in (alias.lower() for alias in bench.aliases):
                return name, bench, "alias"
        best: tuple[int, str, Benchmark] | None = None
        for name, bench in self.benchmarks.items():
            for pattern in bench.open_patterns:
                found = re.search(pattern, folder, re.IGNORECASE)
                if found and (best is None or len(found.group(0)) > best[0]):
                    best = (len(found.group(0)), name, bench)  # the most specific pattern wins
        if best is not None:
            return best[1], best[2], "pattern"
        return None, None, "none"

    def benchmark_for(self, folder: str, division: str) -> tuple[str | None, Benchmark | None]:
        name, bench, _ = self.benchmark_match(folder)
        return name, bench

    def setting(self, rule_id: str) -> RuleSetting | None:
        return self.rules.get(rule_id)

    def severity(self, rule_id: str, default: Severity) -> Severity | None:
        setting = self.rules.get(rule_id)
        if setting is None:
            return None
        if setting.severity == "off":
            return None
        return Severity(setting.severity) if setting.severity else default


def rules_dir() -> Path:
    return data_dir("rules")


def schema_path() -> Path:
    return data_dir("schemas") / "rulepack.schema.json"


def known_rounds(directory: Path | None = None) -> list[str]:
    directory = directory or rules_dir()
    return sorted((p.stem for p in directory.glob("*.yaml")), key=_round_sort_key)


def _round_sort_key(name: str) -> tuple[int, ...]:
    digits = [int(part) for part in name.lstrip("v").split(".") if part.isdigit()]
    return tuple(digits) if digits else (10_000,)


def _merge(base: Any, override: Any, replace: frozenset[str] = frozenset()) -> Any:
    """``override`` laid over ``base``: mappings merge key by key, anything else is replaced.

    The result shares its unchanged parts with both inputs (nothing is copied), so it is only ever
    handed out through :func:`_private_copy`, or typed into a model whose validation builds
    containers of its own (:func:`load_round_markers`)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if key in replace:
                merged[key] = value
            elif value is None:
                merged.pop(key, None)
            else:
                merged[key] = _merge(base.get(key), value)
        return merged
    return override


def _private_copy(data: Any) -> Any:
    """A deep copy of plain YAML data: containers are copied, scalars (immutable) shared. Several
    times faster than ``copy.deepcopy``, which also tracks shared references YAML data never needs."""
    if isinstance(data, dict):
        return {key: _private_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_private_copy(value) for value in data]
    if isinstance(data, set):
        return {_private_copy(value) for value in data}
    return data



#: parsed pack files of this process, by path: (text, mapping). The mappings are shared, never
#: mutated: the packs extend each other, so loading every round would otherwise parse v0.5.yaml and
#: merge its chain fifteen times
_PARSED: dict[str, tuple[str, dict[str, Any]]] = {}
#: merged packs of this process, by path: (the texts of the whole ``extends`` chain, merged mapping)
_MERGED: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}


def _yaml_loader() -> Any:
    """libyaml's safe loader when PyYAML was built with it (same documents, ~8x faster), else PyYAML's."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and (shared, read-only) mapping of one pack file: from the record of parsed packs
    when it holds this very text (:data:`PARSED_RECORD`), else parsed as YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{path}: cannot read rule pack: {exc}") from exc
    known = _PARSED.get(str(path))
    if known is not None and known[0] == text:
        return known
    recorded = _parsed_record(str(path.parent)).get(path.name)
    if recorded is not None and recorded[0] == _text_digest(text):
        _PARSED[str(path)] = (text, recorded[1])
        return text, recorded[1]
    import yaml  # here, not at import: a run whose packs come from the record or the cache reads no YAML

    try:
        data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise PackError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PackError(f"{path}: a rule pack must be a mapping at the top level")
    _PARSED[str(path)] = (text, data)
    return text, data


#: The shipped pack files already parsed, as JSON: ``{"format": 1, "files": {file name: {"sha256":
#: digest of its text, "data": its mapping}}}``. Every run without ``--cache`` loads all fifteen
#: packs to detect the round: read and merged from this record in 9 ms, against 32 ms importing PyYAML
#: and parsing the files. A file is used only for the exact text it was made from, so an edited or new pack is
#: parsed as YAML and the record can only save time. Generated by ``python -m checker.engine.rulepack
#: --parsed``, kept current by tests/test_cli_and_packs.py; a document JSON cannot hold exactly (a
#: date, a non-string key) is left out of it.
PARSED_RECORD = "parsed-packs.json"
_PARSED_FORMAT = 1


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=8)
def _parsed_record(directory: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """File name -> (text digest, mapping) from ``directory``'s record; empty when there is none or
    it cannot be used (the packs are then parsed as YAML)."""
    try:
        record = json.loads((Path(directory) / PARSED_RECORD).read_text(encoding="utf-8"))
        if record.get("format") != _PARSED_FORMAT:
            return {}
        return {name: (entry["sha256"], entry["data"]) for name, entry in record["files"].items()
                if isinstance(entry["sha256"], str) and isinstance(entry["data"], dict)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def parsed_record(directory: Path | None = None) -> str:
    """The text of :data:`PARSED_RECORD` for the pack files of ``directory`` (the shipped rules)."""
    import yaml

    folder = directory or rules_dir()
    files: dict[str, Any] = {}
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a safe loader
        if isinstance(data, dict) and _json_holds_exactly(data):
            files[path.name] = {"sha256": _text_digest(text), "data": data}
    return json.dumps({"format": _PARSED_FORMAT, "files": files}, ensure_ascii=False, indent=1) + "\n"


def _json_holds_exactly(data: Any) -> bool:
    """True when JSON gives back ``data`` with the same types and the same key order (``repr``
    tells 1 from 1.0 and True; a date or an integer key does not survive, or fails to encode)."""
    try:
        return repr(json.loads(json.dumps(data, ensure_ascii=False))) == repr(data)
    except (TypeError, ValueError):
        return False


def _shared_pack(name: str, directory: Path, seen: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(texts of the chain, merged mapping), the mapping shared by every caller in this process."""
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise PackError(f"unknown round {name!r}; known rounds: {', '.join(known_rounds(directory))}")
    if name in seen:
        raise PackError(f"{path}: 'extends' cycle: {' -> '.join((*seen, name))}")
    text, data = _read_yaml(path)
    parent = data.get("extends")
    if parent:
        if not isinstance(parent, str):
            raise PackError(f"{path}: key 'extends' must be a round name")
        replace = data.get("replace", []) or []
        if not isinstance(replace, list):
            raise PackError(f"{path}: key 'replace' must be a list of top-level keys")
        parent_texts, parent_pack = _shared_pack(parent, directory, (*seen, name))
    else:
        replace, parent_texts, parent_pack = [], (), None
    texts = (*parent_texts, text)
    known = _MERGED.get(str(path))
    if known is not None and known[0] == texts:
        return known
    own = {key: value for key, value in data.items() if key != "replace"}
    merged = _merge(parent_pack, own, frozenset(replace)) if parent_pack is not None else own
    merged["extends"] = parent
    merged["source_file"] = path.name
    _MERGED[str(path)] = (texts, merged)
    return texts, merged


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


def generated_schema() -> dict[str, Any]:
    """The JSON Schema of a merged pack, as written to schemas/rulepack.schema.json."""
    schema = RulePack.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mlperf-audit.invalid/schemas/rulepack.schema.json"
    return schema


@lru_cache(maxsize=32)
def load_pack(name: str, directory: str | None = None, schema_check: str = "unless-recorded") -> RulePack:
    """Load, merge and validate one round's pack. Raises :class:`PackError` naming file and key.

    ``schema_check``: ``"unless-recorded"`` skips the JSON-schema check of a shipped pack whose
    files and schema are exactly those the record of checked packs names (:data:`VALIDATED_RECORD`;
    the check, with importing jsonschema, was about 40 ms of every run without ``--cache``);
    ``"always"`` checks it in any case. The typed model and the rule IDs are checked either way."""
    folder = Path(directory) if directory else rules_dir()
    texts, merged = _shared_pack(name, folder, ())
    data = _private_copy(merged)
    path = folder / f"{name}.yaml"
    if schema_check == "always" or directory or _chain_digest(texts) not in _recorded_digests():
        _check_schema(data, path)
    pack = RulePack.model_validate(data)
    from checker.engine.registry import load_all_checks

    registry = load_all_checks()
    unknown = sorted(set(pack.rules) - set(registry))
    if unknown:
        raise PackError(f"{path}: key rules: unknown rule IDs {', '.join(unknown)}")
    return pack


def _check_schema(data: dict[str, Any], path: Path) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        key = ".".join(str(part) for part in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PackError(f"{path}: key {key}: {first.message}{more}")


#: the shipped packs that passed the pack schema, by the digest of what was checked (the schema and
#: every file of the pack's ``extends`` chain): generated by ``python -m checker.engine.rulepack``,
#: kept current by tests/test_cli_and_packs.py. A pack or schema edited since (a source checkout, an
#: installed copy changed by hand) has another digest and is checked on every load.
VALIDATED_RECORD = "validated-packs.sha256"


def validated_digest(name: str) -> str:
    """The digest of a shipped pack's chain of files and of the pack schema, as the record holds it."""
    return _chain_digest(_shared_pack(name, rules_dir(), ())[0])


def _chain_digest(texts: tuple[str, ...]) -> str:
    """:func:`validated_digest` of the texts of a pack's ``extends`` chain, as already read."""
    digest = hashlib.sha256(_schema_bytes())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8"))
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _schema_bytes() -> bytes:
    """The pack schema's file, read once per process (as :func:`_schema`, which checks with it)."""
    return schema_path().read_bytes()


def _recorded_digests() -> set[str]:
    try:
        lines = (rules_dir() / VALIDATED_RECORD).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def validated_record() -> str:
    """The record of every shipped pack, each checked against the schema first (raises PackError)."""
    lines = ["# shipped rule packs that passed schemas/rulepack.schema.json: sha256 of the schema and of",
             "# the pack's extends chain (checker.engine.rulepack.validated_digest); regenerate with",
             "# python -m checker.engine.rulepack > rules/validated-packs.sha256"]
    for name in known_rounds():
        load_pack(name, schema_check="always")
        lines.append(f"{validated_digest(name)}  {name}")
    return "\n".join(lines) + "\n"


class RoundMarkers(BaseModel):
    """What round detection compares of each shipped pack (:mod:`checker.engine.roundsel`): its seeds,
    log format, LoadGen versions and layout markers; the rest of the pack is ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    round: str
    detection: Detection = Field(default_factory=Detection)
    log_format: Literal["text2019", "mllog"]
    layout: Layout
    seeds: dict[str, int]


def load_round_markers(name: str) -> RoundMarkers:
    """A shipped round's :class:`RoundMarkers`, typed from its merged pack, not checked against the
    pack schema.

    For round detection, which compares every round: checking all fifteen packs against the JSON
    schema took about 0.15 s of every run, and a private copy of each whole pack typed as a
    :class:`RulePack` 15 ms more. The markers are typed straight from the shared merged mapping:
    validation builds the model's own containers and keeps no reference into the mapping. The pack
    a run then uses is always loaded with :func:`load_pack` (schema and rule IDs checked), so a bad
    pack still stops the run. Raises :class:`PackError` when the markers cannot be typed."""
    from pydantic import ValidationError

    try:
        return RoundMarkers.model_validate(_shared_pack(name, rules_dir(), ())[1])
    except ValidationError as exc:
        raise PackError(f"{name}.yaml: {exc.errors()[0].get('msg', 'invalid')}") from exc


#: the on-disk entries of :func:`load_pack_cached` start over when this changes
_PACK_CACHE_FORMAT = 1
_LOADED: dict[tuple[str, str], RulePack] = {}


def load_pack_cached(name: str, cache_dir: Path | None = None) -> RulePack:
    """:func:`load_pack` of a shipped round, through ``cache_dir/packs/`` when a cache folder is given.

    An entry holds the validated pack and the digest of the checker's sources and data folders
    (:func:`checker.engine.partition_cache.checker_digest`, which covers every pack file, the schema,
    the pack models and the rule registry), so it is used only by the checker that wrote it. A bad
    pack is never stored (it raises :class:`PackError` on every run); any cache error is a miss."""
    if cache_dir is None:
        return load_pack(name)
    from checker.engine.cache import read_entry, write_entry
    from checker.engine.partition_cache import checker_digest

    key = (str(cache_dir), name)
    if key in _LOADED:
        return _LOADED[key]
    entry = Path(cache_dir) / "packs" / f"{name}.pkl"
    try:
        digest = checker_digest()
    except Exception:  # noqa: BLE001 - a checker we cannot fingerprint loads its packs as usual
        return load_pack(name)
    try:
        stored_format, stored_digest, pack = read_entry(entry)
        if stored_format == _PACK_CACHE_FORMAT and stored_digest == digest and isinstance(pack, RulePack):
            _LOADED[key] = pack
            return pack
    except Exception:  # noqa: BLE001, S110 - a missing, stale or foreign entry is a miss
        pass
    pack = load_pack(name)
    write_entry(entry, (_PACK_CACHE_FORMAT, digest, pack))
    _LOADED[key] = pack
    return pack


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    print(parsed_record() if sys.argv[1:] == ["--parsed"] else validated_record(), end="")
