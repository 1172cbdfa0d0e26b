"""C020-C022: the compliance tests of the later rounds, recomputed from the logs in the tree.

* **C020** TEST04 (since v2.1; TEST04-A/B merged): one sample index issued over and over
  (``performance_issue_same``) must not make the system faster than the submission run beyond the
  round's tolerance. The reference is the result's own performance run; the comparison goes in each
  metric's direction (latency may not drop, throughput may not rise, by more than the tolerance). The
  official script compares one-sidedly after turning latencies into 1e9/latency, which makes the test
  pass for almost any run (official-checker.md §11.1 #27); we do not copy that. The run must also
  show the test's settings (``performance_issue_same`` with the audit.config's index), or it is a
  plain rerun.
* **C021** TEST06 (LLMs, since v4.1): in the TEST06 run's accuracy log, which holds every output of
  a 100-sample performance run, (a) every output's token count equals the number of tokens logged
  (``token_count`` vs the payload), (b) no output holds more than one end-of-sequence token, and
  (c) outside Offline, the first token reported with ``FirstTokenComplete`` (``token_data``) equals
  the output's first token. The token dtype and EOS id are the pack's ``benchmarks.<b>.tokens``.
* **C022** TEST09 (gpt-oss, e2e-rag): the mean output length of the TEST09 run lies within the
  benchmark's bounds (``benchmarks.<b>.output_tokens_mean``, ±10 % of the reference mean).

Each test that passes yields an info finding with its figures; the submitter's verification output is
quoted next to the recomputed verdict, and a contradiction between them is an error of its own. The
primitives (where a test's LoadGen logs are, a run's headline figure, the tolerance band, the claims)
are shared with the TEST01/04-A/B/05 recomputation in :mod:`checker.checks.compliance_recompute`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checker.checks import compliance_recompute as recompute
from checker.engine.compliance_facts import required_tests, test_dir
from checker.engine.context import Context
from checker.engine.metric import runs_as
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.parse.loadgen_detail import as_bool

SECTION = ("Inference rules: compliance tests; compliance/TEST04, TEST06 and TEST09 READMEs and "
           "audit.config files (official-checker.md §8.3)")
ACCURACY_LOG = "accuracy/mlperf_log_accuracy.json"


def _test(ctx: Context, name: str) -> tuple[Path | None, bool]:
    return test_dir(ctx, name), name in required_tests(ctx)


def _claim_text(ctx: Context, folder: Path, names: list[str]) -> tuple[str, bool | None]:
    """The test's claim as a quotable text and whether it claims a pass (None: no claim)."""
    for name in names:
        model = ctx.model(folder / name, "verify")
        if model is None:
            continue
        if model.checks:
            said = ", ".join(f"{c.name} pass: {c.status}" for c in model.checks)
            return f"{name} says {said}", model.checks_pass
        if model.verdict is not None:
            return f"{name} claims TEST {model.verdict.value}", model.verdict.value == "PASS"
        return f"{name} holds no verdict", None
    return "no verification output", None


def _contradiction(claim_pass: bool | None, recomputed_pass: bool) -> bool:
    return claim_pass is not None and claim_pass != recomputed_pass


# -- TEST04 ----------------------------------------------------------------------------------------

def _test04_settings(ctx: Context, run: Path, required: bool) -> Iterator[Violation]:
    spec = ctx.pack.compliance.audit_settings.get("TEST04")
    if spec is None:
        return
    same = recompute.read_setting(ctx, run, "performance_issue_same")
    if same is not None and as_bool(same.value) is False:
        yield Violation("TEST04: the run has performance_issue_same = false: it is a plain performance run, not "
                        "TEST04 (one sample issued repeatedly)", path=same.path, line=same.line, expected="true",
                        found=recompute.shown(same.value), severity=recompute.cap(ctx, "C020", Severity.ERROR, required))
        return
    index = spec.settings.get("performance_issue_same_index")
    got = recompute.read_setting(ctx, run, "performance_issue_same_index")
    if index is not None and got is not None and recompute.same_value(got.value, index) is False:
        yield Violation(f"TEST04: performance_issue_same_index = {recompute.shown(got.value)}, the round's "
                        f"audit.config sets {index}", path=got.path, line=got.line, expected=str(index),
                        found=recompute.shown(got.value), severity=Severity.WARNING)


