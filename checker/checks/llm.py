"""P024-P026: the LLM benchmarks' token latencies (v4.0 onward).

LLM results are judged by token latencies instead of the per-sample latency: the time to the first
token (TTFT) and the time per output token (TPOT) at the 99th percentile must stay below the
benchmark's limits for the scenario. Server and Interactive have their own limits (Interactive is
run as a LoadGen Server scenario with tighter limits, since v5.1).

* **P024** the run did not enable LoadGen's token latencies (``requested_use_token_latencies``);
  without them there is neither a TTFT/TPOT measurement nor a tokens-per-second result;
* **P025** TTFT at the percentile is not below the limit;
* **P026** TPOT at the percentile is not below the limit.

The limits are looked up by the result's *folder* scenario. The current official checker looks them
up by LoadGen's ``effective_scenario``, which is ``Server`` for an Interactive run, so it judges
Interactive results against the (looser) Server limits (official-checker.md §11.2 #3); we do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from checker.engine.context import Context
from checker.engine.metric import log_scenario
from checker.engine.registry import Violation, rule
from checker.parse.base import Sourced
from checker.parse.loadgen_detail import as_bool

SECTION = "Inference rules: LLM benchmarks, TTFT and TPOT latency constraints per scenario"


def _limit(ctx: Context):  # noqa: ANN202 - TokenLatencyLimit | None
    unit = ctx.unit
    assert unit is not None
    _, bench = ctx.benchmark()
    if bench is None:
        return None
    return bench.token_latency.get(unit.scenario or "")


def _token_runs(ctx: Context) -> Iterator[tuple[Path, object]]:
    for run in ctx.performance_runs():
        detail = ctx.detail(run)
        if detail is not None:
            yield run, detail


@rule(
    "P024",
    title="Token latencies not enabled",
    scope="result",
    what="A performance run of an LLM benchmark (one with token-latency limits in the round) was made "
    "without LoadGen's token latencies (requested_use_token_latencies not true).",
    why="Without them LoadGen measures neither the first-token latency nor the time per output token, "
    "and reports no tokens per second: the result's constraints and figure cannot be established.",
    section=SECTION,
    fix="Report the first token with FirstTokenComplete and run with use_token_latencies = 1 (the "
    "round's mlperf.conf sets it for the LLMs).",
)
def token_latencies_enabled(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    if bench is None or not bench.token_latency:
        return
    for run, detail in _token_runs(ctx):
        entry = detail.get("requested_use_token_latencies")  # type: ignore[attr-defined]
        path = ctx.rel(run / "mlperf_log_detail.txt")
        if entry is None:
            yield Violation("the detail log has no requested_use_token_latencies", path=path,
                            expected="requested_use_token_latencies = true", found="absent")
        elif as_bool(entry.value) is not True:
            yield Violation("token latencies were not enabled", path=path, line=entry.line, expected="true",
                            found=str(entry.value).lower())


def _measured(detail: object, key: str) -> Sourced[float] | None:
    return detail.number(key)  # type: ignore[attr-defined]


def _check(ctx: Context, what: str, key_for: str) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    limit = _limit(ctx)
    if limit is None:
        return
    bound = limit.ttft_ns if what == "TTFT" else limit.tpot_ns
    key = key_for.format(p=f"{limit.percentile:.2f}")
    for run, detail in _token_runs(ctx):
        if log_scenario(ctx, run) not in (None, "Server", unit.scenario):
            continue  # P003 reports a log of another scenario
        entry = _measured(detail, key)
        path = ctx.rel(run / "mlperf_log_detail.txt")
        if entry is None:
            if as_bool(detail.value("requested_use_token_latencies")):  # type: ignore[attr-defined]
                yield Violation(f"no {key} in the detail log", path=path, expected=key, found="absent")
            continue  # P024 reports the missing token latencies
        if entry.value >= bound:
            yield Violation(f"{what} at the {limit.percentile:g}th percentile is not below the {unit.scenario} limit "
                            f"({bound / 1e6:g} ms)", path=path, line=entry.line, expected=f"< {bound} ns",
                            found=f"{entry.value:.0f} ns")


@rule(
    "P025",
    title="Time to first token above the limit",
    scope="result",
    what="The 99th-percentile time to first token (result_first_token_99.00_percentile_latency_ns) of a "
    "Server or Interactive LLM run is not below the benchmark's limit for the result's folder scenario "
    "(e.g. Llama2-70B: 2000 ms Server, 450 ms Interactive).",
    why="TTFT is the LLM scenarios' responsiveness constraint; a throughput reached by making users wait "
    "longer for the first token is not a result of the scenario.",
    section=SECTION,
    fix="Lower the load (target QPS) until TTFT is below the limit, and rerun.",
)
def ttft_limit(ctx: Context) -> Iterator[Violation]:
    yield from _check(ctx, "TTFT", "result_first_token_{p}_percentile_latency_ns")


@rule(
    "P026",
    title="Time per output token above the limit",
    scope="result",
    what="The 99th-percentile time per output token (result_time_per_output_token_99.00_percentile_ns) of "
    "a Server or Interactive LLM run is not below the benchmark's limit for the result's folder scenario "
    "(e.g. Llama2-70B: 200 ms Server, 40 ms Interactive).",
    why="TPOT is the LLM scenarios' generation-speed constraint.",
    section=SECTION,
    fix="Lower the load or the batch size until TPOT is below the limit, and rerun.",
)
def tpot_limit(ctx: Context) -> Iterator[Violation]:
    yield from _check(ctx, "TPOT", "result_time_per_output_token_{p}_percentile_ns")
