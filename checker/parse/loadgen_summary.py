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

import functools
import re
from pathlib import Path

from pydantic import BaseModel, Field

from checker.parse.base import (
    DEFAULT_MAX_LINE_BYTES,
    SMALL_FILE_BYTES,
    ParseResult,
    ProblemSink,
    Sourced,
    display_path,
    iter_lines,
    read_small_text,
)

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
# One row per line of a whole file (findall, in C), as many rows as text.split("\n") gives: a plain
# 'key : value' line as (key, value, ""), a blank line or a ===== rule as ("", "", ""), any other
# line as ("", "", line). "Plain" means _State.feed would store the line as that key and value in
# every section: a key of ASCII words that _KEY accepts and that no footer count, block opener or
# warning starts with (feed's tests, case and all), a value trimmed as str.strip trims (re's \s is
# the same set of characters), and no NUL (feed drops those first). Any other line is given to
# feed whole; the only test left to the reader is the statistics block titles, which count in one
# section only.
_ROWS = re.compile(
    r"^(?:[ \t]*+(?!(?i:No|\d+)\s+(?i:warning|error)|Early Stopping Result|Recommendations|WARNING)"
    r"([A-Za-z0-9_][A-Za-z0-9_.()/*+%-]*+(?: ++[A-Za-z0-9_.()/*+%-]++)*+)[ \t]*+:[ \t]*+"
    r"([^\s\x00](?:[^\n\x00]*[^\s\x00])?)?[ \t\r]*"
    r"|[ \t\r]*=*[ \t\r]*"
    r"|([^\n]*))$",
    re.MULTILINE,
)
#: The row of each line text seen (a summary's lines recur across the summaries of a submitter: four
#: in five in the corpus), bounded: emptied when full. Lines longer than _ROW_CACHE_LINE are not kept.
_ROW_CACHE: dict[str, tuple[str, str, str]] = {}
_ROW_CACHE_SIZE = 1 << 14
_ROW_CACHE_LINE = 200
_NAMED_KEYS = frozenset({"SUT name", "Scenario", "Mode", "Result is"})
_BLOCK_TITLES = ("per-query latency", "per-sample latency", "intervals between each issuequery")
#: Files up to this size are read whole (what iter_lines reads in one piece); bigger ones are streamed.
_WHOLE_FILE_BYTES = min(DEFAULT_MAX_LINE_BYTES, SMALL_FILE_BYTES)


def canonical_scenario(text: str) -> str | None:
    """``Single Stream``/``singlestream``/``SingleStream`` → ``SingleStream``; None if unknown."""
    return SCENARIOS.get(re.sub(r"[\s_-]", "", text).lower())


def canonical_mode(text: str) -> str | None:
    return MODES.get(re.sub(r"[\s_-]", "", text).lower())


@functools.lru_cache(maxsize=256)
def _scenario_of(raw: str) -> str | None:
    """canonical_scenario remembered per spelling: its re.sub is a microsecond a call, and a corpus
    spells its scenarios a dozen ways."""
    return canonical_scenario(raw)


@functools.lru_cache(maxsize=256)
def _mode_of(raw: str) -> str | None:
    """canonical_mode remembered per spelling (see _scenario_of)."""
    return canonical_mode(raw)


def clear_caches() -> None:
    """Forget the spellings and lines seen (checker.parse.kinds.clear_caches calls this before a
    benchmark pass)."""
    _ROW_CACHE.clear()
    _scenario_of.cache_clear()
    _mode_of.cache_clear()


def to_number(text: str) -> float | None:
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    return None


class Headline(BaseModel, defer_build=True):
    """The one figure LoadGen prints right after the mode: the run's metric as LoadGen sees it."""

    label: str
    value: float
    line: int


class StatBlock(BaseModel, defer_build=True):
    """Latency statistics of one block (``main``, ``per_query`` or ``per_sample``)."""

    values: dict[str, Sourced[float]] = Field(default_factory=dict)

    def percentile(self, pct: float) -> Sourced[float] | None:
        return self.values.get(f"{pct:.2f} percentile latency (ns)")