@rule(
    "C020",
    title="TEST04 faster than the submission run",
    scope="result",
    what="TEST04 (v2.1 onward), recomputed: the TEST04 run (one sample index issued repeatedly) must not be "
    "faster than the result's performance run by more than the round's tolerance (10 %; 20 % for a "
    "SingleStream latency of at most 200 us), compared in the metric's own direction; and its log must "
    "show performance_issue_same = true. The finding gives both figures and the verification output's claim.",
    why="A system that caches responses, or results derived from a repeated input, serves the repeated "
    "sample much faster; real traffic does not repeat.",
    section=SECTION,
    fix="Remove any caching of queries, responses or intermediate results and rerun TEST04 with its "
    "audit.config.",
)
def test04_merged(ctx: Context) -> Iterator[Violation]:
    folder, required = _test(ctx, "TEST04")
    if folder is None:
        return
    claim, claim_pass = _claim_text(ctx, folder, ctx.pack.compliance.verify_files.get("TEST04", ["verify_performance.txt"]))
    run = recompute.test_run(ctx, folder)
    runs = ctx.performance_runs()
    unknown = recompute.cap(ctx, "C020", Severity.WARNING, required)
    if run is None or not runs:
        what = "its LoadGen logs are absent" if run is None else "the result has no performance run"
        yield Violation(f"TEST04 could not be recomputed: {what}; {claim} (not verified)", path=ctx.rel(folder),
                        severity=unknown)
        return
    settings = list(_test04_settings(ctx, run, required))
    yield from settings
    if settings and settings[0].severity != Severity.WARNING:
        return
    figure = recompute.read_figure(ctx, run)
    reference = recompute.read_figure(ctx, runs[0], figure.scenario) if figure is not None else None
    tolerance = ctx.pack.compliance.tolerance.get("TEST04")
    if figure is None or reference is None or reference.value == 0 or tolerance is None:
        why = ("the round's pack gives no tolerance" if tolerance is None
               else f"no headline figure in {ctx.rel(run if figure is None else runs[0])}")
        yield Violation(f"TEST04 could not be recomputed: {why}; {claim} (not verified)", path=ctx.rel(run),
                        severity=unknown)
        return
    allowed = recompute.band(tolerance, reference)
    ratio = figure.value / reference.value
    if figure.lower_is_better:
        faster = ratio < 1 - allowed - 1e-12
        speed = f"{(1 / ratio - 1) * 100:+.1f} % faster" if ratio else "infinitely faster"
    else:
        faster = ratio > 1 + allowed + 1e-12
        speed = f"{(ratio - 1) * 100:+.1f} % faster"
    text = (f"TEST04: {figure.key} {recompute.fmt(figure.value)} with one sample repeated vs "
            f"{recompute.fmt(reference.value)} in the submission run ({speed}; allowed {allowed * 100:g} %)")
    if not faster:
        yield Violation(f"{text}; {claim}", path=figure.path, line=figure.line, severity=Severity.INFO)
        if _contradiction(claim_pass, True):
            yield Violation(f"TEST04: the verification output claims a failure the logs do not show: {claim}",
                            path=ctx.rel(folder), severity=recompute.cap(ctx, "C020", Severity.WARNING, required))
        return
    yield Violation(f"{text}: the repeated sample is served faster than unique ones (caching?); {claim}",
                    path=figure.path, line=figure.line, expected=f"at most {allowed * 100:g} % faster",
                    found=speed, severity=recompute.cap(ctx, "C020", Severity.ERROR, required))


# -- TEST06 ----------------------------------------------------------------------------------------

