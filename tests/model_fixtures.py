#!/usr/bin/env python3
"""Model-audit fixtures, built from the bundled sample reference model (reference_runs/digits).

Every fixture is derived from ``digits_mlp.onnx`` (Flatten -> Gemm 64x32 -> Relu -> Gemm 32x10) and
its data set, deterministically, in a folder the caller gives (the tests use pytest's tmp_path;
nothing is committed)::

    python tests/model_fixtures.py /tmp/model-fixtures      # writes them all and prints the list

Equivalent copies (must pass): ``identical``, ``renamed`` (a PyTorch-style re-export: generic
names, fc1 stored [out, in] with transB=1, fc2 as MatMul + Add), ``bn`` (a reference with a
batch-norm after fc1 and the copy with it folded, in float32 as a submitter's script would),
``int8_qdq`` / ``int8_qoperator`` (onnxruntime static quantization on the calibration subset),
``fp16`` and ``bf16``. Changed copies (must fail): ``pruned`` (30 % smallest-magnitude weights of
each matrix zeroed), ``finetuned`` (a few full-batch gradient steps on the accuracy subset, numpy),
``reinit`` (fc2 re-initialised as at the start of training). Hostile files: ``external_large``
(a >100 MB tensor in external data), ``traversal`` (external-data locations leaving the folder),
``garbage`` (random bytes).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "reference_runs" / "digits"
REFERENCE = DIGITS / "digits_mlp.onnx"
OPSET = 17


def reference_params() -> dict[str, np.ndarray]:
    model = onnx.load(str(REFERENCE))
    return {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}


def digits_inputs(subset: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [N, 1, 8, 8] (pixel / 16) and labels of the calibration or accuracy subset."""
    data = np.load(DIGITS / "digits.npz")
    index = data[f"{subset}_idx"].astype(np.int64)
    x = (data["images"][index].astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    return x, data["labels"][index].astype(np.int64)


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def _model(nodes, initializers, inputs=None, outputs=None, name="digits_mlp") -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name,
        inputs or [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        outputs or [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="model_fixtures")
    model.ir_version = 8
    return model


def mlp(params: dict[str, np.ndarray], path: Path) -> Path:
    """The reference graph with other weights (same names and layout)."""
    w1, b1, w2, b2 = (params[k] for k in ("fc1_w", "fc1_b", "fc2_w", "fc2_b"))
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k)
             for k, v in (("fc1_w", w1), ("fc1_b", b1), ("fc2_w", w2), ("fc2_b", b2))]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu"], name="relu"),
        helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits"], name="fc2"),
    ]
    return _save(_model(nodes, inits), path)


# -- equivalent copies ------------------------------------------------------------------------------
def identical(out: Path) -> Path:
    target = out / "identical.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REFERENCE, target)
    return target


def renamed(out: Path) -> Path:
    """A re-export: generic names, fc1 weight stored [out, in] (transB=1), fc2 split into MatMul + Add."""
    p = reference_params()
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(p["fc2_b"]), "layers.2.bias"),
        numpy_helper.from_array(np.ascontiguousarray(p["fc1_w"].T), "onnx::Gemm_17"),
        numpy_helper.from_array(np.ascontiguousarray(p["fc2_w"]), "onnx::MatMul_23"),
        numpy_helper.from_array(np.ascontiguousarray(p["fc1_b"]), "onnx::Gemm_18"),
    ]
    nodes = [
        helper.make_node("Reshape", ["input", "shape"], ["/Reshape_output_0"], name="/Reshape"),
        helper.make_node("Gemm", ["/Reshape_output_0", "onnx::Gemm_17", "onnx::Gemm_18"], ["/layers.0/Gemm_output_0"],
                         name="/layers.0/Gemm", transB=1),
        helper.make_node("Relu", ["/layers.0/Gemm_output_0"], ["/layers.1/Relu_output_0"], name="/layers.1/Relu"),
        helper.make_node("MatMul", ["/layers.1/Relu_output_0", "onnx::MatMul_23"], ["/layers.2/MatMul_output_0"],
                         name="/layers.2/MatMul"),
        helper.make_node("Add", ["layers.2.bias", "/layers.2/MatMul_output_0"], ["logits"], name="/layers.2/Add"),
    ]
    inits.append(numpy_helper.from_array(np.array([-1, 64], np.int64), "shape"))
    return _save(_model(nodes, inits, name="main_graph"), out / "renamed.onnx")


BN_EPS = 1e-5


def bn_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "bn1_scale": (1.0 + 0.2 * rng.standard_normal(32)).astype(np.float32),
        "bn1_bias": (0.1 * rng.standard_normal(32)).astype(np.float32),
        "bn1_mean": (0.3 * rng.standard_normal(32)).astype(np.float32),
        "bn1_var": (0.5 + rng.uniform(0.0, 1.0, 32)).astype(np.float32),
    }


