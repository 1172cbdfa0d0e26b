"""Which parser reads which file: detection from the file name first, then from the content.

The registry maps a kind name to ``module:function``; modules are imported on first use so that
``mlperf-audit parse`` on one file loads one parser.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

from checker.parse.base import ParseResult, display_path, looks_binary, read_head

PARSERS: dict[str, str] = {
    "loadgen_summary": "checker.parse.loadgen_summary:parse_summary",
    "loadgen_detail": "checker.parse.loadgen_detail:parse_detail",
    "accuracy_log": "checker.parse.accuracy_log:parse_accuracy_log",
    "accuracy_txt": "checker.parse.accuracy_txt:parse_accuracy_txt",
    "conf": "checker.parse.conf:parse_conf",
    "system_json": "checker.parse.system_json:parse_system_json",
    "measurements_json": "checker.parse.measurements:parse_measurements_json",
    "verify": "checker.parse.verify:parse_verify",
    "power_spl": "checker.parse.power:parse_spl",
    "endpoints_config": "checker.parse.endpoints:parse_endpoints_config",
    "endpoints_json": "checker.parse.endpoints:parse_endpoints_json",
}

_NAME_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(^|_)summary\.txt$"), "loadgen_summary"),
    (re.compile(r"(^|_)detail\.txt$"), "loadgen_detail"),
    (re.compile(r"mlperf_log_accuracy\.json$"), "accuracy_log"),
    (re.compile(r"^accuracy\.txt$|_accuracy\.txt$"), "accuracy_txt"),
    (re.compile(r"^(verify_.*|performance-verify-result)\.txt$"), "verify"),
    (re.compile(r"(\.conf(\..*)?|^audit\.config)$"), "conf"),
    (re.compile(r"^measurements\.json$"), "measurements_json"),
    (re.compile(r"^spl\.txt$"), "power_spl"),
    (re.compile(r"^config\.ya?ml$"), "endpoints_config"),
    (re.compile(r"^(result_summary|accuracy_results|audit_[\w.-]+)\.json$"), "endpoints_json"),
]


def parser_for(kind: str) -> Callable[..., ParseResult]:
    module_name, function_name = PARSERS[kind].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def clear_caches() -> None:
    """Forget what parsers remember across files (interpreted log records, dates seen): a benchmark
    pass then starts as cold as a fresh ``check`` process. Results never depend on these caches."""
    for module_name in sorted({spec.split(":")[0] for spec in PARSERS.values()}):
        clear = getattr(sys.modules.get(module_name), "clear_caches", None)
        if clear is not None:
            clear()


def detect_kind(path: Path) -> str | None:
    """The kind of a file from its name and place in the tree, else from its first bytes."""
    name = path.name
    if name.startswith("verify_accuracy") or name.startswith("verify_perf") or name.startswith("verify_test4"):
        return "verify"
    for pattern, kind in _NAME_RULES:
        if pattern.search(name):
            return kind
    parts = path.parts
    if name.endswith(".json"):
        if "systems" in parts:
            return "system_json"
        if "measurements" in parts or "results" in parts:
            return "measurements_json"
    return sniff_kind(read_head(path))


def sniff_kind(head: bytes) -> str | None:
    if not head or looks_binary(head):
        return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if text.startswith(":::MLLOG") or text.startswith(":::ENDPTS") or text.startswith('"pid":'):
        return "loadgen_detail"
    if "MLPerf Results Summary" in text:
        return "loadgen_summary"
    if re.match(r"\s*\[\s*\{\s*\"seq_id\"", text):
        return "accuracy_log"
    if "TEST PASS" in text or "TEST FAIL" in text:
        return "verify"
    if text.lstrip().startswith("{"):
        lowered = text.lower()
        if "system_name" in lowered or "accelerator" in lowered:
            return "system_json"
        if "weight_data_types" in lowered or "starting_weights_filename" in lowered:
            return "measurements_json"
    if re.search(r"^\s*[\w*.-]+\.[\w*]+\.\w+\s*=", text, re.MULTILINE):
        return "conf"
    return None


def parse_file(path: Path, kind: str | None = None, root: Path | None = None) -> ParseResult:
    """Parse one file of any known kind; an unknown kind is a result with a problem, not an error."""
    kind = kind or detect_kind(path)
    if kind is None:
        from checker.parse.base import ParseProblem

        shown = display_path(path, root)
        problem = ParseProblem(
            path=shown,
            code="unknown_kind",
            message="cannot tell which kind of submission file this is",
            expected="one of: " + ", ".join(sorted(PARSERS)),
        )
        return ParseResult(kind="unknown", path=shown, model=None, problems=[problem])
    return parser_for(kind)(path, root=root)
