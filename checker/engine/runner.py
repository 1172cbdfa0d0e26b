"""The engine: run every enabled rule on every scope it applies to, collect findings, decide verdicts.

* A rule runs when the round's pack lists it with a severity other than ``off`` and the user's
  ``--select`` / ``--ignore`` prefixes keep it.
* An exception inside a check becomes an ``X001`` finding for that rule and scope; the run goes on.
* Parse problems of every file the checks read become ``S004`` (file unusable) or ``S005`` (file
  partly readable) findings, once per file.
* Waivers (see :mod:`checker.engine.waivers`) are applied per result: a finding covering several
  results can be waived for some of them only. Expired waivers are ignored (S023) and waivers that
  matched nothing among the rules that ran are reported (S022).
* A result is ``invalid`` when an unwaived error finding covers it, ``waived`` when it has errors
  and all are waived, else ``valid``.
* After the verdicts, the report's extras (a result's mapped benchmark, accuracy, latencies; each
  system's summary fields) are read from the same parse cache; they add no findings.

Partitions: tree-scope rules run once, here. Every other rule (submitter, system and result scope)
runs per submitter folder, a partition that holds all the units those rules look at together, with
its own :class:`Evidence`; a partition returns plain data (findings, each result's headline metric
and report facts, its systems' facts) and drops its parsed files, so memory stays bounded by the
largest submitter, not the tree. With ``jobs > 1`` and a tree of at least :data:`POOL_MIN_RESULTS`
results, partitions run in a process pool (largest first); the merge is in tree order, so the
outcome is the same for any ``jobs``. With ``cache_dir``, a partition whose files and configuration
are unchanged since an earlier run comes from :mod:`checker.engine.partition_cache` instead (only
the partitions left to check decide whether the pool starts); the tree-scope rules, the parse
findings of the tree-level evidence, the waivers and the verdicts are always computed.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from checker.discover import ResultUnit, Submission, Tree
from checker.engine.context import Context
from checker.engine.evidence import Evidence
from checker.engine.facts import ResultFacts, SystemFacts, result_facts, system_facts
from checker.engine.metric import Metric, headline_metric
from checker.engine.pool import WorkerPool, fork_is_safe
from checker.engine.registry import REGISTRY, RuleSpec, Violation, load_all_checks
from checker.engine.rulepack import RulePack
from checker.engine.waivers import Waiver, match
from checker.findings import SEVERITY_ORDER, Finding, Scope, Severity, as_text, scope_order

if TYPE_CHECKING:
    from checker.engine.partition_cache import FolderStamp, PartitionCache, Remembered

#: ``progress(done, total, label, results)``: called after each partition (submitter folder);
#: ``results`` is the tree's size.
Progress = Callable[[int, int, str, int], None]

#: submitters still to be stamped and loaded from the partition cache for a single changed one to go
#: to a worker process meanwhile (forking and sending it cost about 10 ms; loading an unchanged
#: submitter's entry about 0.3 ms)
OVERLAP_MIN_PARTITIONS = 48

#: below this many results the pool's start-up (forking, or ~0.3 s of imports per worker where
#: processes are spawned) costs more than spreading ~10-100 ms of checking per result saves
POOL_MIN_RESULTS = 24


@dataclass
class ResultReport:
    unit: ResultUnit
    verdict: str
    metric: Metric | None
    findings: list[Finding] = field(default_factory=list)
    facts: ResultFacts | None = None


@dataclass
class RunOutcome:
    pack: RulePack
    tree: Tree
    findings: list[Finding]
    results: list[ResultReport]
    timings: dict[str, float]
    rules_run: list[str]
    rules_deselected: list[str] = field(default_factory=list)
    #: the tree-level Evidence (round detection, tree rules); partitions drop theirs when done
    evidence: Evidence | None = None
    systems: dict[str, SystemFacts] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    #: how the checking was spread and what it parsed: jobs, partitions, parser calls, cache hits
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.findings if f.blocking)

    def scoped_findings(self) -> list[Finding]:
        """Findings that belong to no single result (tree, submitter, system, benchmark level)."""
        return [f for f in self.findings if f.scope.scenario is None]


def selected(rule_id: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if select and not any(rule_id.startswith(prefix) for prefix in select):
        return False
    return not any(rule_id.startswith(prefix) for prefix in ignore)


def enabled_rules(pack: RulePack, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[RuleSpec]:
    registry = load_all_checks()
    specs = []
    for rule_id in sorted(pack.rules):
        spec = registry.get(rule_id)
        if spec is None or spec.check is None:
            continue
        if pack.severity(rule_id, spec.default_severity) is None:
            continue
        if selected(rule_id, select, ignore):
            specs.append(spec)
    return specs


def _finding(spec: RuleSpec, pack: RulePack, violation: Violation, scope: Scope) -> Finding:
    severity = violation.severity or pack.severity(spec.id, spec.default_severity) or spec.default_severity
    return Finding(
        rule=spec.id,
        severity=severity,
        message=violation.message,
        scope=violation.scope or scope,
        path=violation.path,
        line=violation.line,
        expected=as_text(violation.expected),
        found=as_text(violation.found),
        hint=violation.hint or spec.fix,
    )


def _contexts(spec: RuleSpec, base: Context) -> Iterable[Context]:
    """The contexts a rule runs on: every submission, system or unit of ``base.tree`` (a partition's
    tree holds one submission)."""
    tree = base.tree
    if spec.scope == "tree":
        yield base
    elif spec.scope == "submitter":
        for submission in tree.submissions:
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params, submission=submission,
                          options=base.options)
    elif spec.scope == "system":
        for submission in tree.submissions:
            systems = sorted(set(submission.result_systems))
            for system in systems:
                yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                              submission=submission, system=system, options=base.options)
    else:
        for unit in tree.units:
            yield Context(pack=base.pack, evidence=base.evidence, tree=tree, params=base.params,
                          submission=unit.submission, system=unit.system, unit=unit, options=base.options)


def _run_rule(spec: RuleSpec, base: Context, findings: list[Finding]) -> None:
    assert spec.check is not None
    for ctx in _contexts(spec, base):
        try:
            for violation in spec.check(ctx) or ():
                findings.append(_finding(spec, base.pack, violation, ctx.scope))
        except Exception as exc:  # noqa: BLE001 - the engine's whole point: isolate a failing check
            where = traceback.extract_tb(exc.__traceback__)[-1]
            findings.append(
                Finding(
                    rule="X001",
                    severity=Severity.ERROR,
                    message=f"internal error in rule {spec.id} ({spec.title}): {type(exc).__name__}: {exc}",
                    scope=ctx.scope,
                    path=ctx.unit.rel if ctx.unit else None,
                    found=f"{Path(where.filename).name}:{where.lineno}",
                    hint=REGISTRY["X001"].fix,
                )
            )


def _parse_findings(evidence: Evidence, pack: RulePack, select: Sequence[str], ignore: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for parsed in evidence.parsed_files():
        result = parsed.result
        if not result.problems:
            continue
        rule_id = "S004" if result.model is None else "S005"
        spec = REGISTRY[rule_id]
        severity = pack.severity(rule_id, spec.default_severity)
        if severity is None or not selected(rule_id, select, ignore):
            continue
        for problem in result.problems:
            out.append(
                Finding(
                    rule=rule_id,
                    severity=severity,
                    message=f"{result.kind.replace('_', ' ')}: {problem.message}",
                    scope=parsed.scope,
                    path=problem.path,
                    line=problem.line,
                    expected=problem.expected,
                    found=problem.found,
                    hint=spec.fix,
                )
            )
    return out


def _settle(findings: list[Finding]) -> tuple[list[Finding], list[tuple[str | None, ...]]]:
    """The findings in report order (:meth:`Finding.sort_key`), each kept once (a benchmark- or
    system-level finding raised from each of its results), with each one's scope parts.

    One pass makes both keys: findings share their scope objects (see :func:`_share_scopes`), so
    each scope's parts and place in the order are worked out once (a pass of its own for the
    deduplication, the sort and the grouping by scope took about 30 ms more on the 17,000 findings
    of a warm run on a whole repository)."""
    seen: set[tuple] = set()
    scopes: dict[int, tuple[tuple[str | None, ...], tuple[str, ...]]] = {}
    severity_rank = SEVERITY_ORDER
    kept: list[Finding] = []
    kept_parts: list[tuple[str | None, ...]] = []
    keys: list[tuple] = []
    for finding in findings:
        scope = finding.scope
        known = scopes.get(id(scope))
        if known is None:
            known = scopes[id(scope)] = (scope.parts(), scope_order(scope))
        parts, place = known
        rule, path, line, message = finding.rule, finding.path, finding.line, finding.message
        identity = (rule, parts, path, line, message)
        if identity in seen:
            continue
        seen.add(identity)
        kept.append(finding)
        kept_parts.append(parts)
        keys.append((place, severity_rank[finding.severity], rule, path or "", line or 0, message))
    ranked = sorted(range(len(kept)), key=keys.__getitem__)  # stable, as list.sort(key=Finding.sort_key)
    return [kept[index] for index in ranked], [kept_parts[index] for index in ranked]


def _settle_run(before: list[Finding], partitions: list[Partition],
                after: list[Finding]) -> tuple[list[Finding], list[tuple[str | None, ...]]]:
    """:func:`_settle` of ``before`` + every partition's findings + ``after``, in that order.

    When each partition is settled and lies within its own submitter (:attr:`Partition.own`), and
    the partitions come in the report's order of submitters, their findings are already in report
    order end to end, and none equals another's: only the run's own findings (``before``, ``after``:
    a few) are settled and placed among them by a binary search. Anything else, or one of those
    equal to a partition's finding (which of the two is kept depends on the order), takes the
    plain way. On a whole repository (17,000 findings) the plain way took about 25 ms."""
    owns = [p.own for p in partitions]
    places = [(own[0] or "", own[1] or "") if own is not None and p.parts is not None else None
              for own, p in zip(owns, partitions, strict=True)]
    ordered = None not in places and all(a < b for a, b in zip(places, places[1:], strict=False))
    if not ordered:
        return _settle([*before, *(f for p in partitions for f in p.findings), *after])
    extras, extra_parts = _settle([*before, *after])
    by_own = {own: p for own, p in zip(owns, partitions, strict=True)}
    identities: dict[tuple, set[tuple]] = {}
    for finding, parts in zip(extras, extra_parts, strict=True):
        partition = by_own.get(parts[:2])
        if partition is None:
            continue
        if parts[:2] not in identities:
            identities[parts[:2]] = {(f.rule, p, f.path, f.line, f.message)
                                     for f, p in zip(partition.findings, partition.parts or [], strict=True)}
        if (finding.rule, parts, finding.path, finding.line, finding.message) in identities[parts[:2]]:
            return _settle([*before, *(f for p in partitions for f in p.findings), *after])
    merged = [f for p in partitions for f in p.findings]
    merged_parts = [part for p in partitions for part in p.parts or []]
    if not extras:
        return merged, merged_parts
    # equal keys keep the original order: a finding of ``before`` goes ahead of the partitions' equal
    # ones, one of ``after`` behind them (``before`` and ``after`` are apart: nothing in both)
    first_after = {id(f) for f in after}
    spots = [bisect_right(merged, f.sort_key(), key=Finding.sort_key) if id(f) in first_after
             else bisect_left(merged, f.sort_key(), key=Finding.sort_key) for f in extras]
    out: list[Finding] = []
    out_parts: list[tuple[str | None, ...]] = []
    start = 0
    for place, finding, parts in zip(spots, extras, extra_parts, strict=True):
        out += merged[start:place]
        out_parts += merged_parts[start:place]
        out.append(finding)
        out_parts.append(parts)
        start = place
    out += merged[start:]
    out_parts += merged_parts[start:]
    return out, out_parts


def verdict_for(findings: Iterable[Finding]) -> str:
    errors = [f for f in findings if f.severity == Severity.ERROR]
    if any(not f.waived for f in errors):
        return "invalid"
    if errors:
        return "waived"
    return "valid"


def engine_severity(pack: RulePack, rule_id: str, default: Severity) -> Severity | None:
    """Severity of a rule the engine raises itself: the pack's when it lists the rule, else the default."""
    setting = pack.rules.get(rule_id)
    if setting is None:
        return default
    return None if setting.severity == "off" else Severity(setting.severity)


