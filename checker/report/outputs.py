"""Where reports go: stdout, ``--output``, extra ``--report FORMAT=FILE`` files, the GitHub job summary,
and the progress line on a terminal.

One run can give everything a CI job needs (annotations, a job summary and a CSV) because the report
document is built once and rendered per target. Every file is written atomically and never inside
the checked tree; the job summary (``$GITHUB_STEP_SUMMARY``, a file GitHub owns) is appended to.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from checker.report.document import ReportDocument
from checker.report.render import FORMATS, render
from checker.report.write import UnsafeOutput, inside, write_atomically

JOB_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
#: trees with at most this many results get no progress line (they take a moment)
PROGRESS_MIN_RESULTS = 20


@dataclass
class RenderOptions:
    verbose: bool = False
    quiet: bool = False
    path_prefix: str = ""
    csv_columns: str = "official"


@dataclass
class ReportTarget:
    fmt: str
    path: Path


def parse_report_option(value: str) -> ReportTarget:
    """``FORMAT=FILE`` (e.g. ``sarif=results.sarif``); raises ValueError with a readable message."""
    fmt, sep, path = value.partition("=")
    fmt = fmt.strip().lower()
    if not sep or not path.strip():
        raise ValueError(f"--report {value!r}: expected FORMAT=FILE, e.g. sarif=mlperf-audit.sarif")
    if fmt not in FORMATS:
        raise ValueError(f"--report {value!r}: unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return ReportTarget(fmt=fmt, path=Path(path.strip()))


def check_targets(targets: list[ReportTarget], tree: Path) -> None:
    for target in targets:
        if inside(target.path, tree):
            raise UnsafeOutput(f"refusing to write {target.path}: it is inside the checked tree (the tree is read-only)")


def write_reports(doc: ReportDocument, targets: list[ReportTarget], tree: Path, options: RenderOptions) -> None:
    for target in targets:
        text = render(doc, target.fmt, verbose=options.verbose, quiet=False, path_prefix=options.path_prefix,
                      csv_columns=options.csv_columns)
        write_atomically(target.path, text, tree=tree)


def job_summary_path(env: dict[str, str] | None = None) -> Path | None:
    value = (env if env is not None else os.environ).get(JOB_SUMMARY_ENV, "").strip()
    return Path(value) if value else None


def append_job_summary(doc: ReportDocument, tree: Path, options: RenderOptions,
                       env: dict[str, str] | None = None) -> Path | None:
    """Append the Markdown report to ``$GITHUB_STEP_SUMMARY`` when it is set; returns the file written."""
    path = job_summary_path(env)
    if path is None:
        return None
    if inside(path, tree):
        raise UnsafeOutput(f"refusing to write {path} (${JOB_SUMMARY_ENV}): it is inside the checked tree")
    text = render(doc, "markdown", verbose=options.verbose)
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text)
    return path


@dataclass
class TerminalProgress:
    """A one-line progress indicator on stderr, drawn only on a terminal and for larger trees."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    min_results: int = PROGRESS_MIN_RESULTS
    interval_s: float = 0.1
    _drawn: bool = False
    _last: float = 0.0

    @classmethod
    def for_terminal(cls, quiet: bool) -> TerminalProgress | None:
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls() if tty and not quiet else None

    def __call__(self, done: int, total: int, label: str, results: int) -> None:
        if results <= self.min_results:
            return
        now = time.monotonic()
        if done < total and now - self._last < self.interval_s:
            return
        self._last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r\x1b[Kchecking {results} results [{bar}] {done}/{total} rules {label}")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


ProgressFn = Callable[[int, int, str, int], None]
