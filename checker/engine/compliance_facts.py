"""What several compliance rules need to know about a result: which tests the round requires, where
their folders are, and TEST01's non-determinism fallback. Shared here so that check modules do not
import one another (each rule module stays independent; the engine owns the shared questions).
"""

from __future__ import annotations

from pathlib import Path

from checker.engine.context import Context


def required_tests(ctx: Context) -> list[str]:
    """The tests the pack requires for this result (empty for divisions without compliance)."""
    unit = ctx.unit
    if unit is None or unit.division not in ctx.pack.compliance.divisions:
        return []
    _, bench = ctx.benchmark()
    if bench is None:
        return []
    tests = bench.compliance_tests
    return list(tests.get(unit.scenario or "", tests.get("any", [])))


def test_dir(ctx: Context, test: str) -> Path | None:
    """A test's folder in the result's compliance folder (the test name in either letter case);
    looked up once per result (several rules ask, each a few times)."""
    return ctx.memo(("compliance.test_dir", ctx.unit.path if ctx.unit else None, test), lambda: _test_dir(ctx, test))


def _test_dir(ctx: Context, test: str) -> Path | None:
    base = ctx.compliance_dir()
    if base is None:
        return None
    for candidate in (base / test, base / test.lower()):
        if candidate.is_dir():
            return candidate
    return None


def test01_fallback(ctx: Context, folder: Path) -> tuple[float, float, str] | None:
    """TEST01's non-determinism fallback: the accuracy of the sampled outputs (compliance) against the
    same samples in accuracy mode (baseline), both scored with the benchmark's accuracy script.

    Returns (delta in percent, the round's limit, metric) or None when the files are not there.
    """
    limits = ctx.pack.compliance.test01_fallback_delta_percent
    _, bench = ctx.benchmark()
    unit = ctx.unit
    if not limits or bench is None or not bench.accuracy or unit is None:
        return None
    metric = bench.accuracy[0].metric
    values = []
    for name in ("baseline_accuracy.txt", "compliance_accuracy.txt"):
        model = ctx.model(folder / "accuracy" / name, "accuracy_txt")
        records = model.values_of(metric) if model is not None else []
        if not records:
            return None
        values.append(records[-1].value)
    baseline, compliance = values
    if baseline == 0:
        return None
    limit = next((v for k, v in limits.items() if k != "default" and k in unit.benchmark), limits.get("default", 1.0))
    return abs(1 - compliance / baseline) * 100, limit, metric
