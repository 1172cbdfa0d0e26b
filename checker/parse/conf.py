"""LoadGen configuration files (``mlperf.conf``, ``user.conf``, ``audit.config``) read as LoadGen reads them.

The syntax looks like ``model.Scenario.key = value``, but what matters for a checker is what
LoadGen *does* with a line, and LoadGen's reader is unforgiving in surprising ways (all observed
with ``mlcommons-loadgen`` 6.0.17, see ``tests/test_parse_conf.py``, which re-checks them against
the installed LoadGen):

* a line is split on ASCII whitespace; the first token is the key, the second must be ``=``;
* ``key=value`` written without spaces is a single token, so the line is silently ignored;
* ``key =5`` or ``key= 5`` (second token not ``=``) is a syntax error, and so is a value that is
  not a C number, including a trailing ``# comment`` after the value and ``#text more text``
  comments (no space after ``#``): any such line makes LoadGen return -EINVAL and apply
  **nothing** from the whole file;
* a lone ``#`` token ends the line when it comes before the value (``# comment``, ``key # note``);
  ``#key = 5`` is stored under the key ``#key`` and never used;
* the value is stored as text; every later line with the same full key replaces it (the last
  one read wins); extra numeric tokens after the value also replace it;
* integer settings read the text with ``strtoull(text, 0)``: ``11.5`` becomes 11, ``1e3`` becomes
  1, ``010`` is octal (8), ``0x10`` is 16, ``-1`` wraps to 2**64-1; double settings use ``strtod``;
* keys are looked up as ``model.scenario.key``, ``*.scenario.key``, ``model.*.key``, ``*.*.key``
  in that order; scenario-specific keys (``Server.target_latency``...) are looked up under their own
  scenario whatever scenario is being run; unknown keys are never looked up, so they do nothing;
* ``audit.config`` is applied with model ``*``, so only ``*.<Scenario>.key`` and ``*.*.key`` lines
  take effect; seeds and ``accuracy_log_probability`` are only read from the embedded mlperf.conf
  by current LoadGen (older LoadGen read them from any file).

:func:`parse_conf` keeps every assignment as a :class:`ConfEntry` and every line LoadGen ignores,
rejects or reinterprets as a :class:`ConfNote` with a reason code, so a rule can say exactly which
line of which file is wrong and what LoadGen made of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from checker.parse.base import (
    SMALL_FILE_BYTES,
    ParseResult,
    ProblemSink,
    as_path,
    decode_reporting,
    display_path,
    file_size,
    iter_lines,
    looks_binary,
    read_head,
    read_small_bytes,
    split_lines,
)
from checker.parse.json_lines import path_state

ConfKind = Literal["user.conf", "mlperf.conf", "audit.config"]

#: Scenario names LoadGen's config lookup knows (``Interactive`` is a submission folder, not a LoadGen scenario).
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")

#: How LoadGen turns the stored text into a ``TestSettings`` field.
#:   uint: strtoull(text, base 0) times an integer multiplier, modulo 2**64
#:   double: strtod(text) times the multiplier
#:   flag_nonzero: true when strtoull(text) != 0;  flag_one: true only when strtoull(text) == 1
#:   mode: strtoull(text) must be 0..3 (TestMode), other values are logged as an error and ignored
ValueKind = Literal["uint", "double", "flag_nonzero", "flag_one", "mode"]

UINT64 = 1 << 64

#: Largest file parse_conf reads (a LoadGen config is a few kB).
DEFAULT_MAX_CONF_BYTES = 64 * 1024 * 1024


class ConfKeySpec(BaseModel, defer_build=True):
    """One key LoadGen reads: where it is looked up, which setting it fills, and how it converts it."""

    model_config = ConfigDict(frozen=True)

    key: str
    #: None: a general key, looked up under the scenario being run; else the one scenario it is looked up under
    scenario: str | None = None
    #: the ``mlperf_loadgen.TestSettings`` attribute it sets
    setting: str
    kind: ValueKind
    #: file unit -> setting unit (ms -> ns is 1e6, percent -> fraction is 0.01)
    multiplier: float = 1.0
    unit: str | None = None
    #: current LoadGen reads it only from the embedded mlperf.conf (conf_type 0), never from user.conf/audit.config
    mlperf_conf_only: bool = False
    #: read only when this boolean setting is already true (LLM token-latency keys)
    requires: str | None = None
    #: read by LoadGen before v2.0 only (MultiStream was redefined in v2.0); current LoadGen ignores it
    legacy: bool = False
    note: str = ""

    @property
    def name(self) -> str:
        """``Scenario.key`` for scenario-specific keys, ``key`` for general ones."""
        return f"{self.scenario}.{self.key}" if self.scenario else self.key

    def effective_value(self, raw: str) -> int | float | bool | None:
        """The value LoadGen stores in the setting for this text, or None when it ignores it (bad mode)."""
        if self.kind == "double":
            return c_strtod(raw) * self.multiplier
        number = c_strtoull(raw)
        if self.kind == "uint":
            return (number * int(self.multiplier)) % UINT64
        if self.kind == "flag_nonzero":
            return number != 0
        if self.kind == "flag_one":
            return number == 1
        return number if number <= 3 else None  # mode


def _k(key: str, setting: str, kind: ValueKind, scenario: str | None = None, **kw: Any) -> ConfKeySpec:
    return ConfKeySpec(key=key, setting=setting, kind=kind, scenario=scenario, **kw)


_MS = {"multiplier": 1e6, "unit": "ms"}
_PCT = {"multiplier": 0.01, "unit": "%"}

#: The keys LoadGen reads from a config file, in the order LoadGen looks them up (the order matters
#: only for ``requires``). Kinds, units and multipliers were verified against mlcommons-loadgen
#: 6.0.17 by tests/test_parse_conf.py, except the mlperf.conf-only and legacy keys, which that
#: version does not read from a file.
LOADGEN_KEYS: tuple[ConfKeySpec, ...] = (
    _k(
        "mode",
        "mode",
        "mode",
        note="0 SubmissionRun, 1 AccuracyOnly, 2 PerformanceOnly, 3 FindPeakPerformance",
    ),
    _k("use_token_latencies", "use_token_latencies", "flag_one"),
    _k("ttft_latency", "ttft_latency", "uint", "Server", requires="use_token_latencies", **_MS),
    _k("tpot_latency", "tpot_latency", "uint", "Server", requires="use_token_latencies", **_MS),
    _k("infer_token_latencies", "infer_token_latencies", "flag_one"),
    _k(
        "token_latency_scaling_factor",
        "token_latency_scaling_factor",
        "uint",
        requires="infer_token_latencies",
    ),
    _k(
        "target_latency_percentile",
        "single_stream_target_latency_percentile",
        "double",
        "SingleStream",
        **_PCT,
    ),
    _k(
        "target_latency_percentile", "multi_stream_target_latency_percentile", "double", "MultiStream", **_PCT
    ),
    _k("samples_per_query", "multi_stream_samples_per_query", "uint", "MultiStream"),
    _k("target_latency_percentile", "server_target_latency_percentile", "double", "Server", **_PCT),
    _k(
        "target_latency",
        "server_target_latency_ns",
        "uint",
        "Server",
        note="integer ms: 12.5 -> 12 ms",
        **_MS,
    ),
    _k("performance_issue_unique", "performance_issue_unique", "flag_nonzero"),
    _k("performance_issue_same", "performance_issue_same", "flag_nonzero"),
    _k("performance_issue_same_index", "performance_issue_same_index", "uint"),
    _k("sample_concatenate_permutation", "sample_concatenate_permutation", "flag_one"),
    _k("coalesce_queries", "server_coalesce_queries", "flag_nonzero", "Server"),
    _k("max_async_queries", "server_max_async_queries", "uint", "Server"),
    _k("min_duration", "min_duration_ms", "uint", unit="ms"),
    _k("max_duration", "max_duration_ms", "uint", unit="ms"),
    _k("min_query_count", "min_query_count", "uint"),
    _k("max_query_count", "max_query_count", "uint"),
    _k("performance_sample_count_override", "performance_sample_count_override", "uint"),
    _k("accuracy_sample_count_override", "accuracy_sample_count_override", "uint"),
    _k("target_latency", "single_stream_expected_latency_ns", "double", "SingleStream", **_MS),
    _k("target_latency", "multi_stream_expected_latency_ns", "double", "MultiStream", **_MS),
    _k("target_qps", "server_target_qps", "double", "Server"),
    _k("target_qps", "offline_expected_qps", "double", "Offline"),
    _k("print_timestamps", "print_timestamps", "flag_nonzero"),
    _k("accuracy_log_rng_seed", "accuracy_log_rng_seed", "uint"),
    _k("accuracy_log_sampling_target", "accuracy_log_sampling_target", "uint"),
    # read from the embedded mlperf.conf only (conf_type 0) by current LoadGen
    _k("qsl_rng_seed", "qsl_rng_seed", "uint", mlperf_conf_only=True),
    _k("sample_index_rng_seed", "sample_index_rng_seed", "uint", mlperf_conf_only=True),
    _k("schedule_rng_seed", "schedule_rng_seed", "uint", mlperf_conf_only=True),
    _k(
        "accuracy_log_probability",
        "accuracy_log_probability",
        "double",
        mlperf_conf_only=True,
        note="TEST01 audit.configs of the 2019-2021 rounds set it; current LoadGen uses accuracy_log_sampling_target",
        **_PCT,
    ),
    _k("test05", "test05", "flag_nonzero", mlperf_conf_only=True),
    _k("test05_qsl_rng_seed", "test05_qsl_rng_seed", "uint", mlperf_conf_only=True),
    _k("test05_sample_index_rng_seed", "test05_sample_index_rng_seed", "uint", mlperf_conf_only=True),
    _k("test05_schedule_rng_seed", "test05_schedule_rng_seed", "uint", mlperf_conf_only=True),
    # MultiStream before v2.0 had a fixed query rate and a bound on queries in flight
    _k("target_qps", "multi_stream_target_qps", "double", "MultiStream", legacy=True),
    _k("max_async_queries", "multi_stream_max_async_queries", "uint", "MultiStream", legacy=True),
)

_SPECS: dict[tuple[str | None, str], ConfKeySpec] = {(s.scenario, s.key): s for s in LOADGEN_KEYS}
_KEY_NAMES = frozenset(s.key for s in LOADGEN_KEYS)


def key_specs(scenario: str, key: str) -> list[ConfKeySpec]:
    """The table rows a line ``<model>.<scenario>.<key>`` can feed.

    A general key matches under any scenario; a scenario-specific key only under its own scenario
    or under ``*`` (``*.*.target_qps`` feeds both ``Server.target_qps`` and ``Offline.target_qps``).
    """
    general = _SPECS.get((None, key))
    if general is not None:
        return [general]
    if scenario == "*":
        return [s for s in LOADGEN_KEYS if s.key == key and s.scenario is not None]
    spec = _SPECS.get((scenario, key))
    return [spec] if spec is not None else []


# --- C number parsing, as LoadGen's reader sees it -----------------------------------------------

_UL_FULL = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")
_UL_PREFIX = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_D_DEC = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_D_HEX = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
_D_SPECIAL = r"(?i:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)"
_D_FULL = re.compile(rf"[+-]?(?:{_D_HEX}|{_D_DEC}|{_D_SPECIAL})\Z")
_D_PREFIX = re.compile(rf"[+-]?(?:{_D_HEX}|{_D_DEC}|{_D_SPECIAL})")
_DECIMAL_INT = re.compile(r"[+-]?[0-9]+\Z")
_WS = re.compile(r"[ \t\n\v\f\r]+")


def is_c_number(text: str) -> bool:
    """True when LoadGen accepts the token as a value: all of it parses with strtoul(base 0) or strtod."""
    return bool(_UL_FULL.match(text) or _D_FULL.match(text))


def c_strtoull(text: str) -> int:
    """``strtoull(text, nullptr, 0)``: the longest integer prefix, octal after a leading 0, wrapping negatives."""
    match = _UL_PREFIX.match(text)
    if match is None:
        return 0
    sign, digits = match.groups()
    if digits[:2] in ("0x", "0X"):
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    if number >= UINT64:
        return UINT64 - 1
    return (-number) % UINT64 if sign == "-" else number


def c_strtod(text: str) -> float:
    """``strtod(text, nullptr)`` on the longest numeric prefix (0.0 when there is none)."""
    match = _D_PREFIX.match(text)
    if match is None:
        return 0.0
    token = match.group(0)
    body = token.lstrip("+-")
    negative = token.startswith("-")
    if body[:2] in ("0x", "0X"):
        hex_body = body if "p" in body.lower() else body + "p0"
        try:
            value = float.fromhex(hex_body)
        except (ValueError, OverflowError):
            value = float("inf")
    elif body[:1].lower() in ("i", "n"):
        value = float("nan") if body[:1].lower() == "n" else float("inf")
    else:
        try:
            value = float(body)
        except (ValueError, OverflowError):
            value = float("inf")
    return -value if negative else value


def plain_number(text: str) -> int | float | None:
    """The value read as a person would: a decimal or hex integer as int, any other C number as float.

    None when LoadGen would not accept the token. ``010`` is 10 here (LoadGen's integer settings
    read it as octal 8; see :meth:`ConfKeySpec.effective_value`).
    """
    if _DECIMAL_INT.match(text):
        return int(text, 10)
    if _UL_FULL.match(text):  # hexadecimal
        body = text.lstrip("+-")
        number = int(body[2:], 16)
        return -number if text.startswith("-") else number
    if _D_FULL.match(text):
        return c_strtod(text)
    return None


# --- model ----------------------------------------------------------------------------------------

NoteCode = Literal[
    # LoadGen rejects the whole file (FromConfig returns -22, nothing is applied)
    "trailing_comment",
    "non_numeric_value",
    "expected_equals",
    "hash_comment_without_space",
    # LoadGen ignores the line
    "no_spaces_around_equals",
    "incomplete_assignment",
    "commented_out_assignment",
    "too_few_parts",
    "unknown_scenario",
    "unknown_key",
    "key_not_read_for_scenario",
    "model_specific_in_audit_config",
    "mlperf_conf_only_key",
    "legacy_key",
    "dotted_model",
    # LoadGen reads the line, but not as written
    "duplicate_key",
    "extra_values",
    "fraction_truncated",
    "octal_value",
    "negative_wraps",
    "mode_out_of_range",
]

Effect = Literal["rejects_file", "ignored", "overridden", "altered", "era_dependent", "harness_dependent"]


@dataclass(slots=True)
class ConfNote:
    """A line LoadGen ignores, rejects, or reads differently from how it looks.

    Plain dataclasses (this and :class:`ConfEntry`): a corpus has tens of thousands of config lines,
    and pydantic still validates and serialises them inside :class:`ConfFile`.
    """

    line: int
    code: NoteCode
    effect: Effect
    message: str
    text: str


@dataclass(slots=True)
class ConfEntry:
    """One ``model.scenario.key = value`` assignment as LoadGen stores it.

    ``raw`` is the value token LoadGen keeps (the last numeric token on the line), ``number`` is
    that token read as an ordinary number (None when it is not a C number, which makes LoadGen
    reject the file); what the setting actually receives is :meth:`effective`.
    """

    model: str
    scenario: str
    key: str
    raw: str
    number: int | float | None
    line: int

    @property
    def full_key(self) -> str:
        return f"{self.model}.{self.scenario}.{self.key}"

    def specs(self) -> list[ConfKeySpec]:
        """The LoadGen settings this line can feed (empty for unknown keys)."""
        return key_specs(self.scenario, self.key)

    def effective(self, spec: ConfKeySpec | None = None) -> int | float | bool | None:
        """What LoadGen puts into the setting (the first matching spec unless one is given)."""
        if self.number is None:
            return None
        if spec is None:
            specs = self.specs()
            if not specs:
                return None
            spec = specs[0]
        return spec.effective_value(self.raw)


class AppliedSetting(BaseModel, defer_build=True):
    """A TestSettings field a config file sets for one (model, scenario), and the line it came from."""

    setting: str
    value: int | float | bool
    entry: ConfEntry
    spec: ConfKeySpec


def _lookup(table: dict[str, ConfEntry], model: str, scenario: str, key: str) -> ConfEntry | None:
    """LoadGen's four-step lookup in a full-key -> entry table."""
    for m, s in ((model, scenario), ("*", scenario), (model, "*"), ("*", "*")):
        entry = table.get(f"{m}.{s}.{key}")
        if entry is not None:
            return entry
    return None


