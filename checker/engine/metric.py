"""The headline value of a result, read where the round's pack says it lives.

v0.5/v0.7 results carry their figures only in the summary text; from v1.0 the detail log's keys are
authoritative. Latencies are reported in the unit the round's official results use (ns in v0.5, ms
later) through the pack's ``scale``. An Offline folder holding a SingleStream run (the "inferred"
edge results of v0.7/v1.0) uses the pack's ``inferred_metric`` entry for that pair of scenarios.
Server results of v0.5/v0.7 have five runs; the value is the last valid run's, as the rounds did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checker.engine.rulepack import MetricSource

if TYPE_CHECKING:
    from checker.engine.context import Context


@dataclass
class Metric:
    value: float
    unit: str
    key: str
    path: str
    line: int | None
    inferred: bool = False


def run_is_valid(ctx: Context, run: Path) -> bool:
    detail = ctx.detail(run)
    if detail is not None and detail.value("result_validity") is not None:
        return str(detail.value("result_validity")).upper() == "VALID"
    summary = ctx.summary(run)
    return bool(summary is not None and summary.validity is not None and summary.validity.value == "VALID")


def log_scenario(ctx: Context, run: Path) -> str | None:
    detail = ctx.detail(run)
    if detail is not None:
        value = detail.value("effective_scenario")
        if isinstance(value, str):
            return value
    summary = ctx.summary(run)
    if summary is not None and summary.scenario is not None:
        return summary.scenario.value
    return None


def headline_run(ctx: Context) -> Path | None:
    """The run whose figure is the result: the last valid run, else the first run present."""
    runs = ctx.performance_runs()
    if not runs:
        return None
    valid = [run for run in runs if run_is_valid(ctx, run)]
    return valid[-1] if valid else runs[0]


def runs_as(ctx: Context, scenario: str | None) -> str | None:
    """The LoadGen scenario a folder scenario is run as (Interactive runs as Server since v5.0)."""
    if scenario is None:
        return None
    return ctx.pack.scenario_runs_as.get(scenario, scenario)


def metric_source(ctx: Context, run: Path) -> tuple[MetricSource | None, bool]:
    """The headline metric of the result's run: the benchmark's own (LLM tokens/s) for the folder
    scenario, else the round's; an inferred result's (a folder holding another scenario's run) from
    ``inferred_metric``. A folder run as another LoadGen scenario (Interactive as Server) is the
    folder's own result, not an inferred one."""
    unit = ctx.unit
    assert unit is not None
    folder = unit.scenario
    logged = log_scenario(ctx, run) or folder
    if folder and logged and logged != folder and logged != runs_as(ctx, folder):
        source = ctx.pack.inferred_metric.get(f"{folder}_from_{logged}")
        if source is not None:
            return source, True
    scenario = folder if folder and logged == runs_as(ctx, folder) else logged
    _, bench = ctx.benchmark()
    if bench is not None and scenario in bench.metric:
        return bench.metric[scenario], False
    return ctx.pack.metric.get(scenario or "") or ctx.pack.metric.get(logged or ""), False


def read_source(ctx: Context, run: Path, source: MetricSource) -> tuple[float, int | None, Path] | None:
    if source.source == "summary":
        path = run / "mlperf_log_summary.txt"
        summary = ctx.summary(run)
        entry = summary.number(source.key) if summary is not None else None
    else:
        path = run / "mlperf_log_detail.txt"
        detail = ctx.detail(run)
        entry = detail.number(source.key) if detail is not None else None
    if entry is None:
        return None
    return entry.value * source.scale, entry.line, path


def headline_metric(ctx: Context) -> Metric | None:
    run = headline_run(ctx)
    if run is None:
        return None
    source, inferred = metric_source(ctx, run)
    if source is None:
        return None
    read = read_source(ctx, run, source)
    if read is None:
        return None
    value, line, path = read
    return Metric(value=value, unit=source.unit, key=source.key, path=ctx.rel(path), line=line, inferred=inferred)
