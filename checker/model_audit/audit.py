"""The model audit as a library call: load both models, canonicalize, match, compare, report.

``audit_models`` never raises for anything inside a model file: an unreadable submitted model, an
unsafe external-data location, a custom operator or a tensor the audit cannot decode becomes a
finding, and an unexpected exception while comparing one tensor becomes an ``X001`` finding for
that tensor while the others are still compared. It raises :class:`ModelPathError` (a tool error)
only when a path is not a readable file or the *reference* is not a readable model, since then
there is nothing to audit against.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from checker.engine.registry import REGISTRY
from checker.findings import SEVERITY_ORDER, Finding, Scope, Severity, as_text
from checker.model_audit import rules as _rules  # noqa: F401 - declares the M rules
from checker.model_audit.compare import VERDICT_RULE, Comparison, compare
from checker.model_audit.correspond import Pair, correspond
from checker.model_audit.formats import allowed_formats, normalise_format_name
from checker.model_audit.graph import KNOWN_CONTRIB, GraphInfo, LogicalTensor, canonical
from checker.model_audit.load import LoadedModel, ModelPathError, load_model
from checker.model_audit.report import (
    VERDICT_TEXT,
    AuditSummary,
    ModelAuditDocument,
    ModelOut,
    TensorRow,
)
from checker.model_audit.tensors import Affine, Dequantized, QuantInfo
from checker.parse.base import file_sha256
from checker.report.document import finding_out

#: progress(done_elements, total_elements, tensor_name)
Progress = Callable[[int, int, str], None]


class ReferenceUnusable(ModelPathError):
    """The reference model cannot be used (not ONNX): the audit has nothing to compare with."""


@dataclass
class AuditResult:
    """Findings (as Finding objects, for `check`) and the report document."""

    findings: list[Finding]
    document: ModelAuditDocument
    rows: list[TensorRow] = field(default_factory=list)


def _severity_for(pack, rule_id: str, special: Severity | None = None) -> Severity | None:
    """The pack's severity for a rule (default when the pack does not list it); None when off.

    A finding with a milder built-in severity (a known contrib op, an INT32 accumulator bias) keeps
    the milder of the two."""
    spec = REGISTRY[rule_id]
    severity = spec.default_severity
    setting = pack.rules.get(rule_id) if pack is not None else None
    if setting is not None:
        if setting.severity == "off":
            return None
        severity = Severity(setting.severity)
    if special is not None and SEVERITY_ORDER[special] > SEVERITY_ORDER[severity]:
        severity = special
    return severity


def _model_out(label: str, model: LoadedModel, info: GraphInfo | None) -> ModelOut:
    out = ModelOut(path=label, sha256=file_sha256(model.path), bytes=model.file_bytes, readable=model.proto is not None)
    proto = model.proto
    if proto is not None:
        out.ir_version = int(proto.ir_version)
        out.opsets = {(o.domain or "ai.onnx"): int(o.version) for o in proto.opset_import}
        out.producer = " ".join(p for p in (proto.producer_name, proto.producer_version) if p) or None
    if info is not None:
        out.weight_tensors = len(info.tensors)
        out.weight_bytes = sum(t.stored_bytes for t in info.tensors)
        out.external_data = any(t.external for t in info.tensors)
        out.layers = info.layers
        out.unused_initializers = info.unused_initializers
    return out


def _weight_format(t: LogicalTensor) -> str:
    """The format a submitted weight is stored (or quantized at run time) in, by the rules' names."""
    if t.quant is not None and t.fmt.kind == "float" and t.code_float is None and any(
            "QuantizeLinear" in step for step in t.transforms):
        return t.quant.fmt
    return t.fmt.name


