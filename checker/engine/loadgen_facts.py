"""LoadGen errors in a log, as several rules report them (performance runs, accuracy runs).

Kept out of the rule modules so that each rule module stays independent of the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from checker.engine.context import Context
from checker.engine.registry import Violation


def _ignored(text: str, patterns: list[str]) -> bool:
    return any(pattern in text for pattern in patterns)


def loadgen_errors(ctx: Context, folder: Path) -> Iterator[Violation]:
    detail = ctx.detail(folder)
    if detail is None:
        return
    ignore = list(ctx.pack.loadgen_error_ignore) + list(ctx.params.get("ignore", []))
    kept = [m for m in detail.errors if not _ignored(m.text, ignore)]
    path = ctx.rel(folder / "mlperf_log_detail.txt")
    for message in kept[:20]:
        yield Violation(f"LoadGen logged an error: {message.text}", path=path, line=message.line,
                        expected="no LoadGen errors", found=message.key)
    hidden = detail.error_count - len(detail.errors)
    if len(kept) > 20 or hidden > 0:
        yield Violation(f"{max(len(kept) - 20, 0) + max(hidden, 0)} further LoadGen errors in this log", path=path)