class ConfFile(BaseModel, defer_build=True):
    """A parsed LoadGen config file: its assignments, its odd lines, and whether LoadGen accepts it."""

    kind: ConfKind
    entries: list[ConfEntry] = Field(default_factory=list)
    notes: list[ConfNote] = Field(default_factory=list)
    #: True when LoadGen's FromConfig returns -22 for this file and applies nothing from it
    loadgen_rejects_file: bool = False
    #: every line that makes LoadGen reject the file (LoadGen keeps reading and reports each)
    reject_lines: list[int] = Field(default_factory=list)
    line_count: int = 0

    @property
    def reject_line(self) -> int | None:
        """The first line that makes LoadGen reject the file."""
        return self.reject_lines[0] if self.reject_lines else None

    def stored(self) -> dict[str, ConfEntry]:
        """LoadGen's key -> value map: for each full key, the entry read last (the one that wins)."""
        table: dict[str, ConfEntry] = {}
        for entry in self.entries:
            if entry.number is not None:
                table[entry.full_key] = entry
        return table

    def duplicates(self) -> dict[str, list[ConfEntry]]:
        """Full keys assigned more than once -> all their entries; LoadGen uses the last one."""
        groups: dict[str, list[ConfEntry]] = {}
        for entry in self.entries:
            groups.setdefault(entry.full_key, []).append(entry)
        return {k: v for k, v in groups.items() if len(v) > 1}

    def lookup(self, model: str, scenario: str, key: str, even_if_rejected: bool = False) -> ConfEntry | None:
        """The entry LoadGen would use for ``key`` when run as (model, scenario).

        Precedence: ``model.scenario.key`` > ``*.scenario.key`` > ``model.*.key`` > ``*.*.key``;
        within one full key the last line read wins. Returns None when nothing matches, and also
        when LoadGen rejects the whole file (unless ``even_if_rejected``), because then nothing
        from the file is applied.
        """
        if self.loadgen_rejects_file and not even_if_rejected:
            return None
        return _lookup(self.stored(), model, scenario, key)

    def applies_as_audit_config(self, entry: ConfEntry, scenario: str | None = None) -> bool:
        """Whether LoadGen would apply this entry if the file were used as ``audit.config``.

        LoadGen reads audit.config with model ``*``, so only ``*.<Scenario>.key`` and ``*.*.key``
        lines can apply. Beyond that the entry must win LoadGen's lookup (``*.Offline.mode`` beats
        ``*.*.mode`` when running Offline; a later duplicate beats an earlier line), the key must be
        one current LoadGen reads from a file, its value must be accepted (mode 0..3), and the file
        must not be rejected. With ``scenario`` None: applies when run as any scenario.
        Token-latency keys also need ``use_token_latencies`` set, which may come from another file;
        that is not checked here.
        """
        if self.loadgen_rejects_file or entry.model != "*" or entry.number is None:
            return False
        runs = [scenario] if scenario is not None else list(SCENARIOS)
        for spec in entry.specs():
            if spec.legacy or spec.mlperf_conf_only or spec.effective_value(entry.raw) is None:
                continue
            for run in runs:
                if self.lookup("*", spec.scenario or run, spec.key) is entry:
                    return True
        return False

    def settings(
        self,
        model: str,
        scenario: str,
        conf_type: int | None = None,
        prior: dict[str, Any] | None = None,
    ) -> dict[str, AppliedSetting]:
        """The TestSettings fields this file sets for (model, scenario), emulating ``FromConfig``.

        ``conf_type`` 0 reads mlperf.conf-only keys too (how an mlperf.conf is read); 1 and 2 do not
        (user.conf, audit.config). The default follows the file's kind. For audit.config pass
        model ``*``. ``prior`` holds boolean settings already true before this file (token-latency
        keys are read only when ``use_token_latencies``/``infer_token_latencies`` is set). Legacy
        keys are never applied. An empty dict when LoadGen rejects the file.
        """
        if self.loadgen_rejects_file:
            return {}
        if conf_type is None:
            conf_type = 0 if self.kind == "mlperf.conf" else 2
        state: dict[str, Any] = dict(prior or {})
        applied: dict[str, AppliedSetting] = {}
        table = self.stored()
        for spec in LOADGEN_KEYS:
            if spec.legacy or (spec.mlperf_conf_only and conf_type != 0):
                continue
            if spec.requires is not None and not state.get(spec.requires):
                continue
            entry = _lookup(table, model, spec.scenario or scenario, spec.key)
            if entry is None:
                continue
            value = spec.effective_value(entry.raw)
            if value is None:
                continue
            state[spec.setting] = value
            applied[spec.setting] = AppliedSetting(setting=spec.setting, value=value, entry=entry, spec=spec)
        return applied

    def notes_with(self, code: str) -> list[ConfNote]:
        return [n for n in self.notes if n.code == code]

    def models(self) -> list[str]:
        """Model names the file mentions (``*`` included), in first-seen order."""
        seen: dict[str, None] = {}
        for entry in self.entries:
            seen.setdefault(entry.model, None)
        return list(seen)


