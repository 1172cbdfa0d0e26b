"""LoadGen's ``mlperf_log_summary.txt``: both the 2019 text (v0.5/v0.7) and the current layout.

The summary is human-readable text, yet checkers and the compliance scripts treat it as an API. We
read every ``key : value`` line with its line number, the validity block, the headline line (the
first figure LoadGen prints after ``Mode``), the early-stopping block, the latency statistics (kept
per block, because the 2019 MultiStream summary prints a per-query and a per-sample block with the
same keys), the "Test Parameters Used" block and the error/warning footer. Scenario and mode names
are normalised (``Single Stream`` → ``SingleStream``, ``Performance`` → ``PerformanceOnly``), and
the raw spelling is kept so a check can tell the generations apart.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from checker.parse.base import ParseResult, ProblemSink, Sourced, display_path, iter_lines

KIND = "loadgen_summary"

SCENARIOS = {
    "singlestream": "SingleStream",
    "multistream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
    "interactive": "Interactive",
}
MODES = {
    "performance": "PerformanceOnly",
    "performanceonly": "PerformanceOnly",
    "accuracy": "AccuracyOnly",
    "accuracyonly": "AccuracyOnly",
    "submission": "SubmissionRun",
    "submissionrun": "SubmissionRun",
    "findpeakperformance": "FindPeakPerformance",
}

_SECTION_TITLES = {"MLPerf Results Summary": "results", "Additional Stats": "stats", "Test Parameters Used": "parameters"}
# A 'key : value' line is split at its first colon; the key must look like one of LoadGen's.
_KEY = re.compile(r"[A-Za-z0-9_][\w .()/*+%-]*")
_FOOTER = re.compile(r"^(No|\d+)\s+(warning|ERROR)", re.IGNORECASE)
_ES_ESTIMATE = re.compile(r"Early stopping\s+([\d.]+)(?:th)?\s+percentile estimate\s*:\s*([-\d.eE+]+)")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def canonical_scenario(text: str) -> str | None:
    """``Single Stream``/``singlestream``/``SingleStream`` → ``SingleStream``; None if unknown."""
    return SCENARIOS.get(re.sub(r"[\s_-]", "", text).lower())


def canonical_mode(text: str) -> str | None:
    return MODES.get(re.sub(r"[\s_-]", "", text).lower())


def to_number(text: str) -> float | None:
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    return None


class Headline(BaseModel):
    """The one figure LoadGen prints right after the mode: the run's metric as LoadGen sees it."""

    label: str
    value: float
    line: int


class StatBlock(BaseModel):
    """Latency statistics of one block (``main``, ``per_query`` or ``per_sample``)."""

    values: dict[str, Sourced[float]] = Field(default_factory=dict)

    def percentile(self, pct: float) -> Sourced[float] | None:
        return self.values.get(f"{pct:.2f} percentile latency (ns)")


class LoadGenSummary(BaseModel):
    """Typed view of one summary file. Absent parts are None, never guessed."""

    generation: str = Field(description="'2019' for the v0.5/v0.7 text (spaced scenario names), else 'current'")
    sut_name: Sourced[str] | None = None
    scenario: Sourced[str] | None = None
    scenario_raw: str | None = None
    mode: Sourced[str] | None = None
    mode_raw: str | None = None
    headline: Headline | None = None
    validity: Sourced[str] | None = None
    satisfied: dict[str, Sourced[bool]] = Field(default_factory=dict)
    recommendations: list[Sourced[str]] = Field(default_factory=list)
    early_stopping_lines: list[Sourced[str]] = Field(default_factory=list)
    early_stopping_estimates: dict[str, Sourced[float]] = Field(default_factory=dict)
    notes: list[Sourced[str]] = Field(default_factory=list, description="free-text lines LoadGen prints")
    fields: dict[str, Sourced[str]] = Field(
        default_factory=dict, description="every key : value line outside the parameters; the last duplicate wins"
    )
    stats: dict[str, StatBlock] = Field(default_factory=dict)
    test_parameters: dict[str, Sourced[str]] = Field(default_factory=dict)
    warning_count: Sourced[int] | None = None
    error_count: Sourced[int] | None = None
    footer_only: bool = Field(False, description="True for AccuracyOnly summaries: only the footer lines")

    def number(self, key: str) -> Sourced[float] | None:
        """A numeric field of the results or statistics part, e.g. ``Samples per second``."""
        entry = self.fields.get(key)
        if entry is None:
            return None
        value = to_number(entry.value)
        return None if value is None else Sourced(value, line=entry.line)

    def parameter(self, name: str) -> Sourced[str] | None:
        return self.test_parameters.get(name)

    def parameter_number(self, name: str) -> Sourced[float] | None:
        entry = self.test_parameters.get(name)
        if entry is None:
            return None
        text = {"true": "1", "false": "0"}.get(entry.value.lower(), entry.value)
        value = to_number(text)
        return None if value is None else Sourced(value, line=entry.line)


