"""P rules: the performance runs' LoadGen logs against the round's settings and bounds.

Settings are read from the detail log's ``effective_*`` keys (both log generations map onto them;
for the 2019 text logs the summary's "Test Parameters Used" is the fallback), validity from
``result_validity`` or the summary's ``Result is`` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checker.engine.context import Context
from checker.engine.loadgen_facts import loadgen_errors
from checker.engine.metric import headline_metric, log_scenario, runs_as
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.parse.base import Sourced

SCENARIO_SECTION = "Inference rules: scenarios (query counts, durations, latency bounds)"

# summary "Test Parameters Used" names for the detail keys, for the 2019 text logs
_SUMMARY_PARAMS = {
    "effective_min_query_count": "min_query_count",
    "effective_min_duration_ms": "min_duration (ms)",
    "effective_samples_per_query": "samples_per_query",
    "effective_performance_sample_count": "performance_sample_count",
    "effective_qsl_rng_seed": "qsl_rng_seed",
    "effective_sample_index_rng_seed": "sample_index_rng_seed",
    "effective_schedule_rng_seed": "schedule_rng_seed",
}


def setting(ctx: Context, run: Path, key: str) -> tuple[Sourced[Any] | None, Path]:
    """A run's effective setting: the detail log's key, else the summary's test parameter."""
    detail = ctx.detail(run)
    if detail is not None:
        entry = detail.integer(key) or detail.number(key)
        if entry is not None:
            return entry, run / "mlperf_log_detail.txt"
    summary = ctx.summary(run)
    name = _SUMMARY_PARAMS.get(key)
    if summary is not None and name is not None:
        raw = summary.parameter(name)
        if raw is not None:
            text = raw.value.strip()
            value: Any = int(text) if text.lstrip("-").isdigit() else summary.parameter_number(name)
            if isinstance(value, Sourced):
                return value, run / "mlperf_log_summary.txt"
            if value is not None:
                return Sourced[Any](value=value, line=raw.line), run / "mlperf_log_summary.txt"
    return None, run / "mlperf_log_detail.txt"


def validity(ctx: Context, run: Path) -> tuple[str | None, int | None, Path]:
    detail = ctx.detail(run)
    if detail is not None and detail.get("result_validity") is not None:
        entry = detail.get("result_validity")
        return str(entry.value).upper(), entry.line, run / "mlperf_log_detail.txt"
    summary = ctx.summary(run)
    if summary is not None and summary.validity is not None:
        return summary.validity.value, summary.validity.line, run / "mlperf_log_summary.txt"
    return None, None, run / "mlperf_log_summary.txt"


def _runs(ctx: Context) -> list[Path]:
    return ctx.performance_runs()


@rule(
    "P001",
    title="LoadGen reported the run INVALID",
    scope="result",
    what="A performance run's LoadGen result is not VALID (result_validity, or 'Result is :' in the "
    "summary).",
    why="LoadGen marks a run INVALID when the minimum duration, the minimum query count, early "
    "stopping or the latency constraint was not met; such a run cannot be a result.",
    section=SCENARIO_SECTION,
    fix="Rerun with settings that satisfy LoadGen (see the summary's 'Recommendations'); never edit "
    "the logs.",
)
def run_validity(ctx: Context) -> Iterator[Violation]:
    for run in _runs(ctx):
        value, line, path = validity(ctx, run)
        if value is None:
            if ctx.summary(run) is not None or ctx.detail(run) is not None:
                yield Violation("the run's validity cannot be read", path=ctx.rel(path), expected="VALID",
                                found="no validity line")
            continue
        if value != "VALID":
            summary = ctx.summary(run)
            reasons = [r.value for r in summary.recommendations] if summary is not None else []
            unmet = [k for k, v in (summary.satisfied.items() if summary is not None else []) if not v.value]
            detail = "; ".join(unmet + reasons)
            yield Violation(f"LoadGen result is {value}" + (f" ({detail})" if detail else ""), path=ctx.rel(path),
                            line=line, expected="VALID", found=value)


@rule(
    "P002",
    title="LoadGen errors in a performance log",
    scope="result",
    what="A performance run's detail log records errors (metadata is_error, or 'ERROR :' lines), "
    "other than those the round tolerates.",
    why="LoadGen errors mean the run did not go as configured (queries ran out, settings were "
    "rejected, LoadGen was modified); LoadGen's own validity flag ignores them.",
    section="Inference rules: LoadGen must be used unmodified; LoadGen errors",
    fix="Fix the cause LoadGen names and rerun.",
)
def performance_errors(ctx: Context) -> Iterator[Violation]:
    for run in _runs(ctx):
        yield from loadgen_errors(ctx, run)