# --- parser ---------------------------------------------------------------------------------------


def conf_kind_for(path: Path) -> ConfKind:
    """Guess the kind from the file name: ``mlperf.conf``, ``audit.config``, anything else is a user.conf."""
    name = path.name.lower()
    if name == "mlperf.conf":
        return "mlperf.conf"
    if name == "audit.config":
        return "audit.config"
    return "user.conf"


class _Builder:
    """Line-by-line state of one parse (kept out of the model so the model stays plain data)."""

    def __init__(self, kind: ConfKind) -> None:
        self.conf = ConfFile(kind=kind)
        self.saw_tokens = False

    def note(self, line: int, code: NoteCode, effect: Effect, message: str, text: str) -> None:
        self.conf.notes.append(
            ConfNote(line=line, code=code, effect=effect, message=message, text=text[:200])
        )
        if effect == "rejects_file":
            self.conf.loadgen_rejects_file = True
            if line not in self.conf.reject_lines:
                self.conf.reject_lines.append(line)

    def feed(self, lineno: int, text: str) -> None:
        tokens = [t for t in _WS.split(text) if t]
        if not tokens:
            return
        self.saw_tokens = True
        if tokens[0] == "#":
            return
        if len(tokens) > 1 and tokens[1] == "#":
            # a lone '#' ends the line when it comes before the value: 'key # note' is just 'key'
            tokens = tokens[:1]
        first = tokens[0]
        if len(tokens) == 1:
            if "=" in first and first != "=" and not first.startswith("#"):
                self.note(
                    lineno,
                    "no_spaces_around_equals",
                    "ignored",
                    f"'{first}' has no spaces around '='; LoadGen reads it as one token and silently ignores the line",
                    text,
                )
            elif not first.startswith("#"):
                self.note(
                    lineno, "incomplete_assignment", "ignored", f"'{first}' has no '= value'; ignored", text
                )
            return
        if tokens[1] != "=":
            if first.startswith("#"):
                self.note(
                    lineno,
                    "hash_comment_without_space",
                    "rejects_file",
                    "a comment must start with '# ' (hash then space): LoadGen reads "
                    f"'{first}' as a key, expects '=' next, finds '{tokens[1]}' and rejects the whole file",
                    text,
                )
            else:
                self.note(
                    lineno,
                    "expected_equals",
                    "rejects_file",
                    f"expected ' = ' after '{first}', found '{tokens[1]}'; LoadGen rejects the whole file "
                    "(write 'key = value' with a space on both sides)",
                    text,
                )
            return
        if len(tokens) == 2:
            self.note(lineno, "incomplete_assignment", "ignored", f"'{first} =' has no value; ignored", text)
            return

        stored: str | None = None
        values = tokens[2:]
        for token in values:
            if is_c_number(token):
                stored = token
                continue
            if first.startswith("#"):
                self.note(
                    lineno,
                    "hash_comment_without_space",
                    "rejects_file",
                    f"a comment must start with '# ' (hash then space): LoadGen reads '{first}' as a key and "
                    f"'{token}' as its value, which is not a number, so it rejects the whole file",
                    text,
                )
            elif "#" in token:
                self.note(
                    lineno,
                    "trailing_comment",
                    "rejects_file",
                    f"a comment after the value ('{token}'...) is not allowed: LoadGen rejects the whole file "
                    "and applies none of its settings",
                    text,
                )
            else:
                self.note(
                    lineno,
                    "non_numeric_value",
                    "rejects_file",
                    f"value '{token}' is not a number; LoadGen rejects the whole file",
                    text,
                )
            break
        rejected_here = bool(self.conf.reject_lines and self.conf.reject_lines[-1] == lineno)

        if first.startswith("#"):
            if not rejected_here:
                self.note(
                    lineno,
                    "commented_out_assignment",
                    "ignored",
                    f"commented out: LoadGen stores it under the key '{first}', which nothing reads",
                    text,
                )
            return

        parts = first.rsplit(".", 2)
        if len(parts) < 3 or not all(parts):
            self.note(
                lineno,
                "too_few_parts",
                "ignored",
                f"key '{first}' needs three non-empty dotted parts model.scenario.key; LoadGen never looks it up",
                text,
            )
            return
        model, scenario, key = parts
        raw = stored if stored is not None else values[0]
        entry = ConfEntry(
            model=model,
            scenario=scenario,
            key=key,
            raw=raw,
            number=plain_number(raw) if stored is not None else None,
            line=lineno,
        )
        self.conf.entries.append(entry)
        if rejected_here:
            return
        if stored is not None and len(values) > 1:
            self.note(
                lineno,
                "extra_values",
                "altered",
                f"several values on one line: LoadGen keeps the last one, '{stored}'",
                text,
            )
        self.check_entry(entry, text)

    def check_entry(self, entry: ConfEntry, text: str) -> None:
        line = entry.line
        kind = self.conf.kind
        if "." in entry.model:
            hopeless = "*" in entry.model or any(part in SCENARIOS for part in entry.model.split("."))
            self.note(
                line,
                "dotted_model",
                "ignored" if hopeless else "harness_dependent",
                f"model part '{entry.model}' contains a dot; the line applies only if the harness passes exactly "
                f"that model name (e.g. '*.Server.Server.key' never matches)",
                text,
            )
        if entry.scenario != "*" and entry.scenario not in SCENARIOS:
            near = [s for s in SCENARIOS if s.lower() == entry.scenario.lower()]
            hint = f" (LoadGen's name is '{near[0]}', case matters)" if near else ""
            self.note(
                line,
                "unknown_scenario",
                "ignored",
                f"'{entry.scenario}' is not a LoadGen scenario{hint}; the line is never looked up",
                text,
            )
            return
        if entry.key not in _KEY_NAMES:
            self.note(
                line, "unknown_key", "ignored", f"LoadGen does not read a key named '{entry.key}'", text
            )
            return
        specs = entry.specs()
        if not specs:
            where = sorted({s.scenario for s in LOADGEN_KEYS if s.key == entry.key and s.scenario})
            self.note(
                line,
                "key_not_read_for_scenario",
                "ignored",
                f"LoadGen reads '{entry.key}' only as {', '.join(f'{w}.{entry.key}' for w in where)}; "
                f"'{entry.scenario}.{entry.key}' is never looked up",
                text,
            )
            return
        if all(s.legacy for s in specs):
            self.note(
                line,
                "legacy_key",
                "era_dependent",
                f"'{specs[0].name}' was read by LoadGen before v2.0 only; current LoadGen ignores it",
                text,
            )
            return
        if kind == "audit.config" and entry.model != "*":
            self.note(
                line,
                "model_specific_in_audit_config",
                "ignored",
                f"LoadGen applies audit.config with model '*', so this '{entry.model}' line is ignored "
                "(the harness has to apply it itself)",
                text,
            )
        if kind != "mlperf.conf" and all(s.mlperf_conf_only for s in specs):
            self.note(
                line,
                "mlperf_conf_only_key",
                "era_dependent",
                f"current LoadGen reads '{entry.key}' only from its embedded mlperf.conf and ignores it in "
                f"{kind}; LoadGen of the 2019-2021 rounds applied it from any file",
                text,
            )
        self.check_value(entry, specs, text)

    def check_value(self, entry: ConfEntry, specs: list[ConfKeySpec], text: str) -> None:
        raw = entry.raw
        int_kinds = [s for s in specs if s.kind != "double"]
        if not int_kinds:
            return
        names = ", ".join(s.name for s in int_kinds)
        body = raw.lstrip("+-")
        if raw.startswith("-"):
            self.note(
                entry.line,
                "negative_wraps",
                "altered",
                f"'{raw}' is negative; LoadGen reads the integer setting {names} unsigned and gets {c_strtoull(raw)}",
                text,
            )
        elif not _UL_FULL.match(raw):
            self.note(
                entry.line,
                "fraction_truncated",
                "altered",
                f"'{raw}' is not an integer; LoadGen reads only the integer prefix for {names} and gets {c_strtoull(raw)}",
                text,
            )
        elif body.startswith("0") and len(body) > 1 and body[1] not in "xX":
            self.note(
                entry.line,
                "octal_value",
                "altered",
                f"'{raw}' has a leading zero, so LoadGen reads it as octal for {names}: {c_strtoull(raw)}",
                text,
            )
        if any(s.kind == "mode" for s in specs) and c_strtoull(raw) > 3:
            self.note(
                entry.line,
                "mode_out_of_range",
                "ignored",
                f"mode {raw} is not 0..3; LoadGen logs 'Invalid value passed to Mode key' and keeps the previous mode",
                text,
            )

    def finish(self) -> ConfFile:
        stored = self.conf.stored()
        for full_key, entries in self.conf.duplicates().items():
            winner = stored.get(full_key, entries[-1])
            for entry in entries:
                if entry is winner:
                    continue
                self.note(
                    entry.line,
                    "duplicate_key",
                    "overridden",
                    f"'{full_key}' is set again on line {winner.line}; LoadGen keeps the last value read "
                    f"('{winner.raw}' from line {winner.line}), so this line has no effect",
                    f"{full_key} = {entry.raw}",
                )
        self.conf.notes.sort(key=lambda n: n.line)
        return self.conf