def engine_finding(pack: RulePack, select: Sequence[str], ignore: Sequence[str], rule_id: str,
                    **fields: object) -> Finding | None:
    spec = REGISTRY[rule_id]
    severity = engine_severity(pack, rule_id, spec.default_severity)
    if severity is None or not selected(rule_id, select, ignore):
        return None
    fields.setdefault("hint", spec.fix)
    return Finding(rule=rule_id, severity=severity, **fields)  # type: ignore[arg-type]


def _waived(finding: Finding, waiver: Waiver) -> Finding:
    return finding.model_copy(update={"waived": True, "waiver_reason": waiver.reason})


def _apply_waivers(findings: list[Finding], results: list[ResultReport], waivers: list[Waiver],
                   parts: list[tuple[str | None, ...]] | None = None) -> list[Finding]:
    """Give each result its covering findings (waived copies where a waiver matches it) and return
    the top-level list, where a finding is waived when a waiver names its scope or file, or when it
    is waived for every result it covers. ``parts``: each finding's scope parts, when known."""
    owned = _covering(findings, [report.unit for report in results], parts)
    if not waivers:  # nothing to match: each result gets its findings as they are (most runs)
        for report, indices in zip(results, owned, strict=True):
            own = [findings[index] for index in indices]
            report.findings = own
            report.verdict = verdict_for(own)
        return list(findings)
    covered = [0] * len(findings)
    waived_by: list[Waiver | None] = [None] * len(findings)
    waived_count = [0] * len(findings)
    for report, indices in zip(results, owned, strict=True):
        own: list[Finding] = []
        for index in indices:
            finding = findings[index]
            covered[index] += 1
            waiver = match(waivers, finding.rule, [report.unit.rel, finding.scope.label(), finding.path or ""])
            if waiver is not None:
                waiver.matched += 1
                waived_count[index] += 1
                waived_by[index] = waived_by[index] or waiver
                own.append(_waived(finding, waiver))
            else:
                own.append(finding)
        report.findings = own
        report.verdict = verdict_for(own)
    top: list[Finding] = []
    for index, finding in enumerate(findings):
        waiver = match(waivers, finding.rule, [finding.scope.label(), finding.path or ""])
        if waiver is not None and not covered[index]:
            waiver.matched += 1
        if waiver is None and covered[index] and waived_count[index] == covered[index]:
            waiver = waived_by[index]
        top.append(_waived(finding, waiver) if waiver is not None else finding)
    return top