@rule(
    "P003",
    title="Scenario of the log differs from its folder",
    scope="result",
    what="The scenario LoadGen ran (effective_scenario, or the summary's Scenario) is not the scenario "
    "of the folder, and the round does not allow inferring this scenario from that one.",
    why="A result is held to its scenario's rules; a log from another scenario proves nothing about it.",
    section="Inference rules: scenarios; edge results inferred from SingleStream (v0.7, v1.0)",
    fix="Move the logs to the folder of the scenario that was run, or rerun the folder's scenario.",
)
def scenario_match(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    folder = unit.scenario
    if folder is None:
        return
    allowed = ctx.pack.inferred_scenarios.get(folder, [])
    for run in _runs(ctx):
        logged = log_scenario(ctx, run)
        if logged is None or logged == folder or logged in allowed or logged == runs_as(ctx, folder):
            continue
        detail = ctx.detail(run)
        entry = detail.get("effective_scenario") if detail is not None else None
        path = run / ("mlperf_log_detail.txt" if entry else "mlperf_log_summary.txt")
        line = entry.line if entry else None
        yield Violation(f"log scenario {logged} in a {unit.scenario_folder} folder", path=ctx.rel(path), line=line,
                        expected=folder, found=logged)


def _mode_of(ctx: Context, folder: Path) -> tuple[str | None, int | None, Path]:
    detail = ctx.detail(folder)
    if detail is not None and detail.get("effective_test_mode") is not None:
        entry = detail.get("effective_test_mode")
        return str(entry.value), entry.line, folder / "mlperf_log_detail.txt"
    summary = ctx.summary(folder)
    if summary is not None and summary.mode is not None:
        return summary.mode.value, summary.mode.line, folder / "mlperf_log_summary.txt"
    return None, None, folder / "mlperf_log_detail.txt"


@rule(
    "P004",
    title="Test mode of the log differs from its folder",
    scope="result",
    what="A performance run's log was not made in PerformanceOnly (or SubmissionRun) mode, or the "
    "accuracy folder's log not in AccuracyOnly (or SubmissionRun) mode.",
    why="A performance folder holding an accuracy-mode log (or the reverse) means the result was "
    "assembled from the wrong runs.",
    section="Inference rules: LoadGen test modes; submission layout",
    fix="Put each log in the folder of its mode, or rerun in the right mode.",
)
def mode_match(ctx: Context) -> Iterator[Violation]:
    checks = [(run, {"PerformanceOnly", "SubmissionRun"}) for run in _runs(ctx)]
    checks.append((ctx.accuracy_dir(), {"AccuracyOnly", "SubmissionRun"}))
    for folder, allowed in checks:
        mode, line, path = _mode_of(ctx, folder)
        if mode is not None and mode not in allowed:
            yield Violation(f"{mode} log in {ctx.rel(folder)}", path=ctx.rel(path), line=line,
                            expected=" or ".join(sorted(allowed)), found=mode)


def _benchmark_value(ctx: Context, table: str) -> Any:
    _, bench = ctx.benchmark()
    if bench is None or ctx.unit is None:
        return None
    mapping = getattr(bench, table)
    return mapping.get(ctx.unit.scenario or "")


@rule(
    "P005",
    title="Minimum query count too low",
    scope="result",
    what="The run's min_query_count setting is below the round's minimum for the benchmark and "
    "scenario (for Offline: the single query's sample count is below the round's minimum, or the "
    "benchmark's own where the round sets one). Since early stopping (v2.0) the query minimum of "
    "the early-stopping scenarios is LoadGen's early-stopping criterion (rule P020), not a fixed count.",
    why="The statistical confidence of the tail-latency and throughput figures rests on a minimum "
    "number of queries.",
    section=SCENARIO_SECTION,
    fix="Rerun with the round's mlperf.conf (do not lower min_query_count in user.conf).",
)
def min_query_count(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    minimum = _benchmark_value(ctx, "min_query_count")
    _, bench = ctx.benchmark()
    offline_spq = ctx.pack.offline_min_samples_per_query
    if bench is not None and bench.offline_min_samples_per_query is not None:
        offline_spq = bench.offline_min_samples_per_query
    early = set(ctx.pack.early_stopping.scenarios) if ctx.pack.early_stopping is not None else set()
    for run in _runs(ctx):
        logged = log_scenario(ctx, run) or unit.scenario
        if logged == "Offline" and offline_spq:
            entry, path = setting(ctx, run, "effective_samples_per_query")
            if entry is not None and float(entry.value) < offline_spq:
                yield Violation("Offline query has fewer samples than the round requires", path=ctx.rel(path),
                                line=entry.line, expected=f">= {offline_spq}", found=entry.value)
            continue
        if minimum is None or logged != runs_as(ctx, unit.scenario) or logged in early:
            continue
        entry, path = setting(ctx, run, "effective_min_query_count")
        if entry is not None and float(entry.value) < minimum:
            yield Violation("min_query_count below the round's minimum", path=ctx.rel(path), line=entry.line,
                            expected=f">= {minimum}", found=entry.value)


@rule(
    "P006",
    title="Minimum duration too short",
    scope="result",
    what="The run's min_duration setting is below the round's minimum (60 s in v0.5/v0.7, 600 s from "
    "v1.0).",
    why="Short runs hide thermal throttling and warm-up effects that a real deployment sees.",
    section=SCENARIO_SECTION,
    fix="Rerun with the round's minimum duration.",
)
def min_duration(ctx: Context) -> Iterator[Violation]:
    minimum = ctx.pack.min_duration_ms
    _, bench = ctx.benchmark()
    if bench is not None and bench.min_duration_ms is not None:
        minimum = bench.min_duration_ms
    for run in _runs(ctx):
        entry, path = setting(ctx, run, "effective_min_duration_ms")
        if entry is not None and float(entry.value) < minimum:
            yield Violation("min_duration below the round's minimum", path=ctx.rel(path), line=entry.line,
                            expected=f">= {minimum} ms", found=f"{entry.value} ms")


def percentile_latency(ctx: Context, run: Path, percentile: float, per_query: bool) -> tuple[Sourced[float] | None, Path]:
    detail = ctx.detail(run)
    if detail is not None and detail.format != "text2019":
        key = f"result_{percentile:.2f}_percentile_{'per_query_' if per_query else ''}latency_ns"
        entry = detail.number(key)
        if entry is None and per_query:
            entry = detail.number(f"result_{percentile:.2f}_percentile_latency_ns")
        return entry, run / "mlperf_log_detail.txt"
    summary = ctx.summary(run)
    if summary is None:
        return None, run / "mlperf_log_summary.txt"
    blocks = ["per_query", "main"] if per_query else ["main", "per_sample"]
    for name in blocks:
        block = summary.stats.get(name)
        if block is not None and block.percentile(percentile) is not None:
            return block.percentile(percentile), run / "mlperf_log_summary.txt"
    return None, run / "mlperf_log_summary.txt"


@rule(
    "P007",
    title="Latency bound exceeded",
    scope="result",
    what="The measured latency at the round's percentile exceeds the benchmark's bound for the "
    "scenario (Server: per-sample latency; MultiStream: per-query latency).",
    why="Server and MultiStream results are only meaningful under their latency constraint.",
    section=SCENARIO_SECTION,
    fix="Lower the load (target QPS, samples per query) until the bound is met, and rerun.",
)
def latency_bound(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    bound = _benchmark_value(ctx, "latency_bounds")
    if bound is None:
        return
    per_query = unit.scenario == "MultiStream"
    for run in _runs(ctx):
        if log_scenario(ctx, run) not in (None, runs_as(ctx, unit.scenario)):
            continue
        entry, path = percentile_latency(ctx, run, bound.percentile, per_query)
        if entry is not None and entry.value > bound.ns:
            yield Violation(f"{bound.percentile:g}th percentile latency above the bound", path=ctx.rel(path),
                            line=entry.line, expected=f"<= {bound.ns} ns", found=f"{entry.value:.0f} ns")


@rule(
    "P008",
    title="LoadGen seeds differ from the round's",
    scope="result",
    what="qsl_rng_seed, sample_index_rng_seed or schedule_rng_seed of a performance run differ from "
    "the seeds announced for the round.",
    why="The seeds are announced shortly before the deadline so that no system can be tuned to the "
    "sample order; other seeds void that protection.",
    section="Inference rules: LoadGen random seeds",
    fix="Rerun with the round's mlperf.conf (the seeds are set there, never in user.conf).",
)
def seeds(ctx: Context) -> Iterator[Violation]:
    for run in _runs(ctx):
        for name, expected in ctx.pack.seeds.items():
            entry, path = setting(ctx, run, f"effective_{name}")
            if entry is None:
                continue
            try:
                found = int(entry.value)
            except (TypeError, ValueError):
                found = entry.value
            if found != expected:
                yield Violation(f"{name} is not the round's seed", path=ctx.rel(path), line=entry.line,
                                expected=expected, found=entry.value)


@rule(
    "P009",
    title="Performance sample count too low",
    scope="result",
    what="The run's performance_sample_count is below the benchmark's minimum.",
    why="The performance set must not fit in caches a real data set would not fit in.",
    section="Inference rules: benchmarks, QSL size (performance sample count)",
    fix="Use the round's performance_sample_count (mlperf.conf) or larger.",
)
def performance_sample_count(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    if bench is None or bench.performance_sample_count is None:
        return
    for run in _runs(ctx):
        entry, path = setting(ctx, run, "effective_performance_sample_count")
        if entry is not None and float(entry.value) < bench.performance_sample_count:
            yield Violation("performance_sample_count below the benchmark's minimum", path=ctx.rel(path),
                            line=entry.line, expected=f">= {bench.performance_sample_count}", found=entry.value)


@rule(
    "P012",
    title="Result value cannot be read",
    scope="result",
    what="The headline value of the result (the figure the round reports for the scenario) is not in "
    "the log where the round keeps it.",
    why="A result without its figure cannot be published or compared.",
    section="Submission rules: the reported metric per scenario",
    fix="Restore the original LoadGen logs of the run.",
    severity=Severity.ERROR,
)
def metric_readable(ctx: Context) -> Iterator[Violation]:
    runs = _runs(ctx)
    if not runs or ctx.is_endpoints():
        return  # S011 reports the missing run; S031 an endpoints result's files
    if ctx.summary(runs[0]) is None and ctx.detail(runs[0]) is None:
        return  # S006 / S004 report the missing or unreadable logs
    if headline_metric(ctx) is None:
        yield Violation("no headline value found for the scenario", path=ctx.rel(runs[-1]))
