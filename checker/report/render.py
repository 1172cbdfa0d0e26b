"""One entry point for every output format: ``render(document, format, ...) -> text``."""

from __future__ import annotations

from checker.report.document import ReportDocument

FORMATS = ("text", "json", "sarif", "junit", "csv", "markdown")
CSV_COLUMN_SETS = ("official", "ours")


def render(doc: ReportDocument, fmt: str, *, verbose: bool = False, quiet: bool = False, path_prefix: str = "",
           csv_columns: str = "official") -> str:
    if fmt == "json":
        return doc.model_dump_json(indent=2) + "\n"
    if fmt == "sarif":
        from checker.report.sarif import render_sarif

        return render_sarif(doc, path_prefix=path_prefix)
    if fmt == "junit":
        from checker.report.junit import render_junit

        return render_junit(doc)
    if fmt == "csv":
        from checker.report.csv_table import render_csv

        return render_csv(doc, columns=csv_columns, path_prefix=path_prefix)
    if fmt == "markdown":
        from checker.report.markdown import render_markdown

        return render_markdown(doc, verbose=verbose)
    if fmt == "text":
        from checker.report.text import render_quiet, render_text

        return render_quiet(doc) if quiet else render_text(doc, verbose=verbose)
    raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
