"""Loading an untrusted ONNX model: the graph without its data, then each tensor on demand, safely.

Why this is not ``onnx.load``: onnx.load reads every external-data file a model names, wherever it
points, and holds all weights in memory. Here the protobuf is parsed with
``load_external_data=False`` (it then holds only the graph and the tensors stored inline), every
external-data reference is validated before anything is opened, and a tensor's bytes are read on
demand, one block at a time, by positioned reads of exactly the bytes the block needs
(:class:`ExternalArray`).

An external-data location is refused, and never opened, when it is absolute (POSIX or Windows
form), contains a '..' component, resolves (through symlinks) to a path outside the model's folder,
is not a regular file, or when its offset and length do not fit inside the file or do not match
the tensor's type and shape. A file that is not an ONNX protobuf, or a tensor whose inline bytes do
not match its shape, is a problem (rule M001), never an exception.

Why positioned reads rather than a memory map: a mapped file's pages count towards the process's
resident set, and the kernel maps pages *around* each faulting one ("fault-around", 64 KB), so a
strided walk through a mapped tensor (a transposed weight read column by column) makes the whole
file resident. ``preadv`` copies only the requested runs; the file stays in the page cache, which
is shared and reclaimable and not part of the process's memory.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from onnx import TensorProto, numpy_helper

from checker.model_audit.formats import NumericFormat, decode, format_of

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training"})
#: Element count above which a single dimension list is considered hostile (2**40 elements is 4 TB
#: of FP32): such a shape is refused before any size arithmetic allocates anything.
MAX_ELEMENTS = 2**40


class ModelPathError(LookupError):
    """The path given for a model is not a readable file: a tool error (exit 2), not a finding."""


@dataclass
class Problem:
    """Something wrong with the model file itself, reported as a finding of ``rule``."""

    rule: str
    message: str
    tensor: str | None = None
    found: str | None = None


@dataclass
class ExternalRef:
    """A validated external-data reference: the real file, and where the tensor's bytes are."""

    path: Path
    offset: int
    length: int


