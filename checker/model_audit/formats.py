"""Numeric formats of ONNX tensors: their names in the rules' vocabulary, decoding, and steps.

The audit needs three things per format: how to decode stored bytes (including the packed 4- and
2-bit types, two or four elements per byte, low bits first), the *step* of the format at a value
(one unit in the last place for floats, the scale for integers), and what rounding a reference
value to the format gives ("what quantization alone would produce"). Float rounding uses numpy's
and ml_dtypes' casts, which round to nearest even like every mainstream converter.

Names follow the rules' list (FP32, FP16, BF16, INT8, ...), so a round's ``model_formats`` can be
compared with them directly; FP11 (1-5-5) has no ONNX type and would appear as FP16 storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper


@dataclass(frozen=True)
class NumericFormat:
    """One ONNX element type as the audit sees it."""

    name: str
    onnx_type: int
    kind: str  # "float", "int", "bool", "other"
    bits: int
    mantissa_bits: int | None = None  # floats: explicit mantissa bits
    min_exponent: int | None = None  # floats: exponent of the smallest normal number
    qmin: int | None = None  # integers: range
    qmax: int | None = None
    per_byte: int = 1  # packed sub-byte types: elements per byte

    @property
    def decodable(self) -> bool:
        return self.kind in ("float", "int", "bool") and self.name not in ("FP6-E2M3", "FP6-E3M2")

    def numpy_dtype(self) -> np.dtype:
        """The element dtype of decoded values (ml_dtypes types for BF16, FP8, INT4, ...)."""
        return np.dtype(helper.tensor_dtype_to_np_dtype(self.onnx_type))

    def storage_dtype(self) -> np.dtype:
        """The little-endian dtype of the stored bytes (uint8 for packed sub-byte types)."""
        if self.per_byte > 1:
            return np.dtype(np.uint8)
        return self.numpy_dtype().newbyteorder("<")

    def stored_bytes(self, count: int) -> int:
        if self.per_byte > 1:
            return (count + self.per_byte - 1) // self.per_byte
        return count * self.numpy_dtype().itemsize


def _float(name: str, t: int, bits: int, mantissa: int, min_exp: int) -> NumericFormat:
    return NumericFormat(name, t, "float", bits, mantissa_bits=mantissa, min_exponent=min_exp)


def _int(name: str, t: int, bits: int, signed: bool, per_byte: int = 1) -> NumericFormat:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return NumericFormat(name, t, "int", bits, qmin=lo, qmax=hi, per_byte=per_byte)


_T = TensorProto
FORMATS: dict[int, NumericFormat] = {
    f.onnx_type: f
    for f in (
        _float("FP32", _T.FLOAT, 32, 23, -126),
        _float("FP64", _T.DOUBLE, 64, 52, -1022),
        _float("FP16", _T.FLOAT16, 16, 10, -14),
        _float("BF16", _T.BFLOAT16, 16, 7, -126),
        _float("FP8-E4M3FN", _T.FLOAT8E4M3FN, 8, 3, -6),
        _float("FP8-E4M3FNUZ", _T.FLOAT8E4M3FNUZ, 8, 3, -7),
        _float("FP8-E5M2", _T.FLOAT8E5M2, 8, 2, -14),
        _float("FP8-E5M2FNUZ", _T.FLOAT8E5M2FNUZ, 8, 2, -15),
        _int("INT8", _T.INT8, 8, True),
        _int("UINT8", _T.UINT8, 8, False),
        _int("INT16", _T.INT16, 16, True),
        _int("UINT16", _T.UINT16, 16, False),
        _int("INT32", _T.INT32, 32, True),
        _int("UINT32", _T.UINT32, 32, False),
        _int("INT64", _T.INT64, 64, True),
        _int("UINT64", _T.UINT64, 64, False),
        _int("INT4", _T.INT4, 4, True, per_byte=2),
        _int("UINT4", _T.UINT4, 4, False, per_byte=2),
        NumericFormat("BOOL", _T.BOOL, "bool", 8, qmin=0, qmax=1),
    )
}
# Types that exist only in newer onnx releases are added when present.
for _name, _attr, _bits, _m, _e, _pb in (("FP4-E2M1", "FLOAT4E2M1", 4, 1, 0, 2),):
    if hasattr(_T, _attr):
        FORMATS[getattr(_T, _attr)] = NumericFormat(_name, getattr(_T, _attr), "float", _bits,
                                                    mantissa_bits=_m, min_exponent=_e, per_byte=_pb)
for _name, _attr, _signed in (("INT2", "INT2", True), ("UINT2", "UINT2", False)):
    if hasattr(_T, _attr):
        FORMATS[getattr(_T, _attr)] = _int(_name, getattr(_T, _attr), 2, _signed, per_byte=4)

FP32 = FORMATS[_T.FLOAT]
FP64 = FORMATS[_T.DOUBLE]


def format_of(onnx_type: int) -> NumericFormat:
    """The format of an ONNX element type; unknown or non-numeric types get an 'other' format."""
    known = FORMATS.get(onnx_type)
    if known is not None:
        return known
    try:
        name = TensorProto.DataType.Name(onnx_type)
    except ValueError:
        name = f"type {onnx_type}"
    return NumericFormat(name, onnx_type, "other", 0)


def decode(buffer: np.ndarray | bytes | memoryview, fmt: NumericFormat, count: int) -> np.ndarray:
    """Decode ``count`` elements of ``fmt`` from stored bytes (a view when no unpacking is needed)."""
    if fmt.per_byte == 1:
        return np.frombuffer(buffer, dtype=fmt.storage_dtype(), count=count)
    raw = np.frombuffer(buffer, dtype=np.uint8, count=fmt.stored_bytes(count))
    width = 8 // fmt.per_byte
    mask = (1 << width) - 1
    parts = [(raw >> (width * i)) & mask for i in range(fmt.per_byte)]
    codes = np.stack(parts, axis=1).reshape(-1)[:count].astype(np.int16)
    if fmt.kind == "int":
        if fmt.qmin is not None and fmt.qmin < 0:
            codes = np.where(codes >= 2 ** (width - 1), codes - 2**width, codes)
        return codes.astype(np.int8)
    return codes.astype(np.uint8).view(fmt.numpy_dtype())


def float_ulp(values: np.ndarray, fmt: NumericFormat) -> np.ndarray:
    """One unit in the last place of ``fmt`` at each value (the spacing of subnormals near zero)."""
    assert fmt.mantissa_bits is not None and fmt.min_exponent is not None
    _, exponent = np.frexp(np.abs(values))
    exponent = np.maximum(exponent.astype(np.int64) - 1, fmt.min_exponent)
    return np.ldexp(1.0, exponent - fmt.mantissa_bits)


def round_to(values: np.ndarray, fmt: NumericFormat) -> np.ndarray:
    """Values rounded to a float format (round to nearest even), back in float64."""
    if fmt.onnx_type in (_T.DOUBLE,):
        return values
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(fmt.numpy_dtype()).astype(np.float64)


def finer(a: NumericFormat, b: NumericFormat) -> NumericFormat:
    """The float format with fewer mantissa bits of two (the one that limits precision)."""
    if a.mantissa_bits is None:
        return b
    if b.mantissa_bits is None:
        return a
    return a if a.mantissa_bits <= b.mantissa_bits else b


def normalise_format_name(name: str) -> str:
    """Spellings the rules use mapped to ours ('bfloat16' -> 'BF16', 'fp11 (1-5-5)' -> 'FP11')."""
    key = name.strip().upper().replace(" ", "")
    aliases = {"BFLOAT16": "BF16", "FLOAT32": "FP32", "FLOAT16": "FP16", "FLOAT": "FP32", "HALF": "FP16"}
    key = key.split("(")[0]
    return aliases.get(key, key)


# Closed-division numeric formats per round (rules M009 checks against). Source: the closed division's
# "Model and weights" rules, Quantization (shared/reference/rules-by-round.md §2.1): the v0.5 rules
# (c5f3151) allow quantization "to any combination of permissive whitelist numerical format": INT4, INT8,
# INT16, UINT8, UINT16, FP11 (1-5-5), FP16, bfloat16, FP32. The list still held in v0.7; v1.0 dropped it
# (rules e40b73a, 2021-02-23: "any numerical format that achieves the desired quality"), so v1.0 maps to
# None. A round not listed here inherits the entry of the round its rule pack extends.
# Kept as data here rather than in the rule packs while the pack schema is being extended elsewhere.
V05_FORMATS = ("INT4", "INT8", "INT16", "UINT8", "UINT16", "FP11", "FP16", "BF16", "FP32")
ROUND_FORMATS: dict[str, tuple[str, ...] | None] = {"v0.5": V05_FORMATS, "v0.7": V05_FORMATS, "v1.0": None}


def allowed_formats(pack) -> tuple[str, ...] | None:
    """The formats a round allows (None: any), following the pack's ``extends`` chain."""
    if pack is None:
        return None
    from checker.engine.rulepack import PackError, load_pack

    name, seen = pack.round, set()
    current = pack
    while name is not None and name not in seen:
        if name in ROUND_FORMATS:
            return ROUND_FORMATS[name]
        seen.add(name)
        name = current.extends
        if name is None:
            return None
        try:
            current = load_pack(name)
        except PackError:
            return None
    return None
