"""Small results trees for tests, cut from the real corpus, plus precise edits of their files.

A test copies one submitter's system (its results, measurements, compliance runs, system
description and code) into a temporary folder, applies the one change that breaks a rule, and runs
the checker on it. Edits return the line they changed so tests can assert the finding's line.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

SUBMITTER_PARTS = ("results", "measurements", "compliance", "audit")


def copy_system(corpus_round: Path, dest: Path, division: str, submitter: str, system: str) -> Path:
    """Copy ``<division>/<submitter>`` restricted to one system; return the new tree's root."""
    source = corpus_round / division / submitter
    target = dest / division / submitter
    for part in SUBMITTER_PARTS:
        folder = source / part / system
        if folder.is_dir():
            shutil.copytree(folder, target / part / system, symlinks=True)
    (target / "systems").mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "systems" / f"{system}.json", target / "systems" / f"{system}.json")
    for code_name in ("code", "src"):
        if (source / code_name).is_dir():
            shutil.copytree(source / code_name, target / code_name, symlinks=True)
    return dest


def set_mllog_value(path: Path, key: str, value: object) -> int:
    """Rewrite the value of the first ``:::MLLOG`` record with ``key``; return its line number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for index, line in enumerate(lines):
        if line.startswith(":::MLLOG") and f'"key": "{key}"' in line:
            record = json.loads(line[len(":::MLLOG "):])
            record["value"] = value
            lines[index] = ":::MLLOG " + json.dumps(record)
            path.write_text("\n".join(lines), encoding="utf-8")
            return index + 1
    raise KeyError(key)


def append_mllog_error(path: Path, text: str) -> int:
    """Append an ``is_error`` record as LoadGen writes them; return its line number."""
    record = {
        "key": "error_runtime", "value": text, "time_ms": 1.0, "namespace": "mlperf::logging",
        "event_type": "POINT_IN_TIME",
        "metadata": {"is_error": True, "is_warning": False, "file": "loadgen.cc", "line_no": 1, "pid": 1, "tid": 1},
    }
    content = path.read_text(encoding="utf-8")
    if not content.endswith("\n"):
        content += "\n"
    content += ":::MLLOG " + json.dumps(record) + "\n"
    path.write_text(content, encoding="utf-8")
    return content.count("\n")


def replace_in_file(path: Path, pattern: str, replacement: str) -> int:
    """Replace the first regex match; return the 1-based line where it was."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"{pattern!r} not in {path}")
    new = text[: match.start()] + re.sub(pattern, replacement, match.group(0)) + text[match.end():]
    path.write_text(new, encoding="utf-8", errors="surrogateescape")
    return text.count("\n", 0, match.start()) + 1


def edit_json(path: Path, **changes: object) -> None:
    """Set (value) or delete (None) top-level keys of a JSON file, keeping key order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        key = key.replace("__", "-")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


def json_key_line(path: Path, key: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if f'"{key}"' in line:
            return number
    raise KeyError(key)
