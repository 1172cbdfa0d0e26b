#!/usr/bin/env python3
"""Rebuild the bundled sample benchmark ``digits`` bit for bit.

The sample benchmark is what ``mlperf-audit demo`` (and the bundled sample submission) run the
real LoadGen on: a small real data set, a small reference classifier, its FP32 reference accuracy
and the index lists of its calibration and accuracy subsets. Everything here is derived
deterministically from scikit-learn's 8x8 handwritten digits (UCI ML optical recognition of
handwritten digits, test part: 1797 images, pixel values 0-16), so anyone can check that the
committed files are what this script makes::

    python reference_runs/build_sample.py --out /tmp/digits && cmp /tmp/digits/digits.npz reference_runs/digits/digits.npz

Only this script needs scikit-learn (for ``load_digits``); the product reads the committed files.

Outputs (in ``--out``, default ``reference_runs/digits``):

- ``digits.npz``: ``images`` uint8 [1797, 8, 8], ``labels`` uint8 [1797] and the sorted index
  lists ``train_idx``, ``calibration_idx`` (a subset of the training images, as MLPerf's
  calibration sets are taken from training data) and ``accuracy_idx`` (the held-out validation
  set the accuracy runs cover; the QSL is this set, in this order). Written as an uncompressed
  zip with fixed timestamps: ``numpy.savez`` stamps the current time and deflate output depends
  on the zlib build, either of which would break the bit-for-bit rebuild.
- ``digits_mlp.onnx``: ``Flatten -> Gemm(64x32) -> Relu -> Gemm(32x10)``, input ``input`` float32
  [N, 1, 8, 8] (pixels / 16), output ``logits`` float32 [N, 10], opset 17, IR 8.
- ``sample.json``: provenance, preprocessing, training settings, the reference accuracy on the
  accuracy subset and the SHA-256 of the two files above.

The classifier is trained with full-batch gradient descent with momentum in float64 numpy from a
fixed seed for a fixed number of steps, then its weights are rounded to multiples of 2**-12:
BLAS kernels differ in summation order between CPUs, and the rounding makes the last-bit
differences that may cause vanish before the float32 export (a difference would have to straddle
a rounding boundary 2**-13 wide to survive).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "digits"

NPZ_NAME = "digits.npz"
MODEL_NAME = "digits_mlp.onnx"
META_NAME = "sample.json"

SPLIT_SEED = 20261128          # permutation that picks the held-out accuracy subset
ACCURACY_COUNT = 500           # size of the accuracy subset (the QSL)
CALIBRATION_SEED = 20261129
CALIBRATION_COUNT = 100        # calibration subset, drawn from the training images
INIT_SEED = 7                  # weight initialisation
HIDDEN = 32
STEPS = 1000
LEARNING_RATE = 0.5
MOMENTUM = 0.9
L2 = 1e-4
WEIGHT_GRID = 2.0 ** -12       # exported weights are multiples of this (see module docstring)
PIXEL_SCALE = 16.0             # input = pixel / 16, so inputs lie in [0, 1]

OPSET = 17
IR_VERSION = 8
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def load_source() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as uint8 images and labels (the values are integers 0-16 and 0-9)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - the message is the point
        raise SystemExit("build_sample.py needs scikit-learn: pip install scikit-learn") from exc
    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    if not np.array_equal(images.astype(np.float64), digits.images):
        raise SystemExit("unexpected digits data: pixel values are not integers 0-16")
    return images, labels


def splits(count: int) -> dict[str, np.ndarray]:
    """Sorted index lists: the held-out accuracy subset, the training set, its calibration subset."""
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    accuracy = np.sort(order[:ACCURACY_COUNT])
    train = np.sort(order[ACCURACY_COUNT:])
    calibration = np.sort(np.random.default_rng(CALIBRATION_SEED).choice(train, CALIBRATION_COUNT, replace=False))
    return {
        "train_idx": train.astype(np.int16),
        "calibration_idx": calibration.astype(np.int16),
        "accuracy_idx": accuracy.astype(np.int16),
    }


def features(images: np.ndarray) -> np.ndarray:
    """The model's input as the QSL feeds it: float32 [N, 1, 8, 8] = pixel / 16."""
    return (images.astype(np.float32) / np.float32(PIXEL_SCALE)).reshape(-1, 1, 8, 8)


