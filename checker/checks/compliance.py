"""C rules: presence of the compliance (audit) runs the round requires for a closed result.

Which tests a result needs comes from the rule pack (per benchmark and scenario), never from which
folders happen to exist, so a deleted TEST01 folder is a missing test, not a skipped one.
Recomputing the tests from their logs is done by the compliance-recomputation rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from checker.engine.context import Context
from checker.engine.registry import Violation, rule

COMPLIANCE_SECTION = "Inference rules: compliance (audit) tests TEST01, TEST04, TEST05 per benchmark"


def required_tests(ctx: Context) -> list[str]:
    """The tests the pack requires for this result (empty for divisions without compliance)."""
    unit = ctx.unit
    assert unit is not None
    if unit.division not in ctx.pack.compliance.divisions:
        return []
    _, bench = ctx.benchmark()
    if bench is None:
        return []
    tests = bench.compliance_tests
    return list(tests.get(unit.scenario or "", tests.get("any", [])))


def test_dir(ctx: Context, test: str) -> Path | None:
    base = ctx.compliance_dir()
    if base is None:
        return None
    for candidate in (base / test, base / test.lower()):
        if candidate.is_dir():
            return candidate
    return None


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
    if not tests:
        return
    expected_base = ctx.compliance_dir_expected()
    base = ctx.compliance_dir()
    if base is None:
        yield Violation(f"compliance folder missing for this result: {expected_base}", path=expected_base,
                        expected=", ".join(tests), found="missing")
        return
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
            if "PASS" not in text:
                line = getattr(verdict, "line", None)
                yield Violation(f"{test}: {name} claims {value}", path=ctx.rel(path), line=line,
                                expected="TEST PASS", found=str(value))
