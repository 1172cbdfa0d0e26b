"""S031, A021, C023: results of the "endpoints" harness (v6.1).

Since v6.1 some benchmarks may be measured with the endpoints harness instead of a LoadGen-linked
SUT. Such a result has no ``mlperf_log_*`` files: its scenario folder holds ``config.yaml``,
``performance/result_summary.json``, ``accuracy/accuracy_results.json`` and, for the compliance
tests, ``audit/audit_<name>.json`` (the official checker reads an ``online`` folder as Server). The
LoadGen-log rules do not apply to it (they skip it); these rules check what it has instead:

* **S031** the harness files are present and parse, and the benchmark may use the harness;
* **A021** ``accuracy_results.json`` carries an accuracy score, at or above the benchmark's target
  when the score is a number;
* **C023** each compliance test the benchmark requires has its audit JSON, naming that test and
  passing; TEST09's mean output length is compared with the benchmark's bounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.engine.compliance_facts import required_tests
from checker.engine.context import Context
from checker.engine.registry import Violation, rule
from checker.parse.loadgen_detail import as_bool, as_number

SECTION = "Submission rules: the endpoints harness (config.yaml, result_summary.json, accuracy_results.json, audit)"


def _config(ctx: Context) -> Any:
    rules = ctx.pack.endpoints
    assert rules is not None and ctx.unit is not None
    for name in rules.config_files:
        path = ctx.unit.path / name
        if path.is_file():
            return path
    return None


@rule(
    "S031",
    title="Endpoints result incomplete",
    scope="result",
    what="A result made with the endpoints harness (config.yaml, no LoadGen logs) lacks "
    "performance/result_summary.json or accuracy/accuracy_results.json, or is a benchmark the round does "
    "not allow the harness for.",
    why="These files are the endpoints result's only evidence: its figures, its accuracy and its settings.",
    section=SECTION,
    fix="Copy the harness' output folders unchanged, or run the benchmark with LoadGen.",
)
def endpoints_files(ctx: Context) -> Iterator[Violation]:
    if not ctx.is_endpoints():
        return
    rules = ctx.pack.endpoints
    unit = ctx.unit
    assert rules is not None and unit is not None
    for rel in (rules.performance_summary, rules.accuracy_results):
        path = unit.path / rel
        if not path.is_file():
            yield Violation(f"endpoints result without {rel}", path=ctx.rel(path), expected=rel, found="missing")
        else:
            ctx.model(path, "endpoints_json")  # parse problems become S004/S005
    config = _config(ctx)
    if config is not None:
        ctx.model(config, "endpoints_config")
    name, _ = ctx.benchmark()
    if rules.benchmarks and name is not None and name not in rules.benchmarks:
        yield Violation(f"{name} may not be measured with the endpoints harness in {ctx.pack.round}",
                        path=unit.rel, expected=", ".join(rules.benchmarks), found=name)


def _scores(document: Any) -> list[tuple[Any, int | None]]:
    data = document.data if document is not None else None
    out = []
    if isinstance(data, dict) and isinstance(data.get("accuracy_scores"), list):
        for index, item in enumerate(data["accuracy_scores"]):
            if isinstance(item, dict) and item.get("score") is not None:
                out.append((item["score"], document.line_of(f"accuracy_scores.{index}") or document.line_of("accuracy_scores")))
    return out


@rule(
    "A021",
    title="Endpoints accuracy score missing or below the target",
    scope="result",
    what="An endpoints result's accuracy/accuracy_results.json has no accuracy score (accuracy_scores[].score), "
    "or a numeric score below the benchmark's first accuracy target (closed division).",
    why="Without a score the result's quality is not established.",
    section=SECTION,
    fix="Run the harness' accuracy mode and copy its accuracy_results.json.",
)
def endpoints_accuracy(ctx: Context) -> Iterator[Violation]:
    if not ctx.is_endpoints():
        return
    rules = ctx.pack.endpoints
    unit = ctx.unit
    assert rules is not None and unit is not None
    path = unit.path / rules.accuracy_results
    if not path.is_file():
        return  # S031
    document = ctx.model(path, "endpoints_json")
    if document is None:
        return  # S004
    scores = _scores(document)
    if not scores:
        yield Violation("no accuracy score in the harness' results", path=ctx.rel(path),
                        expected="accuracy_scores[].score", found="none")
        return
    _, bench = ctx.benchmark()
    targets = [t for t in (bench.accuracy if bench is not None else []) if t.direction == "min"
               and (t.scenarios is None or unit.scenario in t.scenarios)]
    if unit.division != "closed" or not targets:
        return
    target = targets[0]
    for score, line in scores:
        value = as_number(score)
        if value is not None and value < target.target:
            yield Violation(f"accuracy score {value:g} below the {target.metric} target", path=ctx.rel(path),
                            line=line, expected=f">= {target.target:g}", found=f"{value:g}")


@rule(
    "C023",
    title="Endpoints compliance audit missing or failed",
    scope="result",
    what="An endpoints result lacks the audit/audit_<name>.json of a compliance test its benchmark requires, "
    "or the file names another test or does not report passed = true; TEST09's mean_output_tokens outside "
    "the benchmark's bounds.",
    why="The harness' audits are the endpoints results' compliance tests.",
    section=SECTION,
    fix="Run the harness' audit for the test and copy its audit JSON into the scenario's audit/ folder.",
)
def endpoints_audits(ctx: Context) -> Iterator[Violation]:
    if not ctx.is_endpoints():
        return
    rules = ctx.pack.endpoints
    unit = ctx.unit
    assert rules is not None and unit is not None
    _, bench = ctx.benchmark()
    audit_dir = unit.path / rules.audit_dir
    for test in required_tests(ctx):
        name = rules.audit_tests.get(test)
        if name is None and test != "TEST09":
            continue
        candidates = sorted(audit_dir.glob("audit_*.json")) if audit_dir.is_dir() else []
        wanted = audit_dir / f"audit_{name or test.lower()}.json"
        path = wanted if wanted.is_file() else next(
            (c for c in candidates if name and name in c.name or test.lower() in c.name.lower()), None)
        if path is None:
            yield Violation(f"{test}: no audit JSON for the endpoints result", path=ctx.rel(wanted),
                            expected=wanted.name, found="missing")
            continue
        document = ctx.model(path, "endpoints_json")
        if document is None or not isinstance(document.data, dict):
            continue  # S004
        data = document.data
        if test == "TEST09" and bench is not None and bench.output_tokens_mean is not None:
            mean = as_number(data.get("mean_output_tokens"))
            low, high = bench.output_tokens_mean
            if mean is None or not low <= mean <= high:
                yield Violation(f"TEST09: mean_output_tokens {data.get('mean_output_tokens')} outside the bounds",
                                path=ctx.rel(path), line=document.line_of("mean_output_tokens"),
                                expected=f"{low:g}-{high:g}", found=str(data.get("mean_output_tokens")))
            continue
        if name is not None and data.get("test") != name:
            yield Violation(f"{test}: the audit JSON is for test {data.get('test')!r}", path=ctx.rel(path),
                            line=document.line_of("test"), expected=name, found=str(data.get("test")))
        if as_bool(data.get("passed")) is not True:
            yield Violation(f"{test}: the audit reports passed = {data.get('passed')}", path=ctx.rel(path),
                            line=document.line_of("passed"), expected="true", found=str(data.get("passed")))