def _covering(findings: list[Finding], units: list[ResultUnit],
              parts: list[tuple[str | None, ...]] | None = None) -> list[list[int]]:
    """For each result unit, the indices (ascending) of the findings whose scope covers it. ``parts``:
    each finding's scope parts (see :func:`_settle`), else worked out here.

    Findings are grouped by their scope's parts; a result then looks up its own parts cut to each
    shape the findings' scopes have (which parts they set: tree, submitter, system, benchmark,
    result) instead of testing every finding of the tree."""
    by_scope: dict[tuple[str | None, ...], list[int]] = {}
    for index, key in enumerate(parts if parts is not None else [f.scope.parts() for f in findings]):
        group = by_scope.get(key)
        if group is None:
            by_scope[key] = [index]
        else:
            group.append(index)
    shapes = {tuple(part is not None for part in key) for key in by_scope}
    masks = [[index for index, kept in enumerate(shape) if kept] for shape in shapes]
    owned = []
    for unit in units:
        mine = unit.scope.parts()
        keys = set()
        for mask in masks:
            key: list[str | None] = [None] * 5
            for index in mask:
                key[index] = mine[index]
            keys.add(tuple(key))
        groups = [group for key in keys if (group := by_scope.get(key)) is not None]
        if len(groups) == 1:
            owned.append(groups[0])
        else:
            owned.append(sorted(index for group in groups for index in group))
    return owned


