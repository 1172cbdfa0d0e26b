"""S017–S019: which benchmarks and scenarios a closed-division system must (and may) submit.

From v0.7 the required and optional scenarios depend on the system type (datacenter, edge, both).
A system type missing from a benchmark's table means the benchmark is not open to that category.
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.engine.rulepack import ScenarioSet
from checker.findings import Scope
from checker.parse.loadgen_summary import canonical_scenario

SECTION = "Inference rules: required and optional scenarios per system category"


def system_type(ctx: Context) -> str | None:
    """The system's category normalised ("edge, datacenter" → "datacenter,edge"), or 'any'."""
    if ctx.pack.system_description.system_types is None:
        return "any"
    model = ctx.system_description()
    if model is None or model.get("system_type") is None:
        return None
    raw = str(model.value("system_type")).strip().lower().replace(" ", "")
    parts = sorted(part for part in raw.split(",") if part)
    return ",".join(parts)


def scenario_sets(ctx: Context, bench_scenarios: dict[str, ScenarioSet], kind: str) -> ScenarioSet | None:
    if kind in bench_scenarios:
        return bench_scenarios[kind]
    if "any" in bench_scenarios:
        return bench_scenarios["any"]
    for name, value in bench_scenarios.items():
        if ",".join(sorted(name.replace(" ", "").split(","))) == kind:
            return value
    return None


def _benchmarks(ctx: Context) -> Iterator[tuple[str, str, ScenarioSet | None, str, list[str]]]:
    sub = ctx.submission
    assert sub is not None and ctx.system is not None
    if sub.division != "closed":
        return
    kind = system_type(ctx)
    if kind is None:
        return  # Y001/Y006 report the missing or bad system_type
    for folder in sub.benchmarks.get(ctx.system, []):
        name, bench = ctx.pack.benchmark_for(folder, sub.division)
        if bench is None:
            continue  # S009
        scenarios = [
            unit.scenario_folder for unit in sub.units if unit.system == ctx.system and unit.benchmark == folder
        ]
        yield folder, name or folder, scenario_sets(ctx, bench.scenarios, kind), kind, scenarios


def _scope(ctx: Context, folder: str) -> Scope:
    sub = ctx.submission
    assert sub is not None
    return Scope(division=sub.division, submitter=sub.submitter, system=ctx.system, benchmark=folder)


@rule(
    "S019",
    title="Benchmark not open to the system's category",
    scope="system",
    what="A closed-division system submits a benchmark that the round does not offer for its system "
    "type (e.g. DLRM on an edge system).",
    why="Each category has its own benchmark suite; results outside it are not comparable.",
    section=SECTION,
    fix="Move the result to the open division, or correct system_type.",
)
def benchmark_for_type(ctx: Context) -> Iterator[Violation]:
    for folder, name, sets, kind, _ in _benchmarks(ctx):
        if sets is None:
            base = ctx.submission.path / ctx.pack.layout.results_dir / ctx.system / folder  # type: ignore[union-attr]
            yield Violation(f"{name} is not a {kind} benchmark in {ctx.pack.round}", path=ctx.rel(base),
                            expected=f"a benchmark of the {kind} suite", found=name, scope=_scope(ctx, folder))


@rule(
    "S017",
    title="Required scenario missing",
    scope="system",
    what="A closed-division system submits a benchmark without one of the scenarios the round requires "
    "for its category, or without any scenario of a group of which the round requires one (e.g. Server "
    "or Interactive for the datacenter LLMs since v5.1).",
    why="A benchmark result is only complete with its required scenarios (e.g. Offline for datacenter, "
    "SingleStream and Offline for edge).",
    section=SECTION,
    fix="Add the missing scenario's results, or withdraw the benchmark.",
)
def required_scenarios(ctx: Context) -> Iterator[Violation]:
    for folder, name, sets, kind, present in _benchmarks(ctx):
        if sets is None:
            continue
        have = {canonical_scenario(s) for s in present}
        base = ctx.submission.path / ctx.pack.layout.results_dir / ctx.system / folder  # type: ignore[union-attr]
        for scenario in sets.required:
            if scenario not in have:
                yield Violation(f"{name}: required {kind} scenario {scenario} missing", path=ctx.rel(base),
                                expected=", ".join(sets.required), found=", ".join(sorted(present)) or "none",
                                scope=_scope(ctx, folder))
        for group in sets.one_of:
            if group and not have.intersection(group):
                yield Violation(f"{name}: none of the {kind} scenarios {' or '.join(group)} present; the round "
                                "requires one of them", path=ctx.rel(base), expected=f"one of {', '.join(group)}",
                                found=", ".join(sorted(present)) or "none", scope=_scope(ctx, folder))


@rule(
    "S018",
    title="Scenario not allowed for the category",
    scope="system",
    what="A closed-division result is in a scenario that is neither required nor optional for the "
    "benchmark in the system's category (e.g. Server on an edge system).",
    why="Scenarios model deployments of a category; results outside them are not comparable.",
    section=SECTION,
    fix="Remove the result, move it to the open division, or correct system_type.",
)
def allowed_scenarios(ctx: Context) -> Iterator[Violation]:
    for folder, name, sets, kind, present in _benchmarks(ctx):
        if sets is None:
            continue
        allowed = set(sets.required) | set(sets.optional)
        for scenario_folder in present:
            scenario = canonical_scenario(scenario_folder)
            if scenario is not None and scenario not in allowed:
                sub = ctx.submission
                assert sub is not None
                path = sub.path / ctx.pack.layout.results_dir / ctx.system / folder / scenario_folder  # type: ignore[operator]
                yield Violation(f"{name}: scenario {scenario} is not part of the {kind} suite", path=ctx.rel(path),
                                expected=", ".join(sorted(allowed)), found=scenario,
                                scope=Scope(division=sub.division, submitter=sub.submitter, system=ctx.system,
                                            benchmark=folder, scenario=scenario_folder))
