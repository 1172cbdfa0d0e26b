"""Shared fixtures: the extracted corpus (cached outside git) and the repository paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_cache  # noqa: E402

pytest_plugins = ["loadgen_fixtures"]


@pytest.fixture(scope="session")
def corpus():
    """A function round -> extracted tree; skips only when the shared corpus is not on this machine."""

    def get(round_name: str) -> Path:
        if not corpus_cache.available(round_name):
            pytest.fail(f"corpus archive {corpus_cache.archive(round_name)} is missing")
        return corpus_cache.corpus_root(round_name)

    return get


@pytest.fixture(scope="session")
def corpus_report(corpus):
    """round -> the report document of `check` on the extracted corpus round (computed once)."""
    from checker.check import run_check

    reports = {}

    def get(round_name: str):
        if round_name not in reports:
            reports[round_name] = run_check(corpus(round_name), round_name=round_name)
        return reports[round_name]

    return get


@pytest.fixture
def parser_calls(monkeypatch):
    """Every parser call made in this process, as (tree-relative path, kind)."""
    import checker.engine.evidence as evidence_module

    calls: list[tuple[str, str]] = []
    real = evidence_module.parser_for

    def counting(kind):
        parse = real(kind)

        def wrapped(path, root=None):
            calls.append((Path(path).relative_to(root).as_posix(), kind))
            return parse(path, root=root)

        return wrapped

    monkeypatch.setattr(evidence_module, "parser_for", counting)
    return calls
