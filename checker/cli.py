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


def _load_pack_or_exit(name: str):
    from checker.engine.rulepack import PackError, load_pack

    try:
        return load_pack(name)
    except PackError as exc:
        raise ToolError(str(exc)) from exc


def _annotation_files(values: tuple[str, ...], val_map: Path | None) -> dict[str, Path]:
    """``KEY=PATH`` options (and --val-map) as a mapping; a missing file is a usage error (exit 2)."""
    found: dict[str, Path] = {}
    pairs = [("imagenet", str(val_map))] if val_map is not None else []
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key.strip() or not path.strip():
            raise ToolError(f"--annotations takes KEY=PATH, got {value!r}")
        pairs.append((key.strip(), path.strip()))
    for key, path in pairs:
        if not Path(path).is_file():
            raise ToolError(f"annotation file for {key!r} not found: {path}")
        found[key] = Path(path)
    return found


@main.command("check")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--round", "round_name", help="Round whose rules apply (default: detected from the tree).")
@click.option("--submitter", help="Check only this submitter's folders.")
@click.option("--select", multiple=True, help="Run only rules whose ID starts with this prefix (repeatable).")
@click.option("--ignore", multiple=True, help="Skip rules whose ID starts with this prefix (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "junit", "csv", "markdown"]),
              default="text", show_default=True, help="Format of the report on stdout (or in --output).")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT=FILE",
              help="Also write a report in another format, e.g. --report sarif=audit.sarif (repeatable).")
@click.option("--path-prefix", default="", metavar="DIR",
              help="The checked tree's folder inside the repository, put in front of SARIF locations and the "
              "CSV Location (for a tree that is a subfolder of the repository).")
@click.option("--csv-columns", type=click.Choice(["official", "ours"]), default="official", show_default=True,
              help="CSV header: the round's official summary.csv columns, or our richer table.")