def parse_conf(
    path: Path | str,
    root: Path | str | None = None,
    kind: ConfKind | None = None,
) -> ParseResult[ConfFile]:
    """Parse a LoadGen config file; never raises.

    ``kind`` defaults from the file name (:func:`conf_kind_for`). ``model`` is None only when the
    file cannot be read as text (missing, a directory, binary, too large); an empty file gives an
    empty model plus an ``empty`` problem, because LoadGen accepts it and applies nothing.
    """
    path = as_path(path)
    shown = display_path(path, as_path(root) if root is not None else None)
    kind = kind or conf_kind_for(path)
    sink = ProblemSink(shown)

    def result(model: ConfFile | None) -> ParseResult[ConfFile]:
        return ParseResult[ConfFile](kind=kind, path=shown, model=model, problems=sink.finish())

    data = read_small_bytes(path, min(DEFAULT_MAX_CONF_BYTES, SMALL_FILE_BYTES))
    if data is not None:  # the common case: a small regular file, read in one piece
        if looks_binary(data[:4096]):
            sink.add("binary", f"file looks binary, not a {kind} text file", line=1, expected="text")
            return result(None)
        numbered = enumerate(split_lines(decode_reporting(data, sink)), 1)  # as iter_lines reads it
        return result(_read_conf(kind, numbered, len(data), sink))
    state = path_state(path)
    if state == "missing":
        sink.add("missing", "file does not exist")
        return result(None)
    if state == "dir":
        sink.add(
            "not_a_file", f"expected a {kind} file, found a directory", expected="a file", found="directory"
        )
        return result(None)
    if state == "other":
        sink.add("not_a_file", "not a regular file (device, FIFO or socket); not read", expected="a file")
        return result(None)
    if state.startswith("error"):
        sink.add("unreadable", f"cannot read file: {state[7:]}")
        return result(None)
    size = file_size(path)
    if size is not None and size > DEFAULT_MAX_CONF_BYTES:
        sink.add(
            "too_large",
            f"file of {size} bytes is larger than the {DEFAULT_MAX_CONF_BYTES}-byte limit for a config file",
            found=f"{size} bytes",
        )
        return result(None)
    if looks_binary(read_head(path)):
        sink.add("binary", f"file looks binary, not a {kind} text file", line=1, expected="text")
        return result(None)
    return result(_read_conf(kind, iter_lines(path, sink), size, sink))


def _read_conf(kind: ConfKind, numbered: Iterable[tuple[int, str]], size: int | None, sink: ProblemSink) -> ConfFile:
    """The model of a file's numbered lines; ``size`` (bytes) tells an empty file from a blank one."""
    builder = _Builder(kind)
    lines = 0
    for lineno, text in numbered:
        lines = lineno
        builder.feed(lineno, text)
    conf = builder.finish()
    conf.line_count = lines
    if size == 0:
        sink.add("empty", f"{kind} is empty (0 bytes); LoadGen applies nothing from it", line=1)
    elif not builder.saw_tokens and not sink.problems:
        sink.add("empty", f"{kind} holds only whitespace; LoadGen applies nothing from it", line=1)
    return conf
