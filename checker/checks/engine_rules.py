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


WAIVERS_SECTION = "mlperf-audit design: waivers (a rule ID, a path glob of results, a reason, an optional expiry)"

declare(
    "S021",
    title="Waivers file unusable",
    scope="tree",
    severity=Severity.WARNING,
    what="The tree's mlperf-audit.toml cannot be read as TOML, or one of its [[waiver]] entries lacks "
    "a rule ID, a path glob or a reason, names an unknown rule, has an unknown key or a bad expiry date.",
    why="An unusable waiver is not applied, so the findings it was meant to cover still count; the "
    "file's owner should know why.",
    section=WAIVERS_SECTION,
    fix="Fix the entry the message names: each [[waiver]] needs rule = \"P008\", path = \"<glob>\" (or a "
    "list), reason = \"…\", and optionally expires = YYYY-MM-DD. A --waivers file with such a problem "
    "stops the tool instead (exit 2).",
)
declare(
    "S022",
    title="Waiver matched nothing",
    scope="tree",
    severity=Severity.WARNING,
    what="A waiver's rule ran, but no finding of that rule lies under the waiver's path globs.",
    why="A waiver that no longer matches is stale: it hides nothing today but would silently hide a "
    "new problem of the same rule later, or its glob has a typo and the finding it meant is not waived.",
    section=WAIVERS_SECTION,
    fix="Remove the waiver, or correct its path glob (globs match tree-relative result folders such as "
    "closed/Org/results/System/benchmark/Scenario, scope paths and file paths; a folder covers what is "
    "below it).",
)
declare(
    "S023",
    title="Waiver expired",
    scope="tree",
    severity=Severity.WARNING,
    what="A waiver's expiry date has passed; it is ignored, so the findings it covered count again.",
    why="Waivers are meant to be temporary exceptions with an owner; an expired one must be reviewed "
    "rather than silently kept or silently dropped.",
    section=WAIVERS_SECTION,
    fix="Fix the underlying problem, or renew the waiver with a new expires date and an updated reason.",
)