def test06_outcome(ctx: Context, log: Path, first_token: bool) -> dict[str, Any]:
    """Counts of the three TEST06 checks over the run's accuracy log."""
    import numpy as np

    from checker.parse.accuracy_log import decode_payload, iter_entries

    _, bench = ctx.benchmark()
    spec = bench.tokens if bench is not None else None
    dtype = spec.dtype if spec is not None else "<i4"
    eos = spec.eos_token_id if spec is not None else None
    out: dict[str, Any] = {"entries": 0, "undecodable": 0, "no_count": 0, "length": [], "eos": [], "first": [],
                           "no_first": 0}
    for entry in iter_entries(log):
        out["entries"] += 1
        tokens = decode_payload(entry.data, dtype)
        if tokens is None:
            out["undecodable"] += 1
            continue
        count = getattr(entry, "token_count", None)
        if count is None:
            out["no_count"] += 1
        elif len(tokens) != count:
            out["length"].append((entry.qsl_idx, entry.line, count, len(tokens)))
        if eos is not None and int(np.count_nonzero(tokens == eos)) > 1:
            out["eos"].append((entry.qsl_idx, entry.line, int(np.count_nonzero(tokens == eos))))
        if first_token:
            reported = getattr(entry, "token_data", None)
            if not reported:
                out["no_first"] += 1
            elif bytes(entry.data[: len(reported)]) != bytes(reported):
                out["first"].append((entry.qsl_idx, entry.line))
    return out


@rule(
    "C021",
    title="TEST06 output consistency fails",
    scope="result",
    what="TEST06 (LLMs, v4.1 onward), recomputed from the TEST06 run's accuracy log: every output's "
    "token_count equals the tokens logged, no output holds more than one end-of-sequence token, and (except "
    "Offline) the first token reported to LoadGen equals the output's first token. The finding names the "
    "first failing sample and quotes the verification output's claim.",
    why="TTFT and tokens per second are computed from what the system reports; a first token or a token "
    "count that differs from the output, or padding after the end of sequence, inflates them.",
    section=SECTION,
    fix="Report the real first token with FirstTokenComplete, the real number of generated tokens, and "
    "stop generating at the first end-of-sequence token; rerun TEST06.",
)
def test06_recomputed(ctx: Context) -> Iterator[Violation]:
    folder, required = _test(ctx, "TEST06")
    if folder is None:
        return
    unit = ctx.unit
    assert unit is not None
    claim, claim_pass = _claim_text(ctx, folder, ctx.pack.compliance.verify_files.get("TEST06", ["verify_accuracy.txt"]))
    log = folder / ACCURACY_LOG
    if not log.is_file():
        yield Violation(f"TEST06 could not be recomputed: {ctx.rel(log)} is absent; {claim} (not verified)",
                        path=ctx.rel(log), severity=recompute.cap(ctx, "C021", Severity.WARNING, required))
        return
    first_token = runs_as(ctx, unit.scenario) != "Offline"
    out = test06_outcome(ctx, log, first_token)
    path = ctx.rel(log)
    if out["entries"] == 0:
        yield Violation(f"TEST06: {path} holds no readable entry; {claim}", path=path,
                        severity=recompute.cap(ctx, "C021", Severity.ERROR, required))
        return
    failures = []
    if out["length"]:
        qsl, line, count, length = out["length"][0]
        failures.append((f"{len(out['length'])} output(s) whose token_count differs from the tokens logged "
                         f"(first: qsl_idx {qsl}, token_count {count}, {length} tokens)", line))
    if out["eos"]:
        qsl, line, n = out["eos"][0]
        failures.append((f"{len(out['eos'])} output(s) with more than one end-of-sequence token (first: qsl_idx "
                         f"{qsl}, {n})", line))
    if out["first"]:
        qsl, line = out["first"][0]
        failures.append((f"{len(out['first'])} output(s) whose reported first token differs from the output's "
                         f"(first: qsl_idx {qsl})", line))
    if first_token and out["no_first"]:
        failures.append((f"{out['no_first']} output(s) without a reported first token (token_data) in a "
                         f"{unit.scenario} run", None))
    notes = []
    if out["no_count"]:
        notes.append(f"{out['no_count']} entries without token_count (length not checked for them)")
    if out["undecodable"]:
        notes.append(f"{out['undecodable']} payloads not a whole number of tokens")
    extra = f" ({'; '.join(notes)})" if notes else ""
    if failures:
        for text, line in failures:
            yield Violation(f"TEST06: {text}{extra}; {claim}", path=path, line=line,
                            severity=recompute.cap(ctx, "C021", Severity.ERROR, required))
        return
    checks = "length, EOS" + (", first token" if first_token else "")
    yield Violation(f"TEST06 recomputed on {out['entries']} outputs: {checks} checks pass{extra}; {claim}",
                    path=path, severity=Severity.INFO)
    if _contradiction(claim_pass, True):
        yield Violation(f"TEST06: the verification output claims a failure the logs do not show: {claim}",
                        path=ctx.rel(folder), severity=recompute.cap(ctx, "C021", Severity.WARNING, required))