@dataclass
class Partition:
    """What one submitter folder's checking returns to the engine: plain, picklable data only.

    Its findings are settled where it was checked (:func:`_settle`: each once, in report order, with
    their scope parts in :attr:`parts`); :attr:`own` is its submitter's (division, submitter) when
    every finding lies within that submitter, so that the engine can place the whole partition in
    the report's order without sorting its findings again (see :func:`_settle_run`)."""

    findings: list[Finding]
    metrics: list[Metric | None]
    facts: list[ResultFacts]
    systems: dict[str, SystemFacts]
    parser_calls: int = 0
    cache_hits: int = 0
    parts: list[tuple[str | None, ...]] | None = None
    own: tuple[str, str] | None = None
    #: the findings' report forms and which need the full surrogate test
    #: (:func:`checker.report.document.report_forms`)
    forms: tuple[list, list[int]] | None = None
    #: each result's report form as this partition alone makes it
    #: (:func:`checker.report.document.result_forms`)
    result_forms: list | None = None


@dataclass
class _Job:
    """What every partition shares (sent once to each worker)."""

    pack: RulePack
    specs: list[RuleSpec]
    select: Sequence[str]
    ignore: Sequence[str]
    options: dict[str, object]
    cache_dir: Path | None


def _partition_tree(tree: Tree, submission: Submission) -> Tree:
    return Tree(root=tree.root, submissions=[submission], divisions=tree.divisions, oddities=tree.oddities,
                top_entries=tree.top_entries)


