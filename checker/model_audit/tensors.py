"""Lazy tensor expressions: a weight as the graph computes it, read one block at a time.

A submitted weight is rarely stored the way the reference stores it: it may be INT8 codes that a
DequantizeLinear scales per channel, then a Transpose, then a Cast, with a batch-norm folded into
it. Each of those steps is a node here, applied to a *block* of the result only, so a tensor of
several GB is compared chunk by chunk and only the chunk (as float64) is ever in memory.

Blocks are keys of slices that select a C-order contiguous range of the tensor: single indices on
the leading axes, a range on one axis, whole trailing axes (see :func:`iter_blocks`). A Reshape
maps such a range to the same flat range of its input, which is in turn split into blocks, so every
node supports every key.

Quantization parameters travel alongside as :class:`QuantInfo`: scale and zero-point arrays that
broadcast against the tensor, transposed and reshaped with it, so the comparison knows each
element's step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from checker.model_audit.formats import NumericFormat, round_to

Key = tuple[slice, ...]
#: Tensors up to this many elements may be materialised whole where a chunked path does not exist
#: (a reshape of per-channel scales, say); 4 M elements is 32 MB of float64.
MATERIALIZE_LIMIT = 4 * 1024 * 1024


class Unsupported(Exception):
    """A transformation the lazy path cannot apply within the memory bound."""


def full_key(shape: tuple[int, ...]) -> Key:
    return tuple(slice(None) for _ in shape)


def bslice(array: np.ndarray, key: Key) -> np.ndarray:
    """Slice a broadcastable parameter array with a block key (broadcast axes stay whole)."""
    if array.ndim == 0:
        return array
    return array[tuple(slice(None) if array.shape[i] == 1 else key[i] for i in range(array.ndim))]


def _strides(shape: tuple[int, ...]) -> list[int]:
    return [math.prod(shape[i + 1:]) for i in range(len(shape))]


def flat_keys(shape: tuple[int, ...], start: int, stop: int) -> list[Key]:
    """Split the C-order flat range [start, stop) of ``shape`` into contiguous block keys."""
    if not shape:
        return [()] if start < stop else []
    strides = _strides(shape)
    keys: list[Key] = []
    while start < stop:
        for axis in range(len(shape)):
            step = strides[axis]
            if step and start % step == 0 and start + step <= stop:
                index = np.unravel_index(start, shape)
                position = int(index[axis])
                count = min((stop - start) // step, shape[axis] - position)
                key = tuple(slice(int(index[i]), int(index[i]) + 1) for i in range(axis))
                key += (slice(position, position + count),) + tuple(slice(None) for _ in range(axis + 1, len(shape)))
                keys.append(key)
                start += count * step
                break
        else:  # pragma: no cover - the last axis always advances
            raise AssertionError("flat_keys made no progress")
    return keys


def iter_blocks(shape: tuple[int, ...], limit: int) -> Iterator[Key]:
    """Blocks of at most about ``limit`` elements covering the tensor in C order."""
    total = math.prod(shape)
    if total == 0:
        return
    if not shape:
        yield ()
        return
    strides = _strides(shape)
    axis = next(i for i in range(len(shape)) if strides[i] <= limit)
    step = max(1, limit // strides[axis])
    if step >= 4:
        step -= step % 4  # keep groups of 4 along the last axis whole (N:M sparsity)
    outer = shape[:axis]
    for index in np.ndindex(*outer) if outer else [()]:
        head = tuple(slice(i, i + 1) for i in index)
        for position in range(0, shape[axis], step):
            stop = min(position + step, shape[axis])
            yield head + (slice(position, stop),) + tuple(slice(None) for _ in range(axis + 1, len(shape)))


def sample_keys(shape: tuple[int, ...], count: int = 8, block: int = 512) -> list[Key]:
    """A few small contiguous blocks spread over the tensor: the sample used for value correlation."""
    total = math.prod(shape)
    if total == 0:
        return []
    if total <= count * block:
        return flat_keys(shape, 0, total)
    keys: list[Key] = []
    for position in np.linspace(0, total - block, count).astype(np.int64):
        keys.extend(flat_keys(shape, int(position), int(position) + block))
    return keys


class Lazy:
    """A tensor expression; ``get(key)`` computes one block as float64."""

    shape: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def get(self, key: Key) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def flat(self, start: int, stop: int) -> np.ndarray:
        parts = [self.get(key).reshape(-1) for key in flat_keys(self.shape, start, stop)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def full(self) -> np.ndarray:
        return self.get(full_key(self.shape))

    def sample(self) -> np.ndarray:
        parts = [self.get(key).reshape(-1) for key in sample_keys(self.shape)]
        return np.concatenate(parts) if parts else np.zeros(0)


class Stored(Lazy):
    """Stored values (an inline array or an :class:`~checker.model_audit.load.ExternalArray` read by
    block), decoded to float64 per block."""

    def __init__(self, array) -> None:
        self.array = array
        self.shape = tuple(int(d) for d in array.shape)

    def get(self, key: Key) -> np.ndarray:
        return np.asarray(self.array[key]).astype(np.float64)

    def flat(self, start: int, stop: int) -> np.ndarray:
        if hasattr(self.array, "flat") and not isinstance(self.array, np.ndarray):
            return np.asarray(self.array.flat(start, stop)).astype(np.float64)
        return np.asarray(self.array.reshape(-1)[start:stop]).astype(np.float64)


class Values(Lazy):
    """Values computed in memory (a folded bias, a Constant node's value)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array, dtype=np.float64)
        self.shape = tuple(int(d) for d in self.array.shape)

    def get(self, key: Key) -> np.ndarray:
        return self.array[key]


class _Unary(Lazy):
    def __init__(self, child: Lazy) -> None:
        self.child = child
        self.shape = child.shape


class Transposed(_Unary):
    def __init__(self, child: Lazy, perm: tuple[int, ...]) -> None:
        super().__init__(child)
        self.perm = perm
        self.shape = tuple(child.shape[p] for p in perm)

    def get(self, key: Key) -> np.ndarray:
        child_key: list[slice] = [slice(None)] * len(self.perm)
        for i, p in enumerate(self.perm):
            child_key[p] = key[i]
        return self.child.get(tuple(child_key)).transpose(self.perm)


class Reshaped(_Unary):
    def __init__(self, child: Lazy, shape: tuple[int, ...]) -> None:
        super().__init__(child)
        if math.prod(shape) != child.size:
            raise Unsupported(f"reshape {child.shape} -> {shape} changes the element count")
        self.shape = tuple(int(d) for d in shape)

    def get(self, key: Key) -> np.ndarray:
        if not self.shape:
            return self.child.flat(0, 1).reshape(())
        starts, counts = [], []
        for i, s in enumerate(key):
            lo, hi, _ = s.indices(self.shape[i])
            starts.append(lo)
            counts.append(hi - lo)
        strides = _strides(self.shape)
        start = sum(a * b for a, b in zip(starts, strides, strict=True))
        span = math.prod(counts)
        return self.child.flat(start, start + span).reshape(counts)


class Dequantized(_Unary):
    """(codes - zero_point) * scale, with parameters broadcast against the codes."""

    def __init__(self, child: Lazy, scale: np.ndarray, zero_point: np.ndarray) -> None:
        super().__init__(child)
        self.scale, self.zero_point = scale, zero_point

    def get(self, key: Key) -> np.ndarray:
        return (self.child.get(key) - bslice(self.zero_point, key)) * bslice(self.scale, key)


class Quantized(_Unary):
    """QuantizeLinear applied to a constant: clip(round(x / scale) + zero_point)."""

    def __init__(self, child: Lazy, scale: np.ndarray, zero_point: np.ndarray, qmin: int, qmax: int) -> None:
        super().__init__(child)
        self.scale, self.zero_point, self.qmin, self.qmax = scale, zero_point, qmin, qmax

    def get(self, key: Key) -> np.ndarray:
        codes = np.rint(self.child.get(key) / bslice(self.scale, key)) + bslice(self.zero_point, key)
        return np.clip(codes, self.qmin, self.qmax)


class Affine(_Unary):
    """x * mul + add (a folded batch-norm's per-channel scale and shift)."""

    def __init__(self, child: Lazy, mul: np.ndarray, add: np.ndarray | None = None) -> None:
        super().__init__(child)
        self.mul, self.add = mul, add

    def get(self, key: Key) -> np.ndarray:
        out = self.child.get(key) * bslice(self.mul, key)
        return out if self.add is None else out + bslice(self.add, key)


class Rounded(_Unary):
    """A Cast to a narrower float format: values rounded to it."""

    def __init__(self, child: Lazy, fmt: NumericFormat) -> None:
        super().__init__(child)
        self.fmt = fmt

    def get(self, key: Key) -> np.ndarray:
        return round_to(self.child.get(key), self.fmt)


# -- broadcast parameter arrays -------------------------------------------------------------------
def per_axis(values: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A 1-D per-channel array shaped to broadcast along ``axis`` of an ``ndim`` tensor."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1 or ndim == 0:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def reshape_broadcast(array: np.ndarray, old: tuple[int, ...], new: tuple[int, ...]) -> np.ndarray | None:
    """Carry a broadcast parameter array through a reshape; None when that needs too much memory."""
    if array.ndim == 0 or array.size == 1:
        return array.reshape(())
    squeezed_old = [d for d in old if d != 1]
    squeezed_new = [d for d in new if d != 1]
    if squeezed_old == squeezed_new:
        kept = np.asarray(array).reshape([array.shape[i] for i in range(len(old)) if old[i] != 1])
        shape, j = [], 0
        for d in new:
            if d == 1:
                shape.append(1)
            else:
                shape.append(kept.shape[j])
                j += 1
        return kept.reshape(shape)
    if math.prod(old) <= MATERIALIZE_LIMIT:
        return np.broadcast_to(array, old).reshape(new).copy()
    return None


@dataclass
class QuantInfo:
    """How a tensor was quantized: step (scale) and zero point per element, broadcastable."""

    scale: np.ndarray
    zero_point: np.ndarray
    qmin: int
    qmax: int
    fmt: str
    granularity: str
    approximate: bool = False  # per-channel scales replaced by the largest one (see reshape_broadcast)

    def transposed(self, perm: tuple[int, ...]) -> QuantInfo:
        def move(a: np.ndarray) -> np.ndarray:
            return a if a.ndim == 0 else a.transpose(perm)

        return replace(self, scale=move(self.scale), zero_point=move(self.zero_point))

    def reshaped(self, old: tuple[int, ...], new: tuple[int, ...]) -> QuantInfo:
        scale = reshape_broadcast(self.scale, old, new)
        zero = reshape_broadcast(self.zero_point, old, new)
        if scale is None or zero is None:
            return replace(self, scale=np.asarray(np.max(np.abs(self.scale))),
                           zero_point=np.asarray(float(np.median(self.zero_point))), approximate=True)
        return replace(self, scale=scale, zero_point=zero)

    def scaled(self, mul: np.ndarray) -> QuantInfo:
        """After a folded batch-norm: the step of x * mul is |mul| times the step of x."""
        return replace(self, scale=np.abs(self.scale * mul), zero_point=self.zero_point * np.ones_like(mul))
