"""What the reports show about a result and its system besides findings, read from the parse cache.

The CSV summary, the Markdown report and the JSON document need a result's mapped benchmark, its
accuracy value(s) against the round's target, its latency percentiles and the system description's
summary fields. They are read here through the run's :class:`~checker.engine.evidence.Evidence`,
so a file the checks already parsed is not read again. Nothing here raises: a missing or odd file
gives ``None`` values (the rules report why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from checker.engine.context import Context
from checker.engine.metric import headline_run

#: System description keys the reports show (the official summary.csv's system columns).
SYSTEM_FIELDS = (
    "division",
    "submitter",
    "status",
    "system_type",
    "system_name",
    "number_of_nodes",
    "host_processor_model_name",
    "host_processors_per_node",
    "host_processor_core_count",
    "accelerator_model_name",
    "accelerators_per_node",
    "framework",
    "operating_system",
    "hw_notes",
    "sw_notes",
)

#: Latency percentiles read from the headline run's summary (the v0.5 converter's p50/p90/p99).
PERCENTILES = ("50.00", "90.00", "99.00")


@dataclass
class AccuracyFact:
    metric: str
    value: float
    raw: str
    path: str
    line: int | None
    target: float | None = None
    direction: str | None = None
    meets_target: bool | None = None


@dataclass
class ResultFacts:
    mlperf_benchmark: str | None = None
    benchmark_match: str = "none"
    accuracy: list[AccuracyFact] = field(default_factory=list)
    latency_ns: dict[str, float] = field(default_factory=dict)
    has_power: bool = False


@dataclass
class SystemFacts:
    path: str
    readable: bool
    fields: dict[str, str | None] = field(default_factory=dict)


def as_field_text(value: Any) -> str | None:
    """A system-description value as text: strings as written, numbers without noise, others as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.10g}"
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def _accuracy(ctx: Context) -> list[AccuracyFact]:
    name, bench = ctx.benchmark()
    if bench is None:
        return []
    path = ctx.accuracy_dir() / "accuracy.txt"
    model = ctx.model(path, "accuracy_txt")
    if model is None:
        return []
    out = []
    for target in bench.accuracy:
        records = model.values_of(target.metric, variant=ctx.pack.accuracy.metric_patterns.get(target.metric))
        if not records:
            continue
        record = records[0] if ctx.pack.accuracy.line_select == "first" else records[-1]
        meets = record.value >= target.target if target.direction == "min" else record.value <= target.target
        out.append(AccuracyFact(metric=target.metric, value=record.value, raw=record.raw, path=ctx.rel(path),
                                line=record.line, target=target.target, direction=target.direction,
                                meets_target=meets))
    return out


def _latencies(ctx: Context) -> dict[str, float]:
    run = headline_run(ctx)
    if run is None:
        return {}
    summary = ctx.summary(run)
    if summary is None:
        return {}
    out = {}
    for pct in PERCENTILES:
        entry = summary.number(f"{pct} percentile latency (ns)")
        if entry is not None:
            out[pct] = entry.value
    return out


def result_facts(ctx: Context) -> ResultFacts:
    """The facts of the context's result; parts that cannot be read are left empty."""
    assert ctx.unit is not None
    facts = ResultFacts()
    for part in ("benchmark", "accuracy", "latency", "power"):
        try:
            if part == "benchmark":
                name, _, how = ctx.pack.benchmark_match(ctx.unit.benchmark)
                facts.mlperf_benchmark, facts.benchmark_match = name, how
            elif part == "accuracy":
                facts.accuracy = _accuracy(ctx)
            elif part == "latency":
                facts.latency_ns = _latencies(ctx)
            else:
                facts.has_power = (ctx.unit.path / "performance" / "power").is_dir()
        except Exception:  # noqa: BLE001, S112 - a report extra never stops the run; the rules say why
            continue
    return facts


def system_facts(ctx: Context, system: str) -> SystemFacts | None:
    """The summary fields of one system description, as written (None when there is no path)."""
    try:
        path = ctx.system_json_path(system)
        if path is None:
            return None
        model = ctx.system_description(system)
    except Exception:  # noqa: BLE001 - a report extra never stops the run
        return None
    facts = SystemFacts(path=ctx.rel(path), readable=model is not None)
    for name in SYSTEM_FIELDS:
        value = None
        if model is not None:
            try:
                value = as_field_text(model.value(name))
            except Exception:  # noqa: BLE001
                value = None
        facts.fields[name] = value
    return facts