def bn_pair(out: Path) -> tuple[Path, Path]:
    """(a reference with BatchNormalization after fc1, the copy with the batch-norm folded into fc1)."""
    p = reference_params()
    bn = bn_params()
    inits = [numpy_helper.from_array(v, k) for k, v in {**p, **bn}.items()]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
        helper.make_node("BatchNormalization", ["fc1", "bn1_scale", "bn1_bias", "bn1_mean", "bn1_var"], ["bn1"],
                         name="bn1", epsilon=BN_EPS),
        helper.make_node("Relu", ["bn1"], ["relu"], name="relu"),
        helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits"], name="fc2"),
    ]
    reference = _save(_model(nodes, inits), out / "reference_bn.onnx")
    scale = bn["bn1_scale"] / np.sqrt(bn["bn1_var"] + np.float32(BN_EPS))  # float32, as a folding script does
    folded = dict(p)
    folded["fc1_w"] = (p["fc1_w"] * scale[None, :]).astype(np.float32)
    folded["fc1_b"] = ((p["fc1_b"] - bn["bn1_mean"]) * scale + bn["bn1_bias"]).astype(np.float32)
    return reference, mlp(folded, out / "bn_folded.onnx")


class _Calibration:
    """onnxruntime CalibrationDataReader over the calibration subset, 10 images per batch."""

    def __init__(self) -> None:
        x, _ = digits_inputs("calibration")
        self._batches = iter([{"input": x[i:i + 10]} for i in range(0, len(x), 10)])

    def get_next(self):
        return next(self._batches, None)


def int8(out: Path, fmt: str = "QDQ", per_channel: bool = True) -> Path:
    """Static INT8 quantization by onnxruntime on the calibration subset (QDQ or QOperator format)."""
    import logging

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    reader = type("Reader", (_Calibration, CalibrationDataReader), {})()
    target = out / f"int8_{fmt.lower()}.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static warns about pre-processing
    quantize_static(str(REFERENCE), str(target), reader, quant_format=getattr(QuantFormat, fmt),
                    per_channel=per_channel, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    return target


def fp16(out: Path) -> Path:
    """Weights and computation in FP16; the input is cast to FP16 and the logits back to FP32."""
    p = reference_params()
    inits = [numpy_helper.from_array(v.astype(np.float16), k) for k, v in p.items()]
    nodes = [
        helper.make_node("Cast", ["input"], ["input_fp16"], to=TensorProto.FLOAT16, name="cast_in"),
        helper.make_node("Flatten", ["input_fp16"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu"], name="relu"),
        helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits_fp16"], name="fc2"),
        helper.make_node("Cast", ["logits_fp16"], ["logits"], to=TensorProto.FLOAT, name="cast_out"),
    ]
    return _save(_model(nodes, inits), out / "fp16.onnx")


def bf16(out: Path) -> Path:
    """Weights stored as BF16 and cast to FP32 before use (storage compression)."""
    import ml_dtypes

    p = reference_params()
    inits = [numpy_helper.from_array(v.astype(ml_dtypes.bfloat16), f"{k}_bf16") for k, v in p.items()]
    nodes = [helper.make_node("Cast", [f"{k}_bf16"], [k], to=TensorProto.FLOAT, name=f"cast_{k}") for k in p]
    nodes += [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu"], name="relu"),
        helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits"], name="fc2"),
    ]
    return _save(_model(nodes, inits), out / "bf16.onnx")


# -- changed copies ---------------------------------------------------------------------------------
def pruned(out: Path, fraction: float = 0.3) -> Path:
    """Magnitude pruning: the smallest ``fraction`` of each weight matrix set to zero."""
    p = reference_params()
    for name in ("fc1_w", "fc2_w"):
        w = p[name]
        threshold = np.quantile(np.abs(w), fraction)
        p[name] = np.where(np.abs(w) <= threshold, np.float32(0), w).astype(np.float32)
    return mlp(p, out / "pruned.onnx")


def forward_backward(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of the mean cross-entropy of the MLP (float64), as reference_runs/build_sample.py trains."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    w1, b1, w2, b2 = (p[k].astype(np.float64) for k in ("fc1_w", "fc1_b", "fc2_w", "fc2_b"))
    hidden = flat @ w1 + b1
    active = np.maximum(hidden, 0.0)
    logits = active @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    grad = (prob - np.eye(10)[y]) / len(x)
    grad_hidden = grad @ w2.T
    grad_hidden[hidden <= 0] = 0.0
    return {"fc1_w": flat.T @ grad_hidden, "fc1_b": grad_hidden.sum(axis=0), "fc2_w": active.T @ grad,
            "fc2_b": grad.sum(axis=0)}


def finetuned(out: Path, steps: int = 5, learning_rate: float = 0.5) -> Path:
    """A few full-batch gradient steps on the accuracy subset (what a closed submission may not do)."""
    p = {k: v.astype(np.float64) for k, v in reference_params().items()}
    x, y = digits_inputs("accuracy")
    for _ in range(steps):
        grads = forward_backward(p, x, y)
        for k in p:
            p[k] = p[k] - learning_rate * grads[k]
    return mlp({k: v.astype(np.float32) for k, v in p.items()}, out / "finetuned.onnx")


def reinit(out: Path, layer: str = "fc2") -> Path:
    """One layer re-initialised as build_sample.py initialises it (normal / sqrt(fan-in), zero bias)."""
    p = reference_params()
    rng = np.random.default_rng(2024)
    w = p[f"{layer}_w"]
    p[f"{layer}_w"] = (rng.standard_normal(w.shape) / np.sqrt(w.shape[0])).astype(np.float32)
    p[f"{layer}_b"] = np.zeros_like(p[f"{layer}_b"])
    return mlp(p, out / f"reinit_{layer}.onnx")


# -- hostile and large files ------------------------------------------------------------------------
def _big_values(rows: slice, cols: int, transposed: bool = False) -> np.ndarray:
    """Deterministic values of the big matrix W[i, j] (or of W.T) for a block of rows, float32."""
    i = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None]
    j = np.arange(cols, dtype=np.float64)[None, :]
    if transposed:
        i, j = j, i
    return (0.05 * np.sin(0.37 * i + 1.13 * j + 1e-4 * i * j)).astype(np.float32)


def _external(name: str, dims: list[int], location: str, offset: int, length: int,
              data_type: int = TensorProto.FLOAT) -> TensorProto:
    tensor = TensorProto(name=name, data_type=data_type, dims=dims)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def external_large(out: Path, n: int = 5200) -> tuple[Path, Path]:
    """A reference (MatMul, W [n, n] FP32 in external data: n=5200 is 108 MB) and a submitted copy
    exported differently (Gemm transB=1 with W.T stored after a 4 KiB header, in another file)."""
    ref_dir, sub_dir = out / "large_reference", out / "large_submitted"
    ref_dir.mkdir(parents=True, exist_ok=True)
    sub_dir.mkdir(parents=True, exist_ok=True)
    nbytes = n * n * 4
    block = 256
    with open(ref_dir / "weights.bin", "wb") as ref_file, open(sub_dir / "data.bin", "wb") as sub_file:
        sub_file.write(b"\0" * 4096)
        for start in range(0, n, block):
            rows = slice(start, min(start + block, n))
            ref_file.write(_big_values(rows, n).tobytes())
            sub_file.write(_big_values(rows, n, transposed=True).tobytes())
    bias = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    io_in = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n])]
    io_out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])]
    reference = _model([helper.make_node("MatMul", ["x", "big_w"], ["xw"], name="proj"),
                        helper.make_node("Add", ["xw", "big_b"], ["y"], name="proj_bias")],
                       [_external("big_w", [n, n], "weights.bin", 0, nbytes),
                        numpy_helper.from_array(bias, "big_b")], io_in, io_out, name="large")
    submitted = _model([helper.make_node("Gemm", ["x", "proj.weight", "proj.bias"], ["y"], name="/proj/Gemm", transB=1)],
                       [_external("proj.weight", [n, n], "data.bin", 4096, nbytes),
                        numpy_helper.from_array(bias, "proj.bias")], io_in, io_out, name="large")
    return _save(reference, ref_dir / "model.onnx"), _save(submitted, sub_dir / "model.onnx")