class ExternalArray:
    """A C-order array stored in a file, read block by block with positioned reads (never mapped).

    Supports what the lazy tensors ask of an array: ``shape``, ``dtype``, indexing with a tuple of
    step-1 slices (one read per contiguous run of the block), ``reshape(-1)``-free flat ranges via
    :meth:`flat`, and ``astype`` through the returned numpy arrays.
    """

    #: Largest band of a strided tensor kept to serve the following blocks (see __getitem__).
    BAND_BYTES = 8 * 1024 * 1024

    def __init__(self, fd: int, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.fd, self.offset, self.shape, self.dtype = fd, offset, shape, dtype
        self._band: tuple[tuple[tuple[int, int], ...], np.ndarray] | None = None
        self.ndim = len(shape)
        self.strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]

    def _read_into(self, target: np.ndarray, start: int) -> None:
        view = memoryview(target.reshape(-1).view(np.uint8))
        position = self.offset + start * self.dtype.itemsize
        while len(view):
            got = os.preadv(self.fd, [view], position) if hasattr(os, "preadv") else self._pread(view, position)
            if got <= 0:
                raise OSError(f"external data ended early at byte {position}")
            view = view[got:]
            position += got

    def _pread(self, view: memoryview, position: int) -> int:  # pragma: no cover - platforms without preadv
        data = os.pread(self.fd, len(view), position)
        view[: len(data)] = data
        return len(data)

    def flat(self, start: int, stop: int) -> np.ndarray:
        out = np.empty(max(stop - start, 0), dtype=self.dtype)
        if out.size:
            self._read_into(out, start)
        return out

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not self.shape:
            return self.flat(0, 1).reshape(())
        ranges = [s.indices(d)[:2] for s, d in zip(key, self.shape, strict=True)]
        cached = self._band
        if cached is not None and all(c[0] <= r[0] and r[1] <= c[1] for c, r in zip(cached[0], ranges, strict=True)):
            return cached[1][tuple(slice(r[0] - c[0], r[1] - c[0]) for c, r in zip(cached[0], ranges, strict=True))]
        run_axis = self._run_axis(ranges)
        if run_axis > 0:
            # A strided block (a transposed weight read by columns): many short runs. Read a wider band
            # along the run axis, up to BAND_BYTES, and serve the next blocks from it.
            other = math.prod(hi - lo for i, (lo, hi) in enumerate(ranges) if i != run_axis)
            lo, hi = ranges[run_axis]
            width = max(hi - lo, self.BAND_BYTES // max(other * self.dtype.itemsize, 1))
            ranges[run_axis] = (lo, min(self.shape[run_axis], lo + width))
            band = self._read(ranges, self._run_axis(ranges))
            self._band = (tuple(ranges), band)
            return band[tuple(slice(0, hi - lo) if i == run_axis else slice(None) for i in range(self.ndim))]
        return self._read(ranges, run_axis)

    def _run_axis(self, ranges: list[tuple[int, int]]) -> int:
        """The outermost axis after which every axis is read whole (runs are contiguous from there)."""
        for axis in range(self.ndim - 1, -1, -1):
            if ranges[axis][1] - ranges[axis][0] != self.shape[axis]:
                return axis
        return 0

    def _read(self, ranges: list[tuple[int, int]], run_axis: int) -> np.ndarray:
        counts = [hi - lo for lo, hi in ranges]
        out = np.empty(counts, dtype=self.dtype)
        if out.size == 0:
            return out
        for index in np.ndindex(*counts[:run_axis]):
            start = sum((ranges[i][0] + index[i]) * self.strides[i] for i in range(run_axis))
            start += ranges[run_axis][0] * self.strides[run_axis]
            self._read_into(out[index] if index else out, start)
        return out

    def reshape(self, *shape):  # pragma: no cover - the lazy layer calls flat() instead
        raise TypeError("ExternalArray is read by blocks; use flat()")


def element_count(dims: list[int] | tuple[int, ...]) -> int | None:
    """The number of elements of a shape, or None for a negative or absurd shape."""
    count = 1
    for dim in dims:
        if dim < 0:
            return None
        count *= dim
        if count > MAX_ELEMENTS:
            return None
    return count


def _location_problem(location: str) -> str | None:
    """Why a location string is refused without touching the file system (None: acceptable form)."""
    if not location:
        return "empty location"
    if "\x00" in location:
        return "NUL byte in the location"
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute() or \
            PureWindowsPath(location).drive or location.startswith(("/", "\\")):
        return "absolute path"
    parts = location.replace("\\", "/").split("/")
    if any(part == ".." for part in parts):
        return "'..' leaves the model's folder"
    return None


class TensorStore:
    """Reads tensors of one model: inline tensors from the protobuf, external ones by block.

    ``folder`` is the model's folder (its real path); each external file is opened once, read-only.
    """

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self.folder = model_path.resolve().parent
        self._files: dict[Path, int] = {}
        self._refs: dict[tuple, ExternalRef | Problem] = {}

    # -- validation ---------------------------------------------------------------------------
    def external_ref(self, tensor: TensorProto) -> ExternalRef | Problem:
        """Validate a tensor's external-data reference (cached); never opens a refused file."""
        key = (tensor.name, tuple(tensor.dims), tensor.data_type,
               tuple((entry.key, entry.value) for entry in tensor.external_data))
        cached = self._refs.get(key)
        if cached is not None:
            return cached
        result = self._validate(tensor)
        self._refs[key] = result
        return result

    def _validate(self, tensor: TensorProto) -> ExternalRef | Problem:
        name = tensor.name
        entries = {entry.key: entry.value for entry in tensor.external_data}
        location = entries.get("location", "")
        reason = _location_problem(location)
        if reason is not None:
            return Problem("M002", f"tensor {name!r}: external data location {location!r} refused ({reason})",
                           tensor=name, found=location)
        candidate = self.folder / location.replace("\\", "/")
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            return Problem("M002", f"tensor {name!r}: external data file {location!r} not found ({exc.__class__.__name__})",
                           tensor=name, found=location)
        try:
            real.relative_to(self.folder)
        except ValueError:
            return Problem("M002", f"tensor {name!r}: external data location {location!r} resolves outside the "
                           f"model's folder (symlink) and is refused", tensor=name, found=location)
        try:
            info = real.stat()
        except OSError as exc:
            return Problem("M002", f"tensor {name!r}: cannot stat external data {location!r}: {exc}", tensor=name)
        if not stat.S_ISREG(info.st_mode):
            return Problem("M002", f"tensor {name!r}: external data {location!r} is not a regular file",
                           tensor=name, found=location)
        try:
            offset = int(entries.get("offset", "0") or 0)
            length_text = entries.get("length")
            length = int(length_text) if length_text not in (None, "") else None
        except ValueError:
            return Problem("M002", f"tensor {name!r}: external data offset/length are not integers", tensor=name)
        count = element_count(list(tensor.dims))
        fmt = format_of(tensor.data_type)
        if count is None:
            return Problem("M001", f"tensor {name!r}: invalid shape {list(tensor.dims)}", tensor=name)
        expected = (length if length is not None else 0) if not fmt.decodable else fmt.stored_bytes(count)
        if length is not None and length != expected:
            return Problem("M002", f"tensor {name!r}: external data length {length} does not match its type and "
                           f"shape ({expected} bytes)", tensor=name, found=str(length))
        if offset < 0 or offset + expected > info.st_size:
            return Problem("M002", f"tensor {name!r}: external data range {offset}+{expected} lies outside "
                           f"{location!r} ({info.st_size} bytes)", tensor=name, found=f"{offset}+{expected}")
        return ExternalRef(real, offset, expected)

    def problems(self, tensors: list[TensorProto]) -> list[Problem]:
        """Problems of every externally stored tensor (validated up front, before any read)."""
        out = []
        for tensor in tensors:
            if tensor.data_location == TensorProto.EXTERNAL:
                ref = self.external_ref(tensor)
                if isinstance(ref, Problem):
                    out.append(ref)
        return out

    # -- reading -------------------------------------------------------------------------------
    def _open(self, path: Path) -> int:
        fd = self._files.get(path)
        if fd is None:
            flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(path, flags)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(f"{path} is not a regular file")
            self._files[path] = fd
        return fd

    def array(self, tensor: TensorProto) -> tuple[np.ndarray | None, Problem | None]:
        """The tensor's stored values in their own dtype (a read-only view for external data).

        Returns ``(None, problem)`` for a refused location or a tensor whose bytes do not match its
        shape; packed 4-/2-bit external tensors are unpacked into memory.
        """
        fmt = format_of(tensor.data_type)
        name = tensor.name
        count = element_count(list(tensor.dims))
        if count is None:
            return None, Problem("M001", f"tensor {name!r}: invalid shape {list(tensor.dims)}", tensor=name)
        if not fmt.decodable:
            return None, Problem("M001", f"tensor {name!r}: element type {fmt.name} cannot be compared", tensor=name)
        shape = tuple(tensor.dims)
        if tensor.data_location == TensorProto.EXTERNAL:
            ref = self.external_ref(tensor)
            if isinstance(ref, Problem):
                return None, ref
            if count == 0:
                return np.zeros(shape, dtype=fmt.numpy_dtype()), None
            try:
                fd = self._open(ref.path)
            except OSError as exc:
                return None, Problem("M002", f"tensor {name!r}: cannot open external data: {exc}", tensor=name)
            if fmt.per_byte > 1:  # packed 4-/2-bit types are unpacked whole (a quarter or half byte each)
                packed = ExternalArray(fd, ref.offset, (ref.length,), np.dtype(np.uint8)).flat(0, ref.length)
                return decode(packed.tobytes(), fmt, count).reshape(shape), None
            return ExternalArray(fd, ref.offset, shape, fmt.storage_dtype()), None  # type: ignore[return-value]
        return self._inline(tensor, fmt, count, shape)

    def _inline(self, tensor: TensorProto, fmt: NumericFormat, count: int,
                shape: tuple[int, ...]) -> tuple[np.ndarray | None, Problem | None]:
        name = tensor.name
        if tensor.HasField("raw_data") or tensor.raw_data:
            expected = fmt.stored_bytes(count)
            if len(tensor.raw_data) != expected:
                return None, Problem("M001", f"tensor {name!r}: {len(tensor.raw_data)} stored bytes, its type and "
                                     f"shape need {expected}", tensor=name)
            return decode(tensor.raw_data, fmt, count).reshape(shape), None
        try:
            values = numpy_helper.to_array(tensor)
        except Exception as exc:  # noqa: BLE001 - any decoding failure of untrusted data is a finding
            return None, Problem("M001", f"tensor {name!r}: cannot decode its values ({exc})", tensor=name)
        if values.size != count:
            return None, Problem("M001", f"tensor {name!r}: {values.size} values for shape {list(shape)}", tensor=name)
        return values.reshape(shape), None

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()


@dataclass
class LoadedModel:
    """A parsed model (graph only) with its tensor store and the problems found while loading."""

    path: Path
    proto: onnx.ModelProto | None
    store: TensorStore
    problems: list[Problem] = field(default_factory=list)
    file_bytes: int = 0

    @property
    def usable(self) -> bool:
        return self.proto is not None


def first_bad_string(message, path: str = "model") -> str | None:
    """The first string field that is not valid UTF-8 (protobuf then hands out bytes), or None.

    Walks every message field of the parsed protobuf, skipping numeric and bytes payloads."""
    for descriptor, value in message.ListFields():
        repeated = descriptor.is_repeated if hasattr(descriptor, "is_repeated") else \
            descriptor.label == FieldDescriptor.LABEL_REPEATED
        if descriptor.type == FieldDescriptor.TYPE_STRING:
            for item in value if repeated else [value]:
                if not isinstance(item, str):
                    return f"{path}.{descriptor.name}"
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            for index, item in enumerate(value if repeated else [value]):
                bad = first_bad_string(item, f"{path}.{descriptor.name}[{index}]" if repeated
                                       else f"{path}.{descriptor.name}")
                if bad is not None:
                    return bad
    return None


def all_tensors(graph: onnx.GraphProto) -> list[TensorProto]:
    """Initializers and Constant-node tensors of a graph and its subgraphs (for validation)."""
    out: list[TensorProto] = list(graph.initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                out.append(attribute.t)
            elif attribute.type == onnx.AttributeProto.TENSORS:
                out.extend(attribute.tensors)
            elif attribute.type == onnx.AttributeProto.GRAPH:
                out.extend(all_tensors(attribute.g))
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    out.extend(all_tensors(sub))
    return out


def load_model(path: Path) -> LoadedModel:
    """Parse a model file defensively. Raises :class:`ModelPathError` only when ``path`` is no file."""
    if not path.exists():
        raise ModelPathError(f"no such file: {path}")
    if not path.is_file():
        raise ModelPathError(f"not a file: {path}")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ModelPathError(f"cannot read {path}: {exc}") from exc
    store = TensorStore(path)
    model = LoadedModel(path=path, proto=None, store=store, file_bytes=size)
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any parser failure is a finding
        model.problems.append(Problem("M001", f"not an ONNX model: the protobuf does not parse ({type(exc).__name__}: "
                                      f"{str(exc)[:200]})"))
        return model
    del data
    if not proto.HasField("graph") or proto.ir_version <= 0 or not proto.graph.node:
        what = "no graph" if not proto.HasField("graph") else "no IR version" if proto.ir_version <= 0 else "no nodes"
        model.problems.append(Problem("M001", f"not an ONNX model: the file parses as a protobuf but has {what}"))
        return model
    bad = first_bad_string(proto)
    if bad is not None:
        model.problems.append(Problem("M001", f"not a valid ONNX model: the text field {bad} is not UTF-8"))
        return model
    model.proto = proto
    model.problems.extend(store.problems(all_tensors(proto.graph)))
    return model
