"""P023: equal-issue mode (``sample_concatenate_permutation``) where the round requires it.

From v4.1 the benchmarks whose samples differ a lot in cost (3D U-Net volumes, LLM prompts, graphs,
audio) must be run in LoadGen's equal-issue mode: the sample order is built from concatenated
permutations of the loaded set, so every sample is issued (almost) equally often and a run cannot be
made faster by an order that happens to favour cheap samples. ``mlperf.conf`` sets
``sample_concatenate_permutation = 1`` for them, and since LoadGen compiles mlperf.conf in (v5.0)
only a second config file could undo it.

The official v4.1 monolith enforced it; the current modular checker's check is gated on
``version == "v4.1"`` and inverted, so it never runs (official-checker.md §11.2 #4). We read
``effective_sample_concatenate_permutation`` from every performance run of a benchmark the pack marks
``equal_issue``. LoadGen builds that predate the key log nothing: the pack's ``missing`` parameter
says how that counts in the round (a warning in v4.1, whose approved builds partly predate the key).
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.parse.loadgen_detail import as_bool

KEY = "effective_sample_concatenate_permutation"


@rule(
    "P023",
    title="Equal-issue mode off",
    scope="result",
    what="A performance run of a benchmark the round requires to use equal-issue mode does not show "
    "effective_sample_concatenate_permutation = true in its detail log (false, or absent; how an absent "
    "key counts is the round's 'missing' parameter).",
    why="Without equal-issue mode the issue order may favour cheap samples (short prompts, small volumes); "
    "the round's mlperf.conf sets it for these benchmarks so that every sample is issued equally often.",
    section="LoadGen mlperf.conf: sample_concatenate_permutation (3D U-Net, R-GAT, the LLMs, Whisper, ...)",
    fix="Run with the round's mlperf.conf and without a user.conf or second config file that turns "
    "sample_concatenate_permutation off.",
)
def equal_issue(ctx: Context) -> Iterator[Violation]:
    _, bench = ctx.benchmark()
    if bench is None or not bench.equal_issue:
        return
    missing = ctx.params.get("missing", "error")
    for run in ctx.performance_runs():
        detail = ctx.detail(run)
        if detail is None:
            continue
        path = ctx.rel(run / "mlperf_log_detail.txt")
        entry = detail.get(KEY)
        if entry is None:
            if missing != "ignore":
                yield Violation(f"the detail log has no {KEY}: the LoadGen build does not log equal-issue mode, so "
                                "whether it was on cannot be told", path=path, expected=f"{KEY} = true", found="absent",
                                severity=Severity(missing) if missing in ("error", "warning", "info") else None)
            continue
        if as_bool(entry.value) is not True:
            yield Violation("equal-issue mode (sample_concatenate_permutation) was off", path=path, line=entry.line,
                            expected="true", found=str(entry.value).lower())
