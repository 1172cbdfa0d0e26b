"""The detail-log value readers the checks share (``as_bool``, ``as_number``), imported on first call.

They live in :mod:`checker.parse.loadgen_detail`, whose import pulls in numpy (~60 ms). The check
modules are all imported on every run (the registry), including a warm ``check --cache`` run that
takes every partition from the cache and reads no log, so they reach the parser module only when a
check actually runs.
"""

from __future__ import annotations

from typing import Any


def as_number(value: Any) -> float | None:
    """:func:`checker.parse.loadgen_detail.as_number`."""
    from checker.parse.loadgen_detail import as_number as read

    return read(value)


def as_bool(value: Any) -> bool | None:
    """:func:`checker.parse.loadgen_detail.as_bool`."""
    from checker.parse.loadgen_detail import as_bool as read

    return read(value)
