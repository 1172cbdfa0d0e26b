"""A rules (from A008): what the accuracy log itself shows, against accuracy.txt and the round's data set.

* Coverage (A008, A009, A014): a complete accuracy-mode log must hold every ``qsl_idx`` of the
  round's data set (``benchmarks.<name>.dataset_size`` in the pack) once; the QSL size LoadGen
  logged for the accuracy run must be the data set's.
* Hash (A010): where the log is complete, ``hash=`` in accuracy.txt must be its SHA-256.
* Recomputation (A011, A012, A013): a benchmark whose pack entry names an accuracy plug-in
  (``recompute``; see :mod:`checker.metrics`) has its metric recomputed from the log and the
  annotation file (``check --annotations imagenet=val_map.txt``, or the tree's own copy when its
  SHA-256 is the official file's). A claim further from the recomputed value than the rounding of five
  significant figures (or of the digits it prints, when it prints fewer) is an error; a recomputed
  value below the target is an error. Published trees since v0.7 carry a truncated log: then A013
  says once per result that nothing could be recomputed (with the figure of the visible entries).

Entries are counted as the official accuracy scripts count them: the first entry of each ``qsl_idx``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.discover import inside_tree
from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.metrics.base import (
    AnnotationError,
    LogEntries,
    Score,
    ScoreError,
    get_plugin,
    printed_tolerance,
    significant_tolerance,
)
from checker.parse.base import file_sha256

ACCURACY_SECTION = "Inference rules: quality targets; 'the accuracy test must be run with one copy of the " \
    "MLPerf specified validation dataset'; results reported to five significant figures"
LOG_NAME = "mlperf_log_accuracy.json"
_MISSING_SHOWN = 8


# --------------------------------------------------------------------------------------------------
# Shared per-run state: one recomputation per result, annotation files loaded once


_STATE: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _state(ctx: Context) -> dict[Any, Any]:
    return _STATE.setdefault(ctx.evidence, {})


def _log(ctx: Context) -> tuple[Path, Any]:
    path = ctx.accuracy_dir() / LOG_NAME
    return path, ctx.model(path, "accuracy_log")


def _complete(model: Any) -> bool:
    return bool(model is not None and model.complete_json and not model.truncated and not model.partial)


def _txt(ctx: Context) -> Any:
    return ctx.model(ctx.accuracy_dir() / "accuracy.txt", "accuracy_txt")


def _claim(ctx: Context, metric: str) -> Any:
    model = _txt(ctx)
    if model is None:
        return None
    records = model.values_of(metric, variant=ctx.pack.accuracy.metric_patterns.get(metric))
    if not records:
        return None
    return records[0] if ctx.pack.accuracy.line_select == "first" else records[-1]


def _targets_apply(ctx: Context) -> bool:
    assert ctx.unit is not None
    return ctx.unit.division == "closed" or ctx.pack.accuracy.applies_to_open


def log_entries(path: Path) -> LogEntries:
    """The first entry of every qsl_idx of the log at ``path``, in file order."""
    import numpy as np

    from checker.parse.accuracy_log import iter_entries

    seen: set[int] = set()
    qsl: list[int] = []
    payloads: list[bytes] = []
    lines: list[int] = []
    duplicates = 0
    for entry in iter_entries(path):
        if entry.qsl_idx in seen:
            duplicates += 1
            continue
        seen.add(entry.qsl_idx)
        qsl.append(entry.qsl_idx)
        payloads.append(entry.data)
        lines.append(entry.line)
    return LogEntries(qsl_idx=np.asarray(qsl, dtype=np.int64), payloads=payloads, lines=lines, duplicates=duplicates)


#: Annotations read per process by (plugin, SHA-256 of the file): each submitter of a round keeps its
#: own copy of e.g. ImageNet's val_map.txt (50,000 lines), byte for byte the same. Few, small entries.
_LOADED_BY_CONTENT: dict[tuple[str, str], Any] = {}


def _loaded(plugin: Any, plugin_name: str, path: Path, digest: str | None) -> Any:
    """``plugin.load_annotations(path)``, read once per distinct content (errors are not kept)."""
    if digest is None:  # unreadable: nothing to recognise it by
        return plugin.load_annotations(path)
    key = (plugin_name, digest)
    loaded = _LOADED_BY_CONTENT.get(key)
    if loaded is None:
        loaded = plugin.load_annotations(path)
        if len(_LOADED_BY_CONTENT) >= 8:
            _LOADED_BY_CONTENT.clear()
        _LOADED_BY_CONTENT[key] = loaded
    return loaded


@dataclass
class Annotations:
    path: Path
    shown: str
    data: Any
    official: bool | None  # None: the pack knows no official hash


@dataclass
class Outcome:
    """What recomputing one result gave: a score, or why there is none (and how bad that is)."""

    score: Score | None = None
    reason: str | None = None
    severity: Severity = Severity.INFO
    annotations: Annotations | None = None
    partial: Score | None = None


def _annotation_file(ctx: Context, spec: Any) -> tuple[Annotations | None, str | None, Severity]:
    """The annotation file to use: the user's, else a tree copy whose hash is the official one."""
    plugin = get_plugin(spec.plugin)
    assert plugin is not None
    given = (ctx.options.get("annotations") or {}).get(spec.dataset)
    candidates: list[tuple[Path, str, bool]] = []
    if given:
        candidates.append((Path(given), str(given), True))
    submission = ctx.unit.submission if ctx.unit else None
    if submission is not None:
        for rel in spec.tree_files:
            candidates.append((submission.path / rel, ctx.rel(submission.path / rel), False))
    rejected = []
    for path, shown, from_user in candidates:
        if not path.is_file():
            if from_user:
                return None, f"the {spec.dataset} annotation file {shown} does not exist", Severity.WARNING
            continue
        if not from_user and not inside_tree(ctx.tree.root, path):
            rejected.append(f"{shown} is a symlink pointing outside the tree (not followed)")
            continue
        cache = _state(ctx).setdefault("annotations", {})
        key = (spec.plugin, str(path))
        if key not in cache:
            digest = file_sha256(path)
            official = None if not spec.known_sha256 else digest in spec.known_sha256
            if not from_user and official is False:
                cache[key] = (None, f"{shown} is not the official {spec.dataset} file (sha256 {digest})")
            else:
                try:
                    cache[key] = (Annotations(path, shown, _loaded(plugin, spec.plugin, path, digest), official), None)
                except AnnotationError as exc:
                    cache[key] = (None, str(exc))
        found, problem = cache[key]
        if found is not None:
            return found, None, Severity.INFO
        if from_user:
            return None, f"the {spec.dataset} annotation file cannot be used: {problem}", Severity.WARNING
        rejected.append(problem)
    if rejected:
        return None, f"the tree's copy cannot be trusted: {rejected[0]}; pass `--annotations {spec.dataset}=PATH`", \
            Severity.WARNING
    return None, (f"no {spec.dataset} annotations: pass `mlperf-audit check --annotations {spec.dataset}=PATH` "
                  f"(e.g. {spec.tree_files[0] if spec.tree_files else 'the data set file'})"), Severity.INFO


