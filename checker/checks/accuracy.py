"""A rules: the accuracy run of a result against the round's target and reporting rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.engine.context import Context
from checker.engine.loadgen_facts import loadgen_errors
from checker.engine.registry import Violation, rule

ACCURACY_SECTION = "Inference rules: benchmarks, quality targets (accuracy run on the full validation set)"


def accuracy_txt(ctx: Context) -> Any:
    return ctx.model(ctx.accuracy_dir() / "accuracy.txt", "accuracy_txt")


def metric_value(ctx: Context, model: Any, metric: str) -> Any:
    """The value the round counts for ``metric``: the first or the last matching line."""
    records = model.values_of(metric, variant=ctx.pack.accuracy.metric_patterns.get(metric))
    if not records:
        return None
    return records[0] if ctx.pack.accuracy.line_select == "first" else records[-1]


def targets_for(ctx: Context, bench: Any) -> list[Any]:
    """The benchmark's accuracy targets and upper limits that apply to this result's scenario."""
    scenario = ctx.unit.scenario if ctx.unit is not None else None
    return [t for t in bench.accuracy if t.scenarios is None or scenario in t.scenarios]


def _targets_apply(ctx: Context) -> bool:
    unit = ctx.unit
    assert unit is not None
    return unit.division == "closed" or ctx.pack.accuracy.applies_to_open


def _claimed(ctx: Context) -> tuple[Any, str, list]:
    """accuracy.txt's model, its path, and the targets it is held to (none when they do not apply)."""
    _, bench = ctx.benchmark()
    model = accuracy_txt(ctx)
    path = ctx.rel(ctx.accuracy_dir() / "accuracy.txt")
    if bench is None or model is None or not _targets_apply(ctx):
        return model, path, []
    return model, path, list(targets_for(ctx, bench))


@rule(
    "A001",
    title="Accuracy value not found",
    scope="result",
    what="accuracy.txt holds no line with the benchmark's accuracy metric in the format the round "
    "reads (e.g. 'accuracy=76.482%', 'mAP=22.9', 'BLEU: 23.9', the F1 dictionary of SQuAD).",
    why="Without the metric line the result's quality cannot be established.",
    section=ACCURACY_SECTION,
    fix="Write accuracy.txt with the output of the benchmark's reference accuracy script, unchanged.",
)
def accuracy_present(ctx: Context) -> Iterator[Violation]:
    model, path, targets = _claimed(ctx)
    for target in targets:
        if metric_value(ctx, model, target.metric) is None:
            yield Violation(f"no {target.metric} value in accuracy.txt", path=path,
                            expected=f"a {target.metric} line", found="none")


@rule(
    "A002",
    title="Accuracy below the target",
    scope="result",
    what="The accuracy reported in accuracy.txt is below the benchmark's quality target (a fraction "
    "of the FP32 reference, e.g. 99 %), or above one of its upper limits (since v4.0: SDXL's CLIP and "
    "FID bands; the LLMs' tokens per sample or generation length within 90-110 % of the reference). "
    "Targets may differ per scenario (Qwen3-VL Interactive).",
    why="Closed-division results must reach the target quality; performance without it is not "
    "comparable.",
    section=ACCURACY_SECTION,
    fix="Improve the model's accuracy (calibration, numerics) or submit in the open division.",
)
def accuracy_target(ctx: Context) -> Iterator[Violation]:
    model, path, targets = _claimed(ctx)
    for target in targets:
        record = metric_value(ctx, model, target.metric)
        if record is None:
            continue
        ok = record.value >= target.target if target.direction == "min" else record.value <= target.target
        if not ok:
            sign = ">=" if target.direction == "min" else "<="
            yield Violation(f"{target.metric} {record.value:g} misses the target", path=path, line=record.line,
                            expected=f"{sign} {target.target:g}", found=f"{record.value:g}")


@rule(
    "A004",
    title="Accuracy log hash missing",
    scope="result",
    what="accuracy.txt has no 'hash=<sha256>' line recording the hash of the full accuracy log "
    "(required since v0.7, when published accuracy logs are truncated).",
    why="The hash is the only link between the truncated published log and the run's full output.",
    section="Submission rules: truncation of mlperf_log_accuracy.json (truncate_accuracy_log.py)",
    fix="Run the round's truncate_accuracy_log.py on the submission: it appends the hash and truncates.",
)
def hash_present(ctx: Context) -> Iterator[Violation]:
    model = accuracy_txt(ctx)
    if model is None or not ctx.pack.accuracy.hash_required:
        return
    if model.hash is None and not model.hash_fused:
        yield Violation("no hash= line in accuracy.txt", path=ctx.rel(ctx.accuracy_dir() / "accuracy.txt"),
                        expected="hash=<sha256 of mlperf_log_accuracy.json>", found="none")


@rule(
    "A006",
    title="Accuracy log hash fused with another line",
    scope="result",
    what="The 'hash=' text is glued to the end of the previous line of accuracy.txt (the v1.0 "
    "truncation tool appended it without a newline), so the line-anchored hash is missing.",
    why="The round's checker only accepts a hash on its own line; the published hash cannot be read.",
    section="Submission rules: truncation of mlperf_log_accuracy.json",
    fix="Put a line break before 'hash=' in accuracy.txt.",
)
def hash_fused(ctx: Context) -> Iterator[Violation]:
    model = accuracy_txt(ctx)
    if model is None or not ctx.pack.accuracy.hash_required:
        return
    if model.hash is None and model.hash_fused:
        yield Violation("hash= is fused onto the previous line", path=ctx.rel(ctx.accuracy_dir() / "accuracy.txt"),
                        line=model.hash_fused_line, expected="hash=… on its own line", found="fused")


@rule(
    "A005",
    title="Accuracy log not truncated",
    scope="result",
    what="accuracy/mlperf_log_accuracy.json is larger than the round allows for a published log "
    "(10 KiB since v0.7).",
    why="Published trees carry the truncated log plus its hash; a full log means the truncation step "
    "(and its hash) was skipped.",
    section="Submission rules: truncation of mlperf_log_accuracy.json",
    fix="Run the round's truncate_accuracy_log.py on the submission.",
)
def log_truncated(ctx: Context) -> Iterator[Violation]:
    limit = ctx.pack.accuracy.max_log_bytes
    path = ctx.accuracy_dir() / "mlperf_log_accuracy.json"
    if limit is None or not path.is_file():
        return
    size = path.stat().st_size
    if size > limit:
        yield Violation("accuracy log larger than the published limit", path=ctx.rel(path),
                        expected=f"<= {limit} bytes", found=f"{size} bytes")


@rule(
    "A007",
    title="LoadGen errors in the accuracy log",
    scope="result",
    what="The accuracy run's detail log records LoadGen errors other than those the round tolerates.",
    why="An accuracy run with LoadGen errors may not have covered the data set as configured.",
    section="Inference rules: LoadGen must be used unmodified; LoadGen errors",
    fix="Fix the cause LoadGen names and rerun the accuracy test.",
)
def accuracy_errors(ctx: Context) -> Iterator[Violation]:
    yield from loadgen_errors(ctx, ctx.accuracy_dir())
