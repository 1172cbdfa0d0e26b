"""`check` as a library call: discover, choose the round, run the rules, build the report document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from checker.discover import discover, inside_tree
from checker.engine.evidence import Evidence
from checker.engine.roundsel import detect_round
from checker.engine.rulepack import PackError, known_rounds, load_pack_cached
from checker.engine.runner import Progress, engine_finding, lone_worker_for, pool_for, run_checks
from checker.engine.waivers import TREE_FILE, Waiver, load_cli_waivers, read_waiver_file
from checker.findings import Finding, Scope, Severity
from checker.report.document import PreparedFindings, ReportDocument, build_document
from checker.runtime import keep_until_exit, long_lived


def run_check(
    path: Path,
    round_name: str | None = None,
    submitter: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    waivers_file: Path | None = None,
    tree_waivers: bool = True,
    today: date | None = None,
    progress: Progress | None = None,
    models: Path | None = None,
    annotations: dict[str, Path] | None = None,
    jobs: int = 1,
    cache: Path | None = None,
) -> ReportDocument:
    """Check one tree. Raises LookupError (exit 2) for an unknown round, a bad rule pack or an unusable
    ``--waivers`` file (:class:`~checker.engine.waivers.WaiverFileError`).

    ``models`` is a model mapping file (:mod:`checker.model_audit.mapping`); a bad one raises LookupError.

    ``jobs``: worker processes (see :func:`~checker.engine.runner.run_checks`); ``cache``: folder of
    the on-disk parse cache (:mod:`checker.engine.cache`), which must lie outside the tree.

    Waivers come from ``waivers_file`` and, unless ``tree_waivers`` is false, from ``mlperf-audit.toml``
    at the tree's root (read only; its unusable entries are S021 findings and skipped).
    """
    rounds = known_rounds()
    if round_name is not None and round_name not in rounds:
        raise LookupError(f"unknown round {round_name!r}; known rounds: {', '.join(rounds)}")
    from checker.engine.registry import load_all_checks

    known_rules = set(load_all_checks())
    waivers: list[Waiver] = []
    if waivers_file is not None:
        waivers.extend(load_cli_waivers(waivers_file, known_rules))
    early_stamps = None
    if cache is None:
        tree = discover(path, submitter=submitter)
    else:  # listed once, for the stamps too; on a large tree with a warm cache, in two processes
        from checker.engine.prestamp import sweep_and_stamp

        tree = discover(path, submitter=submitter, keep_listings=True, sweep=False)
        early_stamps = sweep_and_stamp(tree, cache, jobs)
    disk = None
    if cache is not None:
        from checker.engine.cache import ParseCache

        disk = ParseCache(cache)
    evidence = Evidence(path, disk=disk)
    # Workers start now and get ready while the round is detected. With a cache, the partitions
    # still to check are known only later (a warm run may need no worker at all), except the lone
    # changed submitter of a large tree, whose worker the stamps call for now.
    pool = pool_for(tree, jobs) if early_stamps is None else lone_worker_for(tree, jobs, early_stamps)
    try:
        detection = detect_round(tree, evidence=evidence, cache_dir=cache)
        notes: list[str] = []
        extra: list[Finding] = []
        if round_name is None:
            if detection.round is None:
                raise LookupError(
                    f"cannot detect the round of {path}; pass --round (known rounds: {', '.join(rounds)})"
                )
            chosen, source = detection.round, "detected"
            notes.extend(detection.reasons)
        else:
            chosen, source = round_name, "given"
            if detection.round is not None and detection.round != round_name:
                message = f"--round {round_name} given, but the tree looks like {detection.round} ({'; '.join(detection.reasons)})"
                notes.append(message)
                extra.append(Finding(rule="S020", severity=Severity.WARNING, message=message, scope=Scope(),
                                     expected=detection.round, found=round_name))
        try:
            pack = load_pack_cached(chosen, cache)
        except PackError as exc:
            raise LookupError(str(exc)) from exc
        tree_file = path / TREE_FILE
        # a mlperf-audit.toml that links out of the tree is not read (discovery reports the link, S002)
        if tree_waivers and tree_file.is_file() and inside_tree(path, tree_file):
            found, problems = read_waiver_file(tree_file, source=TREE_FILE, known_rules=known_rules, tree_path=TREE_FILE)
            waivers.extend(found)
            for problem in problems:
                finding = engine_finding(pack, select, ignore, "S021", message=problem, scope=Scope(), path=TREE_FILE)
                if finding is not None:
                    extra.append(finding)
        if models is not None:  # the model audit of `--models` (imported only when asked for)
            from checker.model_audit.mapping import audit_mapped_models

            extra.extend(audit_mapped_models(models, tree, pack, select=select, ignore=ignore))
        # the findings of the partitions at hand are put in report form while workers check the others
        prepared = PreparedFindings()
        outcome = run_checks(tree, pack, select=select, ignore=ignore, extra_findings=extra, waivers=waivers,
                             today=today, progress=progress, options={"annotations": dict(annotations or {})},
                             jobs=jobs, cache_dir=cache, evidence=evidence, pool=pool, early_stamps=early_stamps,
                             while_waiting=prepared.add_partition)
        with long_lived():  # the report lives until it is written
            document = build_document(outcome, round_source=source, round_notes=notes, tree=path,
                                      prepared=prepared)
        keep_until_exit(outcome)  # findings and partitions, freed with the process (if it is the CLI's)
        return document
    finally:
        if pool is not None:
            pool.close()
