"""``accuracy.txt``: the output of a benchmark's accuracy script, plus the ``hash=`` line(s).

The file is free text: tool chatter (COCO ``loading annotations...``, nnU-Net citations, pandas
warnings, JSON dumps) around one or more metric lines whose format differs per benchmark and per
round. The official checkers differ in *how* they pick the value: v0.5 takes the first line whose
start matches, v0.7/v1.0 the last such line, the current checker matches some formats anywhere on
a line. So this parser does not decide: it records every match of every known format with its line,
column and whether it sits at the start of the line, and keeps the pattern table as data
(:data:`ACCURACY_PATTERNS`) so that a round's rule pack can select the records its era would have
used.

``hash=<sha256>`` lines are recorded separately. The v1.0 truncation tool appended ``hash=…`` without
a leading newline, so on a file whose last line was unterminated the hash is *fused* onto that line
(``mAP=37.3%hash=…``), which the official line-anchored match cannot see. That case is kept in the
model (``HashLine.fused``, ``AccuracyTxt.has_fused_hash``) and reported as a problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from checker.parse.base import (
    ParseResult,
    ProblemSink,
    Sourced,
    display_path,
    split_lines,
    text_or_lines,
)

KIND = "accuracy_txt"

#: A decimal number as the accuracy scripts print it (the official ``<num>`` is digits and dots;
#: this is a superset that also keeps a sign and an exponent when a script prints them).
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_V = rf"(?P<v>{NUM})"
_QV = rf"'?(?P<v>{NUM})'?"  # a value python may print quoted: {'rouge1': '38.86'}


class AccuracyPattern(BaseModel, defer_build=True):
    """One known line format: which metric it yields and how the official checkers applied it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="unique name of this line-format variant")
    metric: str = Field(description="metric name (see OFFICIAL_METRIC_NAMES for the checkers' names)")
    regex: str = Field(description="python regex, searched anywhere on a line; value in group 'v'")
    anchor: Literal["start", "anywhere"] = Field(
        description="how the official checker that knew this format matched it: at line start or anywhere"
    )
    note: str = ""

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.regex)


