"""`mlperf-audit model` (M rules) on fixtures derived from the bundled sample reference model.

The fixtures are built once per session in a temporary folder by tests/model_fixtures.py (the large
external-data model only in its own test, and deleted afterwards). Equivalent copies must pass,
changed copies must fail with the right rule naming the right tensors, hostile files must end in
findings, never in a traceback.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import model_fixtures as mf
import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from checker.cli import main
from checker.model_audit import audit_models
from checker.model_audit.load import ExternalArray, TensorStore
from checker.model_audit.tensors import Reshaped, Stored, Transposed, flat_keys, iter_blocks, sample_keys

REFERENCE = mf.REFERENCE


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    return mf.build_all(tmp_path_factory.mktemp("model_fixtures"))


def audit(model: Path, reference: Path = REFERENCE, *extra: str) -> tuple[int, dict, str]:
    """Run the CLI in JSON; return (exit code, document, output)."""
    result = CliRunner().invoke(main, ["model", str(model), "--reference", str(reference), "--format", "json", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output), result.output


def rows(document: dict) -> dict[str, dict]:
    return {row["reference"] or row["submitted"]: row for row in document["tensors"]}


def named(document: dict, rule: str) -> set[str]:
    """Reference tensor names of the rows a rule was raised for."""
    return {row["reference"] for row in document["tensors"] if row["rule"] == rule}


def logits(model: Path) -> np.ndarray:
    import onnxruntime as ort

    x, _ = mf.digits_inputs("accuracy")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x[:64]})[0]


# -- equivalent copies pass -------------------------------------------------------------------------
def test_identical_copy_passes(fixtures):
    code, doc, _ = audit(fixtures["identical"])
    assert code == 0 and doc["verdict"] == "reference"
    assert {r["verdict"] for r in doc["tensors"]} == {"identical"}
    assert {r["mapped_by"] for r in doc["tensors"]} == {"name"} and len(doc["tensors"]) == 4


def test_reexported_copy_with_renamed_tensors_passes(fixtures):
    assert np.allclose(logits(fixtures["renamed"]), logits(REFERENCE), atol=1e-5)  # the fixture is equivalent
    code, doc, _ = audit(fixtures["renamed"])
    assert code == 0 and doc["verdict"] == "reference"
    table = rows(doc)
    assert table["fc1_w"]["submitted"] == "onnx::Gemm_17" and table["fc2_b"]["submitted"] == "layers.2.bias"
    assert any("transposed (Gemm transB=1)" in t for t in table["fc1_w"]["transforms"])
    assert any("Add after MatMul read as its bias" in t for t in table["fc2_b"]["transforms"])
    assert {r["verdict"] for r in doc["tensors"]} == {"identical"}
    assert {r["mapped_by"] for r in doc["tensors"]} <= {"values", "layer", "position"}


def test_batch_norm_folded_copy_passes(fixtures):
    reference_bn, folded = fixtures["reference_bn"], fixtures["bn_folded"]
    assert np.allclose(logits(folded), logits(reference_bn), atol=1e-4)
    code, doc, _ = audit(folded, reference_bn)
    assert code == 0 and doc["verdict"] == "reference"
    assert doc["folded"] == ["reference: bn1 -> fc1"]
    table = rows(doc)
    assert table["fc1_w"]["verdict"] == "rounding" and table["fc1_b"]["verdict"] == "rounding"
    assert table["fc1_w"]["max_steps"] < 4 and table["fc2_w"]["verdict"] == "identical"
    # the same folded copy against the unfolded bundled reference is not the reference: fc1 was rescaled
    code, doc, _ = audit(folded)
    assert code == 1 and "fc1_w" in named(doc, "M006") | named(doc, "M007")


# -- quantized copies pass, formats reported --------------------------------------------------------
@pytest.mark.parametrize("key", ["int8_qdq", "int8_qoperator"])
def test_int8_static_quantization_passes(fixtures, key):
    code, doc, output = audit(fixtures[key])
    assert code == 0 and doc["verdict"] == "reference", output
    table = rows(doc)
    assert {r["verdict"] for r in table.values()} == {"quantized"}
    assert table["fc1_w"]["format"].startswith("INT8 per-channel (axis 1)")
    assert table["fc1_b"]["format"].startswith("INT32")
    assert doc["weight_formats"] == {"INT32": 2, "INT8": 2}
    assert doc["activation_formats"].get("UINT8", 0) >= 1
    for name in ("fc1_w", "fc2_w"):
        assert 0.49 <= table[name]["max_steps"] <= 0.5 + 1e-9  # round to nearest: half a step at most
        assert table[name]["beyond_step"] == 0 and table[name]["zeros_new"] == 0
        assert table[name]["correlation"] > 0.9999
    assert any(f["rule"] == "M005" and f["severity"] == "info" for f in doc["findings"])
    if key == "int8_qoperator":
        assert any(f["rule"] == "M003" and f["severity"] == "info" for f in doc["findings"])  # com.microsoft QGemm


def test_int8_under_v05_whitelist_flags_only_the_int32_accumulator_bias(fixtures):
    code, doc, _ = audit(fixtures["int8_qdq"], REFERENCE, "--round", "v0.5")
    assert code == 0 and doc["allowed_formats"] and "INT8" in doc["allowed_formats"]
    format_findings = [f for f in doc["findings"] if f["rule"] == "M009"]
    assert [f["severity"] for f in format_findings] == ["warning"] and "INT32" in format_findings[0]["message"]


@pytest.mark.parametrize("key,fmt", [("fp16", "FP16"), ("bf16", "BF16")])
def test_half_precision_copies_pass_as_quantization(fixtures, key, fmt):
    code, doc, _ = audit(fixtures[key], REFERENCE, "--round", "v0.5")
    assert code == 0 and doc["verdict"] == "reference"
    assert doc["weight_formats"] == {fmt: 4}
    assert {r["verdict"] for r in doc["tensors"]} == {"quantized"}
    assert all(r["max_steps"] <= 0.5 and r["off_nearest"] == 0 for r in doc["tensors"])
    assert not [f for f in doc["findings"] if f["rule"] == "M009"]
    if key == "fp16":
        assert doc["activation_formats"] == {"FP16": 1, "FP32": 1}  # input cast to FP16, logits back


def test_fp8_scaled_weights_pass_in_v10_but_not_in_v05(tmp_path):
    """FP8 (E4M3FN) codes with a per-tensor scale: a format v0.5's list does not have."""
    import ml_dtypes

    p = mf.reference_params()
    inits, nodes = [], []
    for name, value in p.items():
        scale = np.float32(np.abs(value).max() / 448.0)
        inits += [numpy_helper.from_array((value / scale).astype(ml_dtypes.float8_e4m3fn), f"{name}_fp8"),
                  numpy_helper.from_array(np.array(scale, np.float32), f"{name}_scale")]
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_fp8", f"{name}_scale"], [name], name=f"dq_{name}"))
    nodes += [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
              helper.make_node("Gemm", ["flat", "fc1_w", "fc1_b"], ["fc1"], name="fc1"),
              helper.make_node("Relu", ["fc1"], ["relu"]),
              helper.make_node("Gemm", ["relu", "fc2_w", "fc2_b"], ["logits"], name="fc2")]
    model = mf._save(mf._model(nodes, inits), tmp_path / "fp8.onnx")
    code, doc, _ = audit(model, REFERENCE, "--round", "v1.0")
    assert code == 0 and {r["verdict"] for r in doc["tensors"]} == {"quantized"}
    assert doc["weight_formats"] == {"FP8-E4M3FN": 4}
    code, doc, _ = audit(model, REFERENCE, "--round", "v0.5")
    assert code == 1 and [f["found"] for f in doc["findings"] if f["rule"] == "M009"] == ["FP8-E4M3FN"]