def recompute(ctx: Context) -> Outcome | None:
    """Recompute the result's accuracy (cached per result). None: nothing to do (no log, no benchmark)."""
    unit = ctx.unit
    assert unit is not None
    cache = _state(ctx).setdefault("results", {})
    if unit.rel in cache:
        return cache[unit.rel]
    cache[unit.rel] = outcome = _recompute(ctx)
    return outcome


def _recompute(ctx: Context) -> Outcome | None:
    name, bench = ctx.benchmark()
    path, model = _log(ctx)
    if bench is None or model is None:
        return None
    spec = bench.recompute
    if spec is None:
        metrics = ", ".join(t.metric for t in bench.accuracy) or "its metric"
        why = f"no accuracy plug-in for {name} ({metrics})"
        if not _complete(model):
            why += "; the accuracy log is truncated anyway"
        return Outcome(reason=why)
    plugin = get_plugin(spec.plugin)
    if plugin is None:
        return Outcome(reason=f"accuracy plug-in {spec.plugin!r} is not installed", severity=Severity.WARNING)
    annotations, problem, severity = _annotation_file(ctx, spec)
    if not _complete(model):
        outcome = Outcome(reason=_truncation_text(model), annotations=annotations)
        if annotations is not None and model.entry_count:
            try:
                outcome.partial = plugin.score(log_entries(path), annotations.data, bench.dataset_size)
            except ScoreError:
                outcome.partial = None
        return outcome
    if annotations is None:
        return Outcome(reason=problem, severity=severity)
    entries = log_entries(path)
    try:
        score = plugin.score(entries, annotations.data, bench.dataset_size)
    except ScoreError as exc:
        return Outcome(reason=f"the log's outputs cannot be scored: {exc}", severity=Severity.WARNING,
                       annotations=annotations)
    return Outcome(score=score, annotations=annotations)


