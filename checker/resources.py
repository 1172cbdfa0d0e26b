"""Where the data folders are: the repository root in a checkout, ``checker/_data`` in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Path of ``rules``, ``schemas`` or ``reference_runs``, wherever this installation keeps it."""
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_data" / name