# -- changed copies fail with the right rule and tensors --------------------------------------------
def test_magnitude_pruned_copy_fails_m008(fixtures):
    code, doc, output = audit(fixtures["pruned"])
    assert code == 1 and doc["verdict"] == "not-reference"
    assert named(doc, "M008") == {"fc1_w", "fc2_w"}
    table = rows(doc)
    for name in ("fc1_w", "fc2_w"):
        assert 0.29 <= table[name]["zeros_new"] / table[name]["elements"] <= 0.31
        assert table[name]["beyond_step"] == 0  # the surviving weights are untouched
    assert table["fc1_b"]["verdict"] == table["fc2_b"]["verdict"] == "identical"
    messages = [f["message"] for f in doc["findings"] if f["rule"] == "M008"]
    assert any("'fc1_w'" in m for m in messages) and any("'fc2_w'" in m for m in messages)


def test_finetuned_copy_fails_m006(fixtures):
    code, doc, _ = audit(fixtures["finetuned"])
    assert code == 1 and named(doc, "M006") == {"fc1_w", "fc1_b", "fc2_w", "fc2_b"}
    for row in doc["tensors"]:
        assert row["beyond_fraction"] > 0.5 and row["correlation"] > 0.99  # structured drift, not replacement


def test_reinitialised_layer_fails_m007(fixtures):
    code, doc, _ = audit(fixtures["reinit"])
    assert code == 1 and named(doc, "M007") == {"fc2_w", "fc2_b"}
    table = rows(doc)
    assert table["fc1_w"]["verdict"] == table["fc1_b"]["verdict"] == "identical"
    assert abs(table["fc2_w"]["correlation"]) < 0.5


