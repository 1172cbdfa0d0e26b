"""P020-P022, P029: the scenario rules of the early-stopping era (v2.0 onward).

Since v2.0 (rules ``dcefcb6``) LoadGen decides with a binomial test whether a SingleStream,
MultiStream or Server run processed enough queries for its latency percentile ("early stopping");
the fixed query minimums of those scenarios are gone (P005 only keeps Offline's). SingleStream and
MultiStream report the early-stopping *estimate* of the percentile instead of the raw percentile,
and MultiStream became "8 samples per query, back to back" (``ecb653d``).

* **P020** early stopping not met, read from the detail log's ``early_stopping_met`` (the summary's
  "Early stopping satisfied" line for logs without it);
* **P021** the early-stopping estimate the result reports is missing or 0 (LoadGen writes 0 when
  too few queries ran for the percentile, e.g. fewer than 662 for a MultiStream inferred from a
  SingleStream run);
* **P022** the Server (and Interactive) run's *configured* target latency is above the benchmark's
  bound: LoadGen judges the run, and early stopping counts over-latency queries, against the
  configured ``target_latency``, so a run configured with a looser target is VALID in LoadGen's
  eyes while breaking the round's bound. The measured percentile is P007's;
* **P029** a MultiStream run's samples per query differ from the round's (8).

Which scenarios use early stopping, and which detail keys hold the estimates, is the pack's
``early_stopping`` section; the rules are inert in rounds without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from checker.engine.context import Context
from checker.engine.metric import log_scenario, runs_as
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.parse.loadgen_detail import as_bool, as_number

SECTION = "Inference rules: early stopping (appendix) and the scenarios' latency and query requirements"


def _runs(ctx: Context) -> list[Path]:
    return ctx.performance_runs()


def _scenario(ctx: Context, run: Path) -> str | None:
    """The LoadGen scenario of a run (from its log, else the one the folder runs as)."""
    unit = ctx.unit
    assert unit is not None
    return log_scenario(ctx, run) or runs_as(ctx, unit.scenario)


def _early_stopping_text(ctx: Context, run: Path) -> str:
    detail = ctx.detail(run)
    parts = []
    if detail is not None:
        for key in ("early_stopping_result", "early_stopping_ttft_result", "early_stopping_tpot_result"):
            value = detail.value(key)
            if isinstance(value, str) and value.strip():
                parts.append(" ".join(value.split()))
    return "; ".join(parts)


@rule(
    "P020",
    title="Early stopping not met",
    scope="result",
    what="A SingleStream, MultiStream or Server (and Interactive) performance run of a round with early "
    "stopping did not meet LoadGen's early-stopping criterion (early_stopping_met false, or the summary's "
    "'Early stopping satisfied: NO'): too few queries for the number that exceeded the target latency.",
    why="Since v2.0 early stopping replaces the fixed query minimums: it is what makes the reported "
    "percentile statistically sound. A run without it is INVALID whatever its duration.",
    section=SECTION,
    fix="Run longer (more queries) or at a lower load, so that LoadGen reports early stopping as met.",
)
def early_stopping_met(ctx: Context) -> Iterator[Violation]:
    es = ctx.pack.early_stopping
    if es is None:
        return
    for run in _runs(ctx):
        if _scenario(ctx, run) not in es.scenarios:
            continue
        detail = ctx.detail(run)
        entry = detail.get("early_stopping_met") if detail is not None else None
        if entry is not None:
            met = as_bool(entry.value)
            if met is False:
                text = _early_stopping_text(ctx, run)
                yield Violation("early stopping not met" + (f": {text}" if text else ""),
                                path=ctx.rel(run / "mlperf_log_detail.txt"), line=entry.line,
                                expected="early_stopping_met = true", found=str(entry.value).lower())
            continue
        summary = ctx.summary(run)
        flag = None
        if summary is not None:
            flag = next((v for k, v in summary.satisfied.items() if "early stopping" in k.lower()), None)
        if flag is not None:
            if not flag.value:
                yield Violation("early stopping not met (summary)", path=ctx.rel(run / "mlperf_log_summary.txt"),
                                line=flag.line, expected="Early stopping satisfied: Yes", found="NO")
        elif detail is not None or summary is not None:
            yield Violation("the run's logs do not say whether early stopping was met (a LoadGen older than "
                            "the round's?)", path=ctx.rel(run / "mlperf_log_detail.txt"),
                            expected="early_stopping_met", found="absent", severity=Severity.WARNING)


@rule(
    "P021",
    title="Early-stopping estimate missing",
    scope="result",
    what="The early-stopping latency estimate a SingleStream or MultiStream result reports "
    "(early_stopping_latency_ss at the target percentile; early_stopping_latency_ms, the 99th percentile, "
    "for MultiStream and for a MultiStream result inferred from SingleStream) is absent or 0. LoadGen "
    "writes 0 when too few queries ran for the percentile.",
    why="Since v2.0 that estimate is the result: without it there is nothing valid to publish.",
    section=SECTION,
    fix="Run enough queries for the percentile (64 at p90, 662 at p99, 6636 at p99.9 with no over-latency "
    "query) and keep the LoadGen logs unedited.",
)
def early_stopping_estimate(ctx: Context) -> Iterator[Violation]:
    es = ctx.pack.early_stopping
    unit = ctx.unit
    assert unit is not None
    if es is None or not es.estimates:
        return
    for run in _runs(ctx):
        logged = _scenario(ctx, run)
        key = es.estimates.get(logged or "")
        if unit.scenario == "MultiStream" and logged == "SingleStream":
            key = es.estimates.get("MultiStream")  # inferred MultiStream: the run's p99 estimate
        if key is None:
            continue
        detail = ctx.detail(run)
        if detail is None:
            continue  # S006 reports the missing log
        entry = detail.get(key)
        path = ctx.rel(run / "mlperf_log_detail.txt")
        if entry is None:
            yield Violation(f"no {key} in the detail log", path=path, expected=key, found="absent")
            continue
        value = as_number(entry.value)
        if value is None or value <= 0:
            yield Violation(f"{key} is {entry.value}: too few queries were processed for the percentile estimate",
                            path=path, line=entry.line, expected=f"{key} > 0", found=str(entry.value))


def _token_mode(ctx: Context, run: Path) -> bool:
    detail = ctx.detail(run)
    if detail is None:
        return False
    return bool(as_bool(detail.value("requested_use_token_latencies")))


@rule(
    "P022",
    title="Configured latency target above the bound",
    scope="result",
    what="A Server or Interactive run's configured target latency (effective_target_latency_ns, the "
    "latency LoadGen and its early stopping judge the run against) is above the benchmark's bound for "
    "the folder's scenario. Runs with LLM token latencies (target 0) are judged by P025/P026 instead.",
    why="LoadGen marks a run VALID when it meets its *configured* target: a run configured with a looser "
    "target than the round's bound is VALID in LoadGen's eyes while breaking the rule.",
    section=SECTION,
    fix="Use the round's target latency (mlperf.conf); lower the load instead of raising the target.",
)
def configured_target(ctx: Context) -> Iterator[Violation]:
    unit = ctx.unit
    assert unit is not None
    if ctx.pack.early_stopping is None:
        return
    _, bench = ctx.benchmark()
    if bench is None:
        return
    bound = bench.latency_bounds.get(unit.scenario or "")
    if bound is None:
        return
    for run in _runs(ctx):
        if _scenario(ctx, run) != "Server":
            continue
        detail = ctx.detail(run)
        entry = detail.number("effective_target_latency_ns") if detail is not None else None
        if entry is None:
            continue
        if entry.value == 0 and _token_mode(ctx, run):
            continue
        if entry.value > bound.ns:
            yield Violation("the run's configured target latency is above the benchmark's bound",
                            path=ctx.rel(run / "mlperf_log_detail.txt"), line=entry.line,
                            expected=f"<= {bound.ns} ns", found=f"{entry.value:.0f} ns")


@rule(
    "P029",
    title="MultiStream samples per query differ from the round's",
    scope="result",
    what="A MultiStream performance run's samples per query (effective_samples_per_query) is not the "
    "round's fixed value (8 since v2.0).",
    why="Since v2.0 MultiStream measures the latency of queries of 8 samples issued back to back; other "
    "query sizes give incomparable latencies.",
    section=SECTION,
    fix="Run MultiStream with the round's mlperf.conf (samples_per_query = 8).",
)
def multistream_samples(ctx: Context) -> Iterator[Violation]:
    expected = ctx.params.get("samples_per_query")
    if expected is None:
        return
    for run in _runs(ctx):
        if log_scenario(ctx, run) != "MultiStream":
            continue
        detail = ctx.detail(run)
        entry = detail.number("effective_samples_per_query") if detail is not None else None
        if entry is not None and entry.value != expected:
            yield Violation("MultiStream samples per query differ from the round's",
                            path=ctx.rel(run / "mlperf_log_detail.txt"), line=entry.line,
                            expected=str(expected), found=f"{entry.value:g}")