# -- TEST09 ----------------------------------------------------------------------------------------

@rule(
    "C022",
    title="TEST09 output length out of bounds",
    scope="result",
    what="TEST09 (gpt-oss-120b, e2e-rag-qna), recomputed: the mean output length (tokens) over the TEST09 "
    "run's accuracy log lies within the benchmark's bounds (±10 % of the reference mean, e.g. 1150.38-"
    "1406.02 for gpt-oss-120b).",
    why="Throughput in tokens per second rewards long outputs and latency short ones; the output length "
    "of the performance run must match the reference's.",
    section=SECTION,
    fix="Generate with the reference's settings (maximum output length, stop criteria, sampling) and "
    "rerun TEST09.",
)
def test09_recomputed(ctx: Context) -> Iterator[Violation]:
    folder, required = _test(ctx, "TEST09")
    _, bench = ctx.benchmark()
    if folder is None or bench is None:
        return
    claim, claim_pass = _claim_text(ctx, folder, ctx.pack.compliance.verify_files.get("TEST09", ["verify_output_len.txt"]))
    bounds = bench.output_tokens_mean
    log = folder / ACCURACY_LOG
    unknown = recompute.cap(ctx, "C022", Severity.WARNING, required)
    if bounds is None or not log.is_file():
        why = "the round's pack gives no bounds" if bounds is None else f"{ctx.rel(log)} is absent"
        yield Violation(f"TEST09 could not be recomputed: {why}; {claim} (not verified)", path=ctx.rel(folder),
                        severity=unknown)
        return
    from checker.parse.accuracy_log import iter_entries

    spec = bench.tokens
    itemsize = 4
    if spec is not None:
        import numpy as np

        itemsize = np.dtype(spec.dtype).itemsize
    lengths = []
    for entry in iter_entries(log):
        count = getattr(entry, "token_count", None)
        lengths.append(count if count is not None else len(entry.data) // itemsize)
    if not lengths:
        yield Violation(f"TEST09: {ctx.rel(log)} holds no readable entry; {claim}", path=ctx.rel(log),
                        severity=recompute.cap(ctx, "C022", Severity.ERROR, required))
        return
    mean = sum(lengths) / len(lengths)
    low, high = bounds
    text = f"TEST09: mean output length {mean:.2f} tokens over {len(lengths)} outputs (bounds {low:g}-{high:g})"
    ok = low <= mean <= high
    if ok:
        yield Violation(f"{text}; {claim}", path=ctx.rel(log), severity=Severity.INFO)
    else:
        yield Violation(f"{text}; {claim}", path=ctx.rel(log), expected=f"{low:g} <= mean <= {high:g}",
                        found=f"{mean:.2f}", severity=recompute.cap(ctx, "C022", Severity.ERROR, required))
    if _contradiction(claim_pass, ok):
        yield Violation(f"TEST09: the verification output contradicts the logs: {claim}", path=ctx.rel(folder),
                        severity=recompute.cap(ctx, "C022", Severity.ERROR if ok is False else Severity.WARNING,
                                               required))
