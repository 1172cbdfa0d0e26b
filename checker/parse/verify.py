"""Compliance verification outputs: ``verify_accuracy.txt``, ``verify_performance.txt``, ...

These are the tee'd stdout of the compliance scripts (TEST01/03/04/05 ``verify_*.py``, TEST06/09
``run_verification.py``). Every official checker only greps them for ``TEST PASS`` although the
figures behind the verdict are printed right there (official-checker.md §8.4), so the model keeps
both: the claimed verdict(s) with their lines, and every ``name = number`` / ``name: number`` figure,
so a check can recompute the verdict from the figures (or from the logs) instead of trusting it.

Real files are messier than the scripts suggest: the outputs of two steps are often concatenated
without a newline (``TEST PASSVerifying performance.``), a Python traceback may replace the figures,
and the TEST06/TEST09 scripts print ``<name> check pass: True|False|Skipped`` lines instead of (or
before) a verdict. A physical line is therefore split into logical segments at the known step
starts before being read; a verdict sharing its line with other output is marked ``fused``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from checker.parse.base import (
    ParseResult,
    ProblemSink,
    Sourced,
    display_path,
    text_lines,
)

KIND = "verify"

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"

# Where a new logical line starts even without a newline before it.
#: The words a step's output starts with; a line without them is one segment (see _may_split).
_STEP_WORDS = ("TEST ", "Verifying ")
_SEGMENT_START = re.compile(rf"(?={_STEP_WORDS[0]}(?:PASS|FAIL)|{_STEP_WORDS[1]}(?:accuracy|performance))")
_VERDICT = re.compile(r"TEST (?P<word>PASS|FAIL)")
_SECTION = re.compile(r"^\s*Verifying (?P<name>accuracy|performance)\b")
_FIGURE = re.compile(
    rf"^\s*(?P<name>[A-Za-z][\w .()/@#+-]*?)\s*(?P<sep>=|:)\s*(?P<v>{NUM})\s*(?P<unit>%|ns|ms|us|s)?"
    r"(?:\s*->\s*(?P<flag>PASS|FAIL))?\s*$"
)
_CHECK = re.compile(r"^\s*(?P<name>[A-Za-z][\w -]*? check) pass\s*:\s*(?P<status>\S+)\s*$")
_COMPLETE = re.compile(r"^\s*(?P<test>TEST\d+\w*) verification complete\b")
_WARNING = re.compile(r"^\s*(?:WARNING\b|Warning:|Note:)")
_ERROR = re.compile(r"^\s*(?:Traceback \(most recent call last\)|[A-Za-z_][\w.]*(?:Error|Exception)\b:|ERROR\b)")


_KEY_GAPS = re.compile(r"[\s-]+")


@functools.lru_cache(maxsize=1024)
def figure_key(name: str) -> str:
    """Normalised figure name: ``Reference score`` and ``reference score`` → ``reference_score``.
    Remembered per name: the scripts print a few dozen names, each in hundreds of files."""
    return _KEY_GAPS.sub("_", name.strip()).lower()


def clear_caches() -> None:
    """Forget the names seen (checker.parse.kinds.clear_caches calls this before a benchmark pass)."""
    figure_key.cache_clear()


class Verdict(BaseModel, defer_build=True):
    """One ``TEST PASS`` / ``TEST FAIL`` as printed."""

    passed: bool
    text: str = Field(description="'TEST PASS' or 'TEST FAIL'")
    line: int
    column: int
    at_line_start: bool
    fused: bool = Field(description="shares its line with other output (missing newline between steps)")
    reason: str | None = Field(None, description="text after the verdict, e.g. 'Test score invalid'")
    section: str | None = Field(None, description="the 'Verifying …' step it follows: accuracy/performance")


class Figure(BaseModel, defer_build=True):
    """A ``name = number`` or ``name: number`` line."""

    name: str = Field(description="the name as printed")
    key: str = Field(description="normalised name (lower case, '_' for spaces)")
    value: float
    raw: str
    unit: str | None = None
    flag: str | None = Field(None, description="a trailing '-> PASS|FAIL' when printed")
    line: int
    section: str | None = None


class CheckFlag(BaseModel, defer_build=True):
    """``<name> check pass: True|False|Skipped`` (TEST06 and TEST09 scripts)."""

    name: str
    key: str
    status: str = Field(description="as printed: True, False, Skipped, ...")
    passed: bool | None = Field(description="True/False; None when skipped or not a boolean")
    line: int


class VerifyOutput(BaseModel, defer_build=True):
    """The claims of one verification output file."""

    verdict: Sourced[Literal["PASS", "FAIL"]] | None = Field(
        None,
        description="FAIL (at the first FAIL line) if any verdict line says FAIL, else PASS (at the last "
        "PASS line); None without any verdict line",
    )
    verdicts: list[Verdict] = Field(default_factory=list)
    conflicting_verdicts: bool = False
    figures: list[Figure] = Field(default_factory=list)
    checks: list[CheckFlag] = Field(default_factory=list)
    checks_pass: bool | None = Field(
        None, description="all printed checks True or Skipped (at least one True); None without checks"
    )
    completion: Sourced[str] | None = Field(None, description="'TESTxx verification complete' line")
    sections: list[Sourced[str]] = Field(default_factory=list)
    warnings: list[Sourced[str]] = Field(default_factory=list)
    errors: list[Sourced[str]] = Field(default_factory=list, description="tracebacks and exception lines")
    line_count: int = 0

    def figure(self, key: str, section: str | None = None) -> Sourced[float] | None:
        """The first figure of this (normalised) name, optionally within one section."""
        values = self.figure_values(key, section)
        return values[0] if values else None

    def figure_values(self, key: str, section: str | None = None) -> list[Sourced[float]]:
        key = figure_key(key)
        return [
            Sourced(value=f.value, line=f.line)
            for f in self.figures
            if f.key == key and (section is None or f.section == section)
        ]


def parse_verify(path: Path, root: Path | None = None) -> ParseResult[VerifyOutput]:
    """Read one verification output. Never raises; a file without any verdict is a problem."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[VerifyOutput](kind=KIND, path=shown)
    lines = text_lines(path, sink, "the verification output")
    if lines is None:
        result.problems = sink.finish()
        return result

    model = VerifyOutput()
    section: str | None = None
    line_count = 0
    for lineno, text in lines:
        line_count = lineno
        if not text.strip():
            continue
        # split only a line that holds a step start (few do): else the line is its one segment
        segments = [s for s in _SEGMENT_START.split(text) if s.strip()] if _may_split(text) else [text]
        fused_line = len(segments) > 1
        column = 0
        for segment in segments:
            column = text.find(segment, column)
            section = _read_segment(segment, lineno, column, fused_line, section, model)
            column += len(segment)

    model.line_count = line_count
    words = {v.passed for v in model.verdicts}
    model.conflicting_verdicts = len(words) > 1
    if model.verdicts:
        fail = next((v for v in model.verdicts if not v.passed), None)
        deciding = fail or model.verdicts[-1]
        model.verdict = Sourced(value="FAIL" if fail else "PASS", line=deciding.line)
    if model.checks:
        flags = {c.passed for c in model.checks}
        if False in flags:
            model.checks_pass = False
        elif True in flags:
            model.checks_pass = True  # the rest are True or Skipped

    unreadable = any(p.code == "unreadable" for p in sink.problems)
    if line_count == 0 and not unreadable:
        sink.add("empty", "the verification output is empty", expected="the script's output ending in TEST PASS")
    if not model.verdicts and not model.checks and not unreadable:
        sink.add(
            "no_verdict",
            "no 'TEST PASS' or 'TEST FAIL' line" + (" (the script raised an exception)" if model.errors else ""),
            line=model.errors[0].line if model.errors else None,
            expected="a line 'TEST PASS' or 'TEST FAIL'",
        )
    result.model = None if unreadable and not line_count else model
    result.problems = sink.finish()
    return result