def _truncation_text(model: Any) -> str:
    if model.truncated:
        return (f"the accuracy log is the published truncated copy ({model.entry_count} entries visible of the "
                "full run); coverage, hash and accuracy cannot be recomputed from it")
    return f"the accuracy log is incomplete ({model.entry_count} entries readable); nothing recomputed"


def _labels_note(outcome: Outcome) -> str:
    ann = outcome.annotations
    if ann is None:
        return ""
    flag = "" if ann.official in (None, True) else ", NOT the official file"
    return f"; labels {ann.shown}{flag}"


# --------------------------------------------------------------------------------------------------
# Rules


@rule(
    "A008",
    title="Accuracy log does not cover the data set",
    scope="result",
    what="A complete accuracy-mode log (accuracy/mlperf_log_accuracy.json) lacks samples of the round's "
    "data set (its qsl_idx values do not cover 0 … dataset_size-1), or holds indices beyond it. The data "
    "set sizes are in the rule pack (ImageNet 50,000, COCO 5,000, …).",
    why="The accuracy run must score one full copy of the validation set; a subset can hide the samples "
    "a system gets wrong.",
    section=ACCURACY_SECTION,
    fix="Rerun the accuracy test with the whole data set (no accuracy_sample_count override) and ship "
    "the complete log (or its truncated copy with the hash of the complete one).",
)
def coverage(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    path, model = _log(ctx)
    if bench is None or bench.dataset_size is None or not _complete(model):
        return
    import numpy as np

    size = bench.dataset_size
    idx = np.asarray(model.qsl_idx, dtype=np.int64)
    present = np.zeros(size, dtype=bool)  # one flag per sample: linear, unlike sorting the indices
    present[idx[(idx >= 0) & (idx < size)]] = True
    found = int(np.count_nonzero(present))
    missing = size - found
    beyond = int(np.count_nonzero(idx >= size))
    rel = ctx.rel(path)
    if missing:
        first = np.flatnonzero(~present)[:_MISSING_SHOWN].tolist()
        more = "…" if missing > len(first) else ""
        yield Violation(f"{missing} of the {size} samples are not in the accuracy log (e.g. qsl_idx "
                        f"{', '.join(map(str, first))}{more}); {model.entry_count} entries, "
                        f"{model.unique_qsl_count} distinct", path=rel,
                        expected=f"qsl_idx 0..{size - 1}, each once", found=f"{found} distinct in range")
    if beyond:
        yield Violation(f"{beyond} entries have a qsl_idx beyond the data set (max {model.max_qsl_idx})", path=rel,
                        expected=f"qsl_idx < {size}", found=str(model.max_qsl_idx))


@rule(
    "A009",
    title="Samples repeated in the accuracy log",
    scope="result",
    what="A complete accuracy-mode log holds more than one entry for some qsl_idx.",
    why="An accuracy run scores each sample once; repeats come from a harness that re-issued samples "
    "(or from 2019 LoadGen padding MultiStream queries). Scoring keeps each sample's first entry, as the "
    "official accuracy scripts do, so repeats cannot raise the score, but they show the run was not a "
    "plain single pass.",
    section=ACCURACY_SECTION,
    fix="Make the harness complete each sample exactly once in accuracy mode.",
    severity=Severity.WARNING,
)
def duplicates(ctx: Context) -> Iterator[Violation]:
    path, model = _log(ctx)
    if not _complete(model) or not model.duplicate_qsl_count:
        return
    if _multistream_padding(ctx, model):
        return
    from checker.parse.accuracy_log import iter_entries

    seen: set[int] = set()
    line = None
    for entry in iter_entries(path):
        if entry.qsl_idx in seen:
            line = entry.line
            break
        seen.add(entry.qsl_idx)
    yield Violation(f"{model.duplicate_qsl_count} entries repeat a qsl_idx ({model.entry_count} entries for "
                    f"{model.unique_qsl_count} samples); each sample is scored once, by its first entry",
                    path=ctx.rel(path), line=line, expected="each qsl_idx once",
                    found=f"{model.duplicate_qsl_count} repeats")


def _multistream_padding(ctx: Context, model) -> bool:
    """MultiStream accuracy runs fill their last query up to samples_per_query with repeated samples
    (LoadGen 6.x: 500 samples at 8 per query give 504 entries); such repeats are expected."""
    detail = ctx.detail(ctx.accuracy_dir())
    if detail is None or detail.value("effective_scenario") != "MultiStream":
        return False
    per_query = detail.integer("effective_samples_per_query")
    if per_query is None or per_query.value <= 1:
        return False
    samples = model.unique_qsl_count
    padded = -(-samples // per_query.value) * per_query.value
    return model.entry_count == padded and model.duplicate_qsl_count == padded - samples


@rule(
    "A010",
    title="Accuracy log hash does not match the log",
    scope="result",
    what="accuracy.txt's 'hash=' is not the SHA-256 of accuracy/mlperf_log_accuracy.json, where that log "
    "is complete (not the published truncated copy, whose hash is that of the full file).",
    why="The hash ties accuracy.txt to the outputs it was computed from; a mismatch means the score "
    "belongs to another log.",
    section="Submission rules: truncation of mlperf_log_accuracy.json (hash of the full log in accuracy.txt)",
    fix="Recompute accuracy.txt from this log with the benchmark's accuracy script and the round's "
    "truncation tool.",
)
def hash_matches(ctx: Context) -> Iterator[Violation]:
    path, model = _log(ctx)
    txt = _txt(ctx)
    if txt is None or not _complete(model):
        return
    claimed = txt.hash_value()
    if claimed is None:
        return
    rel = ctx.rel(ctx.accuracy_dir() / "accuracy.txt")
    actual = model.content_sha256()
    if claimed.value.lower() != actual:
        yield Violation("hash= in accuracy.txt is not the SHA-256 of the accuracy log", path=rel, line=claimed.line,
                        expected=actual, found=claimed.value)
    else:
        yield Violation("hash= in accuracy.txt equals the SHA-256 of the complete accuracy log", path=rel,
                        line=claimed.line, severity=Severity.INFO)


@rule(
    "A011",
    title="Claimed accuracy not supported by the accuracy log",
    scope="result",
    what="The accuracy recomputed from the complete accuracy log and the data set's annotations (ImageNet "
    "top-1 from val_map.txt; other metrics through accuracy plug-ins) differs from accuracy.txt's value "
    "by more than the rounding of five significant figures (or of the digits the claim prints). The "
    "output encoding (int32/int64/float class index, 1000/1001 scores, 0- or 1-based) is detected from "
    "the data and named. A supported claim gets an info finding with both figures.",
    why="accuracy.txt is written by the submitter; the log holds every output, so the figure can be "
    "checked. No official checker recomputes it.",
    section=ACCURACY_SECTION,
    fix="Regenerate accuracy.txt from this log with the benchmark's reference accuracy script, unchanged.",
)
def claim_supported(ctx: Context) -> Iterator[Violation]:
    outcome = recompute(ctx)
    if outcome is None or outcome.score is None:
        return
    score = outcome.score
    rel_txt = ctx.rel(ctx.accuracy_dir() / "accuracy.txt")
    figure = f"{score.value:#.5g} ({score.detail}; {score.encoding}{_labels_note(outcome)})"
    record = _claim(ctx, score.metric)
    if record is None:
        yield Violation(f"recomputed {score.metric} = {figure}; accuracy.txt states no {score.metric} value",
                        path=ctx.rel(ctx.accuracy_dir() / LOG_NAME), severity=Severity.INFO)
        return
    tolerance = max(significant_tolerance(score.value), printed_tolerance(record.raw)) * (1 + 1e-9)
    difference = record.value - score.value
    counts = ""
    txt = _txt(ctx)
    stated = [c for c in (txt.counts if txt is not None else []) if c.line == record.line]
    if stated and "good" in score.counts:
        c = stated[0]
        if (c.good, c.total) != (score.counts["good"], score.counts["total"]):
            counts = f"; it states good={c.good}, total={c.total}"
    if abs(difference) > tolerance or not math.isfinite(record.value):
        yield Violation(f"accuracy.txt claims {score.metric} {record.raw} but the accuracy log gives {figure}{counts}",
                        path=rel_txt, line=record.line, expected=f"{score.value:#.5g} (± {tolerance:.2g})",
                        found=record.raw)
    else:
        yield Violation(f"recomputed {score.metric} = {figure} supports the claimed {record.raw}{counts}",
                        path=rel_txt, line=record.line, severity=Severity.INFO)


@rule(
    "A012",
    title="Recomputed accuracy below the target",
    scope="result",
    what="The accuracy recomputed from the accuracy log is below the benchmark's quality target, whatever "
    "accuracy.txt says.",
    why="The target applies to what the system computed, not to what was written down.",
    section=ACCURACY_SECTION,
    fix="Improve the model's accuracy or submit in the open division.",
)
def recomputed_target(ctx: Context) -> Iterator[Violation]:
    outcome = recompute(ctx)
    _, bench = ctx.benchmark()
    if outcome is None or outcome.score is None or bench is None or not _targets_apply(ctx):
        return
    score = outcome.score
    for target in bench.accuracy:
        if target.metric != score.metric:
            continue
        ok = score.value >= target.target if target.direction == "min" else score.value <= target.target
        if not ok:
            sign = ">=" if target.direction == "min" else "<="
            yield Violation(f"recomputed {score.metric} {score.value:#.5g} ({score.detail}) misses the target",
                            path=ctx.rel(ctx.accuracy_dir() / LOG_NAME), expected=f"{sign} {target.target:g}",
                            found=f"{score.value:#.5g}")


@rule(
    "A013",
    title="Accuracy not recomputed",
    scope="result",
    what="Says once per result why its accuracy could not be recomputed from the accuracy log: the log is "
    "the published truncated copy (v0.7 onward), no annotation file was given, the benchmark has no "
    "accuracy plug-in, or the outputs could not be interpreted. For a truncated classification log the "
    "score of the visible entries is given for information.",
    why="A reviewer must know which claims were verified and which were only read.",
    section=ACCURACY_SECTION,
    fix="Pass the annotations (`--annotations imagenet=val_map.txt`) or run the check on the complete "
    "log before truncation.",
    severity=Severity.INFO,
)
def not_recomputed(ctx: Context) -> Iterator[Violation]:
    outcome = recompute(ctx)
    if outcome is None or outcome.score is not None or outcome.reason is None:
        return
    message = f"accuracy not recomputed: {outcome.reason}"
    if outcome.partial is not None:
        p = outcome.partial
        message += f" (the visible entries score {p.value:.4g}: {p.detail}; {p.encoding})"
    yield Violation(message, path=ctx.rel(ctx.accuracy_dir() / LOG_NAME), severity=outcome.severity)


@rule(
    "A014",
    title="Accuracy run's QSL is not the data set",
    scope="result",
    what="The QSL size LoadGen logged for the accuracy run (qsl_reported_total_count / 'QSL total size') "
    "differs from the round's data-set size for the benchmark.",
    why="The accuracy run must use the whole validation set; the QSL size is what the harness reported "
    "to LoadGen (e.g. 4,952 COCO images instead of 5,000 means images without annotations were dropped).",
    section=ACCURACY_SECTION,
    fix="Load the complete validation set into the QSL for the accuracy run.",
    severity=Severity.WARNING,
)
def qsl_size(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    detail = ctx.detail(ctx.accuracy_dir())
    if bench is None or bench.dataset_size is None or detail is None:
        return
    entry = detail.integer("qsl_reported_total_count")
    if entry is None or entry.value == bench.dataset_size:
        return
    yield Violation(f"the accuracy run's QSL holds {entry.value} samples, the data set {bench.dataset_size}",
                    path=ctx.rel(ctx.accuracy_dir() / "mlperf_log_detail.txt"), line=entry.line,
                    expected=bench.dataset_size, found=entry.value)