def test_removed_hidden_units_and_zeroed_channel_are_pruning(tmp_path):
    p = mf.reference_params()
    shrunk = mf.mlp({"fc1_w": p["fc1_w"][:, :24], "fc1_b": p["fc1_b"][:24], "fc2_w": p["fc2_w"][:24],
                     "fc2_b": p["fc2_b"]}, tmp_path / "shrunk.onnx")
    code, doc, _ = audit(shrunk)
    assert code == 1 and {"fc1_w", "fc2_w"} <= named(doc, "M008")
    zeroed = dict(p)
    zeroed["fc1_w"] = p["fc1_w"].copy()
    zeroed["fc1_w"][:, 5] = 0.0  # one hidden unit's input weights: a structured cut of 3 % of the elements
    code, doc, _ = audit(mf.mlp(zeroed, tmp_path / "zeroed.onnx"))
    assert code == 1 and named(doc, "M008") == {"fc1_w"} and rows(doc)["fc1_w"]["cols_zeroed"] == 1


def test_isolated_edit_is_a_warning_and_strict_fails(tmp_path):
    p = mf.reference_params()
    p["fc1_w"] = p["fc1_w"].copy()
    p["fc1_w"][3, 7] += 0.25
    model = mf.mlp(p, tmp_path / "edited.onnx")
    code, doc, _ = audit(model)
    assert code == 0 and named(doc, "M010") == {"fc1_w"} and rows(doc)["fc1_w"]["beyond_step"] == 1
    code, _, _ = audit(model, REFERENCE, "--strict")
    assert code == 1


