"""Element-by-element comparison of a submitted tensor with its reference, streamed in blocks.

For each element the *step* is what the submitted format can resolve at that value: the scale of
an integer-quantized tensor (per tensor or per channel), one unit in the last place of a float
format (FP32 included: a re-exported FP32 copy must be exact to the last bit or nearly), the scale
times the float step for scaled FP8 codes, plus a small relative allowance where values were
recomputed (folded batch-norms). A difference within one step is what quantization can do; the
rules allow quantization, so rounding-optimising quantizers (which may round away from nearest)
pass too, and the share of such elements is reported as ``off_nearest``.

What quantization alone would make zero: elements whose (clipped) reference value is within one
step of zero. Zeros elsewhere are *new* zeros (pruning evidence). A whole row or column (output or
input channel) of new zeros, or a 2-of-4 pattern along the reduction axis, is structured pruning.

Memory: blocks of :data:`CHUNK_ELEMENTS` elements; every statistic is a running sum, count or
maximum, plus one boolean per row and per column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from checker.model_audit.correspond import Pair
from checker.model_audit.formats import NumericFormat, float_ulp, round_to
from checker.model_audit.graph import LogicalTensor
from checker.model_audit.rules import (
    NM_SPARSITY_MIN_GROUP_FRACTION,
    PRUNING_MIN_NEW_ZERO_FRACTION,
    REPLACED_MAX_CORRELATION,
    REPLACED_MIN_RELATIVE_ERROR,
    RETRAINING_MIN_BEYOND_FRACTION,
)
from checker.model_audit.tensors import Key, QuantInfo, bslice, iter_blocks

#: Elements per block: 256 K elements are 2 MB per float64 array; a block holds about fifteen of them.
CHUNK_ELEMENTS = 1 << 18

VERDICT_RULE = {"replaced": "M007", "pruned": "M008", "shrunk": "M008", "retrained": "M006",
                "deviations": "M010"}


@dataclass
class Comparison:
    """What one tensor's comparison found (all counts over its elements)."""

    elements: int = 0
    correlation: float | None = None
    relative_error: float | None = None
    max_abs_diff: float = 0.0
    max_steps: float = 0.0
    beyond_step: int = 0
    off_nearest: int | None = None
    clipped: int = 0
    sign_flips: int = 0
    zeros_ref: int = 0
    zeros_sub: int = 0
    zeros_expected: int = 0
    zeros_new: int = 0
    rows: int = 0
    rows_zeroed: int = 0
    cols: int = 0
    cols_zeroed: int = 0
    nm_groups: float | None = None
    nm_groups_expected: float | None = None
    mean_ref: float = 0.0
    std_ref: float = 0.0
    mean_sub: float = 0.0
    std_sub: float = 0.0
    exact: bool = True
    non_finite: int = 0
    step: str = ""
    verdict: str = "identical"

    @property
    def beyond_fraction(self) -> float:
        return self.beyond_step / self.elements if self.elements else 0.0

    @property
    def new_zero_fraction(self) -> float:
        return self.zeros_new / self.elements if self.elements else 0.0

    @property
    def nm_pattern(self) -> bool:
        return (self.nm_groups is not None and self.nm_groups >= NM_SPARSITY_MIN_GROUP_FRACTION
                and (self.nm_groups_expected or 0.0) < 0.5)


def _reduce_all_but(mask: np.ndarray, axis: int) -> np.ndarray:
    others = tuple(i for i in range(mask.ndim) if i != axis)
    return mask.all(axis=others) if others else mask


def _groups_of_four(mask: np.ndarray, axis: int) -> tuple[int, int] | None:
    """(groups with 2+ true values, groups) for consecutive groups of 4 along ``axis``."""
    if mask.ndim == 0 or mask.shape[axis] % 4:
        return None
    moved = np.moveaxis(mask, axis, -1).reshape(-1, 4)
    return int((moved.sum(axis=1) >= 2).sum()), moved.shape[0]


def reduction_axis(kind: str, ndim: int) -> int:
    """The axis a layer sums over (where N:M sparsity groups lie): in-features of [in, out], Conv's in."""
    if kind == "linear.weight":
        return 0
    if kind in ("conv.weight", "convT.weight") and ndim > 1:
        return 1
    return ndim - 1