@functools.lru_cache(maxsize=256)
def _compile(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


#: Every metric line format known, as data. A line may match several variants (``accuracy=76.4%``
#: matches both ``acc.eq`` and ``acc.loose``); each match is one record.
ACCURACY_PATTERNS: tuple[AccuracyPattern, ...] = (
    AccuracyPattern(id="acc.eq", metric="acc", regex=rf"accuracy={_V}", anchor="start",
                    note="classification: 'accuracy=76.482%, good=38241, total=50000' (v0.5-v1.0)"),
    AccuracyPattern(id="acc.loose", metric="acc", regex=rf'(?:\{{"accuracy|accuracy)[":\s]*=?\s*{_V}',
                    anchor="start", note="current checker: accuracy or {\"accuracy, then quotes/colons/spaces/="),
    AccuracyPattern(id="mAP.eq", metric="mAP", regex=rf"mAP={_V}", anchor="start",
                    note="detection: 'mAP=37.307%' (start in v0.5-v1.0, anywhere in the current checker)"),
    AccuracyPattern(id="mAP.total", metric="mAP", regex=rf"'Total':\s*{_V}", anchor="anywhere"),
    AccuracyPattern(id="bleu", metric="bleu", regex=rf"BLEU:\s*{_V}", anchor="start", note="GNMT: 'BLEU: 23.8'"),
    AccuracyPattern(id="F1.squad", metric="F1",
                    regex=rf"""\{{\s*["']exact_match["']\s*:\s*{NUM}\s*,\s*["']f1["']\s*:\s*{_V}\s*\}}""",
                    anchor="start", note="BERT: '{\"exact_match\": 83.9, \"f1\": 90.9}' (value = f1)"),
    AccuracyPattern(id="exact_match.squad", metric="exact_match",
                    regex=rf"""\{{\s*["']exact_match["']\s*:\s*{_V}\s*,\s*["']f1["']""", anchor="start",
                    note="the exact-match figure of the BERT line"),
    AccuracyPattern(id="exact_match.dict", metric="exact_match", regex=rf"'exact_match':\s*{_QV}",
                    anchor="anywhere", note="LLM dicts: {'exact_match': 90.08, ...}"),
    AccuracyPattern(id="AUC.eq", metric="AUC", regex=rf"AUC={_V}", anchor="start", note="DLRM: 'AUC=80.25%'"),
    AccuracyPattern(id="DLRM_NE", metric="DLRM_NE", regex=rf"metric/lifetime_ne/rating:\s*{_V}", anchor="anywhere"),
    AccuracyPattern(id="DLRM_ACC", metric="DLRM_ACC", regex=rf"metric/lifetime_accuracy(?:/rating)?:\s*{_V}",
                    anchor="anywhere"),
    AccuracyPattern(id="DLRM_AUC", metric="DLRM_AUC", regex=rf"metric/lifetime_gauc(?:/rating)?:\s*{_V}",
                    anchor="anywhere"),
    AccuracyPattern(id="WER_accuracy", metric="WER_accuracy", regex=rf"Word Error Rate:.*?,\s*accuracy={_V}%",
                    anchor="anywhere", note="RNN-T/Whisper: 'Word Error Rate: 7.45%, accuracy=92.55%'"),
    AccuracyPattern(id="word_error_rate", metric="word_error_rate", regex=rf"Word Error Rate:\s*{_V}",
                    anchor="anywhere", note="the error rate itself (informative; 'WER' names the accuracy)"),
    AccuracyPattern(id="DICE", metric="DICE", regex=rf"Accuracy:\s*mean\s*=\s*{_V}", anchor="anywhere",
                    note="3D-UNet: 'Accuracy: mean = 0.86112, kidney = ..., tumor = ...'"),
    AccuracyPattern(id="mean-accuracy", metric="mean-accuracy", regex=rf"'mean-accuracy':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="ROUGE1", metric="ROUGE1", regex=rf"'rouge1':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="ROUGE2", metric="ROUGE2", regex=rf"'rouge2':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="ROUGEL", metric="ROUGEL", regex=rf"'rougeL':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="ROUGELSUM", metric="ROUGELSUM", regex=rf"'rougeLsum':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="GEN_LEN", metric="GEN_LEN", regex=rf"'gen_len':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="GEN_NUM", metric="GEN_NUM", regex=rf"'gen_num':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="GEN_TOK_LEN", metric="GEN_TOK_LEN", regex=rf"'gen_tok_len':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="TOKENS_PER_SAMPLE", metric="TOKENS_PER_SAMPLE", regex=rf"'tokens_per_sample':\s*{_QV}",
                    anchor="anywhere"),
    AccuracyPattern(id="CLIP_SCORE", metric="CLIP_SCORE", regex=rf"'CLIP_SCORE':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="FID_SCORE", metric="FID_SCORE", regex=rf"'FID_SCORE':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="gsm8k", metric="gsm8k", regex=rf"'gsm8k':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="mbxp", metric="mbxp", regex=rf"'mbxp':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="vbench_score", metric="vbench_score", regex=rf"'vbench_score':\s*{_QV}", anchor="anywhere"),
    AccuracyPattern(id="F1_HIERARCHICAL", metric="F1_HIERARCHICAL", regex=rf'\{{.*"f1":\s*{_V}.*\}}',
                    anchor="anywhere", note="a {...} holding \"f1\": <num> (also matches the BERT line)"),
    AccuracyPattern(id="E2E_ACCURACY", metric="E2E_ACCURACY", regex=rf"Accuracy:\s*{_V}", anchor="anywhere"),
)

#: The checkers' metric names (per era) → the metric names of :data:`ACCURACY_PATTERNS`.
OFFICIAL_METRIC_NAMES: dict[str, str] = {
    "WER": "WER_accuracy",  # v0.7/v1.0 call the RNN-T accuracy figure "WER"
    "ACCURACY": "WER_accuracy",  # the current checker's name for the same figure
    "meanAcc": "mean-accuracy",
    "gsm8k_accuracy": "gsm8k",
    "mbxp_accuracy": "mbxp",
}

_GOOD_TOTAL = re.compile(r"good=(?P<good>\d+),\s*total=(?P<total>\d+)(?:,\s*queries=(?P<queries>\d+))?")
_HASH = re.compile(r"hash=(?P<v>[0-9A-Za-z_]*)")
_HASH_EXACT = re.compile(r"hash=\w+")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_LONG_HEX = re.compile(r"[0-9a-fA-F]{32}")


def canonical_metric(name: str) -> str:
    """A checker's metric name (``WER``, ``ACCURACY``, ``gsm8k_accuracy``, ...) → this module's name."""
    return OFFICIAL_METRIC_NAMES.get(name, name)


class MetricRecord(BaseModel, defer_build=True):
    """One metric value found on one line by one pattern variant."""

    metric: str
    pattern: str = Field(description="id of the AccuracyPattern that matched")
    value: float
    raw: str = Field(description="the number exactly as printed")
    line: int
    column: int = Field(description="0-based offset of the match in the line")
    at_line_start: bool = Field(description="the match starts the line (what start-anchored eras require)")
    percent: bool = Field(False, description="the number is followed by '%'")


class HashLine(BaseModel, defer_build=True):
    """A ``hash=`` occurrence; ``fused`` when it follows other text on the same line."""

    value: str
    line: int
    column: int
    fused: bool = Field(description="text precedes 'hash=' on its line (v1.0 truncation tool defect)")
    prefix: str = Field("", description="the text before 'hash=' (shortened) when fused")
    exact_line: bool = Field(description="the whole line is 'hash=<word chars>' (the official match)")
    well_formed: bool = Field(description="the value is 64 lower-case hex digits (a SHA-256)")


class GoodTotal(BaseModel, defer_build=True):
    """``good=…, total=…`` (and DLRM's ``queries=…``) printed next to the classification accuracy."""

    good: int
    total: int
    queries: int | None = None
    line: int


class AccuracyTxt(BaseModel, defer_build=True):
    """Everything recognisable in one ``accuracy.txt``, in line order."""

    line_count: int = 0
    metrics: list[MetricRecord] = Field(default_factory=list)
    hashes: list[HashLine] = Field(default_factory=list)
    has_fused_hash: bool = Field(False, description="at least one hash is fused onto another line")
    counts: list[GoodTotal] = Field(default_factory=list)

    def records(
        self,
        metric: str,
        patterns: Sequence[str] | None = None,
        at_line_start: bool | None = None,
    ) -> list[MetricRecord]:
        """Records of one metric (checker names accepted), optionally of given pattern ids/anchoring."""
        name = canonical_metric(metric)
        return [
            r
            for r in self.metrics
            if r.metric == name
            and (patterns is None or r.pattern in patterns)
            and (at_line_start is None or r.at_line_start == at_line_start)
        ]

    def first(self, metric: str, patterns: Sequence[str] | None = None,
              at_line_start: bool | None = None) -> MetricRecord | None:
        """The first matching record (the v0.5 rule: first line whose start matches)."""
        found = self.records(metric, patterns, at_line_start)
        return found[0] if found else None

    def last(self, metric: str, patterns: Sequence[str] | None = None,
             at_line_start: bool | None = None) -> MetricRecord | None:
        """The last matching record (the v0.7/v1.0 rule: last line whose start matches)."""
        found = self.records(metric, patterns, at_line_start)
        return found[-1] if found else None

    def values_of(
        self,
        metric: str,
        variant: Literal["start", "anywhere"] | None = None,
        patterns: Sequence[str] | None = None,
    ) -> list[MetricRecord]:
        """One record per line for ``metric``, in line order, under a round's matching rule.

        ``variant="start"`` keeps matches at the start of a line (v0.5-v1.0 and the current
        start-anchored formats), ``"anywhere"`` keeps every match, and None applies each pattern's
        own ``anchor``. When several variants match on one line the first in table order is kept.
        """
        anchors = {p.id: p.anchor for p in ACCURACY_PATTERNS}
        out: list[MetricRecord] = []
        seen: set[int] = set()
        for r in self.records(metric, patterns):
            if r.line in seen:
                continue
            wanted = variant or anchors.get(r.pattern, "anywhere")
            if wanted == "start" and not r.at_line_start:
                continue
            seen.add(r.line)
            out.append(r)
        return out

    @property
    def hash(self) -> HashLine | None:
        """The last hash that is not fused onto another line (what a line-based reader finds)."""
        for h in reversed(self.hashes):
            if not h.fused:
                return h
        return None

    @property
    def hash_fused(self) -> bool:
        return self.has_fused_hash

    @property
    def hash_fused_line(self) -> int | None:
        """Line of the first fused hash, None without one."""
        return next((h.line for h in self.hashes if h.fused), None)

    def hash_value(self, exact_only: bool = False) -> Sourced[str] | None:
        """The last hash with its line; ``exact_only`` keeps only whole-line ``hash=`` (official)."""
        for h in reversed(self.hashes):
            if h.exact_line or not exact_only:
                return Sourced(value=h.value, line=h.line)
        return None


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_accuracy_txt(
    path: Path,
    root: Path | None = None,
    patterns: Sequence[AccuracyPattern] = ACCURACY_PATTERNS,
) -> ParseResult[AccuracyTxt]:
    """Read one ``accuracy.txt``: every metric record, hash line and good/total count. Never raises."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[AccuracyTxt](kind=KIND, path=shown)
    found = text_or_lines(path, sink, "accuracy.txt")
    if found is None:
        result.problems = sink.finish()
        return result

    compiled = [(p, p.compiled()) for p in patterns]  # compiled() is cached per regex
    counted = True  # whether a line may hold good=/total= counts
    if isinstance(found, str):
        compiled = _possible(compiled, found)
        counted = _GOOD_TOTAL.search(found) is not None
        lines: Iterable[tuple[int, str]] = enumerate(split_lines(found), 1)
    else:
        lines = found
    model = AccuracyTxt()
    line_count = 0
    for lineno, text in lines:
        line_count = lineno
        if not text:
            continue
        for pattern, regex in compiled:
            m = regex.search(text)
            if m is None:
                continue
            raw = m.group("v")
            try:
                value = float(raw)
            except ValueError:  # pragma: no cover - NUM only matches float syntax
                continue
            after = m.end("v")
            model.metrics.append(
                MetricRecord(
                    metric=pattern.metric,
                    pattern=pattern.id,
                    value=value,
                    raw=raw,
                    line=lineno,
                    column=m.start(),
                    at_line_start=m.start() == 0,
                    percent=text[after : after + 1] == "%",
                )
            )
        counts = _GOOD_TOTAL.search(text) if counted else None
        if counts:
            queries = counts.group("queries")
            model.counts.append(
                GoodTotal(good=int(counts.group("good")), total=int(counts.group("total")),
                          queries=int(queries) if queries else None, line=lineno)
            )
        if "hash=" in text:
            _hash_line(text, lineno, model, sink)

    if line_count == 0 and not any(p.code in ("unreadable", "line_too_long") for p in sink.problems):
        sink.add("empty", "accuracy.txt is empty", expected="the accuracy script's output and a hash= line")
    elif not model.metrics and not model.hashes and line_count:
        sink.add("no_metric", "no known accuracy metric and no hash= line in accuracy.txt",
                 expected="a metric line such as 'accuracy=…', 'mAP=…', 'BLEU: …' or a hash= line")
    model.line_count = line_count
    model.has_fused_hash = any(h.fused for h in model.hashes)
    unreadable = any(p.code == "unreadable" for p in sink.problems)
    result.model = None if unreadable and not line_count else model
    result.problems = sink.finish()
    return result


#: What can make a regex fail on a file's whole text at a spot where it matches the line alone:
#: anchors, word boundaries, lookaround, atomic groups and possessive quantifiers, conditionals.
_NOT_LINE_LOCAL = re.compile(r"[$^]|\\[AZbB]|\(\?(?:[=!>(]|<[=!])|[*+?}]\+")


@functools.lru_cache(maxsize=256)
def _line_local(regex: str) -> bool:
    """Whether every match of ``regex`` on one line is also a match on the whole text around it, so
    that a regex that finds nothing in the whole text finds nothing on any line. Judged from the
    regex's text, erring towards False (a ``^`` in ``[^,]`` counts too): False only costs speed."""
    return _NOT_LINE_LOCAL.search(regex) is None


_Compiled = list[tuple[AccuracyPattern, re.Pattern[str]]]


def _possible(compiled: _Compiled, text: str) -> _Compiled:
    """The patterns that may match some line of ``text`` (a whole file; its lines are substrings of
    it), in their order: one search of the whole text rules out a pattern for every line, where
    the per-line loop would try each of some thirty patterns on each line."""
    return [(p, regex) for p, regex in compiled if regex.search(text) is not None or not _line_local(p.regex)]


def _hash_line(text: str, lineno: int, model: AccuracyTxt, sink: ProblemSink) -> None:
    for m in _HASH.finditer(text):
        value = m.group("v")
        prefix = text[: m.start()]
        fused = bool(prefix.strip())
        if fused and not _LONG_HEX.match(value):
            continue  # 'hash=None' inside some printed settings, not a hash line
        # A full SHA-256 followed by more text: keep the hash, not the glued-on tail.
        sha = _SHA256_HEX.match(value)
        if sha and len(value) > 64:
            value = value[:64]
        record = HashLine(
            value=value,
            line=lineno,
            column=m.start(),
            fused=fused,
            prefix=_shorten(prefix) if fused else "",
            exact_line=bool(_HASH_EXACT.fullmatch(text)),
            well_formed=bool(_SHA256_HEX.fullmatch(value)),
        )
        model.hashes.append(record)
        if fused:
            sink.add(
                "hash_fused",
                "'hash=' is glued to the end of another line (the v1.0 truncation tool appended it "
                "without a newline), so a line-anchored hash check does not see it",
                line=lineno,
                expected="hash=<sha256> on a line of its own",
                found=_shorten(text),
            )
        elif not record.exact_line:
            sink.add("bad_hash", "the hash line has extra text", line=lineno,
                     expected="hash=<sha256> alone on the line", found=_shorten(text))
        if not record.well_formed:
            sink.add("bad_hash", "the hash is not a SHA-256 (64 lower-case hex digits)", line=lineno,
                     expected="64 lower-case hex digits", found=value or "(empty)")
