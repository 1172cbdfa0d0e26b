"""The "endpoints" harness files (v6.1): ``config.yaml`` and the JSON results it writes.

An endpoints result has no LoadGen logs: the scenario folder holds ``config.yaml`` (the harness'
settings: model, scenario, load), ``performance/result_summary.json`` (the run's figures),
``accuracy/accuracy_results.json`` (``accuracy_scores``: a list of per-dataset scores with their
sample counts) and, for the compliance tests, ``audit/audit_<name>.json`` (``test``, ``passed`` and
the test's figures). The field names inside are the harness', not LoadGen's, and vary between
harness versions, so the model does not impose a schema: it keeps the document, every leaf under its
dotted path (``latency.ttft.p99``) and the line where each top-level key (YAML: every key) starts,
so that checks can look values up and point at them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from checker.parse.base import ParseResult, ProblemSink, display_path, read_small_text

CONFIG_KIND = "endpoints_config"
JSON_KIND = "endpoints_json"
MAX_BYTES = 64 * 1024 * 1024


class EndpointsDocument(BaseModel, defer_build=True):
    """One endpoints file: the parsed document, its leaves by dotted path, and key lines."""

    data: Any = None
    leaves: dict[str, Any] = Field(default_factory=dict, description="dotted path -> scalar value")
    lines: dict[str, int] = Field(default_factory=dict, description="dotted path -> line of its key")

    def get(self, dotted: str) -> Any:
        """A value by dotted path (``a.b.c``); keys that contain dots (``99.9``) are matched greedily."""
        current = self.data
        parts = dotted.split(".")
        i = 0
        while i < len(parts):
            if not isinstance(current, dict):
                return None
            for j in range(len(parts), i, -1):
                candidate = ".".join(parts[i:j])
                if candidate in current:
                    current = current[candidate]
                    i = j
                    break
            else:
                return None
        return current

    def line_of(self, dotted: str) -> int | None:
        while dotted:
            if dotted in self.lines:
                return self.lines[dotted]
            dotted = dotted.rpartition(".")[0]
        return None


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    else:
        out[prefix] = value


def _yaml_lines(node: Any, prefix: str, out: dict[str, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = f"{prefix}.{key}" if prefix else key
            out.setdefault(path, key_node.start_mark.line + 1)
            _yaml_lines(value_node, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}.{index}" if prefix else str(index)
            out.setdefault(path, item.start_mark.line + 1)
            _yaml_lines(item, path, out)


def parse_endpoints_config(path: Path, root: Path | None = None) -> ParseResult[EndpointsDocument]:
    """``config.yaml`` of an endpoints result. Never raises."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[EndpointsDocument](kind=CONFIG_KIND, path=shown)
    text = _read(path, sink)
    if text is None:
        result.problems = sink.finish()
        return result
    import yaml  # here, not at import: most trees hold no endpoints result

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        sink.add("syntax", f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                 line=mark.line + 1 if mark is not None else None, expected="a YAML mapping")
        result.problems = sink.finish()
        return result
    if not isinstance(data, dict):
        sink.add("syntax", "the configuration is not a mapping", line=1, expected="a YAML mapping",
                 found=type(data).__name__)
    model = EndpointsDocument(data=data)
    _flatten(data, "", model.leaves)
    _yaml_lines(node, "", model.lines)
    result.model = model
    result.problems = sink.finish()
    return result


def parse_endpoints_json(path: Path, root: Path | None = None) -> ParseResult[EndpointsDocument]:
    """``result_summary.json``, ``accuracy_results.json`` or ``audit_<name>.json``. Never raises."""
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[EndpointsDocument](kind=JSON_KIND, path=shown)
    text = _read(path, sink)
    if text is None:
        result.problems = sink.finish()
        return result
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        sink.add("syntax", f"not valid JSON: {exc.msg}", line=exc.lineno, expected="a JSON object")
        result.problems = sink.finish()
        return result
    if not isinstance(data, dict):
        sink.add("syntax", "the document is not a JSON object", line=1, expected="a JSON object",
                 found=type(data).__name__)
    model = EndpointsDocument(data=data)
    _flatten(data, "", model.leaves)
    if isinstance(data, dict):
        for key in data:
            found = re.search(r'"' + re.escape(str(key)) + r'"\s*:', text)
            if found:
                model.lines[str(key)] = text.count("\n", 0, found.start()) + 1
    result.model = model
    result.problems = sink.finish()
    return result


def _read(path: Path, sink: ProblemSink) -> str | None:
    if not path.is_file():
        sink.add("missing", "the file does not exist")
        return None
    text = read_small_text(path, sink, MAX_BYTES)
    if text is None:
        sink.add("too_large", f"larger than {MAX_BYTES} bytes; not read", expected=f"<= {MAX_BYTES} bytes")
        return None
    if not text.strip():
        sink.add("empty", "the file is empty")
        return None
    return text