class _Running:
    """Shifted sums for mean, variance and covariance (stable for values far from zero)."""

    def __init__(self) -> None:
        self.n = 0
        self.shift_x = self.shift_y = None
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.shift_x is None:
            self.shift_x, self.shift_y = float(x.mean()), float(y.mean())
        a, b = x - self.shift_x, y - self.shift_y
        self.n += x.size
        self.sx += float(a.sum())
        self.sy += float(b.sum())
        self.sxx += float((a * a).sum())
        self.syy += float((b * b).sum())
        self.sxy += float((a * b).sum())

    def result(self) -> tuple[float, float, float, float, float | None]:
        n = self.n or 1
        mx, my = self.sx / n, self.sy / n
        vx = max(self.sxx / n - mx * mx, 0.0)
        vy = max(self.syy / n - my * my, 0.0)
        cov = self.sxy / n - mx * my
        sx, sy = math.sqrt(vx), math.sqrt(vy)
        corr = cov / (sx * sy) if sx > 0 and sy > 0 else None
        if corr is not None:
            corr = max(-1.0, min(1.0, corr))
        return mx + (self.shift_x or 0.0), sx, my + (self.shift_y or 0.0), sy, corr


@dataclass
class _State:
    """What one comparison carries from block to block besides the counters of :class:`Comparison`."""

    quant: QuantInfo | None
    code_float: NumericFormat | None
    float_fmt: NumericFormat
    rel_tol: float
    extra: np.ndarray | None
    group_axis: int | None
    running: _Running = field(default_factory=_Running)
    rows_zero: np.ndarray | None = None
    rows_expected: np.ndarray | None = None
    cols_zero: np.ndarray | None = None
    cols_expected: np.ndarray | None = None
    sum_dd: float = 0.0
    sum_xx: float = 0.0
    groups: int = 0
    groups_expected: int = 0
    groups_total: int = 0


def compare(pair: Pair, progress: Callable[[int], None] | None = None) -> Comparison:
    """Compare the aligned submitted values of ``pair`` with its reference, block by block."""
    ref, sub = pair.ref, pair.sub
    assert ref is not None and sub is not None and ref.lazy is not None and pair.view is not None
    shape = ref.shape
    extra = ref.tol_extra if ref.tol_extra is not None else sub.tol_extra
    ndim = len(shape)
    st = _State(quant=pair.quant, code_float=sub.code_float, float_fmt=sub.float_fmt,
                rel_tol=max(ref.fold_rel_tol, sub.fold_rel_tol),
                extra=extra if extra is not None and extra.shape == shape else None,
                group_axis=reduction_axis(ref.kind, ndim) if ndim >= 2 and ref.family == "weight" else None)
    if ndim >= 2:
        st.rows_zero, st.rows_expected = np.ones(shape[0], bool), np.ones(shape[0], bool)
        st.cols_zero, st.cols_expected = np.ones(shape[1], bool), np.ones(shape[1], bool)
    out = Comparison()
    if pair.quant is not None:
        out.step = f"{pair.quant.fmt} scale ({pair.quant.granularity})"
        out.off_nearest = 0
    else:
        out.step = f"{sub.float_fmt.name} ulp"
        out.off_nearest = 0 if sub.float_fmt.name != ref.float_fmt.name else None
    with np.errstate(all="ignore"):
        for key in iter_blocks(shape, CHUNK_ELEMENTS):
            x = ref.lazy.get(key)
            y = pair.view.get(key)
            finite = np.isfinite(x) & np.isfinite(y)
            if not finite.all():  # NaN/inf: no quantization explains it; kept out of the statistics
                out.non_finite += int((~finite).sum())
                x, y = np.where(finite, x, 0.0), np.where(finite, y, 0.0)
            _block(out, st, key, x, y)
            if progress is not None:
                progress(x.size)
    out.beyond_step += out.non_finite
    out.exact = out.exact and out.non_finite == 0
    out.mean_ref, out.std_ref, out.mean_sub, out.std_sub, out.correlation = st.running.result()
    out.relative_error = math.sqrt(st.sum_dd / st.sum_xx) if st.sum_xx > 0 else (0.0 if st.sum_dd == 0 else None)
    if st.rows_zero is not None and st.rows_expected is not None and st.cols_zero is not None \
            and st.cols_expected is not None:
        out.rows, out.cols = shape[0], shape[1]
        out.rows_zeroed = int((st.rows_zero & ~st.rows_expected).sum())
        out.cols_zeroed = int((st.cols_zero & ~st.cols_expected).sum())
    if st.groups_total:
        out.nm_groups = st.groups / st.groups_total
        out.nm_groups_expected = st.groups_expected / st.groups_total
    out.verdict = classify(out, ref, sub, quantized=pair.quant is not None)
    return out