def train(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """A 64-32-10 ReLU MLP by full-batch gradient descent with momentum; weights on the export grid."""
    rng = np.random.default_rng(INIT_SEED)
    params = [
        rng.standard_normal((64, HIDDEN)) / 8.0,
        np.zeros(HIDDEN),
        rng.standard_normal((HIDDEN, 10)) / np.sqrt(HIDDEN),
        np.zeros(10),
    ]
    velocity = [np.zeros_like(p) for p in params]
    onehot = np.eye(10)[y]
    n = len(x)
    for _ in range(STEPS):
        hidden = x @ params[0] + params[1]
        active = np.maximum(hidden, 0.0)
        logits = active @ params[2] + params[3]
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        grad = (prob - onehot) / n
        grad_hidden = grad @ params[2].T
        grad_hidden[hidden <= 0] = 0.0
        grads = [
            x.T @ grad_hidden + L2 * params[0],
            grad_hidden.sum(axis=0),
            active.T @ grad + L2 * params[2],
            grad.sum(axis=0),
        ]
        for i, g in enumerate(grads):
            velocity[i] = MOMENTUM * velocity[i] - LEARNING_RATE * g
            params[i] = params[i] + velocity[i]
    return [(np.round(p / WEIGHT_GRID) * WEIGHT_GRID).astype(np.float32) for p in params]


def forward(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """float32 logits of the exported weights (numpy mirror of the ONNX graph)."""
    flat = x.reshape(len(x), -1).astype(np.float32)
    hidden = np.maximum(flat @ params[0] + params[1], np.float32(0))
    return hidden @ params[2] + params[3]


def model_bytes(params: list[np.ndarray]) -> bytes:
    """Serialise the classifier with fixed metadata, so the bytes depend only on the weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1, b1, w2, b2 = params
    initializers = [
        numpy_helper.from_array(w1, "fc1_w"),
        numpy_helper.from_array(b1, "fc1_b"),
        numpy_helper.from_array(w2, "fc2_w"),
        numpy_helper.from_array(b2, "fc2_b"),
    ]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu"], name="relu"),
        helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mlperf-audit", producer_version="digits-sample-1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.load``-able .npz: stored (uncompressed) members with a fixed timestamp and order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, npy_bytes(arrays[name]))
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(out: Path) -> dict[str, object]:
    """Build the three files into ``out``; return the metadata written to sample.json."""
    images, labels = load_source()
    index = splits(len(labels))
    train_idx = index["train_idx"].astype(np.int64)
    acc_idx = index["accuracy_idx"].astype(np.int64)
    params = train(features(images[train_idx]).reshape(len(train_idx), -1).astype(np.float64), labels[train_idx])
    predicted = forward(params, features(images[acc_idx])).argmax(axis=1)
    good = int((predicted == labels[acc_idx]).sum())
    total = len(acc_idx)

    npz = npz_bytes({"images": images, "labels": labels, **index})
    onnx_bytes = model_bytes(params)
    meta: dict[str, object] = {
        "name": "digits",
        "description": "8x8 handwritten digits (scikit-learn load_digits, UCI optical recognition test set), "
                       "10 classes; reference model: 64-32-10 ReLU MLP",
        "source": "sklearn.datasets.load_digits (1797 images, pixel values 0-16)",
        "files": {
            "data": NPZ_NAME,
            "model": MODEL_NAME,
            "sha256": {NPZ_NAME: hashlib.sha256(npz).hexdigest(), MODEL_NAME: hashlib.sha256(onnx_bytes).hexdigest()},
        },
        "preprocessing": f"input = float32(pixel) / {PIXEL_SCALE:g}, shape [N, 1, 8, 8]; qsl_idx i = accuracy_idx[i]",
        "model": {"input": "input", "input_shape": ["N", 1, 8, 8], "output": "logits", "output_shape": ["N", 10],
                  "opset": OPSET, "ir_version": IR_VERSION, "hidden": HIDDEN},
        "training": {"split_seed": SPLIT_SEED, "calibration_seed": CALIBRATION_SEED, "init_seed": INIT_SEED,
                     "steps": STEPS, "learning_rate": LEARNING_RATE, "momentum": MOMENTUM, "l2": L2,
                     "weight_grid": "2**-12", "train_count": len(train_idx)},
        "subsets": {"accuracy": total, "calibration": CALIBRATION_COUNT, "train": len(train_idx)},
        "reference_accuracy": {"metric": "acc", "percent": round(100.0 * good / total, 3), "good": good,
                               "total": total, "precision": "fp32"},
    }
    write_atomically(out / NPZ_NAME, npz)
    write_atomically(out / MODEL_NAME, onnx_bytes)
    write_atomically(out / META_NAME, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    meta = build(args.out)
    accuracy = meta["reference_accuracy"]
    print(f"wrote {args.out}: reference accuracy {accuracy['percent']}% ({accuracy['good']}/{accuracy['total']})")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())
