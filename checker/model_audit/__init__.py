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

from checker.model_audit.audit import AuditResult, ReferenceUnusable, audit_models
from checker.model_audit.load import ModelPathError

__all__ = ["AuditResult", "ModelPathError", "ReferenceUnusable", "audit_models"]
