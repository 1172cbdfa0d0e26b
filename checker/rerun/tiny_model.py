"""A tiny deterministic ONNX classifier and synthetic data set for driving the real LoadGen.

The harness needs a model that is (a) real enough that ONNX Runtime does actual work and the
outputs depend on the input, (b) small enough that thousands of inferences per second fit in a
one-second LoadGen run on a 2-core host, and (c) reproducible bit for bit, so an accuracy log
written today can be compared byte-for-byte with one written on another machine or next year.

The graph is ``Conv(3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm`` on a
``float32 [N, C, H, W]`` input (default ``[N, 1, 8, 8]``) producing ``float32 [N, classes]``
logits. Weights and samples come from seeded :func:`numpy.random.default_rng` generators and the
model is serialised from a fixed graph with fixed metadata (no timestamps, no producer version),
so the ``.onnx`` and ``.npy`` files are identical on every build.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Names of the graph's input and output; the SUT feeds and reads them by name.
INPUT_NAME = "input"
OUTPUT_NAME = "logits"

#: Fixed opset / IR version: newer onnx releases would otherwise stamp their own defaults,
#: which changes the serialised bytes (and could change what older runtimes accept).
OPSET = 17
IR_VERSION = 8

DEFAULT_MODEL_SEED = 1234
DEFAULT_DATA_SEED = 42
DEFAULT_SAMPLE_SHAPE = (1, 8, 8)
DEFAULT_SAMPLE_COUNT = 256
DEFAULT_HIDDEN = 8
DEFAULT_CLASSES = 10

MODEL_FILENAME = "tiny_classifier.onnx"
SAMPLES_FILENAME = "tiny_samples.npy"


@dataclass(frozen=True)
class TinyAssets:
    """Paths of a built model and its data set, plus what they were built from."""

    model_path: Path
    samples_path: Path
    sample_count: int
    sample_shape: tuple[int, ...]
    classes: int


def build_model_bytes(
    *,
    channels: int = DEFAULT_SAMPLE_SHAPE[0],
    hidden: int = DEFAULT_HIDDEN,
    classes: int = DEFAULT_CLASSES,
    seed: int = DEFAULT_MODEL_SEED,
) -> bytes:
    """Serialise the tiny classifier; identical inputs always give identical bytes.

    The batch dimension is symbolic (``N``) so one model serves SingleStream (batch 1),
    MultiStream (8) and Offline (large batches). Spatial size is left symbolic too: the
    GlobalAveragePool makes the head independent of it.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    # Scaled so that logits have a spread of a few units: argmax is well defined (no near-ties
    # that a rounding difference could flip), which keeps top-1 checks meaningful.
    conv_w = (rng.standard_normal((hidden, channels, 3, 3)) * 0.5).astype(np.float32)
    conv_b = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
    gemm_w = rng.standard_normal((classes, hidden))
    # Pooled ReLU features are all positive with a shared mean; zero-sum rows cancel that
    # common mode so the predicted class depends on the input rather than on row sums of W
    # (otherwise one class wins almost every sample and top-1 checks say little).
    gemm_w = (gemm_w - gemm_w.mean(axis=1, keepdims=True)).astype(np.float32)
    gemm_b = (rng.standard_normal(classes) * 0.1).astype(np.float32)

    initializers = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(conv_b, "conv_b"),
        numpy_helper.from_array(gemm_w, "gemm_w"),
        numpy_helper.from_array(gemm_b, "gemm_b"),
    ]
    nodes = [
        helper.make_node("Conv", [INPUT_NAME, "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "gemm_w", "gemm_b"], [OUTPUT_NAME], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", channels, "H", "W"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", classes])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="mlperf-audit",
        producer_version="tiny-1",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def build_samples(
    count: int = DEFAULT_SAMPLE_COUNT,
    *,
    shape: tuple[int, ...] = DEFAULT_SAMPLE_SHAPE,
    seed: int = DEFAULT_DATA_SEED,
) -> np.ndarray:
    """The synthetic data set: ``count`` standard-normal float32 samples of ``shape``."""
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(rng.standard_normal((count, *shape)).astype(np.float32))


def write_tiny_assets(
    directory: Path | str,
    *,
    sample_count: int = DEFAULT_SAMPLE_COUNT,
    sample_shape: tuple[int, ...] = DEFAULT_SAMPLE_SHAPE,
    hidden: int = DEFAULT_HIDDEN,
    classes: int = DEFAULT_CLASSES,
    model_seed: int = DEFAULT_MODEL_SEED,
    data_seed: int = DEFAULT_DATA_SEED,
) -> TinyAssets:
    """Write ``tiny_classifier.onnx`` and ``tiny_samples.npy`` into ``directory``; return their paths.

    Files are only rewritten when their content would change, so concurrent users of a shared
    asset folder never see a half-written model after the first build.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILENAME
    samples_path = directory / SAMPLES_FILENAME

    model_bytes = build_model_bytes(channels=sample_shape[0], hidden=hidden, classes=classes, seed=model_seed)
    _write_if_changed(model_path, model_bytes)

    samples = build_samples(sample_count, shape=sample_shape, seed=data_seed)
    _write_if_changed(samples_path, _npy_bytes(samples))
    return TinyAssets(model_path, samples_path, sample_count, tuple(sample_shape), classes)


def _npy_bytes(array: np.ndarray) -> bytes:
    """The exact ``.npy`` encoding of ``array`` (header + data), for change detection."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that."""
    if path.is_file() and path.read_bytes() == data:
        return
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