def traversal(out: Path, how: str = "dotdot") -> tuple[Path, Path]:
    """A copy of the reference whose fc1_w points outside its folder: '..', an absolute path, or a
    symlink. Returns (model, the outside file it points to)."""
    folder = out / f"traversal_{how}" / "model"
    folder.mkdir(parents=True, exist_ok=True)
    outside = out / f"traversal_{how}" / "outside.bin"
    p = reference_params()
    outside.write_bytes(p["fc1_w"].tobytes())
    location = {"dotdot": "../outside.bin", "absolute": str(outside.resolve()), "symlink": "link.bin"}[how]
    if how == "symlink":
        link = folder / "link.bin"
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(outside.resolve(), link)
    model = onnx.load(str(REFERENCE))
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.name == "fc1_w":
            model.graph.initializer[index].CopyFrom(_external("fc1_w", [64, 32], location, 0, 64 * 32 * 4))
    return _save(model, folder / "model.onnx"), outside


def garbage(out: Path, size: int = 4096) -> Path:
    target = out / "garbage.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(np.random.default_rng(5).integers(0, 256, size, dtype=np.uint8).tobytes())
    return target


def build_all(out: Path, large: bool = False) -> dict[str, Path]:
    made: dict[str, Path] = {"identical": identical(out), "renamed": renamed(out)}
    made["reference_bn"], made["bn_folded"] = bn_pair(out)
    made["int8_qdq"] = int8(out, "QDQ")
    made["int8_qoperator"] = int8(out, "QOperator")
    made["fp16"], made["bf16"] = fp16(out), bf16(out)
    made["pruned"], made["finetuned"], made["reinit"] = pruned(out), finetuned(out), reinit(out)
    for how in ("dotdot", "absolute", "symlink"):
        made[f"traversal_{how}"] = traversal(out, how)[0]
    made["garbage"] = garbage(out)
    if large:
        made["large_reference"], made["large_submitted"] = external_large(out)
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/model-fixtures")
    for key, path in build_all(target, large="--large" in sys.argv).items():
        print(f"{key:20} {path}")