def parse_summary(path: Path, root: Path | None = None) -> ParseResult[LoadGenSummary]:
    """Read one summary file. Never raises; unreadable parts become problems."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    state = _State()
    for lineno, text in iter_lines(path, sink):
        state.feed(lineno, text, sink)
    model = state.build(sink)
    return ParseResult[LoadGenSummary](kind=KIND, path=shown, model=model, problems=sink.finish())


class _State:
    """Line-by-line reader; sections are told apart by their title lines."""

    def __init__(self) -> None:
        self.section = "results"
        self.block = "main"
        self.recognised = 0
        self.in_early_stopping = False
        self.in_recommendations = False
        self.data: dict = {
            "fields": {},
            "stats": {},
            "test_parameters": {},
            "satisfied": {},
            "recommendations": [],
            "early_stopping_lines": [],
            "early_stopping_estimates": {},
            "notes": [],
        }
        self.footer_seen = False
        self.content_seen = False

    def feed(self, lineno: int, text: str, sink: ProblemSink) -> None:
        if "\x00" in text:
            text = text.replace("\x00", "")
        stripped = text.strip()
        if self.section == "parameters" and stripped and not self.in_recommendations:
            # the common line of the last block, 'name : value'; anything else takes the full path
            key, colon, value = stripped.partition(":")
            key = key.rstrip()
            if colon and key and key[0] not in "*NWER0123456789" and _KEY.fullmatch(key):
                self.content_seen = True
                self.recognised += 1
                self.data["test_parameters"][key] = Sourced(value.lstrip(), lineno)
                return
        if not stripped.strip("="):  # blank line or a ===== rule ends a free-text block
            self.in_early_stopping = self.in_recommendations = False
            return
        first = stripped[0]
        if first in "MAT" and stripped in _SECTION_TITLES:
            self.section = _SECTION_TITLES[stripped]
            self.block = "main"
            self.recognised += 1
            return
        if first == "*":
            self._bullet(lineno, stripped)
            return
        if first == "N" or first.isdigit():
            footer = _FOOTER.match(stripped)
            if footer:
                self._footer(lineno, stripped, footer)
                return
        if first in "ER":
            if stripped.startswith("Early Stopping Result"):
                self.in_early_stopping = True
                return
            if stripped.startswith("Recommendations"):
                self.in_recommendations = True
                return
        if self.section == "stats" and first in "PIpi" and self._block_title(stripped):
            return
        if first == "W" and stripped.startswith("WARNING") or self.in_recommendations:
            self.in_recommendations = True  # free text until the next blank line
            self.data["notes"].append(Sourced(stripped, line=lineno))
            return
        key, colon, value = stripped.partition(":")
        key = key.rstrip()
        if not colon or not _KEY.fullmatch(key):
            sink.add("syntax", "line is not 'key : value'", line=lineno, found=stripped)
            return
        self.content_seen = True
        self.recognised += 1
        self._key_value(lineno, key, value.lstrip(), sink)

    def _footer(self, lineno: int, text: str, match: re.Match[str]) -> None:
        count = 0 if match.group(1).lower() == "no" else int(match.group(1))
        slot = "warning_count" if match.group(2).lower() == "warning" else "error_count"
        self.data[slot] = Sourced(count, line=lineno)
        self.footer_seen = True
        self.recognised += 1

    def _bullet(self, lineno: int, text: str) -> None:
        body = text.lstrip("* ").strip()
        if self.in_recommendations:
            self.data["recommendations"].append(Sourced(body, line=lineno))
            return
        self.data["early_stopping_lines"].append(Sourced(body, line=lineno))
        estimate = _ES_ESTIMATE.search(body)
        if estimate:
            number = to_number(estimate.group(2))
            if number is not None:
                pct = f"{float(estimate.group(1)):.1f}"
                self.data["early_stopping_estimates"][pct] = Sourced(number, line=lineno)

    def _block_title(self, text: str) -> bool:
        lowered = text.lower()
        if lowered.startswith("per-query latency"):
            self.block = "per_query"
            return True
        if lowered.startswith("per-sample latency"):
            self.block = "per_sample"
            return True
        if lowered.startswith("intervals between each issuequery"):
            self.block = "intervals"
            return True
        return False

    def _key_value(self, lineno: int, key: str, value: str, sink: ProblemSink) -> None:
        entry = Sourced(value, line=lineno)
        if self.section == "parameters":
            self.data["test_parameters"][key] = entry
            return
        if key == "SUT name":
            self.data["sut_name"] = entry
        elif key == "Scenario":
            self.data["scenario_raw"] = value
            canonical = canonical_scenario(value)
            if canonical is None:
                sink.add("unknown_value", "unknown scenario name", line=lineno, expected="a LoadGen scenario", found=value)
            else:
                self.data["scenario"] = Sourced(canonical, line=lineno)
        elif key == "Mode":
            self.data["mode_raw"] = value
            canonical = canonical_mode(value)
            if canonical is None:
                sink.add("unknown_value", "unknown test mode", line=lineno, expected="a LoadGen test mode", found=value)
            else:
                self.data["mode"] = Sourced(canonical, line=lineno)
        elif key == "Result is":
            self.data["validity"] = Sourced(value.upper(), line=lineno)
        elif key.endswith("satisfied"):
            self.data["satisfied"][key] = Sourced(value.lower().startswith("yes"), line=lineno)
        elif "headline" not in self.data and self.section == "results" and "mode_raw" in self.data:
            number = to_number(value)
            if number is not None:
                self.data["headline"] = Headline.model_construct(label=key, value=number, line=lineno)
        self.data["fields"][key] = entry
        if self.section == "stats" and key.endswith("latency (ns)"):  # the percentiles included
            number = to_number(value)
            if number is not None:
                block = self.data["stats"].get(self.block) or self.data["stats"].setdefault(
                    self.block, StatBlock.model_construct(values={})
                )
                block.values[key] = Sourced(number, line=lineno)

    def build(self, sink: ProblemSink) -> LoadGenSummary | None:
        if self.recognised == 0:
            sink.add(
                "unknown_format",
                "no LoadGen summary content found",
                expected="'MLPerf Results Summary' and 'key : value' lines",
                found="nothing recognisable",
            )
            return None
        raw = self.data.get("scenario_raw") or ""
        generation = "2019" if " " in raw.strip() or (self.data.get("mode_raw") or "") == "Performance" else "current"
        footer_only = self.footer_seen and not self.content_seen
        if not footer_only and "validity" not in self.data:
            sink.add("missing_field", "no 'Result is' line", expected="'Result is : VALID|INVALID'")
        if "warning_count" not in self.data or "error_count" not in self.data:
            # LoadGen always ends a summary with both lines (every summary of every corpus round has
            # them): without them the file was cut, and what it lost cannot be told
            sink.add("truncated", "the closing warning and error count lines are missing; the file is incomplete",
                     expected="'No warnings encountered during test.' and 'No errors encountered during test.' "
                     "(or their counts)", found="end of file")
        return LoadGenSummary.model_construct(generation=generation, footer_only=footer_only, **self.data)
