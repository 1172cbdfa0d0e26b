"""The model-audit report: a stable document (``--format json``) and its text and Markdown views.

The document reuses the finding shape of `check` (:class:`checker.report.document.FindingOut`), so
the same tooling reads both, and adds the per-tensor table: for every reference tensor its
counterpart, how it was matched, the submitted format, and the comparison's figures and verdict.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from checker import __version__
from checker.report.document import FindingOut
from checker.report.text import SEVERITY_MARK, clean

SCHEMA_VERSION = 1

VERDICT_TEXT = {
    "identical": "identical",
    "rounding": "equal up to float rounding",
    "quantized": "quantized (within one step)",
    "deviations": "isolated deviations",
    "retrained": "RETRAINED",
    "replaced": "REPLACED",
    "pruned": "PRUNED",
    "shrunk": "PRUNED (channels removed)",
    "unmapped": "unmapped",
    "unverified": "unverified",
    "constant": "constant",
}


class TensorRow(BaseModel):
    """One line of the per-tensor table (a reference tensor, a submitted tensor, or both)."""

    reference: str | None = None
    submitted: str | None = None
    kind: str
    layer: str | None = Field(None, description="the consuming node in the reference (else the submitted) model")
    shape: list[int] = Field(description="canonical shape (linear weights [in, out])")
    submitted_shape: list[int] | None = None
    reference_format: str | None = None
    format: str | None = Field(None, description="how the submitted tensor is stored and dequantized")
    mapped_by: str = Field(description="name | layer | values | position | reshaped | transposed | shrunk | unmapped")
    transforms: list[str] = Field(default_factory=list, description="steps undone to compare (both sides)")
    verdict: str
    rule: str | None = None
    note: str | None = None
    step: str | None = Field(None, description="what one quantization step is for this tensor")
    elements: int | None = None
    correlation: float | None = None
    relative_error: float | None = None
    max_abs_diff: float | None = None
    max_steps: float | None = Field(None, description="largest |difference| in units of the element's step")
    beyond_step: int | None = None
    beyond_fraction: float | None = None
    off_nearest: int | None = Field(None, description="elements not rounded to the nearest step (still allowed)")
    clipped: int | None = None
    sign_flips: int | None = None
    zeros_reference: int | None = None
    zeros_submitted: int | None = None
    zeros_expected: int | None = Field(None, description="elements quantization alone could make zero")
    zeros_new: int | None = Field(None, description="zeros quantization does not explain")
    rows_zeroed: int | None = None
    cols_zeroed: int | None = None
    nm_groups: float | None = Field(None, description="share of groups of 4 with 2+ zeros (reduction axis)")
    mean_reference: float | None = None
    std_reference: float | None = None
    mean_submitted: float | None = None
    std_submitted: float | None = None


class ModelOut(BaseModel):
    path: str
    sha256: str | None = Field(None, description="of the .onnx file (external data files not included)")
    bytes: int = 0
    readable: bool = True
    ir_version: int | None = None
    opsets: dict[str, int] = Field(default_factory=dict)
    producer: str | None = None
    external_data: bool = False
    weight_tensors: int = 0
    weight_bytes: int = 0
    layers: int = 0
    unused_initializers: int = 0


class AuditSummary(BaseModel):
    tensors: int = 0
    verdicts: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    warnings: int = 0
    infos: int = 0


class ModelAuditDocument(BaseModel):
    schema_version: int = SCHEMA_VERSION
    tool: str = "mlperf-audit"
    tool_version: str = __version__
    kind: str = "model-audit"
    round: str | None = None
    allowed_formats: list[str] | None = Field(None, description="the round's format list, when it has one")
    submitted: ModelOut
    reference: ModelOut
    verdict: str = Field(description="reference | not-reference | unverified | unreadable")
    verdict_text: str
    summary: AuditSummary
    weight_formats: dict[str, int] = Field(default_factory=dict, description="submitted weight formats -> tensors")
    activation_formats: dict[str, int] = Field(default_factory=dict, description="quantized/cast activations")
    folded: list[str] = Field(default_factory=list, description="batch-norms folded before comparing")
    tensors: list[TensorRow] = Field(default_factory=list)
    findings: list[FindingOut] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)


# -- rendering ------------------------------------------------------------------------------------
def _num(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return "-"
    share = 100.0 * part / whole
    return f"{share:.0f}%" if share >= 10 or share == 0 else f"{share:.1f}%"


def _shape(shape: list[int] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "scalar" if shape == [] else "-"


def _row_cells(row: TensorRow) -> list[str]:
    zeros = "-"
    if row.elements:
        zeros = f"{_pct(row.zeros_reference, row.elements)}→{_pct(row.zeros_submitted, row.elements)}"
        if row.zeros_new:
            zeros += f" ({row.zeros_new} new)"
    beyond = "-" if row.beyond_step is None else f"{row.beyond_step} ({_pct(row.beyond_step, row.elements)})"
    return [
        row.reference or "—",
        row.submitted or "—",
        _shape(row.shape),
        row.format or "-",
        row.mapped_by,
        VERDICT_TEXT.get(row.verdict, row.verdict),
        _num(row.relative_error, ".2e"),
        _num(row.correlation, ".5f"),
        _num(row.max_steps, ".3g"),
        beyond,
        zeros,
    ]


HEADERS = ["reference", "submitted", "shape", "format", "matched by", "verdict", "rel. error", "correlation",
           "max steps", "beyond step", "zeros ref→sub"]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(clean(r[i])) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    out = ["  " + "  ".join(h.ljust(widths[i]) for i, h in enumerate(HEADERS))]
    for row in rows:
        out.append("  " + "  ".join(clean(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return out


def _counts(values: dict[str, int]) -> str:
    return ", ".join(f"{name} ×{count}" for name, count in values.items()) or "none"


def _finding_lines(finding: FindingOut, hint: bool) -> list[str]:
    mark = SEVERITY_MARK.get(finding.severity, "?")
    lines = [f"  {mark} {finding.rule} {clean(finding.path or finding.scope_path)}", f"      {clean(finding.message)}"]
    if finding.expected is not None or finding.found is not None:
        lines.append(f"      expected: {clean(finding.expected) or '-'}   found: {clean(finding.found) or '-'}")
    if hint and finding.hint:
        lines.append(f"      fix: {clean(finding.hint)}")
    return lines


def _header(doc: ModelAuditDocument) -> list[str]:
    round_text = "no round given (no format list applied)" if doc.round is None else f"round {doc.round}"
    if doc.allowed_formats:
        round_text += f": allowed formats {', '.join(doc.allowed_formats)}"
    elif doc.round is not None:
        round_text += ": no format list"
    lines = [f"mlperf-audit {doc.tool_version} · model audit ({round_text})"]
    for label, model in (("submitted", doc.submitted), ("reference", doc.reference)):
        extra = f"{model.bytes:,} bytes"
        if model.sha256:
            extra += f", sha256 {model.sha256[:16]}…"
        if model.readable and model.ir_version is not None:
            extra += f", IR {model.ir_version}, {model.weight_tensors} weight tensors"
            if model.external_data:
                extra += ", external data"
        lines.append(f"{label}: {clean(model.path)}  ({extra})")
    return lines


def render_text(doc: ModelAuditDocument, verbose: bool = False) -> str:
    """The terminal report: header, verdict, per-tensor table, formats, findings."""
    out = _header(doc)
    out += ["", f"verdict: {doc.verdict_text}", ""]
    if doc.tensors:
        out += _table([_row_cells(row) for row in doc.tensors])
        out.append("")
        out.append("  (rel. error = ‖sub − ref‖ / ‖ref‖; max steps = largest difference in quantization steps, "
                   "1 ulp for floats; beyond step = elements more than one step away)")
        out.append("")
    out.append(f"weight formats: {_counts(doc.weight_formats)}")
    out.append(f"activation formats: {_counts(doc.activation_formats)}")
    if doc.folded:
        out.append(f"batch-norms folded before comparing: {', '.join(clean(f) for f in doc.folded)}")
    for note in doc.notes:
        out.append(f"note: {clean(note)}")
    out.append("")
    shown = [f for f in doc.findings if verbose or f.severity != "info"]
    if shown:
        out.append("findings:")
        for finding in shown:
            out.extend(_finding_lines(finding, hint=finding.severity == "error" or verbose))
        out.append("")
    s = doc.summary
    out.append(f"{s.tensors} tensors · {s.errors} errors, {s.warnings} warnings, {s.infos} notes"
               + ("" if verbose or not s.infos else " (-v shows notes)"))
    return "\n".join(out) + "\n"


def _md(text: str | None) -> str:
    return clean(text).replace("|", "\\|")


def render_markdown(doc: ModelAuditDocument) -> str:
    """A reviewer's report: the same content as the text view, as Markdown."""
    out = ["# Model audit", ""]
    out += [f"- {_md(line)}" for line in _header(doc)]
    out += ["", f"**Verdict:** {_md(doc.verdict_text)}", ""]
    if doc.tensors:
        out.append("| " + " | ".join(HEADERS) + " |")
        out.append("|" + "---|" * len(HEADERS))
        for row in doc.tensors:
            out.append("| " + " | ".join(_md(c) for c in _row_cells(row)) + " |")
        out.append("")
    out.append(f"- weight formats: {_md(_counts(doc.weight_formats))}")
    out.append(f"- activation formats: {_md(_counts(doc.activation_formats))}")
    if doc.folded:
        out.append(f"- batch-norms folded before comparing: {_md(', '.join(doc.folded))}")
    for note in doc.notes:
        out.append(f"- note: {_md(note)}")
    out.append("")
    if doc.findings:
        out += ["## Findings", "", "| severity | rule | message | expected | found |", "|---|---|---|---|---|"]
        for f in doc.findings:
            out.append(f"| {f.severity} | {f.rule} | {_md(f.message)} | {_md(f.expected)} | {_md(f.found)} |")
        out.append("")
    return "\n".join(out)
