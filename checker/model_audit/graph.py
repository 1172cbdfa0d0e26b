"""A model's weights in canonical form: one logical tensor per weight the computation uses.

Both models are brought to the same form before they are compared, so that transformations that
keep a model equivalent disappear:

* **chains**: a constant reaches its consumer through DequantizeLinear (scale and zero-point, per
  tensor or per axis), QuantizeLinear (weights quantized at run time), Cast (FP16/BF16/FP8 storage,
  or a narrowing cast), Transpose, Reshape/Flatten/Squeeze/Unsqueeze and Identity. The chain is
  replayed lazily (:mod:`tensors`), so the logical tensor holds the values the consumer sees.
* **roles**: the consumer decides the canonical layout: a linear layer's weight is [in, out]
  whether it is a MatMul's B, a Gemm's B with transB=1 (stored [out, in]), an ONNX Runtime QGemm's
  or a QLinearMatMul's codes; a Conv/QLinearConv weight is [out, in/groups, k...]; a bias is 1-D
  whether it is a Gemm's C, a Conv's B, the integer bias of a QLinear op (scale = input scale x
  weight scale) or the constant of an Add right after a MatMul (a Gemm split in two).
* **batch-norm folding**: a BatchNormalization directly after a Conv, ConvTranspose, Gemm or
  MatMul (and only consumed from there) is folded into that layer in both models: weight x s and
  (bias - mean) x s + beta with s = gamma / sqrt(var + eps), in float64. A submitted model that
  folded its batch-norms then compares with a reference that did not.

Not handled (documented limits; such tensors come out unmapped, a warning, never a silent pass):
weights split or concatenated across layers (fused QKV), blocked quantization (DequantizeLinear
``block_size``), MatMulNBits and other packed contrib formats, weights inside subgraphs (If, Loop,
Scan) and model-local functions, and layers whose integer codes are scaled by a later Mul
(MatMulInteger/ConvInteger: the scale is fitted by least squares instead and the finding says so).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from checker.model_audit.formats import FP32, NumericFormat, finer, format_of
from checker.model_audit.load import STANDARD_DOMAINS, LoadedModel
from checker.model_audit.tensors import (
    Affine,
    Dequantized,
    Lazy,
    QuantInfo,
    Quantized,
    Reshaped,
    Rounded,
    Stored,
    Transposed,
    Unsupported,
    Values,
    per_axis,
)

TRANSPARENT = frozenset({"Identity", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
                         "DequantizeLinear", "QuantizeLinear"})
#: Inputs that are quantization parameters or shapes, not weights, per operator.
PARAM_INPUTS: dict[str, set[int]] = {
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2},
    "QLinearConv": {1, 2, 4, 5, 6, 7}, "QLinearMatMul": {1, 2, 4, 5, 6, 7}, "QGemm": {1, 2, 4, 5, 7, 8},
    "MatMulInteger": {2, 3}, "ConvInteger": {2, 3},
    "QLinearAdd": {1, 2, 4, 5, 6, 7}, "QLinearMul": {1, 2, 4, 5, 6, 7},
}
#: ONNX Runtime contrib operators whose weight inputs are understood (a note, not a warning).
KNOWN_CONTRIB = frozenset({("com.microsoft", "QGemm"), ("com.microsoft", "QLinearAdd"),
                           ("com.microsoft", "QLinearMul"), ("com.microsoft", "QLinearSigmoid"),
                           ("com.microsoft", "QLinearLeakyRelu"), ("com.microsoft", "QLinearGlobalAveragePool"),
                           ("com.microsoft", "QLinearAveragePool"), ("com.microsoft", "QLinearConcat")})
#: Tolerance for values the submitter computed in float32 and we recompute in float64 (folding):
#: a few float32 rounding steps relative to the operands' magnitude.
FOLD_RELATIVE_TOLERANCE = 2.0**-20
LINEAR_OPS = frozenset({"Gemm", "MatMul", "QGemm", "QLinearMatMul", "MatMulInteger"})


@dataclass
class LogicalTensor:
    """One weight as its consumer sees it, in canonical layout, with how it was stored."""

    side: str
    name: str
    aliases: list[str]
    kind: str
    op: str
    node: str
    layer: int
    shape: tuple[int, ...]
    stored_shape: tuple[int, ...]
    fmt: NumericFormat
    float_fmt: NumericFormat
    lazy: Lazy | None
    quant: QuantInfo | None = None
    code_float: NumericFormat | None = None  # float codes under a DequantizeLinear (FP8 with a scale)
    problem: str | None = None
    problem_rule: str = "M004"  # M001 undecodable data, M002 unsafe location, M004 not interpretable
    transforms: list[str] = field(default_factory=list)
    stored_bytes: int = 0
    external: bool = False
    position: float = 0.0
    fold_rel_tol: float = 0.0
    tol_extra: np.ndarray | None = None
    accumulator_bias: bool = False
    needs_scale_fit: bool = False
    sources: list[str] = field(default_factory=list)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def is_constant(self) -> bool:
        """Scalars (eps, 0.5, ...) are reported but never called unmapped."""
        return self.numel < 2

    @property
    def family(self) -> str:
        for suffix in ("weight", "bias"):
            if self.kind.endswith(suffix):
                return suffix
        return self.kind.split(".")[0]

    def format_label(self) -> str:
        """How the values are stored, for the table: 'INT8 per-channel (axis 1) -> FP32'."""
        label = self.fmt.name
        if self.quant is not None:
            label += f" {self.quant.granularity}"
        if self.float_fmt.name != self.fmt.name and (self.quant is not None or self.fmt.kind != "float"):
            label += f" -> {self.float_fmt.name}"
        elif self.float_fmt.name != self.fmt.name:
            label += f" (computed in {self.float_fmt.name})"
        return label


@dataclass
class GraphInfo:
    """What the canonicalization saw besides the weights."""

    tensors: list[LogicalTensor]
    activation_formats: dict[str, list[str]]
    custom_ops: dict[tuple[str, str], int]
    local_functions: set[tuple[str, str]]
    folded: list[str]
    notes: list[str]
    unused_initializers: int
    layers: int


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _node_id(node: onnx.NodeProto) -> str:
    """A node's name, else its first output (names are optional in ONNX), else its operator."""
    return node.name or (node.output[0] if node.output else f"<{node.op_type} without outputs>")


