"""The M rules: what the model audit reports, documented for `mlperf-audit explain` and docs/rules.md.

The audit raises these findings itself (it is not a per-result check of the engine), so the rules
are declared rather than registered with a check function. Their thresholds live here as named
constants, each with the reason for its value; the round's rule pack may change a rule's severity
(``rules: {M008: {severity: warning}}``) like any other rule's.
"""

from __future__ import annotations

from checker.engine.registry import declare
from checker.findings import Severity

# Quoted from the closed-division rules, "Model and weights" (shared/reference/rules-by-round.md §2.1);
# the wording is the same in v0.5, v1.0 and the newest rules unless a rule says otherwise.
_SECTION = "MLPerf Inference rules, closed division, 'Model and weights' (rules-by-round §2.1)"

# -- thresholds (why each value) ------------------------------------------------------------------
#: Correlation below which a mapped tensor is "replaced": quantization to 4 bits keeps the correlation
#: above 0.95 and fine-tuning keeps it above 0.9; an independent re-initialisation gives about 0.
REPLACED_MAX_CORRELATION = 0.5
#: ...and the relative error must also be large, so a tensor with a tiny spread (a bias of near-equal
#: values) is not called replaced for a correlation that rounding noise alone can move.
REPLACED_MIN_RELATIVE_ERROR = 0.5
#: Share of elements that may become zero where quantization alone would not produce a zero before
#: the tensor counts as pruned. Honest rounding makes no such zeros at all; 1 % leaves room for a
#: reference value rounded by a different but legitimate rounding mode next to zero.
PRUNING_MIN_NEW_ZERO_FRACTION = 0.01
#: Share of elements that may sit more than one quantization step away from the reference before the
#: tensor counts as retrained. Round-to-nearest gives 0; rounding-optimising quantizers (AdaRound and
#: the like, calibration-driven and allowed) stay within one step; a gradient step moves nearly all.
RETRAINING_MIN_BEYOND_FRACTION = 0.005
#: A 2:4-style pattern: at least this share of the groups of 4 (along the last axis) have 2 or more
#: zeros in the submitted tensor, while fewer than half did in what quantization alone would give.
NM_SPARSITY_MIN_GROUP_FRACTION = 0.9

M_RULES = ("M001", "M002", "M003", "M004", "M005", "M006", "M007", "M008", "M009", "M010", "M011")


