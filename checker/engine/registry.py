"""The check registry: every rule is a function registered under a stable ID with its own documentation.

A rule declares its scope (``tree``, ``submitter``, ``system``, ``result``), a default severity, and
four pieces of documentation that ``mlperf-audit explain`` prints and docs/rules.md is generated
from: what it checks, why it matters, the rules' section it enforces, and how to fix a failure.
Whether a rule runs in a round, with which severity and parameters, is the rule pack's business.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from checker.findings import Scope, Severity

RULE_ID = re.compile(r"^[SYPACLMRX]\d{3}$")
AREAS = {
    "S": "structure and required files",
    "Y": "system description and measurements",
    "P": "performance logs",
    "A": "accuracy",
    "C": "compliance tests",
    "L": "LoadGen integrity",
    "M": "model audit",
    "R": "re-runs on the real LoadGen",
    "X": "internal errors of the tool",
}
SCOPES = ("tree", "submitter", "system", "result")


@dataclass
class Violation:
    """What a check yields: the engine adds the rule ID, severity, scope and default fix hint."""

    message: str
    path: str | None = None
    line: int | None = None
    expected: Any = None
    found: Any = None
    hint: str | None = None
    severity: Severity | None = None
    scope: Scope | None = None


@dataclass
class RuleSpec:
    id: str
    title: str
    scope: str
    default_severity: Severity
    what: str
    why: str
    section: str
    fix: str
    check: Callable[..., Iterable[Violation]] | None = None
    help_uri: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def area(self) -> str:
        return AREAS[self.id[0]]


REGISTRY: dict[str, RuleSpec] = {}


def rule(
    rule_id: str,
    *,
    title: str,
    scope: str,
    what: str,
    why: str,
    section: str,
    fix: str,
    severity: Severity = Severity.ERROR,
    help_uri: str | None = None,
) -> Callable[[Callable[..., Iterable[Violation]]], Callable[..., Iterable[Violation]]]:
    """Register a check function under ``rule_id`` (decorator)."""
    if not RULE_ID.match(rule_id):
        raise ValueError(f"bad rule id {rule_id!r}")
    if scope not in SCOPES:
        raise ValueError(f"bad scope {scope!r} for {rule_id}")

    def register(function: Callable[..., Iterable[Violation]]) -> Callable[..., Iterable[Violation]]:
        if rule_id in REGISTRY and REGISTRY[rule_id].check is not function:
            raise ValueError(f"rule {rule_id} registered twice")
        REGISTRY[rule_id] = RuleSpec(
            id=rule_id,
            title=title,
            scope=scope,
            default_severity=severity,
            what=what,
            why=why,
            section=section,
            fix=fix,
            check=function,
            help_uri=help_uri,
        )
        return function

    return register


def declare(rule_id: str, *, title: str, what: str, why: str, section: str, fix: str,
            severity: Severity = Severity.ERROR, scope: str = "result") -> None:
    """Document a rule that the engine raises itself (parse problems, internal errors)."""
    REGISTRY.setdefault(
        rule_id,
        RuleSpec(id=rule_id, title=title, scope=scope, default_severity=severity, what=what, why=why,
                 section=section, fix=fix, check=None),
    )


def load_all_checks() -> dict[str, RuleSpec]:
    """Import every module of ``checker.checks`` so that their rules register; return the registry.

    The model audit's M rules are declared by ``checker.model_audit.rules`` (the audit raises them
    itself, from `mlperf-audit model` or `check --models`), imported here so that `explain`,
    `rules` and docs/rules.md know them too."""
    import checker.checks as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    importlib.import_module("checker.model_audit.rules")
    return REGISTRY


declare(
    "X001",
    title="Internal error in a check",
    scope="tree",
    what="A check raised an exception instead of returning findings. The other checks still ran.",
    why="The tool must never hide a problem behind a crash; an internal error means this rule's "
    "verdict on the scope is unknown, so the result cannot be called valid by this rule.",
    section="mlperf-audit design: 'an exception inside a check becomes an internal-error finding'",
    fix="Report it to the mlperf-audit developers with the message and the file it names; rerun with "
    "--select to skip the rule meanwhile.",
)