class LoadGenSummary(BaseModel, defer_build=True):
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
    """Read one summary file. Never raises; unreadable parts become problems.

    A file small enough to read whole (all of the corpus) is split into rows by one regex and read
    by :meth:`_State.feed_text`; a bigger or odd file (a folder, a FIFO, a read error) is streamed
    line by line through :meth:`_State.feed`, which also reports what cannot be read. Both give the
    same model and problems."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    state = _State()
    text = read_small_text(path, sink, _WHOLE_FILE_BYTES)
    if text is None:
        for lineno, line in iter_lines(path, sink):
            state.feed(lineno, line, sink)
    else:
        state.feed_text(text, sink)
    model = state.build(sink)
    return _RESULT(kind=KIND, path=shown, model=model, problems=sink.finish())


def _rows(text: str) -> list[tuple[str, str, str]]:
    """``_ROWS.findall(text)``, made of the rows of its lines: no match of _ROWS crosses a newline
    (its one lookahead that could, after a footer count, only rejects a line with no colon, which
    cannot be a 'key : value' row anyway), so a line's row is the same alone as in its file. Rows
    of lines seen before are looked up; only the new lines go through the regex, one by one."""
    get = _ROW_CACHE.get
    return [get(line) or _row(line) for line in text.split("\n")]


def _row(line: str) -> tuple[str, str, str]:
    """The row of one line (a line holds no newline: findall finds exactly one row in it)."""
    row = _ROWS.findall(line)[0]
    if len(line) <= _ROW_CACHE_LINE:
        if len(_ROW_CACHE) >= _ROW_CACHE_SIZE:
            _ROW_CACHE.clear()
        _ROW_CACHE[line] = row
    return row


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

    def feed_text(self, text: str, sink: ProblemSink) -> None:
        """Read a whole file: one regex gives a row per line in C, and a plain 'key : value' row is
        stored here without the tests feed makes on every line. Blank lines and rules only end a
        free-text block; other lines go to :meth:`_other`, and so does any line while a free-text
        block is open. The section, the open free-text block and the statistics of the open block
        live in locals, read back after each :meth:`_other` call, the only place they change."""
        rows = _rows(text)
        if not text or text[-1] == "\n":
            rows.pop()  # the empty piece after the last newline is not a line (as in split_lines)
        params, fields = self.data["test_parameters"], self.data["fields"]
        lines: list[str] | None = None  # the file split, only if a plain-looking row must go to feed
        stats: dict[str, Sourced[float]] | None = None  # the open statistics block's values, once known
        section, free_text, plain = self.section, self.in_recommendations, 0
        for lineno, (key, value, other) in enumerate(rows, 1):
            if key and not free_text:
                if section == "parameters":
                    params[key] = Sourced(value, lineno)
                    plain += 1
                    continue
                if section != "stats" or key in _NAMED_KEYS or key.endswith("satisfied"):
                    self._key_value(lineno, key, value, sink)
                    plain += 1
                    continue
                if key[0] not in "PIpi" or not key.lower().startswith(_BLOCK_TITLES):
                    # a statistic: what _key_value stores for it, in line (two thirds of the rows)
                    fields[key] = Sourced(value, lineno)
                    plain += 1
                    # isdecimal: digits of Unicode class Nd only, what _NUMBER's \d takes (and float reads)
                    if key.endswith("latency (ns)") and (value.isdecimal() or _NUMBER.match(value)):
                        stats = self._stat_values() if stats is None else stats
                        stats[key] = Sourced(float(value), lineno)
                    continue
            if key:  # a block title, or a line of a free-text block: the title test holds for the key alone
                lines = lines or text.split("\n")
                other = lines[lineno - 1]
            elif not other:  # a blank line or a rule
                self.in_early_stopping = self.in_recommendations = free_text = False
                continue
            self._other(lineno, other.rstrip("\r"), sink)
            section, free_text, stats = self.section, self.in_recommendations, None
        if plain:
            self.content_seen = True
            self.recognised += plain

    def _stat_values(self) -> dict[str, Sourced[float]]:
        """The values of the open statistics block, which is made on its first statistic."""
        blocks = self.data["stats"]
        block = blocks.get(self.block) or blocks.setdefault(self.block, StatBlock.model_construct(values={}))
        return block.values

    def _other(self, lineno: int, text: str, sink: ProblemSink) -> None:
        """A line that is not a plain 'key : value': the exact section titles and warning and error
        counts (five lines in every summary) are read here as feed reads them, anything else by feed."""
        section = _SECTION_TITLES.get(text)
        if section is not None:
            self.section = section
            self.block = "main"
            self.recognised += 1
            return
        first = text[:1]
        if first == "N" or first.isdigit():
            footer = _FOOTER.match(text)  # a match starts with no space and holds no NUL: as on feed's text
            if footer:
                self._footer(lineno, text, footer)
                return
        self.feed(lineno, text, sink)

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
        entry = Sourced(value, lineno)
        section, data = self.section, self.data
        if section == "parameters":
            data["test_parameters"][key] = entry
            return
        if key in _NAMED_KEYS:
            self._named(lineno, key, value, entry, sink)
        elif key.endswith("satisfied"):
            data["satisfied"][key] = Sourced(value.lower().startswith("yes"), lineno)
        elif section == "results" and "headline" not in data and "mode_raw" in data:
            number = to_number(value)
            if number is not None:
                data["headline"] = Headline.model_construct(label=key, value=number, line=lineno)
        data["fields"][key] = entry
        # the percentiles included; the value has no spaces around it, so no strip as in to_number
        if section == "stats" and key.endswith("latency (ns)") and _NUMBER.match(value):
            self._stat_values()[key] = Sourced(float(value), lineno)

    def _named(self, lineno: int, key: str, value: str, entry: Sourced[str], sink: ProblemSink) -> None:
        """The four keys of the results part that fill a field of their own."""
        data = self.data
        if key == "SUT name":
            data["sut_name"] = entry
        elif key == "Scenario":
            data["scenario_raw"] = value
            canonical = _scenario_of(value)
            if canonical is None:
                sink.add("unknown_value", "unknown scenario name", line=lineno, expected="a LoadGen scenario", found=value)
            else:
                data["scenario"] = Sourced(canonical, lineno)
        elif key == "Mode":
            data["mode_raw"] = value
            canonical = _mode_of(value)
            if canonical is None:
                sink.add("unknown_value", "unknown test mode", line=lineno, expected="a LoadGen test mode", found=value)
            else:
                data["mode"] = Sourced(canonical, lineno)
        else:
            data["validity"] = Sourced(value.upper(), lineno)

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


#: The result class, looked up once: ``ParseResult[...]`` costs a cache lookup on every call.
_RESULT = ParseResult[LoadGenSummary]
