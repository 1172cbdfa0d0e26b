"""Which submitted tensor is which reference tensor.

Evidence is used from the strongest to the weakest, and each step only sees what the earlier ones
left unmatched:

1. **name**: a name of the tensor or of any step of its chain (``fc1_w_quantized``,
   ``fc1_w_DequantizeLinear_Output``) equals a reference name once common suffixes added by
   quantizers and converters are removed. A name match is overruled when another tensor of the same
   shape correlates strongly with the reference and the named one does not (generic exporter names
   such as ``onnx::MatMul_123`` are reused between unrelated exports).
2. **layer**: once a layer's weight is matched, its bias is the bias of the matched layer.
3. **structure** (weights first, then steps 2 and 3 again for the rest): within tensors of the same family (weight, bias, ...) and the same shape, pairs
   are taken in order of value correlation on a fixed sample, penalised by the distance between
   their relative positions in the computation; what correlation cannot decide is paired in order of
   position, and the comparison then shows what the values are (a re-initialised layer is matched
   by position and reported as replaced, not as missing).
4. **other layouts**: a tensor with the same number of elements but another shape is tried
   reshaped and (for matrices) transposed; it is accepted only with a correlation of 0.9 or more.
5. **shrunk**: a weight of the same rank with smaller dimensions at the nearest position is a layer
   that lost channels (pruning).

Anything left is unmapped, on either side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from checker.model_audit.graph import LogicalTensor
from checker.model_audit.tensors import Lazy, QuantInfo, Reshaped, Transposed, Unsupported

#: Correlation at which values alone identify a tensor.
VALUE_MATCH_CORRELATION = 0.5
#: Correlation required to accept a tensor in another shape (reshaped or transposed).
LAYOUT_MATCH_CORRELATION = 0.9
POSITION_WEIGHT = 0.25

_SUFFIXES = ("_dequantizelinear_output", "_quantizelinear_output", "_dequantized", "_quantized", "_fp16",
             "_bf16", "_fp32", "_int8", "_uint8", "_int4", "_scale", "_output_0", "_transposed", "_folded",
             "_cast", "_reshaped", "_q", "_dq", ":0")


def name_key(name: str) -> str:
    """A name with converter decorations removed, for matching across exports."""
    key = name.lower().strip()
    key = re.sub(r"^(onnx::|/)", "", key)
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
                changed = True
    return key


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


@dataclass
class Pair:
    """A reference tensor and its submitted counterpart (either may be None: unmapped)."""

    ref: LogicalTensor | None
    sub: LogicalTensor | None
    how: str
    view: Lazy | None = None
    quant: QuantInfo | None = None
    correlation: float | None = None
    transforms: list[str] = field(default_factory=list)


def _correlation(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None or a.size != b.size or a.size < 2:
        return None
    finite = np.isfinite(a) & np.isfinite(b)
    if not finite.all():
        a, b = a[finite], b[finite]
        if a.size < 2:
            return None
    sa, sb = float(a.std()), float(b.std())
    if sa == 0.0 or sb == 0.0 or not np.isfinite(sa) or not np.isfinite(sb):
        return None
    value = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    return value if np.isfinite(value) else None


class _Matcher:
    def __init__(self, refs: list[LogicalTensor], subs: list[LogicalTensor]) -> None:
        self.refs, self.subs = refs, subs
        self.free_r = set(range(len(refs)))
        self.free_s = set(range(len(subs)))
        self.pairs: list[Pair] = []
        # id(lazy) -> (lazy, sample): the lazy is kept alive so that its id is not reused meanwhile
        self._samples: dict[int, tuple[Lazy, np.ndarray | None]] = {}

    # -- values -------------------------------------------------------------------------------
    def sample(self, lazy: Lazy | None) -> np.ndarray | None:
        if lazy is None:
            return None
        entry = self._samples.get(id(lazy))
        if entry is None:
            try:
                values: np.ndarray | None = lazy.sample()
            except (Unsupported, ValueError, MemoryError):
                values = None
            entry = (lazy, values)
            self._samples[id(lazy)] = entry
        return entry[1]

    def aligned(self, r: LogicalTensor, s: LogicalTensor) -> tuple[Lazy | None, QuantInfo | None, list[str]] | None:
        """The submitted values in the reference's canonical shape, if the shapes are compatible."""
        if s.shape == r.shape:
            return s.lazy, s.quant, []
        if _squeezed(s.shape) == _squeezed(r.shape):
            if s.lazy is None:
                return None, None, []
            quant = s.quant.reshaped(s.shape, r.shape) if s.quant is not None else None
            return Reshaped(s.lazy, r.shape), quant, [f"reshaped {list(s.shape)} -> {list(r.shape)}"]
        return None

    def corr(self, r: LogicalTensor, view: Lazy | None) -> float | None:
        return _correlation(self.sample(r.lazy), self.sample(view))

    def accept(self, ri: int, si: int, how: str, view: Lazy | None, quant: QuantInfo | None,
               transforms: list[str], correlation: float | None = None) -> None:
        self.free_r.discard(ri)
        self.free_s.discard(si)
        r, s = self.refs[ri], self.subs[si]
        if correlation is None and view is not None:
            correlation = self.corr(r, view)
        self.pairs.append(Pair(r, s, how, view, quant, correlation, transforms))

    def compatible(self, ri: int, si: int) -> tuple[Lazy | None, QuantInfo | None, list[str]] | None:
        r, s = self.refs[ri], self.subs[si]
        if r.family != s.family and not (r.is_constant and s.is_constant):
            return None
        return self.aligned(r, s)

    # -- steps ----------------------------------------------------------------------------------
    def by_name(self) -> None:
        index: dict[str, set[int]] = defaultdict(set)
        for si in self.free_s:
            for alias in self.subs[si].aliases + [self.subs[si].name]:
                index[name_key(alias)].add(si)
        for ri in sorted(self.free_r, key=lambda i: (self.refs[i].layer, i)):
            r = self.refs[ri]
            keys = {name_key(a) for a in r.aliases + [r.name]}
            candidates = sorted({si for k in keys for si in index.get(k, ()) if si in self.free_s})
            options = []
            for si in candidates:
                found = self.compatible(ri, si)
                if found is not None:
                    options.append((si, found, self.corr(r, found[0])))
            if not options:
                continue
            si, (view, quant, transforms), c = max(options, key=lambda o: -2.0 if o[2] is None else o[2])
            if c is None or c < VALUE_MATCH_CORRELATION:
                better = self._best_by_values(ri, exclude=si)
                if better is not None and better[1] >= LAYOUT_MATCH_CORRELATION:
                    continue  # another tensor of this shape carries these values: leave it to structure
            self.accept(ri, si, "name", view, quant, transforms, c)

    def _best_by_values(self, ri: int, exclude: int) -> tuple[int, float] | None:
        best: tuple[int, float] | None = None
        for si in self.free_s:
            if si == exclude:
                continue
            found = self.compatible(ri, si)
            if found is None:
                continue
            c = self.corr(self.refs[ri], found[0])
            if c is not None and (best is None or c > best[1]):
                best = (si, c)
        return best

    def by_layer(self) -> None:
        layers: dict[int, int] = {}
        for pair in self.pairs:
            if pair.ref is not None and pair.sub is not None and pair.ref.family == "weight":
                layers.setdefault(pair.ref.layer, pair.sub.layer)
        for ri in sorted(self.free_r):
            r = self.refs[ri]
            target = layers.get(r.layer)
            if target is None:
                continue
            options = []
            for si in self.free_s:
                if self.subs[si].layer != target:
                    continue
                found = self.compatible(ri, si)
                if found is not None:
                    options.append((si, found, self.corr(r, found[0])))
            if options:
                si, (view, quant, transforms), c = max(options, key=lambda o: -2.0 if o[2] is None else o[2])
                self.accept(ri, si, "layer", view, quant, transforms, c)

    def by_structure(self, family: str | None = None) -> None:
        groups: dict[tuple, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for ri in self.free_r:
            r = self.refs[ri]
            if family is None or r.family == family:
                groups[(r.family if not r.is_constant else "const", _squeezed(r.shape))][0].append(ri)
        for si in self.free_s:
            s = self.subs[si]
            if family is None or s.family == family:
                groups[(s.family if not s.is_constant else "const", _squeezed(s.shape))][1].append(si)
        for (_family, _shape), (rs, ss) in sorted(groups.items(), key=lambda kv: str(kv[0])):
            if not rs or not ss:
                continue
            scored = []
            for ri in rs:
                for si in ss:
                    found = self.compatible(ri, si)
                    if found is None:
                        continue
                    c = self.corr(self.refs[ri], found[0])
                    distance = abs(self.refs[ri].position - self.subs[si].position)
                    scored.append(((c if c is not None else 0.0) - POSITION_WEIGHT * distance, ri, si, found, c))
            scored.sort(key=lambda item: -item[0])
            for _score, ri, si, found, c in scored:
                if ri in self.free_r and si in self.free_s and c is not None and c >= VALUE_MATCH_CORRELATION:
                    self.accept(ri, si, "values", found[0], found[1], found[2], c)
            left_r = sorted((ri for ri in rs if ri in self.free_r), key=lambda i: self.refs[i].position)
            left_s = sorted((si for si in ss if si in self.free_s), key=lambda i: self.subs[i].position)
            if left_r and len(left_r) == len(left_s):
                for ri, si in zip(left_r, left_s, strict=True):
                    found = self.compatible(ri, si)
                    if found is not None:
                        self.accept(ri, si, "position", found[0], found[1], found[2])

    def by_other_layout(self) -> None:
        for ri in sorted(self.free_r):
            r = self.refs[ri]
            if r.lazy is None or r.numel < 4:
                continue
            best = None
            for si in sorted(self.free_s):
                s = self.subs[si]
                if s.lazy is None or s.numel != r.numel or s.family not in (r.family, "other"):
                    continue
                for view, quant, how in self._layouts(r, s):
                    c = self.corr(r, view)
                    if c is not None and c >= LAYOUT_MATCH_CORRELATION and (best is None or c > best[0]):
                        best = (c, si, view, quant, how)
            if best is not None:
                c, si, view, quant, how = best
                self.accept(ri, si, how, view, quant, [f"{how} {list(self.subs[si].shape)} -> {list(r.shape)}"], c)

    def _layouts(self, r: LogicalTensor, s: LogicalTensor):
        assert s.lazy is not None
        try:
            quant = s.quant.reshaped(s.shape, r.shape) if s.quant is not None else None
            yield Reshaped(s.lazy, r.shape), quant, "reshaped"
            sq_s, sq_r = _squeezed(s.shape), _squeezed(r.shape)
            if len(sq_s) == 2 and len(sq_r) == 2 and sq_s == sq_r[::-1]:
                flat = Reshaped(s.lazy, sq_s)
                q = s.quant.reshaped(s.shape, sq_s).transposed((1, 0)) if s.quant is not None else None
                view = Reshaped(Transposed(flat, (1, 0)), r.shape)
                if q is not None:
                    q = q.reshaped(sq_r, r.shape)
                yield view, q, "transposed"
        except Unsupported:
            return

    def shrunk(self) -> None:
        for ri in sorted(self.free_r):
            r = self.refs[ri]
            if r.family != "weight" or r.is_constant:
                continue
            options = []
            for si in self.free_s:
                s = self.subs[si]
                if s.family != "weight" or len(s.shape) != len(r.shape) or s.shape == r.shape:
                    continue
                if all(a <= b for a, b in zip(s.shape, r.shape, strict=True)):
                    options.append((abs(s.position - r.position), si))
            if options:
                _, si = min(options)
                self.accept(ri, si, "shrunk", None, None, [f"shape {list(r.shape)} -> {list(self.subs[si].shape)}"])

    def run(self) -> list[Pair]:
        self.by_name()
        self.by_layer()
        self.by_structure("weight")  # weights first: they identify layers, whose biases follow
        self.by_layer()
        self.by_structure()
        self.by_other_layout()
        self.shrunk()
        for ri in sorted(self.free_r):
            self.pairs.append(Pair(self.refs[ri], None, "unmapped"))
        for si in sorted(self.free_s):
            self.pairs.append(Pair(None, self.subs[si], "unmapped"))
        self._samples.clear()

        def order(pair: Pair) -> tuple:
            anchor = pair.ref or pair.sub
            assert anchor is not None
            return (pair.ref is None, anchor.layer, anchor.family != "weight", anchor.name)

        return sorted(self.pairs, key=order)


def correspond(refs: list[LogicalTensor], subs: list[LogicalTensor]) -> list[Pair]:
    """Pair reference and submitted logical tensors (see the module docstring for the evidence)."""
    return _Matcher(refs, subs).run()