def check_partition(job: _Job, tree: Tree, donated: dict | None = None) -> Partition:
    """Run the non-tree rules on a one-submission tree; return findings, metrics and report facts."""
    disk = None
    if job.cache_dir is not None:
        from checker.engine.cache import ParseCache

        disk = ParseCache(job.cache_dir)
    evidence = Evidence(tree.root, disk=disk, donated=donated)
    base = Context(pack=job.pack, evidence=evidence, tree=tree, options=dict(job.options))
    findings: list[Finding] = []
    for spec in job.specs:
        base.params = job.pack.rules[spec.id].params
        _run_rule(spec, base, findings)
    units = tree.units
    metrics: list[Metric | None] = []
    for unit in units:
        ctx = Context(pack=job.pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system,
                      unit=unit)
        try:
            metrics.append(headline_metric(ctx))
        except Exception:  # noqa: BLE001 - a metric we cannot read is reported by P012, not a crash
            metrics.append(None)
    findings.extend(_parse_findings(evidence, job.pack, job.select, job.ignore))
    # the report's extras: read after the parse findings were taken, so they add none
    facts: list[ResultFacts] = []
    systems: dict[str, SystemFacts] = {}
    for unit in units:
        ctx = Context(pack=job.pack, evidence=evidence, tree=tree, submission=unit.submission, system=unit.system,
                      unit=unit)
        facts.append(result_facts(ctx))
        key = unit.submission.system_scope(unit.system).label()
        if key not in systems:
            system = system_facts(ctx, unit.system)
            if system is not None:
                systems[key] = system
    _share_scopes(findings)
    findings, parts = _settle(findings)
    mine = (tree.submissions[0].division, tree.submissions[0].submitter)
    own = mine if all(p[0] == mine[0] and p[1] == mine[1] for p in parts) else None
    from checker.report.document import report_forms, result_forms  # the report's side of the plain data

    forms = report_forms(findings)
    covering = _covering(findings, units, parts)
    verdicts = [verdict_for([findings[i] for i in indices]) for indices in covering]
    partition = Partition(findings=findings, metrics=metrics, facts=facts, systems=systems,
                          parser_calls=evidence.parser_calls, cache_hits=disk.hits if disk else 0,
                          parts=parts, own=own, forms=forms,
                          result_forms=result_forms(units, covering, verdicts, metrics, facts, findings, forms[0]))
    evidence.release()
    return partition


def _share_scopes(findings: list[Finding]) -> None:
    """Give findings of equal scopes one Scope object: a partition's thousands of findings have a few
    hundred scopes, and a shared object is pickled (to the parent, into the cache) and loaded once."""
    shared: dict[Scope, Scope] = {}
    for finding in findings:
        scope = shared.setdefault(finding.scope, finding.scope)
        if scope is not finding.scope:
            finding.scope = scope


def _partition_task(job: _Job, tree: Tree, known: list | None = None) -> Partition:
    """A partition checked in a worker process (see :class:`checker.engine.pool.WorkerPool`);
    ``known``: its files' fingerprints from the partition cache's stamp (see
    :meth:`~checker.engine.partition_cache.PartitionCache.handoff`), remembered while it is checked."""
    if not known:
        return check_partition(job, tree)
    from checker.engine import cache

    for path, ident, found in known:
        cache.remember(path, ident, found)
    try:
        return check_partition(job, tree)
    finally:
        cache.forget([path for path, _, _ in known])


