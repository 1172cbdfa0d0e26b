"""Rules the engine raises itself (parse problems, round mismatch); documented here like every rule."""

from __future__ import annotations

from checker.engine.registry import declare
from checker.findings import Severity

declare(
    "S004",
    title="File cannot be read",
    what="A submission file could not be parsed at all (empty, binary, not the expected format).",
    why="Nothing in an unreadable file can be verified, so the result it belongs to cannot be shown "
    "to comply.",
    section="Submission rules: each result folder holds the LoadGen logs and reports LoadGen wrote",
    fix="Replace the file with the original output of the run (LoadGen logs are never hand-edited).",
)
declare(
    "S005",
    title="File partly unreadable",
    what="A submission file was parsed, but some lines could not be read as expected.",
    why="Damaged or edited lines may hide values the rules need; the rest of the file was still used.",
    section="Submission rules: each result folder holds the LoadGen logs and reports LoadGen wrote",
    fix="Check the named line against the original output; restore the original file.",
    severity=Severity.WARNING,
)


declare(
    "S020",
    title="Tree looks like another round",
    scope="tree",
    severity=Severity.WARNING,
    what="The round given with --round differs from the round the tree's logs and layout point to.",
    why="Checking a tree against another round's rules gives findings that do not apply to it (seeds, "
    "durations, required fields).",
    section="mlperf-audit: round selection",
    fix="Run with the round the note names, or without --round to use the detected one.",
)