class _Auditor:
    def __init__(self, submitted: Path, reference: Path, pack, progress: Progress | None, scope: Scope,
                 submitted_label: str | None, reference_label: str | None) -> None:
        self.submitted, self.reference = submitted, reference
        self.sub_label = submitted_label or str(submitted)
        self.ref_label = reference_label or str(reference)
        self.pack = pack
        self.progress = progress
        self.scope = scope
        self.findings: list[Finding] = []
        self.rows: list[TensorRow] = []
        self.notes: list[str] = []

    def add(self, rule_id: str, message: str, *, path: str | None = None, expected=None, found=None,
            special: Severity | None = None) -> None:
        severity = _severity_for(self.pack, rule_id, special)
        if severity is None:
            return
        self.findings.append(Finding(rule=rule_id, severity=severity, message=message, scope=self.scope,
                                     path=path or self.sub_label, expected=as_text(expected),
                                     found=as_text(found), hint=REGISTRY[rule_id].fix))

    # -- stages ---------------------------------------------------------------------------------
    def run(self) -> AuditResult:
        started = time.perf_counter()
        ref = load_model(self.reference)
        if ref.proto is None:
            raise ReferenceUnusable(f"reference model {self.reference}: {ref.problems[0].message}")
        sub = load_model(self.submitted)
        try:
            return self._run(ref, sub, started)
        finally:
            ref.store.close()
            sub.store.close()

    def _run(self, ref: LoadedModel, sub: LoadedModel, started: float) -> AuditResult:
        for problem in ref.problems:
            self.add(problem.rule, f"reference model: {problem.message}", path=self.ref_label, found=problem.found)
        for problem in sub.problems:
            self.add(problem.rule, problem.message, found=problem.found)
        ref_info = self._canonical(ref, "reference")
        sub_info = self._canonical(sub, "submitted") if sub.proto is not None else None
        loaded = time.perf_counter()
        if ref_info is not None and sub_info is not None:
            self._custom_ops(sub_info)
            pairs = correspond(ref_info.tensors, sub_info.tensors)
            matched = time.perf_counter()
            self._compare_all(pairs)
            self._formats(sub_info)
        else:
            matched = loaded
        done = time.perf_counter()
        document = self._document(ref, sub, ref_info, sub_info)
        document.timings = {"load_s": round(loaded - started, 4), "match_s": round(matched - loaded, 4),
                            "compare_s": round(done - matched, 4), "total_s": round(time.perf_counter() - started, 4)}
        return AuditResult(findings=self.findings, document=document, rows=self.rows)

    def _canonical(self, model: LoadedModel, side: str) -> GraphInfo | None:
        try:
            return canonical(model, side)
        except Exception as exc:  # noqa: BLE001 - an untrusted graph must not crash the audit
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.add("X001", f"internal error reading the {side} model's graph: {type(exc).__name__}: {exc}",
                     path=self.ref_label if side == "reference" else self.sub_label,
                     found=f"{Path(where.filename).name}:{where.lineno}")
            return None

    def _custom_ops(self, info: GraphInfo) -> None:
        by_domain: dict[str, list[str]] = {}
        for (domain, op), count in sorted(info.custom_ops.items()):
            by_domain.setdefault(domain, []).append(f"{op} ×{count}")
        for domain, ops in by_domain.items():
            known = all((domain, op.split(" ×")[0]) in KNOWN_CONTRIB for op in ops)
            local = any((domain, op.split(" ×")[0]) in info.local_functions for op in ops)
            what = ("known ONNX Runtime contrib operators whose weights the audit reads" if known
                    else "defined as model-local functions (not inspected)" if local
                    else "a custom domain: what these operators compute is not known to the audit")
            self.add("M003", f"operators of domain {domain!r}: {', '.join(ops)} — {what}", found=domain,
                     special=Severity.INFO if known else None)

    def _compare_all(self, pairs: list[Pair]) -> None:
        total = sum(p.ref.numel for p in pairs if p.ref is not None and p.sub is not None and p.view is not None
                    and p.ref.lazy is not None)
        done = 0
        for pair in pairs:
            name = (pair.ref or pair.sub).name  # type: ignore[union-attr]

            def tick(count: int, name: str = name) -> None:
                nonlocal done
                done += count
                if self.progress is not None:
                    self.progress(done, total, name)

            try:
                self._one(pair, tick)
            except Exception as exc:  # noqa: BLE001 - one tensor's failure must not stop the audit
                where = traceback.extract_tb(exc.__traceback__)[-1]
                self.add("X001", f"internal error comparing tensor {name!r}: {type(exc).__name__}: {exc}",
                         found=f"{Path(where.filename).name}:{where.lineno}")
                self.rows.append(self._row(pair, None, "unverified", None, note="internal error"))

    def _unverified(self, pair: Pair, tensor: LogicalTensor) -> None:
        """A tensor that could not be compared: a row, and a finding unless one already says why."""
        problem = tensor.problem or "its values cannot be read"
        rule = tensor.problem_rule if tensor.problem is not None else "M004"
        self.rows.append(self._row(pair, None, "unverified", rule, note=problem))
        side = "reference model: " if tensor.side == "reference" else ""
        message = f"{side}{problem}" if tensor.name in problem else f"{side}tensor {tensor.name!r}: {problem}"
        if not any(f.message.endswith(problem) for f in self.findings):
            self.add(rule, f"{message} — not compared", path=self.ref_label if tensor.side == "reference" else None)

    def _fit_scale(self, pair: Pair) -> None:
        """MatMulInteger/ConvInteger codes are scaled by a later Mul: fit one scale by least squares."""
        assert pair.ref is not None and pair.sub is not None and pair.view is not None and pair.ref.lazy is not None
        codes, values = pair.view.sample(), pair.ref.lazy.sample()
        denominator = float((codes * codes).sum())
        scale = float((codes * values).sum()) / denominator if denominator > 0 else 1.0
        zero = pair.sub.lazy.zero_point if isinstance(pair.sub.lazy, Dequantized) else np.zeros(())
        pair.view = Affine(pair.view, np.asarray(scale))
        fmt = pair.sub.fmt
        pair.quant = QuantInfo(np.asarray(abs(scale)), np.asarray(zero).reshape(-1)[:1].reshape(()),
                               fmt.qmin or 0, fmt.qmax or 0, fmt.name, "per-tensor (scale fitted)")
        pair.transforms.append(f"scale {scale:.4g} fitted by least squares (applied outside {pair.sub.op})")

    def _one(self, pair: Pair, tick: Callable[[int], None]) -> None:
        ref, sub = pair.ref, pair.sub
        if ref is not None and sub is not None and pair.how == "shrunk":
            self.rows.append(self._row(pair, None, "shrunk", "M008"))
            self.add("M008", f"tensor {ref.name!r} ({ref.kind} of {ref.node!r}) lost elements: shape "
                     f"{list(ref.shape)} in the reference, {list(sub.shape)} in the submitted model "
                     f"({sub.name!r}): channels were removed", expected=list(ref.shape), found=list(sub.shape))
            return
        if ref is None or sub is None:
            anchor = ref or sub
            assert anchor is not None
            if anchor.problem is not None:
                self._unverified(pair, anchor)
                return
            if anchor.is_constant:
                self.rows.append(self._row(pair, None, "constant", None, note="scalar constant, no counterpart"))
                return
            self.rows.append(self._row(pair, None, "unmapped", "M004"))
            if ref is not None:
                self.add("M004", f"reference tensor {ref.name!r} ({ref.kind} of {ref.node!r}, shape "
                         f"{list(ref.shape)}) has no counterpart in the submitted model", path=self.sub_label,
                         found="unmapped")
            else:
                assert sub is not None
                self.add("M004", f"submitted tensor {sub.name!r} ({sub.kind} of {sub.node!r}, shape "
                         f"{list(sub.shape)}) does not correspond to any reference tensor (a supplement?)",
                         found="unmapped")
            return
        if ref.lazy is None or pair.view is None:
            self._unverified(pair, ref if ref.problem else sub)
            return
        if sub.needs_scale_fit and pair.quant is None:
            self._fit_scale(pair)
        result = compare(pair, tick)
        rule = VERDICT_RULE.get(result.verdict)
        self.rows.append(self._row(pair, result, result.verdict, rule))
        if rule is not None:
            self._verdict_finding(rule, pair, result)

    def _verdict_finding(self, rule: str, pair: Pair, c: Comparison) -> None:
        ref, sub = pair.ref, pair.sub
        assert ref is not None and sub is not None
        where = f"tensor {ref.name!r} ({ref.kind} of {ref.node!r}"
        where += f"; submitted {sub.name!r})" if sub.name != ref.name else ")"
        figures = (f"relative error {c.relative_error:.3g}" if c.relative_error is not None else "relative error -")
        figures += f", correlation {c.correlation:.4f}" if c.correlation is not None else ", correlation -"
        if rule == "M007":
            reason = "constant" if c.std_sub == 0 else f"correlation {c.correlation:.3f}" \
                if c.correlation is not None else "unrelated values"
            self.add(rule, f"{where} was replaced: its values are unrelated to the reference ({reason}; {figures})",
                     expected="values within one quantization step of the reference",
                     found=f"{c.beyond_step + c.zeros_new} of {c.elements} elements differ ({figures})")
        elif rule == "M008":
            parts = []
            if c.zeros_new:
                parts.append(f"{c.zeros_new} of {c.elements} elements ({c.new_zero_fraction:.1%}) are zero where "
                             f"quantization gives non-zero (reference zeros {c.zeros_ref}, submitted {c.zeros_sub})")
            if c.rows_zeroed or c.cols_zeroed:
                parts.append(f"{c.rows_zeroed} of {c.rows} rows (axis 0) and {c.cols_zeroed} of {c.cols} columns "
                             f"(axis 1) entirely zeroed")
            if c.nm_pattern:
                parts.append(f"{c.nm_groups:.0%} of the groups of 4 along the reduction axis have 2+ zeros (N:M)")
            self.add(rule, f"{where} was pruned: {'; '.join(parts)}",
                     expected=f"at most {c.zeros_expected} zeros (what quantization alone gives)",
                     found=f"{c.zeros_sub} zeros, {c.zeros_new} new")
        elif rule == "M006":
            self.add(rule, f"{where} was changed beyond quantization: {c.beyond_step} of {c.elements} elements "
                     f"({c.beyond_fraction:.1%}) lie more than one step ({c.step}) from the reference, up to "
                     f"{c.max_steps:.3g} steps; {figures}; {c.sign_flips} sign changes — retraining",
                     expected="every element within one quantization step of the reference",
                     found=f"{c.beyond_fraction:.2%} beyond, max {c.max_steps:.3g} steps")
        elif rule == "M010":
            self.add(rule, f"{where}: {c.beyond_step} elements beyond one step (up to {c.max_steps:.3g} steps) and "
                     f"{c.zeros_new} new zeros out of {c.elements}; {figures}",
                     expected="every element within one quantization step of the reference",
                     found=f"{c.beyond_step} beyond, {c.zeros_new} new zeros")

    def _row(self, pair: Pair, c: Comparison | None, verdict: str, rule: str | None,
             note: str | None = None) -> TensorRow:
        ref, sub = pair.ref, pair.sub
        anchor = ref or sub
        assert anchor is not None
        transforms = []
        if ref is not None:
            transforms += [f"reference: {t}" for t in ref.transforms]
        if sub is not None:
            transforms += [f"submitted: {t}" for t in sub.transforms]
        transforms += [f"matched: {t}" for t in pair.transforms]
        row = TensorRow(reference=ref.name if ref else None, submitted=sub.name if sub else None, kind=anchor.kind,
                        layer=anchor.node, shape=list(anchor.shape),
                        submitted_shape=list(sub.shape) if sub is not None and ref is not None
                        and sub.shape != ref.shape else None,
                        reference_format=ref.format_label() if ref else None,
                        format=sub.format_label() if sub else None, mapped_by=pair.how, transforms=transforms,
                        verdict=verdict, rule=rule, note=note)
        if c is not None:
            row.step = c.step
            row.elements = c.elements
            row.correlation = c.correlation
            row.relative_error = c.relative_error
            row.max_abs_diff = c.max_abs_diff
            row.max_steps = c.max_steps
            row.beyond_step = c.beyond_step
            row.beyond_fraction = c.beyond_fraction
            row.off_nearest = c.off_nearest
            row.clipped = c.clipped
            row.sign_flips = c.sign_flips
            row.zeros_reference, row.zeros_submitted = c.zeros_ref, c.zeros_sub
            row.zeros_expected, row.zeros_new = c.zeros_expected, c.zeros_new
            if c.rows:
                row.rows_zeroed, row.cols_zeroed = c.rows_zeroed, c.cols_zeroed
            row.nm_groups = c.nm_groups
            row.mean_reference, row.std_reference = c.mean_ref, c.std_ref
            row.mean_submitted, row.std_submitted = c.mean_sub, c.std_sub
        return row

    def _formats(self, info: GraphInfo) -> None:
        self.weight_formats = Counter(_weight_format(t) for t in info.tensors)
        self.activation_formats = {k: len(v) for k, v in info.activation_formats.items()}
        allowed = self.allowed_formats()
        if allowed is None:
            return
        allowed_set = {normalise_format_name(a) for a in allowed}
        offending: dict[str, list[LogicalTensor]] = {}
        accumulator: list[LogicalTensor] = []
        for t in info.tensors:
            name = _weight_format(t)
            if name in allowed_set:
                continue
            if t.accumulator_bias or (t.family == "bias" and name == "INT32" and t.quant is not None):
                accumulator.append(t)
            else:
                offending.setdefault(name, []).append(t)
        for name, tensors in sorted(offending.items()):
            listed = ", ".join(repr(t.name) for t in tensors[:6]) + (f" and {len(tensors) - 6} more" if len(tensors) > 6
                                                                     else "")
            self.add("M009", f"{len(tensors)} weight tensor(s) stored as {name}, which round {self.pack.round} does "
                     f"not allow: {listed}", expected=", ".join(allowed), found=name)
        if accumulator:
            listed = ", ".join(repr(t.name) for t in accumulator[:6])
            self.add("M009", f"{len(accumulator)} bias tensor(s) stored as INT32 in the integer accumulator's scale "
                     f"({listed}); INT32 is not on round {self.pack.round}'s list, but it is the accumulator format "
                     f"of the integer layers it feeds: a reviewer decides", expected=", ".join(allowed),
                     found="INT32 (bias)", special=Severity.WARNING)
        for name, sources in info.activation_formats.items():
            if name not in allowed_set:
                self.add("M009", f"activations quantized or cast to {name}, which round {self.pack.round} does not "
                         f"allow: {', '.join(sources[:4])}", expected=", ".join(allowed), found=name)

    def allowed_formats(self) -> list[str] | None:
        formats = allowed_formats(self.pack)
        return list(formats) if formats is not None else None

    def _document(self, ref: LoadedModel, sub: LoadedModel, ref_info: GraphInfo | None,
                  sub_info: GraphInfo | None) -> ModelAuditDocument:
        verdicts = Counter(row.verdict for row in self.rows)
        quantized = verdicts.get("quantized", 0)
        if quantized:
            formats = Counter(row.format or "?" for row in self.rows if row.verdict == "quantized")
            self.add("M005", f"{quantized} tensor(s) differ from the reference only by quantization (every element "
                     f"within one step): {', '.join(f'{k} ×{v}' for k, v in sorted(formats.items()))}",
                     found=f"{quantized} quantized")
        self.findings.sort(key=Finding.sort_key)
        errors = sum(1 for f in self.findings if f.severity == Severity.ERROR)
        warnings = sum(1 for f in self.findings if f.severity == Severity.WARNING)
        infos = sum(1 for f in self.findings if f.severity == Severity.INFO)
        open_points = [row.verdict for row in self.rows if row.verdict in ("unmapped", "unverified")]
        open_points += [f.rule for f in self.findings if f.rule in ("M002", "M003", "X001")
                        and f.severity != Severity.INFO]
        if sub.proto is None:
            verdict, text = "unreadable", "the submitted model could not be read (M001)"
        elif errors:
            bad = sorted({f.rule for f in self.findings if f.severity == Severity.ERROR})
            verdict = "not-reference"
            counted = Counter(row.verdict for row in self.rows if row.rule in bad)
            detail = ", ".join(f"{n} {VERDICT_TEXT.get(v, v).lower()}" for v, n in sorted(counted.items()))
            text = f"NOT the reference model ({', '.join(bad)}{': ' + detail if detail else ''})"
        elif open_points:
            verdict = "unverified"
            text = (f"no evidence of a change, but {len(open_points)} item(s) could not be verified "
                    f"({', '.join(sorted(set(open_points)))})")
        else:
            verdict = "reference"
            kinds = ", ".join(f"{n} {VERDICT_TEXT.get(v, v)}" for v, n in sorted(verdicts.items()))
            text = f"the reference model, up to allowed transformations ({kinds})"
            if warnings:
                text += f"; warnings: {', '.join(sorted({f.rule for f in self.findings if f.severity == Severity.WARNING}))}"
        allowed = self.allowed_formats()
        if sub_info is not None and sub_info.notes:
            self.notes.extend(sub_info.notes)
        return ModelAuditDocument(
            round=self.pack.round if self.pack is not None else None,
            allowed_formats=allowed,
            submitted=_model_out(self.sub_label, sub, sub_info),
            reference=_model_out(self.ref_label, ref, ref_info),
            verdict=verdict,
            verdict_text=text,
            summary=AuditSummary(tensors=len(self.rows), verdicts=dict(sorted(verdicts.items())), errors=errors,
                                 warnings=warnings, infos=infos),
            weight_formats=dict(sorted(getattr(self, "weight_formats", {}).items())),
            activation_formats=getattr(self, "activation_formats", {}),
            folded=[f"reference: {f}" for f in (ref_info.folded if ref_info else [])]
            + [f"submitted: {f}" for f in (sub_info.folded if sub_info else [])],
            tensors=self.rows,
            findings=[finding_out(f) for f in self.findings],
            notes=self.notes,
        )


def audit_models(submitted: Path, reference: Path, pack=None, progress: Progress | None = None,
                 scope: Scope | None = None, submitted_label: str | None = None,
                 reference_label: str | None = None) -> AuditResult:
    """Audit ``submitted`` against ``reference`` (see the module docstring for what raises)."""
    return _Auditor(submitted, reference, pack, progress, scope or Scope(), submitted_label, reference_label).run()
