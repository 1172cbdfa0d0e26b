"""Model audit: is a submitted ONNX model the reference model, up to what the closed division allows?

``mlperf-audit model SUBMITTED.onnx --reference REFERENCE.onnx`` (and ``check --models``) compare
the two models weight by weight: they map each reference tensor to its submitted counterpart, undo
the transformations that keep a model equivalent (folded batch-norms, transposes, reshapes, casts,
dequantization), and tell quantization (allowed) from retraining, replacement and pruning (not
allowed), with the numeric formats checked against the round's list where it has one. The M rules
(:mod:`checker.model_audit.rules`) document each verdict.

Modules, in data-flow order: :mod:`load` (untrusted file, external data by memory map),
:mod:`tensors` (lazy block-wise tensor expressions), :mod:`graph` (canonical logical tensors),
:mod:`correspond` (matching), :mod:`compare` (streamed statistics, verdicts), :mod:`audit`
(orchestration and findings), :mod:`report` (document, text, Markdown), :mod:`mapping` (`check`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AuditResult", "ModelPathError", "ReferenceUnusable", "audit_models"]


def __getattr__(name: str) -> Any:
    """The package's names, imported on first use: the registry imports :mod:`checker.model_audit.rules`
    on every run, which must not pull numpy and onnx into a `check` that audits no model."""
    if name in ("AuditResult", "ReferenceUnusable", "audit_models"):
        from checker.model_audit import audit

        return getattr(audit, name)
    if name == "ModelPathError":
        from checker.model_audit.load import ModelPathError

        return ModelPathError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
