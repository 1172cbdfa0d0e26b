"""`check` as a library call: discover, choose the round, run the rules, build the report document."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from checker.discover import discover
from checker.engine.roundsel import detect_round
from checker.engine.rulepack import PackError, known_rounds, load_pack
from checker.engine.runner import run_checks
from checker.findings import Finding, Scope, Severity
from checker.report.document import ReportDocument, build_document


def run_check(
    path: Path,
    round_name: str | None = None,
    submitter: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> ReportDocument:
    """Check one tree. Raises LookupError (exit 2) for an unknown round or a bad rule pack."""
    rounds = known_rounds()
    if round_name is not None and round_name not in rounds:
        raise LookupError(f"unknown round {round_name!r}; known rounds: {', '.join(rounds)}")
    tree = discover(path, submitter=submitter)
    detection = detect_round(tree)
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
        pack = load_pack(chosen)
    except PackError as exc:
        raise LookupError(str(exc)) from exc
    outcome = run_checks(tree, pack, select=select, ignore=ignore, extra_findings=extra)
    return build_document(outcome, round_source=source, round_notes=notes, tree=path)
