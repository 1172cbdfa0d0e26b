"""The ``mlperf-audit`` command line: thin click wrappers over the library.

Exit codes follow the design brief: 0 no error finding, 1 at least one error finding, 2 the tool
could not run (bad arguments, unknown round, bad rule pack).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from checker import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_TOOL = 0, 1, 2


class ToolError(click.ClickException):
    """A condition that stops the tool itself (exit 2), as opposed to a finding about the tree."""

    exit_code = EXIT_TOOL


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlperf-audit")
def main() -> None:
    """Compliance checker and audit tool for MLPerf Inference submissions."""


def _shorten_for_text(value: Any, limit: int = 12) -> Any:
    """Long lists (loaded sample sets, SHA-1 tables) are cut in the text view; JSON keeps them."""
    if isinstance(value, list) and len(value) > limit:
        return [_shorten_for_text(v) for v in value[:limit]] + [f"… {len(value) - limit} more"]
    if isinstance(value, dict):
        items = list(value.items())
        shown = {k: _shorten_for_text(v) for k, v in items[:200]}
        if len(items) > 200:
            shown["…"] = f"{len(items) - 200} more keys"
        return shown
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "…"
    return value


@main.command("parse")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kind", help="Force a file kind instead of detecting it (see --list-kinds).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--list-kinds", is_flag=True, help="List the file kinds and exit.")
def parse_command(file: Path, kind: str | None, fmt: str, list_kinds: bool) -> None:
    """Print the parsed model of one submission FILE (kind detected from its name and content)."""
    from checker.parse.kinds import PARSERS, parse_file

    if list_kinds:
        click.echo("\n".join(sorted(PARSERS)))
        return
    if kind is not None and kind not in PARSERS:
        raise ToolError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(PARSERS))}")
    if not file.exists() and not file.is_symlink():
        raise ToolError(f"no such file: {file}")
    result = parse_file(file, kind=kind)
    document = result.model_dump(mode="json")
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        import yaml

        click.echo(f"kind: {result.kind}\npath: {result.path}")
        if result.problems:
            click.echo("problems:")
            for problem in result.problems:
                where = f":{problem.line}" if problem.line else ""
                click.echo(f"  - [{problem.code}] {problem.path}{where}: {problem.message}")
        click.echo("model:")
        model = _shorten_for_text(document.get("model"))
        click.echo(yaml.safe_dump(model, sort_keys=False, allow_unicode=True, width=120).rstrip())
    sys.exit(EXIT_FINDINGS if result.problems else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