def _declare_all() -> None:
    declare(
        "M001",
        title="Model file unreadable or not an ONNX model",
        what="The submitted (or reference) model file is parsed as an ONNX protobuf without loading any "
        "external data. A file that is not a protobuf, has no graph or IR version, or holds a tensor whose "
        "stored bytes do not match its declared type and shape is reported, and nothing in it is compared.",
        why="A model that cannot be read cannot be shown to be the reference model; the audit also treats "
        "model files as untrusted input, so a malformed file must end in a finding, never in a crash.",
        section=f"{_SECTION}: 'the reference weights are used'",
        fix="Submit the model as a valid ONNX file (onnx.checker.check_model passes); keep tensors larger "
        "than 2 GB in external data files next to the model.",
    )
    declare(
        "M002",
        title="Unsafe external-data location (refused, never read)",
        what="Each tensor stored in external data names a file by a 'location' relative to the model's "
        "folder. A location that is absolute, contains '..', resolves through a symlink to a place outside "
        "the folder, is not a regular file, or whose offset and length fall outside the file is refused: "
        "the file is not opened and the tensor is reported as unverified.",
        why="Reading wherever a model points lets a crafted model read arbitrary files (the path-traversal "
        "class of past ONNX vulnerabilities); an audit tool runs on untrusted submissions.",
        section=f"{_SECTION}; ONNX external-data format (location relative to the model file)",
        fix="Store external data files inside the model's folder and name them by relative paths without "
        "'..' (onnx.save_model(..., save_as_external_data=True, location='weights.bin')).",
    )
    declare(
        "M003",
        title="Operators outside the standard ONNX domains",
        what="Lists operators whose domain is not the standard ONNX one ('' / ai.onnx / ai.onnx.ml). "
        "Known ONNX Runtime contrib operators whose weight inputs the audit understands (QGemm, ...) are a "
        "note; any other custom domain is a warning, since what such an operator computes with its "
        "weights is not known to the audit.",
        why="A custom operator can hide computation the reference model does not do, or weights the audit "
        "cannot see; a reviewer must look at its implementation.",
        section=f"{_SECTION}: 'All implementations are allowed as long as … the reference weights are used'",
        fix="Use standard ONNX operators, or document the custom operator and show that it computes the "
        "reference layer with the reference (possibly quantized) weights.",
        severity=Severity.WARNING,
    )
    declare(
        "M004",
        title="Weight tensor without a counterpart",
        what="Every weight tensor of the reference model is mapped to one of the submitted model (by name, "
        "else by layer, shape, position in the computation and value correlation), after folding "
        "batch-norms into the preceding layers, undoing transposes, reshapes, casts and dequantization. A "
        "reference tensor with no counterpart, or a submitted weight tensor that maps to nothing in the "
        "reference, is reported.",
        why="An unmapped reference tensor may have been dropped or replaced; an unmapped submitted tensor "
        "may be a supplement to the reference weights, which the rules forbid. The audit cannot tell these "
        "from a transformation it does not know, so it is a warning for a reviewer.",
        section=f"{_SECTION}: disallowed 'Wholesale weight replacement or supplements'",
        fix="If the tensor comes from an equivalent transformation (fused layers, a split matrix), document "
        "it; otherwise restore the reference tensor.",
        severity=Severity.WARNING,
    )
    declare(
        "M005",
        title="Weights differ from the reference only by quantization",
        what="Each mapped tensor is dequantized (scale and zero-point, per tensor or per channel) or cast "
        "back to float64 and compared with the reference element by element. When every element lies "
        "within one quantization step of its reference value (one unit in the last place for float "
        "formats), the tensor is quantized, which the rules allow; this note lists how many tensors are.",
        why="Quantization with the calibration set is allowed in the closed division; saying which tensors "
        "were quantized, and to which formats, is the evidence a reviewer reads.",
        section=f"{_SECTION}: 'arbitrary purely mathematical, reproducible quantization using only the "
        "calibration data and weight and bias tensors from the benchmark owner provided model'",
        fix="Nothing to fix; describe the quantization in the calibration document of the submission.",
        severity=Severity.INFO,
    )
    declare(
        "M006",
        title="Weights changed beyond quantization (retraining)",
        what=f"A mapped tensor whose values differ from the reference by more than one quantization step "
        f"in more than {RETRAINING_MIN_BEYOND_FRACTION:.1%} of its elements, while still correlated with the "
        f"reference: the shift is structured (trained), not rounding. The finding gives the share of "
        f"elements beyond the step, the largest deviation in steps, the relative error and the correlation.",
        why="The closed division allows calibration for quantization and does not allow any retraining: a "
        "fine-tuned model can gain accuracy or lose it in ways the reference model would not.",
        section=f"{_SECTION}: 'The closed division allows calibration for quantization and does not allow "
        "any retraining'",
        fix="Start again from the reference weights and quantize them with the calibration set only; "
        "rounding-optimising quantization must stay within one step of each reference value.",
    )
    declare(
        "M007",
        title="Weight tensor replaced",
        what=f"A mapped tensor whose values are not related to the reference values: correlation below "
        f"{REPLACED_MAX_CORRELATION} with a relative error above {REPLACED_MIN_RELATIVE_ERROR}, or a "
        f"constant tensor where the reference is not. A re-initialised or independently trained layer "
        f"looks like this.",
        why="Wholesale weight replacement is disallowed: the closed division measures the reference model.",
        section=f"{_SECTION}: disallowed 'Wholesale weight replacement or supplements'",
        fix="Use the reference tensor (quantized if you like).",
    )
    declare(
        "M008",
        title="Pruning (weights zeroed or channels removed)",
        what=f"Counts, per tensor, the elements that are zero (or dequantize to zero) in the submitted model "
        f"where quantization alone would not give zero (the reference value is more than one step from "
        f"zero). It is pruning when more than {PRUNING_MIN_NEW_ZERO_FRACTION:.0%} of the elements are such "
        f"new zeros, when whole rows, columns or channels became zero, when an N:M pattern (2 of every 4) "
        f"appears, or when a tensor lost channels (a smaller shape at the same place in the computation).",
        why="'Discarding non-zero weight elements, including pruning' is disallowed; only weights that are "
        "already zero may be skipped by sparse kernels.",
        section=f"{_SECTION}: disallowed 'Discarding non-zero weight elements, including pruning'",
        fix="Use the dense reference weights; sparse kernels may skip only the reference's own zeros.",
    )
    declare(
        "M009",
        title="Numeric format not allowed in the round",
        what="Reports the numeric format of every weight tensor (its stored type, the dequantized type) and "
        "of quantized activations, and checks them against the round's list of allowed formats where the "
        "round's rule pack has one (model_formats; v0.5 and v0.7). An INT32 bias in the scale of an "
        "integer accumulator (input scale times weight scale) is reported as a warning, not an error.",
        why="v0.5 allowed quantization only 'to any combination of permissive whitelist numerical format' "
        "(INT4, INT8, INT16, UINT8, UINT16, FP11, FP16, bfloat16, FP32); v1.0 dropped the list.",
        section=f"{_SECTION}, Quantization (v0.5 whitelist; dropped in v1.0, rules e40b73a)",
        fix="Quantize to a format on the round's list, or ask the round's working group for an exception.",
    )
    declare(
        "M010",
        title="Isolated deviations beyond the quantization step",
        what=f"A mapped tensor with a few elements (at most {RETRAINING_MIN_BEYOND_FRACTION:.1%}) more than "
        f"one quantization step from the reference, or a few new zeros (under "
        f"{PRUNING_MIN_NEW_ZERO_FRACTION:.0%}): not a pattern of training or pruning, but not explained by "
        f"quantization either.",
        why="A handful of edited weights is still a weight change; the audit cannot tell an edit from an "
        "unusual but legitimate rounding rule, so a reviewer should look at the named elements' tensor.",
        section=f"{_SECTION}: 'the reference weights are used'",
        fix="Explain the deviations (e.g. the quantizer's clipping rule), or restore the reference values.",
        severity=Severity.WARNING,
    )
    declare(
        "M011",
        title="Model mapping entry matches no result",
        what="`check --models FILE` maps result paths (globs relative to the tree's root) to the model file "
        "each result ran and to its reference model. An entry whose glob matches no result of the tree is "
        "reported, since its model was then not audited.",
        why="A typo in a mapping would otherwise silently skip the model audit.",
        section="mlperf-audit: the model mapping file of `check --models`",
        fix="Correct the entry's 'results' glob (it matches paths like closed/ACME/results/sys/bench/Offline).",
        severity=Severity.WARNING,
        scope="tree",
    )


_declare_all()