# -- large models, bounded memory -------------------------------------------------------------------
_CHILD = r"""
import json, sys
import numpy, onnx, pydantic, checker.cli, checker.model_audit.audit  # imports before the baseline


def high_water_kb():
    # VmHWM: the peak resident set of this process image (ru_maxrss would include the parent's
    # memory at fork time, which exec carries over on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])


base = high_water_kb()
status = 0
try:
    checker.cli.main(sys.argv[1:], standalone_mode=False)
except SystemExit as exc:
    status = exc.code
sys.stderr.write(json.dumps({"base_kb": base, "peak_kb": high_water_kb(), "status": status}) + "\n")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/status (VmHWM) and a /tmp with room for 216 MB")
def test_large_external_data_model_is_audited_within_bounded_memory(tmp_path):
    folder = tmp_path / "large"
    try:
        reference, submitted = mf.external_large(folder)
        tensor_bytes = (reference.parent / "weights.bin").stat().st_size
        assert tensor_bytes > 100 * 1024 * 1024
        report = tmp_path / "report.json"
        run = subprocess.run([sys.executable, "-c", _CHILD, "model", str(submitted), "--reference", str(reference),
                              "--format", "json", "--output", str(report), "--no-progress"],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        measured = json.loads(run.stderr.strip().splitlines()[-1])
        doc = json.loads(report.read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert measured["status"] == 0, run.stderr
    growth_mb = (measured["peak_kb"] - measured["base_kb"]) / 1024
    print(f"\npeak RSS {measured['peak_kb'] / 1024:.0f} MB, {growth_mb:.0f} MB above the imports, "
          f"for two {tensor_bytes / 2**20:.0f} MB tensors (one read transposed)")
    assert growth_mb < 80, measured  # loading either tensor alone would take 103 MB (206 MB as float64)
    table = rows(doc)
    assert table["big_w"]["verdict"] == "identical" and table["big_w"]["elements"] == 5200 * 5200
    assert table["big_w"]["submitted"] == "proj.weight" and doc["submitted"]["external_data"]


# -- untrusted input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_external_data_leaving_the_folder_is_refused_and_never_read(fixtures, tmp_path, how, monkeypatch):
    model, outside = mf.traversal(tmp_path, how)
    opened: list[Path] = []
    original = TensorStore._open

    def spy(self, path):
        opened.append(Path(path).resolve())
        return original(self, path)

    monkeypatch.setattr(TensorStore, "_open", spy)
    result = audit_models(model, REFERENCE)
    assert outside.resolve() not in opened
    refused = [f for f in result.findings if f.rule == "M002"]
    assert len(refused) == 1 and "fc1_w" in refused[0].message and refused[0].severity.value == "error"
    assert rows(result.document.model_dump())["fc1_w"]["verdict"] == "unverified"
    assert rows(result.document.model_dump())["fc2_w"]["verdict"] == "identical"
    monkeypatch.undo()
    code, doc, _ = audit(model)
    assert code == 1 and doc["verdict"] == "not-reference"


def test_external_data_range_outside_the_file_is_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"\0" * 100)
    model = onnx.load(str(REFERENCE))
    model.graph.initializer[0].CopyFrom(mf._external("fc1_w", [64, 32], "w.bin", 0, 64 * 32 * 4))
    path = mf._save(model, folder / "model.onnx")
    code, doc, _ = audit(path)
    assert code == 1 and any(f["rule"] == "M002" and "outside" in f["message"] for f in doc["findings"])


@pytest.mark.parametrize("content", [b"", b"\x08\x01garbage-that-is-not-onnx" * 3, None])
def test_garbage_model_is_a_finding_not_a_traceback(fixtures, tmp_path, content):
    path = fixtures["garbage"] if content is None else tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["model", str(path), "--reference", str(REFERENCE)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "M001" in result.output and "not an ONNX model" in result.output


def test_unusable_arguments_are_tool_errors(fixtures, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["model", str(tmp_path / "missing.onnx"), "--reference", str(REFERENCE)]).exit_code == 2
    assert runner.invoke(main, ["model", str(fixtures["identical"]), "--reference", str(fixtures["garbage"])]).exit_code == 2
    assert runner.invoke(main, ["model", str(fixtures["identical"]), "--reference", str(REFERENCE),
                                "--round", "v9.9"]).exit_code == 2
    result = runner.invoke(main, ["model", str(fixtures["identical"]), "--reference", str(REFERENCE),
                                  "--output", str(fixtures["identical"])])
    assert result.exit_code == 2 and fixtures["identical"].read_bytes() == REFERENCE.read_bytes()


def test_custom_operator_domain_is_a_warning(tmp_path):
    model = onnx.load(str(REFERENCE))
    node = model.graph.node[2]  # Relu
    node.op_type, node.domain = "SecretRelu", "com.acme"
    model.opset_import.append(helper.make_opsetid("com.acme", 1))
    path = tmp_path / "custom.onnx"
    onnx.save_model(model, str(path))
    code, doc, _ = audit(path)
    assert code == 0 and doc["verdict"] == "unverified"
    custom = [f for f in doc["findings"] if f["rule"] == "M003"]
    assert custom and custom[0]["severity"] == "warning" and "com.acme" in custom[0]["message"]


def test_weight_without_counterpart_is_reported(tmp_path):
    model = onnx.load(str(REFERENCE))
    extra = numpy_helper.from_array(np.full(10, 0.5, np.float32), "extra_scale")
    model.graph.initializer.append(extra)
    model.graph.node[3].output[0] = "pre"
    model.graph.node.append(helper.make_node("Mul", ["pre", "extra_scale"], ["logits"], name="supplement"))
    path = tmp_path / "supplement.onnx"
    onnx.save_model(model, str(path))
    code, doc, _ = audit(path)
    assert code == 0 and doc["verdict"] == "unverified"
    assert [r["submitted"] for r in doc["tensors"] if r["rule"] == "M004"] == ["extra_scale"]


# -- outputs and `check --models` -------------------------------------------------------------------
def test_text_and_markdown_show_the_per_tensor_table(fixtures):
    runner = CliRunner()
    text = runner.invoke(main, ["model", str(fixtures["pruned"]), "--reference", str(REFERENCE)]).output
    assert "reference  submitted" in text and "PRUNED" in text and "E M008" in text
    markdown = runner.invoke(main, ["model", str(fixtures["int8_qdq"]), "--reference", str(REFERENCE),
                                    "--format", "markdown"]).output
    assert "| reference | submitted |" in markdown and "| fc1_w | fc1_w_quantized |" in markdown


def test_check_runs_the_model_audit_for_mapped_results(fixtures, tmp_path):
    from checker.check import run_check
    from checker.resources import data_dir

    tree = data_dir("reference_runs") / "sample_submission"
    mapping = tmp_path / "models.yaml"
    mapping.write_text(json.dumps({
        "reference": str(REFERENCE),
        "models": [
            {"results": "closed/*/results/*/digits/Offline", "model": str(fixtures["pruned"])},
            {"results": "closed/*/results/*/digits/S*", "model": str(fixtures["int8_qdq"])},
            {"results": "closed/*/results/*/no-such-benchmark/*", "model": str(fixtures["identical"])},
        ],
    }))
    document = run_check(tree, models=mapping)
    by_scenario = {r.scenario: r for r in document.results}
    offline = [f for f in by_scenario["Offline"].findings if f.rule == "M008"]
    assert by_scenario["Offline"].verdict == "invalid" and len(offline) == 2
    assert not [f for f in by_scenario["Server"].findings if f.rule.startswith("M") and f.severity == "error"]
    assert any(f.rule == "M005" for f in by_scenario["SingleStream"].findings)
    assert any(f.rule == "M011" for f in document.findings)
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [{results: '*', model: nowhere.onnx, reference: nowhere.onnx}]")
    result = CliRunner().invoke(main, ["check", str(tree), "--models", str(bad)])
    assert result.exit_code == 2 and "not found" in result.output


# -- the lazy block machinery ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (7,), (5, 3), (4, 1, 6), (3, 5, 2, 2)])
def test_blocks_and_flat_ranges_cover_each_element_once(shape):
    total = math.prod(shape)
    for limit in (1, 4, 7, 1000):
        seen = np.zeros(shape, int)
        for key in iter_blocks(shape, limit):
            seen[key] += 1
        assert (seen == 1).all()
    values = np.arange(total, dtype=np.float64).reshape(shape)
    for start in range(total):
        for stop in range(start, total + 1, max(1, total // 5)):
            got = np.concatenate([values[k].reshape(-1) for k in flat_keys(shape, start, stop)] or [np.zeros(0)])
            assert np.array_equal(got, np.arange(start, stop))
    assert sum(values[k].size for k in sample_keys(shape)) == min(total, 8 * 512)


def test_external_array_reads_match_numpy(tmp_path):
    values = np.arange(6 * 5 * 4, dtype="<f4").reshape(6, 5, 4)
    path = tmp_path / "x.bin"
    path.write_bytes(b"\1" * 12 + values.tobytes())
    fd = os.open(path, os.O_RDONLY)
    try:
        array = ExternalArray(fd, 12, values.shape, np.dtype("<f4"))
        for key in [(slice(1, 4), slice(None), slice(None)), (slice(None), slice(2, 3), slice(1, 3)),
                    (slice(5, 6), slice(0, 5), slice(0, 4)), (slice(None), slice(None), slice(0, 1))]:
            assert np.array_equal(array[key], values[key])
        assert np.array_equal(array.flat(7, 50), values.reshape(-1)[7:50])
        lazy = Reshaped(Transposed(Stored(array), (2, 0, 1)), (4, 30))
        assert np.array_equal(lazy.full(), values.transpose(2, 0, 1).reshape(4, 30))
    finally:
        os.close(fd)


def test_every_m_rule_is_explained():
    runner = CliRunner()
    for rule_id in ("M001", "M002", "M003", "M004", "M005", "M006", "M007", "M008", "M009", "M010", "M011"):
        result = runner.invoke(main, ["explain", rule_id])
        assert result.exit_code == 0 and "Rules' section" in result.output, rule_id


def test_fixture_sanity_quantized_model_still_classifies(fixtures):
    """The INT8 fixture is a real quantization: its accuracy stays close to the reference's."""
    x, y = mf.digits_inputs("accuracy")
    import onnxruntime as ort

    session = ort.InferenceSession(str(fixtures["int8_qdq"]), providers=["CPUExecutionProvider"])
    accuracy = float((session.run(None, {"input": x})[0].argmax(axis=1) == y).mean())
    assert accuracy > 0.95
    assert TensorProto.INT8 in {t.data_type for t in onnx.load(str(fixtures["int8_qdq"])).graph.initializer}