def _may_split(text: str) -> bool:
    """Whether _SEGMENT_START can match in ``text``: two substring tests, cheaper than the split."""
    return any(word in text for word in _STEP_WORDS)


def _read_segment(
    segment: str, lineno: int, column: int, fused_line: bool, section: str | None, model: VerifyOutput
) -> str | None:
    """Record what one logical line says; returns the section in force after it."""
    heading = _SECTION.match(segment)
    if heading:
        model.sections.append(Sourced(value=segment.strip(), line=lineno))
        return heading.group("name")
    verdicts = list(_VERDICT.finditer(segment))
    for i, m in enumerate(verdicts):
        stop = verdicts[i + 1].start() if i + 1 < len(verdicts) else len(segment)
        reason = segment[m.end() : stop].strip().lstrip(":").strip() or None
        model.verdicts.append(
            Verdict(
                passed=m.group("word") == "PASS",
                text=m.group(),
                line=lineno,
                column=column + m.start(),
                at_line_start=column + m.start() == 0,
                fused=fused_line or bool(segment[: m.start()].strip()),
                reason=reason,
                section=section,
            )
        )
    if verdicts:
        return section
    check = _CHECK.match(segment)
    if check:
        status = check.group("status")
        passed = {"true": True, "false": False}.get(status.lower())
        name = check.group("name")
        model.checks.append(CheckFlag(name=name, key=figure_key(name), status=status, passed=passed, line=lineno))
        return section
    figure = _FIGURE.match(segment)
    if figure:
        name = figure.group("name").strip()
        model.figures.append(
            Figure(
                name=name,
                key=figure_key(name),
                value=float(figure.group("v")),
                raw=figure.group("v"),
                unit=figure.group("unit"),
                flag=figure.group("flag"),
                line=lineno,
                section=section,
            )
        )
        return section
    complete = _COMPLETE.match(segment)
    if complete:
        model.completion = Sourced(value=complete.group("test"), line=lineno)
        return section
    if _WARNING.match(segment):
        model.warnings.append(Sourced(value=segment.strip()[:200], line=lineno))
    elif _ERROR.match(segment):
        model.errors.append(Sourced(value=segment.strip()[:200], line=lineno))
    return section
