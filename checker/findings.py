"""The finding model: what every check produces and every reporter consumes.

A finding belongs to a *scope*: a whole tree, a submitter (division + submitter), a system, a
benchmark of a system, or one result (system + benchmark + scenario). A result's verdict takes every
finding whose scope covers it, so one broken system description invalidates each of that system's
results while being reported once.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Scope(BaseModel):
    """Which part of the tree a finding is about; unset trailing parts mean "all of it"."""

    model_config = {"frozen": True}

    division: str | None = None
    submitter: str | None = None
    system: str | None = None
    benchmark: str | None = None
    scenario: str | None = None

    def parts(self) -> tuple[str | None, ...]:
        return (self.division, self.submitter, self.system, self.benchmark, self.scenario)

    def covers(self, other: Scope) -> bool:
        """True when every part set here equals the same part of ``other``."""
        return all(mine is None or mine == theirs for mine, theirs in zip(self.parts(), other.parts(), strict=True))

    @property
    def level(self) -> str:
        return _LEVELS[5 - self.parts().count(None)]

    def label(self) -> str:
        return "/".join([part for part in self.parts() if part is not None]) or "(tree)"


#: a scope's level by how many of its parts are set (division alone is still the submitter level)
_LEVELS = ("tree", "submitter", "submitter", "system", "benchmark", "result")


class Finding(BaseModel):
    """One problem (or note) found in a tree, with where it is and how to fix it."""

    rule: str
    severity: Severity
    message: str
    scope: Scope = Field(default_factory=Scope)
    path: str | None = None
    line: int | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    waived: bool = False
    waiver_reason: str | None = None

    @property
    def blocking(self) -> bool:
        """An unwaived error makes the results it covers invalid."""
        return self.severity == Severity.ERROR and not self.waived

    def sort_key(self) -> tuple[Any, ...]:
        return (
            scope_order(self.scope),
            SEVERITY_ORDER[self.severity],
            self.rule,
            self.path or "",
            self.line or 0,
            self.message,
        )


def scope_order(scope: Scope) -> tuple[str, ...]:
    """A scope's part of :meth:`Finding.sort_key`: the tree's own findings first, then by division,
    submitter, system, benchmark and scenario, each broader scope before the narrower ones in it."""
    return (scope.division or "", scope.submitter or "", scope.system or "", scope.benchmark or "",
            scope.scenario or "")


def as_text(value: Any) -> str | None:
    """Expected/found values are shown as text; floats without noise."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return str(value)