@click.option("--waivers", "waivers_file", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML file of [[waiver]] entries (rule, path glob, reason, optional expires).")
@click.option("--tree-waivers/--no-tree-waivers", default=True, show_default=True,
              help="Read mlperf-audit.toml at the tree's root (switch off for a tree you do not own).")
@click.option("--job-summary/--no-job-summary", default=True, show_default=True,
              help="Append the Markdown report to $GITHUB_STEP_SUMMARY when it is set.")
@click.option("--strict", is_flag=True, help="Warnings also make the exit code 1.")
@click.option("--verbose", "-v", is_flag=True, help="Show notes (info findings), every fix hint and timings.")
@click.option("--quiet", "-q", is_flag=True, help="Text format: only the unwaived errors; no notes or progress.")
@click.option("--models", "models", type=click.Path(path_type=Path, dir_okay=False),
              help="YAML file mapping result path globs to the ONNX model each ran and its reference: runs the "
              "model audit (M rules) for those results (see checker/model_audit/mapping.py).")
@click.option("--annotations", "annotations", multiple=True, metavar="KEY=PATH",
              help="Annotation file of a data set for the accuracy recomputation (A011-A013), e.g. "
              "--annotations imagenet=val_map.txt (repeatable; keys: the packs' recompute.dataset).")
@click.option("--val-map", type=click.Path(path_type=Path, dir_okay=False),
              help="ImageNet val_map.txt (same as --annotations imagenet=PATH); default: the tree's own "
              "data_maps/imagenet/val_map.txt when it is the official file.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Worker processes checking submitter folders in parallel (default: the machine's cores; "
              "1: in this process). Trees under 24 results are checked in this process.")
@click.option("--cache", "cache", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for an on-disk cache (outside the tree): a submitter folder unchanged since the last "
              "run with the same checker, rule pack and options is not checked again, and unchanged files "
              "(size, mtime, head/tail digest) are not parsed again.")
def check_command(path: Path | None, round_name: str | None, submitter: str | None, select: tuple[str, ...],
                  ignore: tuple[str, ...], fmt: str, output: Path | None, reports: tuple[str, ...],
                  path_prefix: str, csv_columns: str, waivers_file: Path | None, tree_waivers: bool,
                  job_summary: bool, strict: bool, verbose: bool, quiet: bool, models: Path | None = None,
                  annotations: tuple[str, ...] = (), val_map: Path | None = None,
                  jobs: int | None = None, cache: Path | None = None) -> None:
    """Check the results tree at PATH against its round's rules.

    Without PATH, checks the bundled sample submission (a closed-division tree of the sample round
    made with the real LoadGen by `mlperf-audit demo`), so the tool can be tried on a fresh machine.
    """
    from checker.check import run_check
    from checker.engine.runner import default_jobs
    from checker.report.outputs import (
        RenderOptions,
        TerminalProgress,
        append_job_summary,
        check_targets,
        parse_report_option,
        write_reports,
    )
    from checker.report.render import render
    from checker.report.write import UnsafeOutput, inside, write_atomically

    if quiet and verbose:
        raise ToolError("--quiet and --verbose exclude each other")
    if path is None:
        from checker.resources import data_dir

        path = data_dir("reference_runs") / "sample_submission"
        note = (f"no PATH given: checking the bundled sample submission {path}\n"
                "(made by `mlperf-audit demo`; run `mlperf-audit check PATH` on your own tree)\n")
        if not quiet:
            click.echo(note, nl=False, err=fmt != "text" or output is not None)
    if not path.is_dir():
        raise ToolError(f"not a folder: {path}")
    try:
        targets = [parse_report_option(value) for value in reports]
    except ValueError as exc:
        raise ToolError(str(exc)) from exc
    if output is not None and inside(output, path):
        raise ToolError(f"refusing to write {output}: it is inside the checked tree (the tree is read-only)")
    if cache is not None and inside(cache, path):
        raise ToolError(f"refusing to use {cache} as the cache: it is inside the checked tree (the tree is read-only)")
    options = RenderOptions(verbose=verbose, quiet=quiet, path_prefix=path_prefix, csv_columns=csv_columns)
    progress = TerminalProgress.for_terminal(quiet)
    try:
        check_targets(targets, path)
        document = run_check(path, round_name=round_name, submitter=submitter, select=select, ignore=ignore,
                             waivers_file=waivers_file, tree_waivers=tree_waivers, progress=progress,
                             models=models, annotations=_annotation_files(annotations, val_map),
                             jobs=jobs or default_jobs(), cache=cache)
    except LookupError as exc:
        raise ToolError(str(exc)) from exc
    finally:
        if progress is not None:
            progress.finish()
    text = render(document, fmt, verbose=verbose, quiet=quiet, path_prefix=path_prefix, csv_columns=csv_columns)
    if verbose and fmt == "text":
        text += "timings: " + ", ".join(f"{k} {v:.2f}" for k, v in document.timings.items()) + "\n"
    try:
        if output is not None:
            write_atomically(output, text, tree=path)
        else:
            click.echo(text, nl=False)
        write_reports(document, targets, path, options)
        if job_summary:
            append_job_summary(document, path, options)
    except (UnsafeOutput, OSError) as exc:
        raise ToolError(str(exc)) from exc
    failing = document.summary.errors > 0 or (strict and document.summary.warnings > 0)
    sys.exit(EXIT_FINDINGS if failing else EXIT_OK)


@main.command("explain")
@click.argument("rule_id")
def explain_command(rule_id: str) -> None:
    """Print a rule's documentation: what it checks, why, the rules' section, how to fix it."""
    from checker.engine.registry import load_all_checks
    from checker.report.rules_doc import explain_text

    registry = load_all_checks()
    spec = registry.get(rule_id.upper())
    if spec is None:
        raise ToolError(f"unknown rule {rule_id!r}; see `mlperf-audit rules`")
    click.echo(explain_text(spec))


@main.command("rules")
@click.option("--round", "round_name", help="List the rules a round runs, with their severity there.")
def rules_command(round_name: str | None) -> None:
    """List the rules (all of them, or those of one round with its severities)."""
    from checker.engine.registry import load_all_checks
    from checker.engine.rulepack import known_rounds

    registry = load_all_checks()
    if round_name is None:
        click.echo(f"known rounds: {', '.join(known_rounds())}")
        for rule_id in sorted(registry):
            spec = registry[rule_id]
            click.echo(f"{rule_id}  {spec.default_severity.value:<7}  {spec.title}")
        return
    pack = _load_pack_or_exit(round_name)
    click.echo(f"{pack.title} (rules/{pack.source_file})")
    for rule_id in sorted(pack.rules):
        setting = pack.rules[rule_id]
        spec = registry[rule_id]
        note = f"  — {setting.note}" if setting.note else ""
        click.echo(f"{rule_id}  {setting.severity:<7}  {spec.title}{note}")


@main.command("demo")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the runs and the trees (new or empty; default: a new temp folder).")
@click.option("--break", "broken", is_flag=True, help="Also make a copy with planted defects and show them caught.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="LoadGen tests run in parallel (each in its own process).")
def demo_command(out: Path | None, broken: bool, jobs: int) -> None:
    """Make a complete sample-round submission with the real LoadGen, then check it.

    Runs the bundled digits model in all four scenarios (accuracy, performance and the TEST01 /
    TEST04 compliance runs), writes a closed-division tree, runs `check --round sample` on it and
    prints the report. Needs no network; takes well under a minute on 2 cores.
    """
    from checker.rerun.demo import DemoError, main_demo

    try:
        code = main_demo(out, broken, jobs)
    except DemoError as exc:
        raise ToolError(str(exc)) from exc
    sys.exit(code)


@main.command("rerun")
@click.argument("result", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The submitted model (ONNX; input 'input', output logits). Default: the reference model.")
@click.option("--reference", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The reference model (default: the bundled digits model).")
@click.option("--samples", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Sample data: .npy of inputs, or .npz with 'samples' (and 'labels'). Default: the bundled digits QSL.")
@click.option("--labels", type=click.Path(path_type=Path, dir_okay=False, exists=True), help=".npy of labels.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the re-runs (new or empty; default: a new temp folder).")
@click.option("--min-agreement", type=click.FloatRange(0, 100), default=100.0, show_default=True,
              help="Top-1 agreement with the reference (percent) below which R002 is reported.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rerun_command(result: Path, model: Path | None, reference: Path | None, samples: Path | None,
                  labels: Path | None, out: Path | None, min_agreement: float, jobs: int, fmt: str) -> None:
    """Replay RESULT (a results/<system>/<benchmark>/<scenario> folder) with the real LoadGen.

    Runs the reference and the given model in AccuracyOnly mode on the sample data, compares them
    with each other and with the submission's accuracy log, re-runs PerformanceOnly with the
    submission's settings (scaled down) and TEST01/TEST04 for real. Findings have R rule IDs.
    """
    from checker.rerun.replay import ReplayError, as_json, render, replay

    try:
        report = replay(result, model=model, reference=reference, samples=samples, labels=labels, out=out,
                        jobs=jobs, min_agreement=min_agreement)
    except ReplayError as exc:
        raise ToolError(str(exc)) from exc
    click.echo(as_json(report) if fmt == "json" else render(report), nl=False)
    sys.exit(EXIT_FINDINGS if report.errors else EXIT_OK)


@main.command("model")
@click.argument("submitted", type=click.Path(path_type=Path))
@click.option("--reference", required=True, type=click.Path(path_type=Path),
              help="The reference ONNX model to compare with (the benchmark owner's).")
@click.option("--round", "round_name", help="Round whose rules apply (v0.5 and v0.7 list the allowed formats).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here.")
@click.option("--strict", is_flag=True, help="Warnings (unmapped tensors, custom operators) also make the exit code 1.")
@click.option("--verbose", "-v", is_flag=True, help="Show notes (info findings) and every fix hint.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: on a terminal, for models over 16 M weight elements).")
def model_command(submitted: Path, reference: Path, round_name: str | None, fmt: str, output: Path | None,
                  strict: bool, verbose: bool, progress: bool | None) -> None:
    """Audit the ONNX model SUBMITTED against --reference, tensor by tensor (M rules).

    Maps each reference weight to its submitted counterpart (by name, else layer, shape, position
    and values; batch-norms folded, transposes, casts and dequantization undone), then reports per
    tensor whether it is identical, quantized (allowed), retrained, replaced or pruned. External
    data is read tensor by tensor with bounded memory and only from inside the model's folder.
    Exit 1 when a finding is an error, 2 when a path is not a readable file or the reference is
    not a readable model.
    """
    import time

    from checker.model_audit import ModelPathError, audit_models
    from checker.model_audit.report import render_markdown, render_text

    pack = _load_pack_or_exit(round_name) if round_name else None
    if output is not None and any(output.resolve() == p.resolve() for p in (submitted, reference)):
        raise ToolError(f"refusing to write {output}: it is one of the models")
    show = sys.stderr.isatty() if progress is None else progress
    last = [0.0]

    def tick(done: int, total: int, name: str) -> None:
        now = time.monotonic()
        if (progress is None and total < 16 * 1024 * 1024) or (now - last[0] < 0.2 and done < total):
            return
        last[0] = now
        click.echo(f"\rcomparing {done / max(total, 1):6.1%}  {name[:60]:<60}", nl=False, err=True)

    try:
        result = audit_models(submitted, reference, pack=pack, progress=tick if show else None)
    except ModelPathError as exc:
        raise ToolError(str(exc)) from exc
    finally:
        if show and last[0]:
            click.echo("\r" + " " * 80 + "\r", nl=False, err=True)
    document = result.document
    if fmt == "json":
        text = document.model_dump_json(indent=2) + "\n"
    elif fmt == "markdown":
        text = render_markdown(document)
    else:
        text = render_text(document, verbose=verbose)
    if output is not None:
        from checker.report.write import write_atomically

        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    failing = document.summary.errors > 0 or (strict and document.summary.warnings > 0)
    sys.exit(EXIT_FINDINGS if failing else EXIT_OK)


def run() -> None:
    """The ``mlperf-audit`` command: the process is the tool's own, so it is tuned for a batch run and
    ends without the interpreter's teardown (:mod:`checker.runtime`); ``main`` itself, as tests and
    library callers invoke it, changes nothing."""
    from checker.runtime import finish, tune_for_batch

    tune_for_batch()
    try:
        main()
    except SystemExit as done:
        finish(done)


if __name__ == "__main__":  # pragma: no cover
    run()
