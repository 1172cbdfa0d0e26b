"""What a check receives: the pack, its parameters, the parse cache, and the scope it runs on.

The context also knows the round's layout (where the performance runs, the measurements and the
compliance runs of a result live), so checks ask it instead of building paths themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from checker.discover import ResultUnit, Submission, Tree, resolve_case_insensitive
from checker.engine.evidence import Evidence
from checker.engine.rulepack import Benchmark, RulePack
from checker.findings import Scope

_RUN = re.compile(r"^run_?(\d+)$")
_T = TypeVar("_T")


@dataclass
class Context:
    pack: RulePack
    evidence: Evidence
    tree: Tree
    params: dict[str, Any] = field(default_factory=dict)
    submission: Submission | None = None
    system: str | None = None
    unit: ResultUnit | None = None
    #: what the user passed to `check` for the checks (e.g. ``annotations``: KEY -> annotation file)
    options: dict[str, Any] = field(default_factory=dict)

    # -- scope -----------------------------------------------------------------------------------
    @property
    def scope(self) -> Scope:
        if self.unit is not None:
            return self.unit.scope
        if self.submission is not None and self.system is not None:
            return self.submission.system_scope(self.system)
        if self.submission is not None:
            return self.submission.scope
        return Scope()

    def rel(self, path: Path) -> str:
        return self.evidence.rel(path)

    def memo(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """``compute()``, worked out once per partition for ``key`` and shared by every rule.

        Several rules look at the same derived facts of a result (its LoadGen logs grouped by build,
        the compliance runs' settings); deriving them once per rule repeated the file-system walks
        and the sorting of every SHA-1 table. ``key`` must name everything the value depends on
        (the result's folder, the options), and the value is shared: never mutate it."""
        store = self.evidence.derived  # lives exactly as long as the partition's parsed files
        if key not in store:
            store[key] = compute()
        return store[key]

    # -- parsed files ----------------------------------------------------------------------------
    def model(self, path: Path, kind: str) -> Any:
        return self.evidence.model(path, kind, self.scope)

    def summary_path(self, run_dir: Path) -> Path:
        return self.evidence.child(run_dir, "mlperf_log_summary.txt")

    def detail_path(self, run_dir: Path) -> Path:
        return self.evidence.child(run_dir, "mlperf_log_detail.txt")

    def summary(self, run_dir: Path) -> Any:
        return self.model(self.summary_path(run_dir), "loadgen_summary")

    def detail(self, run_dir: Path) -> Any:
        return self.model(self.detail_path(run_dir), "loadgen_detail")

    # -- the round's view of this result ---------------------------------------------------------
    def benchmark(self) -> tuple[str | None, Benchmark | None]:
        if self.unit is None:
            return None, None
        return self.pack.benchmark_for(self.unit.benchmark, self.unit.division)

    def expected_run_count(self) -> int:
        runs = self.pack.layout.performance_runs
        scenario = self.unit.scenario if self.unit else None
        return runs.get(scenario or "", runs.get("default", 1))

    def performance_runs(self, extra: bool = False) -> list[Path]:
        """The performance run folders of the result, in run order (run_1, run_2, …, or a fallback).

        Only the runs the round asks for count (run_1, and run_1…run_5 for Server in v0.5/v0.7);
        ``extra=True`` lists every run folder present, as the official checkers ignored the rest.
        """
        assert self.unit is not None
        # asked by most rules for every result: the folder is listed once per partition
        runs = self.memo(("performance_runs", self.unit.path, extra, self.expected_run_count()),
                         lambda: self._performance_runs(extra))
        return list(runs)

    def _performance_runs(self, extra: bool) -> list[Path]:
        assert self.unit is not None
        perf = self.unit.path / "performance"
        if not perf.is_dir():
            return []
        numbered = []
        try:
            names = sorted(p.name for p in perf.iterdir() if p.is_dir())
        except OSError:
            return []
        for name in names:
            match = _RUN.match(name)
            if match:
                numbered.append((int(match.group(1)), perf / name))
        if numbered:
            ordered = [path for _, path in sorted(numbered)]
            return ordered if extra else ordered[: self.expected_run_count()]
        for fallback in self.pack.layout.run_fallbacks:
            candidate = perf if fallback == "." else perf / fallback
            if (candidate / "mlperf_log_summary.txt").is_file() or (candidate / "mlperf_log_detail.txt").is_file():
                return [candidate]
        return []

    def is_endpoints(self) -> bool:
        """A result of the "endpoints" harness (v6.1): a config.yaml and no LoadGen detail logs in its
        performance and accuracy folders (the official loader's test), in a round that knows it."""
        rules = self.pack.endpoints
        if rules is None or self.unit is None:
            return False
        path = self.unit.path
        if not any((path / name).is_file() for name in rules.config_files):
            return False
        perf = path / "performance"
        details = [*perf.glob("*/mlperf_log_detail.txt"), perf / "mlperf_log_detail.txt",
                   path / "accuracy" / "mlperf_log_detail.txt"]
        return not any(candidate.is_file() for candidate in details)

    def accuracy_dir(self) -> Path:
        assert self.unit is not None
        return self.evidence.child(self.unit.path, "accuracy")

    def _template_dir(self, template: str | None) -> Path | None:
        if template is None or self.unit is None:
            return None
        unit = self.unit
        parts = template.format(
            system=unit.system, benchmark=unit.benchmark, scenario=unit.scenario_folder
        ).split("/")
        # asked by many rules for every result: the folders are looked up once
        return self.memo(("template_dir", unit.submission.path, *parts),
                         lambda: resolve_case_insensitive(unit.submission.path, *parts))

    def measurements_dir(self) -> Path | None:
        return self._template_dir(self.pack.layout.measurements_path)

    def measurements_dir_expected(self) -> str:
        assert self.unit is not None
        unit = self.unit
        rel = self.pack.layout.measurements_path.format(
            system=unit.system, benchmark=unit.benchmark, scenario=unit.scenario_folder
        )
        return f"{unit.submission.rel}/{rel}"

    def compliance_dir(self) -> Path | None:
        """The result's compliance folder; for an inferred result (an Offline folder holding a
        SingleStream run, as v0.7/v1.0 edge submissions did) the source scenario's folder, since
        the audit runs of that one run are the evidence for both."""
        own = self._template_dir(self.pack.layout.compliance_path)
        if own is not None or self.unit is None:
            return own
        source = self.inferred_from()
        if source is None:
            return None
        for unit in self.unit.submission.units:
            if (unit.system, unit.benchmark) == (self.unit.system, self.unit.benchmark) and unit.scenario == source:
                sibling = Context(pack=self.pack, evidence=self.evidence, tree=self.tree, unit=unit,
                                  submission=unit.submission, system=unit.system, options=self.options)
                return sibling._template_dir(self.pack.layout.compliance_path)
        return None

    def inferred_from(self) -> str | None:
        """The scenario a result was inferred from (its runs' log scenario), if the round allows it."""
        from checker.engine.metric import log_scenario

        if self.unit is None or self.unit.scenario is None:
            return None
        allowed = self.pack.inferred_scenarios.get(self.unit.scenario, [])
        runs = self.performance_runs()
        if not allowed or not runs:
            return None
        logged = log_scenario(self, runs[0])
        return logged if logged in allowed else None

    def compliance_dir_expected(self) -> str | None:
        if self.pack.layout.compliance_path is None or self.unit is None:
            return None
        unit = self.unit
        rel = self.pack.layout.compliance_path.format(
            system=unit.system, benchmark=unit.benchmark, scenario=unit.scenario_folder
        )
        return f"{unit.submission.rel}/{rel}"

    def system_json_path(self, system: str | None = None) -> Path | None:
        submission = self.submission or (self.unit.submission if self.unit else None)
        system = system or self.system or (self.unit.system if self.unit else None)
        if submission is None or system is None:
            return None
        return submission.path / self.pack.layout.systems_dir / f"{system}.json"

    def system_description(self, system: str | None = None) -> Any:
        path = self.system_json_path(system)
        if path is None:
            return None
        submission = self.submission or (self.unit.submission if self.unit else None)
        scope = submission.system_scope(system or self.system or self.unit.system)  # type: ignore[union-attr]
        return self.evidence.model(path, "system_json", scope)