def _constant_tensor(node: onnx.NodeProto) -> TensorProto | None:
    """The value of a Constant node as a TensorProto (value_float(s) and value_int(s) too)."""
    for attribute in node.attribute:
        if attribute.name == "value" and attribute.type == onnx.AttributeProto.TENSOR:
            tensor = TensorProto()
            tensor.CopyFrom(attribute.t)
            tensor.name = node.output[0]
            return tensor
        if attribute.name in ("value_float", "value_floats"):
            return numpy_helper.from_array(np.asarray(helper.get_attribute_value(attribute), dtype=np.float32),
                                           node.output[0])
        if attribute.name in ("value_int", "value_ints"):
            return numpy_helper.from_array(np.asarray(helper.get_attribute_value(attribute), dtype=np.int64),
                                           node.output[0])
    return None


class _Builder:
    def __init__(self, model: LoadedModel, side: str) -> None:
        assert model.proto is not None
        self.model = model
        self.side = side
        self.graph = model.proto.graph
        self.store = model.store
        self.constants: dict[str, TensorProto] = {t.name: t for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and node.domain in STANDARD_DOMAINS and node.output:
                tensor = _constant_tensor(node)
                if tensor is not None:
                    self.constants[node.output[0]] = tensor
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.graph.node:
            for output in node.output:
                if output:
                    self.producer[output] = node
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        self._small: dict[str, np.ndarray | None] = {}
        self.notes: list[str] = []

    # -- constants ------------------------------------------------------------------------------
    def small(self, name: str) -> np.ndarray | None:
        """A small constant (scale, zero point, shape) as float64, or None when unusable."""
        if name in self._small:
            return self._small[name]
        tensor = self.constants.get(name)
        value = None
        if tensor is not None:
            array, problem = self.store.array(tensor)
            if problem is None and array is not None and array.size <= 1 << 20:
                value = np.asarray(array).astype(np.float64)
        self._small[name] = value
        return value

    def chain(self, name: str) -> tuple[str, list[onnx.NodeProto], list[str]] | None:
        """Follow ``name`` back through transparent nodes to a constant: (source, steps, aliases)."""
        steps: list[onnx.NodeProto] = []
        aliases = [name]
        current = name
        while current not in self.constants:
            node = self.producer.get(current)
            if node is None or node.op_type not in TRANSPARENT or node.domain not in STANDARD_DOMAINS \
                    or not node.input:
                return None
            if len(steps) > 64:
                return None
            if any(extra and extra not in self.constants for extra in node.input[1:]):
                return None
            steps.append(node)
            current = node.input[0]
            aliases.append(current)
        steps.reverse()
        return current, steps, aliases

    # -- building one logical tensor ------------------------------------------------------------
    def build(self, source: str, steps: list[onnx.NodeProto]) -> LogicalTensor:
        tensor = self.constants[source]
        fmt = format_of(tensor.data_type)
        stored_shape = tuple(int(d) for d in tensor.dims)
        external = tensor.data_location == TensorProto.EXTERNAL
        logical = LogicalTensor(side=self.side, name=source, aliases=[source], kind="other", op="", node="",
                                layer=-1, shape=stored_shape, stored_shape=stored_shape, fmt=fmt,
                                float_fmt=fmt if fmt.kind == "float" else FP32, lazy=None, external=external,
                                stored_bytes=fmt.stored_bytes(math.prod(stored_shape)) if fmt.decodable else 0,
                                sources=[source])
        array, problem = self.store.array(tensor)
        if problem is not None or array is None:
            logical.problem = problem.message if problem else "unreadable"
            logical.problem_rule = problem.rule if problem else "M001"
            return logical
        lazy: Lazy = Stored(array)
        try:
            for node in steps:
                lazy = self._step(logical, lazy, node)
        except Unsupported as exc:
            logical.problem = str(exc)
            return logical
        logical.lazy = lazy
        logical.shape = lazy.shape
        return logical

    def _qparams(self, node: onnx.NodeProto, ndim: int, scale_index: int, zero_index: int,
                 axis: int | None) -> tuple[np.ndarray, np.ndarray, str, NumericFormat | None]:
        scale = self.small(node.input[scale_index]) if len(node.input) > scale_index else None
        if scale is None:
            raise Unsupported(f"{node.op_type} {node.name!r}: scale is not a readable constant")
        zero_name = node.input[zero_index] if len(node.input) > zero_index else ""
        zero = self.small(zero_name) if zero_name else np.zeros(())
        if zero is None:
            raise Unsupported(f"{node.op_type} {node.name!r}: zero point is not a readable constant")
        zero_fmt = format_of(self.constants[zero_name].data_type) if zero_name else None
        if scale.size > 1:
            if axis is None:
                raise Unsupported(f"{node.op_type} {node.name!r}: per-channel scale without an axis")
            axis = axis % max(ndim, 1)
            granularity = f"per-channel (axis {axis})"
            scale_b = per_axis(scale.reshape(-1), ndim, axis)
            zero_b = per_axis(zero.reshape(-1), ndim, axis) if zero.size > 1 else zero.reshape(())
        else:
            granularity = "per-tensor"
            scale_b, zero_b = scale.reshape(()), zero.reshape(-1)[:1].reshape(()) if zero.size else np.zeros(())
        return scale_b, zero_b, granularity, zero_fmt

    def _step(self, logical: LogicalTensor, lazy: Lazy, node: onnx.NodeProto) -> Lazy:
        op = node.op_type
        logical.aliases.append(node.output[0])
        if op == "Identity":
            return lazy
        if op == "DequantizeLinear":
            if _attr(node, "block_size", 0):
                raise Unsupported(f"DequantizeLinear {node.name!r}: blocked quantization is not supported")
            scale_b, zero_b, granularity, _ = self._qparams(node, lazy.ndim, 1, 2, _attr(node, "axis", 1))
            scale_fmt = format_of(self.constants[node.input[1]].data_type)
            if logical.quant is not None:  # codes made by a QuantizeLinear earlier in the chain
                qmin, qmax, code_name = logical.quant.qmin, logical.quant.qmax, logical.quant.fmt
            elif logical.fmt.kind == "float":  # FP8 (or other float) codes with a scale
                logical.code_float = logical.fmt
                qmin, qmax, code_name = 0, 0, logical.fmt.name
            else:
                qmin, qmax, code_name = logical.fmt.qmin or 0, logical.fmt.qmax or 0, logical.fmt.name
            logical.quant = QuantInfo(np.abs(scale_b), zero_b, qmin, qmax, code_name, granularity)
            logical.float_fmt = scale_fmt if scale_fmt.kind == "float" else FP32
            logical.transforms.append(f"dequantized {granularity}")
            return Dequantized(lazy, scale_b, zero_b)
        if op == "QuantizeLinear":
            scale_b, zero_b, granularity, zero_fmt = self._qparams(node, lazy.ndim, 1, 2, _attr(node, "axis", 1))
            out_type = _attr(node, "output_dtype", 0) or (zero_fmt.onnx_type if zero_fmt else TensorProto.UINT8)
            out_fmt = format_of(out_type)
            if out_fmt.kind != "int":
                raise Unsupported(f"QuantizeLinear {node.name!r} to {out_fmt.name} is not supported")
            logical.quant = QuantInfo(np.abs(scale_b), zero_b, out_fmt.qmin or 0, out_fmt.qmax or 0, out_fmt.name,
                                      granularity)
            logical.transforms.append(f"quantized to {out_fmt.name} at run time (QuantizeLinear)")
            return Quantized(lazy, scale_b, zero_b, out_fmt.qmin or 0, out_fmt.qmax or 0)
        if op == "Cast":
            target = format_of(int(_attr(node, "to", TensorProto.FLOAT)))
            if target.kind != "float":
                raise Unsupported(f"Cast {node.name!r} of a weight to {target.name} is not supported")
            narrower = finer(logical.float_fmt, target)
            if narrower is target and target.name != logical.float_fmt.name:
                logical.transforms.append(f"cast to {target.name}")
                logical.float_fmt = target
                return Rounded(lazy, target)
            logical.transforms.append(f"cast {logical.float_fmt.name} -> {target.name}")
            return lazy
        if op == "Transpose":
            perm = tuple(int(p) for p in (_attr(node, "perm") or range(lazy.ndim - 1, -1, -1)))
            if sorted(perm) != list(range(lazy.ndim)):
                raise Unsupported(f"Transpose {node.name!r}: bad perm {perm}")
            if logical.quant is not None:
                logical.quant = logical.quant.transposed(perm)
            logical.transforms.append(f"transposed {list(perm)}")
            return Transposed(lazy, perm)
        new_shape = self._new_shape(node, lazy.shape)
        if logical.quant is not None:
            logical.quant = logical.quant.reshaped(lazy.shape, new_shape)
        logical.transforms.append(f"reshaped {list(lazy.shape)} -> {list(new_shape)}")
        return Reshaped(lazy, new_shape)

    def _new_shape(self, node: onnx.NodeProto, shape: tuple[int, ...]) -> tuple[int, ...]:
        op = node.op_type
        if op == "Flatten":
            axis = int(_attr(node, "axis", 1)) % (len(shape) + 1)
            return (math.prod(shape[:axis]), math.prod(shape[axis:]))
        if op in ("Squeeze", "Unsqueeze"):
            axes = _attr(node, "axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                value = self.small(node.input[1])
                axes = None if value is None else [int(v) for v in value.reshape(-1)]
            if op == "Squeeze":
                if axes is None:
                    return tuple(d for d in shape if d != 1)
                drop = {a % len(shape) for a in axes}
                return tuple(d for i, d in enumerate(shape) if i not in drop)
            if axes is None:
                raise Unsupported(f"Unsqueeze {node.name!r} without axes")
            rank = len(shape) + len(axes)
            insert = {a % rank for a in axes}
            dims = iter(shape)
            return tuple(1 if i in insert else next(dims) for i in range(rank))
        target = self.small(node.input[1]) if len(node.input) > 1 else None
        if target is None:
            raise Unsupported(f"Reshape {node.name!r}: shape is not a readable constant")
        dims = [int(v) for v in target.reshape(-1)]
        allow_zero = bool(_attr(node, "allowzero", 0))
        out = [shape[i] if d == 0 and not allow_zero and i < len(shape) else d for i, d in enumerate(dims)]
        if out.count(-1) > 1:
            raise Unsupported(f"Reshape {node.name!r}: more than one -1")
        if -1 in out:
            known = math.prod(d for d in out if d != -1)
            out[out.index(-1)] = math.prod(shape) // known if known else 0
        return tuple(out)

    # -- consumer roles -------------------------------------------------------------------------
    def role(self, node: onnx.NodeProto, index: int, logical: LogicalTensor) -> None:
        """Set kind and canonical layout from the consuming operator and input slot."""
        op = node.op_type
        logical.op = op if node.domain in STANDARD_DOMAINS else f"{node.domain}.{op}"
        logical.node = _node_id(node)
        logical.kind = _STATIC_KINDS.get((op, index)) or _plain_kind(op, index)
        if logical.lazy is None:  # unreadable: still give it its role and layout, so it is matched
            if op in ("Gemm", "QGemm") and _attr(node, "transB", 0) and len(logical.shape) == 2:
                logical.shape = logical.shape[::-1]
            return
        try:
            if op == "Gemm" and index == 1:
                self._linear_weight(logical, bool(_attr(node, "transB", 0)), "Gemm transB=1")
                self._gemm_factor(logical, float(_attr(node, "alpha", 1.0)), "alpha")
            elif op == "MatMul" and index == 1:
                logical.kind = "linear.weight"
            elif op == "Gemm" and index == 2:
                self._bias(logical, "linear.bias")
                self._gemm_factor(logical, float(_attr(node, "beta", 1.0)), "beta")
            elif op in ("Conv", "ConvTranspose") and index == 1:
                logical.kind = "conv.weight" if op == "Conv" else "convT.weight"
            elif op in ("Conv", "ConvTranspose") and index == 2:
                self._bias(logical, "conv.bias")
            elif op == "QGemm" and index == 3:
                self._integer_codes(logical, node, 4, 5, 0 if _attr(node, "transB", 0) else 1)
                self._linear_weight(logical, bool(_attr(node, "transB", 0)), "QGemm transB=1")
            elif op == "QGemm" and index == 6:
                self._integer_bias(logical, node, 1, 4, "linear.bias")
            elif op == "QLinearMatMul" and index == 3:
                self._integer_codes(logical, node, 4, 5, -1)
                logical.kind = "linear.weight"
            elif op == "QLinearConv" and index == 3:
                self._integer_codes(logical, node, 4, 5, 0)
                logical.kind = "conv.weight"
            elif op == "QLinearConv" and index == 8:
                self._integer_bias(logical, node, 1, 4, "conv.bias")
            elif op in ("MatMulInteger", "ConvInteger") and index == 1:
                zero = node.input[3] if len(node.input) > 3 else ""
                zero_value = self.small(zero) if zero else np.zeros(())
                if zero_value is None:
                    raise Unsupported(f"{op} {logical.node!r}: zero point is not a readable constant")
                axis = 0 if op == "ConvInteger" else -1
                zero_b = per_axis(zero_value.reshape(-1), logical.lazy.ndim, axis % logical.lazy.ndim) \
                    if zero_value.size > 1 else zero_value.reshape(())
                logical.lazy = Dequantized(logical.lazy, np.ones(()), zero_b)
                logical.needs_scale_fit = True
                logical.kind = "linear.weight" if op == "MatMulInteger" else "conv.weight"
            else:
                logical.kind = _plain_kind(op, index)
        except Unsupported as exc:
            logical.problem = str(exc)
            logical.lazy = None
            return
        logical.shape = logical.lazy.shape

    def _linear_weight(self, logical: LogicalTensor, transposed: bool, why: str) -> None:
        assert logical.lazy is not None
        logical.kind = "linear.weight"
        if transposed and logical.lazy.ndim == 2:
            logical.lazy = Transposed(logical.lazy, (1, 0))
            if logical.quant is not None:
                logical.quant = logical.quant.transposed((1, 0))
            logical.transforms.append(f"transposed ({why})")

    def _gemm_factor(self, logical: LogicalTensor, factor: float, name: str) -> None:
        """Gemm's alpha (beta) multiplies B (C): fold it in so a model that pre-multiplied compares."""
        if factor != 1.0 and logical.lazy is not None:
            mul = np.asarray(factor)
            logical.lazy = Affine(logical.lazy, mul)
            if logical.quant is not None:
                logical.quant = logical.quant.scaled(mul)
            logical.transforms.append(f"Gemm {name}={factor:g} applied")

    def _bias(self, logical: LogicalTensor, kind: str) -> None:
        assert logical.lazy is not None
        logical.kind = kind
        shape = logical.lazy.shape
        squeezed = tuple(d for d in shape if d != 1)
        if len(shape) > 1 and len(squeezed) == 1:
            if logical.quant is not None:
                logical.quant = logical.quant.reshaped(shape, squeezed)
            logical.lazy = Reshaped(logical.lazy, squeezed)
            logical.transforms.append(f"reshaped {list(shape)} -> {list(squeezed)}")

    def _integer_codes(self, logical: LogicalTensor, node: onnx.NodeProto, scale_index: int, zero_index: int,
                       axis: int) -> None:
        assert logical.lazy is not None
        ndim = logical.lazy.ndim
        scale_b, zero_b, granularity, _ = self._qparams(node, ndim, scale_index, zero_index, axis % max(ndim, 1))
        fmt = logical.fmt
        logical.quant = QuantInfo(np.abs(scale_b), zero_b, fmt.qmin or 0, fmt.qmax or 0, fmt.name, granularity)
        logical.lazy = Dequantized(logical.lazy, scale_b, zero_b)
        logical.transforms.append(f"dequantized {granularity} ({node.op_type} inputs)")

    def _integer_bias(self, logical: LogicalTensor, node: onnx.NodeProto, input_scale: int, weight_scale: int,
                      kind: str) -> None:
        assert logical.lazy is not None
        a = self.small(node.input[input_scale])
        b = self.small(node.input[weight_scale])
        if a is None or b is None:
            raise Unsupported(f"{node.op_type} {logical.node!r}: bias scale inputs are not readable constants")
        scale = (a.reshape(-1)[:1] * b.reshape(-1)).reshape(-1)
        scale_b = per_axis(scale, logical.lazy.ndim, 0) if scale.size > 1 else scale.reshape(())
        fmt = logical.fmt
        granularity = "per-channel (axis 0)" if scale.size > 1 else "per-tensor"
        logical.quant = QuantInfo(np.abs(scale_b), np.zeros(()), fmt.qmin or 0, fmt.qmax or 0, fmt.name, granularity)
        logical.lazy = Dequantized(logical.lazy, scale_b, np.zeros(()))
        logical.accumulator_bias = True
        logical.transforms.append("dequantized in the accumulator's scale (input scale x weight scale)")
        self._bias(logical, kind)

    # -- the whole graph ------------------------------------------------------------------------
    def run(self) -> GraphInfo:
        tensors: list[LogicalTensor] = []
        seen: dict[tuple, LogicalTensor] = {}
        layer_of: dict[int, int] = {}
        layers = 0
        used_sources: set[str] = set()
        for node_index, node in enumerate(self.graph.node):
            if node.op_type in TRANSPARENT and node.domain in STANDARD_DOMAINS:
                continue
            if node.op_type == "Constant" and node.domain in STANDARD_DOMAINS:
                continue
            skip = PARAM_INPUTS.get(node.op_type, set())
            for index, name in enumerate(node.input):
                if not name or index in skip:
                    continue
                found = self.chain(name)
                if found is None:
                    continue
                source, steps, aliases = found
                used_sources.add(source)
                tensor = self.constants[source]
                fmt = format_of(tensor.data_type)
                through_dq = any(s.op_type in ("DequantizeLinear", "QuantizeLinear") for s in steps)
                quant_slot = node.op_type in ("QGemm", "QLinearMatMul", "QLinearConv", "MatMulInteger", "ConvInteger")
                if fmt.kind not in ("float", "int") or (fmt.kind == "int" and not through_dq and not quant_slot):
                    continue  # shapes, indices, axes: not weights
                key = (source, tuple((s.op_type, s.name, s.output[0]) for s in steps), node.op_type, index)
                if key in seen:
                    continue
                try:
                    logical = self.build(source, steps)
                    logical.aliases = list(dict.fromkeys(aliases + logical.aliases))
                    self.role(node, index, logical)
                except (Unsupported, TypeError, ValueError, ArithmeticError, IndexError, KeyError) as exc:
                    # a malformed attribute or parameter of an untrusted graph: this tensor is not
                    # interpretable, the others still are
                    logical = self._uninterpretable(source, node, index, exc)
                if node_index not in layer_of:
                    layer_of[node_index] = layers
                    layers += 1
                logical.layer = layer_of[node_index]
                seen[key] = logical
                tensors.append(logical)
        self._attach_add_biases(tensors)
        folded = self._fold_batch_norms(tensors)
        tensors = [t for t in tensors if t.kind != "folded"]
        total = max(layers - 1, 1)
        for logical in tensors:
            logical.position = logical.layer / total
        unused = sum(1 for t in self.graph.initializer if t.name not in used_sources
                     and t.name not in self._param_names())
        return GraphInfo(tensors=tensors, activation_formats=self._activation_formats(),
                         custom_ops=self._custom_ops(), local_functions=self._local_functions(), folded=folded,
                         notes=self.notes, unused_initializers=unused, layers=layers)

    def _uninterpretable(self, source: str, node: onnx.NodeProto, index: int, exc: Exception) -> LogicalTensor:
        tensor = self.constants[source]
        fmt = format_of(tensor.data_type)
        dims = tuple(int(d) for d in tensor.dims)
        return LogicalTensor(side=self.side, name=source, aliases=[source], kind=_plain_kind(node.op_type, index),
                             op=node.op_type, node=_node_id(node), layer=-1, shape=dims, stored_shape=dims, fmt=fmt,
                             float_fmt=fmt if fmt.kind == "float" else FP32, lazy=None, sources=[source],
                             problem=f"input {index} of {node.op_type} {_node_id(node)!r} cannot be interpreted: "
                             f"{type(exc).__name__}: {exc}")

    def _param_names(self) -> set[str]:
        names: set[str] = set()
        for node in self.graph.node:
            for index in PARAM_INPUTS.get(node.op_type, set()):
                if index < len(node.input):
                    names.add(node.input[index])
            if node.op_type in TRANSPARENT:
                names.update(node.input[1:])
        return names

    def _attach_add_biases(self, tensors: list[LogicalTensor]) -> None:
        """An Add of a constant right after a MatMul is that layer's bias (a Gemm split in two)."""
        by_node: dict[str, list[LogicalTensor]] = defaultdict(list)
        for logical in tensors:
            by_node[logical.node].append(logical)
        for node in self.graph.node:
            if node.op_type != "Add" or len(node.input) != 2:
                continue
            for data_index in (0, 1):
                upstream = self.producer.get(node.input[data_index])
                if upstream is None or upstream.op_type not in LINEAR_OPS:
                    continue
                if len(self.consumers[node.input[data_index]]) != 1:
                    continue
                layer_tensors = by_node.get(_node_id(upstream), [])
                weights = [t for t in layer_tensors if t.kind == "linear.weight"]
                if not weights:
                    continue
                for logical in by_node.get(_node_id(node), []):
                    if logical.kind.startswith("Add.") and logical.lazy is not None:
                        try:
                            self._bias(logical, "linear.bias")
                        except Unsupported:
                            continue
                        logical.layer = weights[0].layer
                        logical.node = weights[0].node
                        logical.shape = logical.lazy.shape
                        logical.transforms.append(f"Add after {upstream.op_type} read as its bias")

    def _fold_batch_norms(self, tensors: list[LogicalTensor]) -> list[str]:
        folded: list[str] = []
        by_node: dict[str, list[LogicalTensor]] = defaultdict(list)
        for logical in tensors:
            by_node[logical.node].append(logical)
        for node in self.graph.node:
            if node.op_type != "BatchNormalization" or len(node.input) < 5:
                continue
            try:
                done = self._fold_one(node, by_node, tensors)
            except (Unsupported, TypeError, ValueError, ArithmeticError, IndexError, KeyError):
                done = None  # parameters that do not fit: the batch-norm stays a separate set of tensors
            if done is not None:
                folded.append(done)
        return folded

    def _fold_one(self, node: onnx.NodeProto, by_node: dict[str, list[LogicalTensor]],
                  tensors: list[LogicalTensor]) -> str | None:
        """Fold one BatchNormalization into its layer; the text for the report, or None if not folded.

        Everything is computed before anything is changed, so a parameter that does not fit leaves
        the layer and the batch-norm as they were."""
        needed = ("BatchNormalization.scale", "BatchNormalization.bias", "BatchNormalization.mean",
                  "BatchNormalization.var")
        params = {t.kind: t for t in by_node.get(_node_id(node), [])}
        if not all(k in params and params[k].lazy is not None for k in needed):
            return None
        upstream = self.producer.get(node.input[0])
        if upstream is None or len(self.consumers[node.input[0]]) != 1:
            return None
        layer_node = upstream
        if upstream.op_type == "Add":
            inner = [self.producer.get(i) for i in upstream.input]
            inner = [n for n in inner if n is not None and n.op_type in LINEAR_OPS]
            if not inner:
                return None
            layer_node = inner[0]
        if layer_node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            return None
        layer_tensors = by_node.get(_node_id(layer_node), [])
        weights = [t for t in layer_tensors if t.kind.endswith(".weight") and t.lazy is not None]
        biases = [t for t in layer_tensors if t.kind.endswith(".bias") and t.lazy is not None]
        if len(weights) != 1 or len(biases) > 1 or not weights[0].shape:
            return None
        weight = weights[0]
        assert weight.lazy is not None
        axis = {"conv.weight": 0, "convT.weight": 1}.get(weight.kind, weight.lazy.ndim - 1)
        gamma, beta, mean, var = (params[k].lazy.full().reshape(-1) for k in needed)  # type: ignore[union-attr]
        channels = weight.shape[axis]
        if not (gamma.size == beta.size == mean.size == var.size == channels):
            return None
        eps = float(_attr(node, "epsilon", 1e-5))
        scale = gamma / np.sqrt(var + eps)
        mul = per_axis(scale, weight.lazy.ndim, axis)
        quant = weight.quant.scaled(mul) if weight.quant is not None else None
        bias_values = biases[0].lazy.full().reshape(-1) if biases else np.zeros(channels)  # type: ignore[union-attr]
        if bias_values.size != channels:
            return None
        folded_bias = (bias_values - mean) * scale + beta
        extra = (np.abs(bias_values) + np.abs(mean)) * np.abs(scale) + np.abs(beta)
        # -- from here on nothing can fail: apply
        bn_name = _node_id(node)
        weight.lazy = Affine(weight.lazy, mul)
        weight.quant = quant
        weight.fold_rel_tol = FOLD_RELATIVE_TOLERANCE
        weight.transforms.append(f"batch-norm {bn_name!r} folded in")
        weight.sources += [params[k].name for k in needed]
        if biases:
            bias = biases[0]
            bias.transforms.append(f"batch-norm {bn_name!r} folded in")
        else:
            bias = LogicalTensor(side=self.side, name=f"{weight.name}+{bn_name}.bias", aliases=[],
                                 kind=weight.kind.replace("weight", "bias").replace("convT", "conv"),
                                 op=weight.op, node=weight.node, layer=weight.layer, shape=(channels,),
                                 stored_shape=(channels,), fmt=FP32, float_fmt=FP32, lazy=None,
                                 transforms=[f"bias of batch-norm {bn_name!r} folded in"])
            tensors.append(bias)
        bias.lazy = Values(folded_bias)
        bias.shape = (channels,)
        bias.quant = None
        bias.fold_rel_tol = FOLD_RELATIVE_TOLERANCE
        bias.tol_extra = extra
        bias.aliases += [params["BatchNormalization.bias"].name]
        bias.sources += [params[k].name for k in needed]
        for k in needed:
            params[k].kind = "folded"
        return f"{bn_name} -> {weight.node}"

    def _activation_formats(self) -> dict[str, list[str]]:
        formats: dict[str, list[str]] = defaultdict(list)
        for node in self.graph.node:
            op = node.op_type
            if op == "QuantizeLinear" and node.input and node.input[0] not in self.constants \
                    and self.chain(node.input[0]) is None:
                zero = node.input[2] if len(node.input) > 2 and node.input[2] in self.constants else None
                out = _attr(node, "output_dtype", 0) or (self.constants[zero].data_type if zero else TensorProto.UINT8)
                formats[format_of(int(out)).name].append(_node_id(node))
            elif op == "DynamicQuantizeLinear":
                formats["UINT8"].append(_node_id(node))
            elif op == "Cast" and node.input and self.chain(node.input[0]) is None:
                target = format_of(int(_attr(node, "to", TensorProto.FLOAT)))
                if target.kind == "float":
                    formats[target.name].append(_node_id(node))
        return {k: v for k, v in sorted(formats.items())}

    def _custom_ops(self) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = defaultdict(int)
        for node in self.graph.node:
            if node.domain not in STANDARD_DOMAINS:
                found[(node.domain, node.op_type)] += 1
        return dict(found)

    def _local_functions(self) -> set[tuple[str, str]]:
        assert self.model.proto is not None
        return {(f.domain, f.name) for f in self.model.proto.functions}


_STATIC_KINDS = {
    ("Gemm", 1): "linear.weight", ("Gemm", 2): "linear.bias", ("MatMul", 1): "linear.weight",
    ("Conv", 1): "conv.weight", ("Conv", 2): "conv.bias", ("ConvTranspose", 1): "convT.weight",
    ("ConvTranspose", 2): "conv.bias", ("QGemm", 3): "linear.weight", ("QGemm", 6): "linear.bias",
    ("QLinearMatMul", 3): "linear.weight", ("QLinearConv", 3): "conv.weight", ("QLinearConv", 8): "conv.bias",
    ("MatMulInteger", 1): "linear.weight", ("ConvInteger", 1): "conv.weight",
}


def _plain_kind(op: str, index: int) -> str:
    names = {
        ("BatchNormalization", 1): "BatchNormalization.scale", ("BatchNormalization", 2): "BatchNormalization.bias",
        ("BatchNormalization", 3): "BatchNormalization.mean", ("BatchNormalization", 4): "BatchNormalization.var",
        ("LayerNormalization", 1): "norm.scale", ("LayerNormalization", 2): "norm.bias",
        ("Gather", 0): "embedding.weight",
    }
    return names.get((op, index), f"{op}.{index}")


def canonical(model: LoadedModel, side: str) -> GraphInfo:
    """The logical weight tensors of a loaded model and what else its graph shows."""
    return _Builder(model, side).run()