def default_jobs() -> int:
    """The machine's cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _pool_size(jobs: int, partitions: int, results: int) -> int:
    """Worker processes worth starting for ``partitions`` holding ``results``; 1: check them here."""
    workers = min(jobs, partitions)
    return workers if workers > 1 and results >= POOL_MIN_RESULTS else 1


def _known_unchanged(early_stamps: dict[str, FolderStamp | Remembered], submission: Submission) -> bool:
    """Whether the stamps taken ahead of the run found ``submission``'s folder as it was last run
    (a folder not stamped yet, or whose quick stamp failed, counts as changed)."""
    stamp = early_stamps.get(submission.rel)
    return stamp is not None and not stamp.changed


def lone_worker_for(tree: Tree, jobs: int, early_stamps: dict[str, FolderStamp | Remembered]) -> WorkerPool | None:
    """The one worker process for the lone changed submitter of a cached run (see
    :meth:`_Dispatch.start_if_worth`), started as soon as the stamps show it, so that it gets ready
    while this process detects the round and loads the unchanged submitters from the cache; None
    when the run is not such a run. A submitter that only looked changed (a folder touched, no file
    in it changed) is then found in the cache all the same: the worker goes unused, its start the
    only cost."""
    changed = sum(1 for submission in tree.submissions if not _known_unchanged(early_stamps, submission))
    if (jobs < 2 or changed != 1 or len(tree.submissions) - 1 < OVERLAP_MIN_PARTITIONS
            or not fork_is_safe()):
        return None
    return WorkerPool(1)


def pool_for(tree: Tree, jobs: int) -> WorkerPool | None:
    """Worker processes for checking ``tree`` with ``jobs``, started now (so that they get ready while
    the caller detects the round), or None when the tree is checked in this process."""
    workers = _pool_size(jobs, len(tree.submissions), len(tree.units))
    return WorkerPool(workers) if workers > 1 else None


def _run_partitions(job: _Job, tree: Tree, jobs: int, donated: dict, on_done: Callable[[str], None],
                    pool: WorkerPool | None = None, early_stamps: dict[str, FolderStamp | Remembered] | None = None,
                    while_waiting: Callable[[Partition], None] | None = None,
                    ) -> tuple[list[Partition], int, int]:
    """Every submission's partition, in tree order; the number of worker processes used; the number
    of partitions taken from the on-disk partition cache (``job.cache_dir``). ``pool``: workers
    started earlier (see :func:`pool_for`); the caller closes it.

    The partitions are taken largest first, so that no big submitter starts last and runs alone.
    With the cache, each is stamped and looked up in turn; the misses go to worker processes as soon
    as they are worth starting (see :func:`_pool_size`), so that the workers check while the rest of
    the tree is stamped. Partitions left when the stamping ends without that are checked here.
    ``early_stamps``: stamps already taken (:func:`checker.engine.prestamp.sweep_and_stamp`); the
    submitters whose files changed since the last run come first, so that a worker checks them while
    this process loads the others (see :meth:`_Dispatch.start_if_worth`). ``while_waiting``: called
    with each partition this process holds (before it waits for the workers, if any), and with each
    partition a worker returns (work that would otherwise wait for the last partition, see
    :func:`checker.check.run_check`)."""
    parts = [_partition_tree(tree, submission) for submission in tree.submissions]
    results: list[Partition | None] = [None] * len(parts)
    stamps: list[str | None] = [None] * len(parts)
    early = early_stamps or {}

    def unchanged(index: int) -> bool:
        return _known_unchanged(early, parts[index].submissions[0])

    order = sorted(range(len(parts)), key=lambda i: (unchanged(i), -len(parts[i].submissions[0].units)))
    store = None
    if job.cache_dir is not None:
        from checker.engine.partition_cache import PartitionCache

        store = PartitionCache(job.cache_dir, job, tree, early_stamps)
    dispatch = _Dispatch(job, parts, jobs, pool, store, changed=sum(not unchanged(i) for i in order))
    try:
        for position, index in enumerate(order):
            submission = parts[index].submissions[0]
            if store is not None:
                stamps[index] = store.stamp(submission)
                cached = store.load(submission, stamps[index])
                if cached is not None:
                    cached.parser_calls = cached.cache_hits = 0
                    results[index] = cached
                    on_done(submission.rel)
                    continue
            dispatch.add(index, unstamped=len(order) - position - 1)
        dispatch.start_if_worth(unstamped=0)

        def check_here(index: int) -> None:
            part = parts[index]
            mine = {key: donated.pop(key) for key in list(donated) if _under(key[0], part.submissions[0].path)}
            results[index] = check_partition(job, part, mine)
            if store is not None:
                store.store(part.submissions[0], stamps[index], results[index])
            on_done(part.submissions[0].rel)

        for index in sorted(dispatch.left):  # not worth a worker process: checked here, in tree order
            check_here(index)
        while (index := dispatch.take_back_last()) is not None:  # a core to spare: help the worker
            check_here(index)
        if while_waiting is not None:  # every partition at hand (when no worker runs: before the merge)
            for result in results:
                if result is not None:
                    _meanwhile(while_waiting, result)
        for index, result in dispatch.results():
            if while_waiting is not None:
                _meanwhile(while_waiting, result)
            results[index] = result
            if store is not None:
                store.store(parts[index].submissions[0], stamps[index], result)
            on_done(parts[index].submissions[0].rel)
    finally:
        dispatch.close()
    hits = store.hits if store is not None else 0
    return [r for r in results if r is not None], dispatch.workers, hits


def _meanwhile(work: Callable[[Partition], None], partition: Partition) -> None:
    """``while_waiting`` work: done ahead of its time only, so a failure leaves it to its usual place."""
    with contextlib.suppress(Exception):
        work(partition)


class _Dispatch:
    """The partitions to check, sent to worker processes once there are enough of them to be worth
    the workers (see :func:`_pool_size`); until then (or for good) they stay :attr:`left` to the caller."""

    def __init__(self, job: _Job, parts: list[Tree], jobs: int, pool: WorkerPool | None,
                 store: PartitionCache | None, changed: int) -> None:
        self.job, self.parts, self.store = job, parts, store
        #: partitions not known to be unchanged (see :func:`_run_partitions`): likely checked
        self.changed = changed
        # a pool of several workers was sized for this run (pool_for); one alone is the lone changed
        # submitter's (lone_worker_for), and the run's jobs still decide whether this process helps
        self.jobs = pool.workers if pool is not None and pool.workers > 1 else jobs
        self.given = pool
        self.pool: WorkerPool | None = None
        self.left: list[int] = []
        self.left_units = 0  # results in the partitions left
        self.futures: dict[Future, int] = {}
        self.workers = 1

    def add(self, index: int, unstamped: int) -> None:
        self.left.append(index)
        self.left_units += len(self.parts[index].submissions[0].units)
        if self.store is not None:  # without the cache every partition is known before the first is sent
            self.start_if_worth(unstamped)

    def start_if_worth(self, unstamped: int) -> None:
        """Send the partitions left to workers once two of them (with up to ``unstamped`` more to
        come) are worth the workers. A single changed submitter (the only one the early stamps
        found changed) goes to one worker when at least :data:`OVERLAP_MIN_PARTITIONS` submitters are
        still to be stamped and loaded from the cache, which this process does meanwhile; else it is
        checked here, without starting any."""
        if self.pool is None:
            if len(self.left) >= 2:
                workers = _pool_size(self.jobs, len(self.left) + unstamped, self.left_units)
                if workers <= 1:
                    return
            elif (self.left and self.changed == 1 and self.store is not None and self.jobs >= 2
                  and unstamped >= OVERLAP_MIN_PARTITIONS
                  and (self.lone_given() or (self.given is None and fork_is_safe()))):
                workers = 1
            else:
                return
            self.workers = workers
            self.pool = self.given or WorkerPool(workers)
        for index in self.left:
            known = self.store.handoff(self.parts[index].submissions[0]) if self.store is not None else None
            self.futures[self.pool.submit(_partition_task, self.job, self.parts[index], known)] = index
        self.left, self.left_units = [], 0

    def lone_given(self) -> bool:
        """Whether the caller started one worker for the lone changed submitter (lone_worker_for)."""
        return self.given is not None and self.given.workers == 1

    def take_back_last(self) -> int | None:
        """With fewer workers than ``jobs`` (one started for a single changed submitter, and more
        turned out changed), the last partition sent that no worker has started yet, to be checked
        here: the worker works from the first, this process from the last. None: nothing to take."""
        if self.pool is None or self.workers >= self.jobs:
            return None
        for future in reversed(list(self.futures)):
            if future.cancel():
                return self.futures.pop(future)
        return None

    def results(self) -> Iterator[tuple[int, Partition]]:
        """(index, partition) of each sent partition as it completes; one whose worker died is checked here."""
        from concurrent.futures import as_completed

        for future in as_completed(self.futures):
            index = self.futures[future]
            try:
                result = future.result()
            except Exception:  # noqa: BLE001 - a dead worker: check that partition here instead
                result = check_partition(self.job, self.parts[index])
            yield index, result

    def close(self) -> None:
        if self.pool is not None and self.pool is not self.given:
            self.pool.close()


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def run_checks(
    tree: Tree,
    pack: RulePack,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    extra_findings: Sequence[Finding] = (),
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
    progress: Progress | None = None,
    options: dict[str, object] | None = None,
    jobs: int = 1,
    cache_dir: Path | None = None,
    evidence: Evidence | None = None,
    pool: WorkerPool | None = None,
    early_stamps: dict[str, FolderStamp | Remembered] | None = None,
    while_waiting: Callable[[Partition], None] | None = None,
) -> RunOutcome:
    """Run the pack's rules over a discovered tree, apply the waivers and build the per-result report.

    ``jobs``: worker processes for the partitions (1: all in this process). ``cache_dir``: the
    on-disk parse cache. ``evidence``: the tree-level parse cache (round detection's sampled logs
    are handed to the partitions that own them instead of being parsed again). ``early_stamps``:
    the partition cache's stamps of submitter folders taken before (see :mod:`checker.engine.prestamp`).
    ``while_waiting``: see :func:`_run_partitions`."""
    started = time.perf_counter()
    evidence = evidence or Evidence(tree.root)
    base = Context(pack=pack, evidence=evidence, tree=tree, options=dict(options or {}))
    before: list[Finding] = list(extra_findings)  # the run's own findings, ahead of the partitions'
    specs = enabled_rules(pack, select, ignore)
    units = tree.units
    for spec in specs:
        if spec.scope == "tree":
            base.params = pack.rules[spec.id].params
            _run_rule(spec, base, before)
    job = _Job(pack=pack, specs=[s for s in specs if s.scope != "tree"], select=tuple(select),
               ignore=tuple(ignore), options=dict(options or {}), cache_dir=cache_dir)
    total = len(tree.submissions)
    done = [0]

    def on_done(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, label, len(units))

    partitions, workers, partition_hits = _run_partitions(job, tree, jobs, evidence.donated, on_done, pool,
                                                          early_stamps, while_waiting)
    # merged in tree order (partitions are the tree's submissions, in order), whatever ran where
    systems: dict[str, SystemFacts] = {}
    unit_facts: list[ResultFacts] = []
    metrics: list[Metric | None] = []
    for partition in partitions:
        metrics.extend(partition.metrics)
        unit_facts.extend(partition.facts)
        systems.update(partition.systems)
    results = [ResultReport(unit=unit, verdict="valid", metric=metric)
               for unit, metric in zip(units, metrics, strict=True)]
    after = _parse_findings(evidence, pack, select, ignore)  # the tree-level files' (after the partitions')
    checks_done = time.perf_counter()

    today = today or date.today()
    active = [w for w in waivers if not w.expired(today)]
    for waiver in waivers:
        waiver.matched, waiver.state = 0, "unused"
        if waiver.expired(today):
            waiver.state = "expired"
            extra = engine_finding(
                pack, select, ignore, "S023", scope=Scope(), path=waiver.tree_path,
                message=f"{waiver.label} expired on {waiver.expires}; not applied (reason was: {waiver.reason})",
                expected=f"a date on or after {today}", found=str(waiver.expires))
            if extra is not None:
                after.append(extra)
    findings, parts = _settle_run(before, partitions, after)
    findings = _apply_waivers(findings, results, active, parts)
    ran = {s.id for s in specs}
    unused = []
    for waiver in active:
        if waiver.matched:
            waiver.state = "applied"
        spec = REGISTRY.get(waiver.rule)
        applies = spec is not None and selected(waiver.rule, select, ignore) and (
            waiver.rule in ran or (spec.check is None and engine_severity(pack, waiver.rule, spec.default_severity)))
        if waiver.matched == 0 and applies:
            extra = engine_finding(
                pack, select, ignore, "S022", scope=Scope(), path=waiver.tree_path,
                message=f"{waiver.label} matched no finding (path {', '.join(waiver.paths)})",
                expected="a finding of the rule under the path", found="none")
            if extra is not None:
                unused.append(extra)
    if unused:
        findings = sorted(findings + unused, key=Finding.sort_key)
        for report in results:
            report.findings = sorted(report.findings + unused, key=Finding.sort_key)
    for report, facts in zip(results, unit_facts, strict=True):
        report.facts = facts
    verdicts_done = time.perf_counter()

    deselected = [rule_id for rule_id in sorted(pack.rules)
                  if rule_id not in ran and pack.severity(rule_id, Severity.ERROR) is not None
                  and not selected(rule_id, select, ignore)]
    end = time.perf_counter()
    timings = {"checks_s": checks_done - started, "verdicts_s": verdicts_done - checks_done,
               "report_facts_s": end - verdicts_done, "total_s": end - started}
    stats = {"jobs": workers, "partitions": len(partitions),
             "parser_calls": evidence.parser_calls + sum(p.parser_calls for p in partitions),
             "cache_hits": sum(p.cache_hits for p in partitions), "partition_cache_hits": partition_hits}
    evidence.release()
    if cache_dir is not None:  # the last group files (the tree-level ones too) are on disk when check returns
        from checker.engine.cache import run_done

        run_done(cache_dir)
    return RunOutcome(pack=pack, tree=tree, findings=findings, results=results, timings=timings,
                      rules_run=[s.id for s in specs], rules_deselected=deselected, evidence=evidence,
                      systems=systems, waivers=list(waivers), stats=stats)
