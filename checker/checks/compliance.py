"""C rules: presence of the compliance (audit) runs the round requires for a closed result.

Which tests a result needs comes from the rule pack (per benchmark and scenario), never from which
folders happen to exist, so a deleted TEST01 folder is a missing test, not a skipped one.
Recomputing the tests from their logs is done by the compliance-recomputation rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.engine.compliance_facts import required_tests, test01_fallback, test_dir
from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.findings import Severity

COMPLIANCE_SECTION = "Inference rules: compliance (audit) tests TEST01, TEST04, TEST05 per benchmark"


@rule(
    "C001",
    title="Compliance test missing",
    scope="result",
    what="A compliance test the round requires for this benchmark and scenario has no folder "
    "(<compliance>/<system>/<benchmark>/<scenario>/TEST0x).",
    why="The compliance tests are the only evidence that a system does not skip work in performance "
    "mode, cache results or tune to the seeds.",
    section=COMPLIANCE_SECTION,
    fix="Run the missing test with its audit.config and the verification script, and add its folder.",
)
def test_present(ctx: Context) -> Iterator[Violation]:
    tests = required_tests(ctx)
    if not tests or ctx.is_endpoints():
        return  # an endpoints result's compliance tests are its audit JSON files (C023)
    expected_base = ctx.compliance_dir_expected()
    base = ctx.compliance_dir()
    if base is None:
        yield Violation(f"compliance folder missing for this result: {expected_base}", path=expected_base,
                        expected=", ".join(tests), found="missing")
        return
    own = ctx._template_dir(ctx.pack.layout.compliance_path)
    if own is None:
        yield Violation(
            f"no compliance folder of its own ({expected_base}); this result is inferred from "
            f"{ctx.inferred_from()}, whose compliance runs {ctx.rel(base)} are used",
            path=expected_base, expected=expected_base, found=ctx.rel(base), severity=Severity.WARNING,
        )
    for test in tests:
        if test_dir(ctx, test) is None:
            yield Violation(f"{test} missing", path=f"{ctx.rel(base)}/{test}", expected=test, found="missing")


@rule(
    "C002",
    title="Compliance test incomplete",
    scope="result",
    what="A compliance test folder lacks a file the round requires: its performance/run_1 LoadGen "
    "logs, its accuracy log (TEST01), or the verification script's output.",
    why="Without these files the test can neither be recomputed nor its claim read.",
    section=COMPLIANCE_SECTION,
    fix="Copy the test's LoadGen output and the verification output into the folder.",
)
def test_files(ctx: Context) -> Iterator[Violation]:
    for test in required_tests(ctx):
        folder = test_dir(ctx, test)
        if folder is None:
            continue
        names = ctx.pack.compliance.required_files.get(test, []) + ctx.pack.compliance.verify_files.get(test, [])
        for name in names:
            if not (folder / name).is_file():
                yield Violation(f"{test}: {name} missing", path=ctx.rel(folder / name), expected=name, found="missing")


@rule(
    "C003",
    title="Compliance test claims failure",
    scope="result",
    what="A verification output of a required test (verify_accuracy.txt, verify_performance.txt, …) "
    "does not claim TEST PASS. This reads the submitter's claim; the recomputation rules check it "
    "against the logs.",
    why="A failed compliance test means the result may not be reproducible or honest.",
    section=COMPLIANCE_SECTION,
    fix="Investigate the failure (non-determinism, caching, seed tuning), fix the system and rerun.",
)
def test_claims(ctx: Context) -> Iterator[Violation]:
    for test in required_tests(ctx):
        folder = test_dir(ctx, test)
        if folder is None:
            continue
        for name in ctx.pack.compliance.verify_files.get(test, []):
            path = folder / name
            model = ctx.model(path, "verify")
            if model is None:
                continue
            verdict = getattr(model, "verdict", None)
            value = getattr(verdict, "value", verdict)
            if value is None:
                continue
            text = str(value).upper()
            if "PASS" in text:
                continue
            line = getattr(verdict, "line", None)
            if test == "TEST01" and name == "verify_accuracy.txt":
                fallback = test01_fallback(ctx, folder)
                if fallback is not None:
                    delta, limit, metric = fallback
                    if delta <= limit:
                        yield Violation(
                            f"TEST01: outputs differ between modes, accepted by the round's fallback: {metric} "
                            f"of the baseline and compliance runs differ by {delta:.4f}% (limit {limit:g}%)",
                            path=ctx.rel(path), line=line, expected=f"<= {limit:g}%", found=f"{delta:.4f}%",
                            severity=Severity.INFO,
                        )
                        continue
                    yield Violation(
                        f"TEST01: {name} claims {value} and the baseline/compliance {metric} differ by "
                        f"{delta:.4f}%", path=ctx.rel(path), line=line, expected=f"<= {limit:g}%",
                        found=f"{delta:.4f}%",
                    )
                    continue
            figures = getattr(model, "figures", [])[:4]
            numbers = ", ".join(f"{f.name} = {f.raw}" for f in figures)
            yield Violation(f"{test}: {name} claims {value}" + (f" ({numbers})" if numbers else ""),
                            path=ctx.rel(path), line=line, expected="TEST PASS", found=str(value))