def _block(out: Comparison, st: _State, key: Key, x: np.ndarray, y: np.ndarray) -> None:
    """Add one block's statistics (x: reference, y: submitted, both float64 of the same shape)."""
    quant = st.quant
    if quant is not None:
        scale = np.broadcast_to(bslice(quant.scale, key), x.shape)
        safe = np.where(scale > 0, scale, 1.0)
        if st.code_float is not None:  # float codes (FP8) times a scale
            codes = x / safe
            expected = round_to(codes, st.code_float) * scale
            step = scale * float_ulp(codes, st.code_float)
            clipped_x = x
        else:
            zero = bslice(quant.zero_point, key)
            lo, hi = (quant.qmin - zero) * scale, (quant.qmax - zero) * scale
            clipped_x = np.clip(x, np.minimum(lo, hi), np.maximum(lo, hi))
            codes = np.clip(np.rint(x / safe) + zero, quant.qmin, quant.qmax)
            expected = (codes - zero) * scale
            step = scale
        step = np.maximum(step, float_ulp(x, st.float_fmt))
    else:
        clipped_x = x
        expected = round_to(x, st.float_fmt)
        step = float_ulp(x, st.float_fmt)
    allowed = step + st.rel_tol * (np.abs(x) + (bslice(st.extra, key) if st.extra is not None else 0.0))
    diff = y - clipped_x
    adiff = np.abs(diff)
    expected_zero = np.abs(clipped_x) <= allowed
    sub_zero = y == 0
    new_zero = sub_zero & ~expected_zero
    beyond = (adiff > allowed) & ~new_zero
    out.elements += x.size
    out.clipped += int((clipped_x != x).sum())
    out.beyond_step += int(beyond.sum())
    out.zeros_ref += int((x == 0).sum())
    out.zeros_sub += int(sub_zero.sum())
    out.zeros_expected += int(expected_zero.sum())
    out.zeros_new += int(new_zero.sum())
    out.sign_flips += int(((np.sign(y) != np.sign(x)) & (np.abs(x) > allowed) & ~sub_zero).sum())
    if out.off_nearest is not None:  # rounded to another grid point than the nearest one (allowed)
        half = 0.5 * step if quant is not None else 0.0
        out.off_nearest += int((np.abs(y - expected) > half + st.rel_tol * np.abs(x)).sum())
    if x.size:
        out.max_abs_diff = max(out.max_abs_diff, float(adiff.max()))
        counted = (step > 0) & ~new_zero  # new zeros are pruning evidence, counted apart
        if counted.any():
            out.max_steps = max(out.max_steps, float((adiff[counted] / step[counted]).max()))
    out.exact = out.exact and bool((diff == 0).all())
    st.running.add(x, y)
    st.sum_dd += float((diff * diff).sum())
    st.sum_xx += float((x * x).sum())
    if st.rows_zero is not None and st.rows_expected is not None and st.cols_zero is not None \
            and st.cols_expected is not None:
        st.rows_zero[key[0]] &= _reduce_all_but(sub_zero, 0)
        st.rows_expected[key[0]] &= _reduce_all_but(expected_zero, 0)
        st.cols_zero[key[1]] &= _reduce_all_but(sub_zero, 1)
        st.cols_expected[key[1]] &= _reduce_all_but(expected_zero, 1)
    if st.group_axis is not None:
        found = _groups_of_four(sub_zero, st.group_axis)
        wanted = _groups_of_four(expected_zero, st.group_axis)
        if found is not None and wanted is not None:
            st.groups += found[0]
            st.groups_expected += wanted[0]
            st.groups_total += found[1]


def classify(c: Comparison, ref: LogicalTensor, sub: LogicalTensor, quantized: bool) -> str:
    """The tensor's verdict from its statistics (the order is the precedence)."""
    if c.elements == 0:
        return "identical"
    unexplained = c.beyond_step + c.zeros_new
    if c.elements >= 2 and c.std_ref > 0 and unexplained > 0:
        if c.std_sub == 0:
            return "replaced"
        if (c.correlation is not None and c.correlation < REPLACED_MAX_CORRELATION
                and (c.relative_error or 0.0) > REPLACED_MIN_RELATIVE_ERROR):
            return "replaced"
    if c.rows_zeroed or c.cols_zeroed or c.nm_pattern or c.new_zero_fraction >= PRUNING_MIN_NEW_ZERO_FRACTION:
        return "pruned"
    if c.beyond_fraction > RETRAINING_MIN_BEYOND_FRACTION:
        return "retrained"
    if unexplained:
        return "deviations"
    if c.exact and sub.fmt.name == ref.fmt.name and not quantized:
        return "identical"
    if quantized or sub.float_fmt.name != ref.float_fmt.name or sub.fmt.name != ref.fmt.name:
        return "quantized"
    return "rounding"
