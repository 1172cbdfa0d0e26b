"""`mlperf-audit rerun` on results of the bundled sample submission (a demo tree): the reference
model reproduces everything; a perturbed model shows its disagreement and accuracy drop; an edited
loaded-sample list is caught by replaying LoadGen with the claimed seeds."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from checker.cli import main
from checker.rerun.sample_data import load_sample, sample_folder

pytestmark = pytest.mark.loadgen

RESULTS = sample_folder().parent / "sample_submission" / "closed" / "mlperf-audit-demo" / "results" / "demo_cpu" / "digits"


def _digest(root: Path) -> dict[str, str]:
    return {p.as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _rerun(*args: str):
    return CliRunner().invoke(main, ["rerun", *args])


def test_reference_model_reproduces_a_demo_result(tmp_path):
    before = _digest(RESULTS / "SingleStream")
    result = _rerun(str(RESULTS / "SingleStream"), "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert "top-1 agreement  100.000 % of 500 samples" in result.output
    assert re.search(r"reference model\s+97\.200 %", result.output)
    assert re.search(r"given model\s+97\.200 %", result.output)
    assert "0 differ; loaded samples identical (256 samples)" in result.output
    assert "TEST01 accuracy: TEST PASS" in result.output
    assert "SCALED DOWN" in result.output
    # Only the timing comparisons (TEST01 performance, TEST04: warnings) may flag on a busy host.
    flagged = set(re.findall(r"^  ([EW]) (R\d{3})", result.output, re.MULTILINE))
    assert flagged <= {("W", "R007"), ("W", "R008")}, result.output
    assert _digest(RESULTS / "SingleStream") == before  # the submission is only read


def perturbed_model(target: Path) -> Path:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(load_sample().model_path))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if init.name == "fc1_w":
            weights = numpy_helper.to_array(init)
            noisy = (weights + rng.normal(0, 0.5 * weights.std(), weights.shape)).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    target.write_bytes(model.SerializeToString())
    return target


def test_perturbed_model_shows_disagreement_and_accuracy_drop(tmp_path):
    model = perturbed_model(tmp_path / "perturbed.onnx")
    result = _rerun(str(RESULTS / "Offline"), "--model", str(model), "--out", str(tmp_path / "runs"),
                    "--format", "json")
    assert result.exit_code == 1, result.output
    import json

    report = json.loads(result.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert {"R001", "R002", "R003"} <= rules
    accuracy = report["accuracy"]
    assert accuracy["reference"]["percent"] == pytest.approx(97.2)
    assert accuracy["model"]["percent"] < 0.99 * 97.2
    assert accuracy["top1_agreement"] < 100.0
    assert report["submission_log"]["different"] > 0


def test_an_edited_loaded_sample_list_is_caught(tmp_path):
    result_dir = tmp_path / "Offline"
    shutil.copytree(RESULTS / "Offline", result_dir)
    detail = result_dir / "performance" / "run_1" / "mlperf_log_detail.txt"
    text = detail.read_text()
    match = re.search(r'"key": "loaded_qsl_set", "value": \[(\d+),(\d+),', text)
    assert match
    first, second = match.group(1), match.group(2)
    edited = text.replace(match.group(0), f'"key": "loaded_qsl_set", "value": [{second},{first},', 1)
    detail.write_text(edited)
    result = _rerun(str(result_dir), "--out", str(tmp_path / "runs"))
    assert result.exit_code == 1
    assert "R006" in result.output and "loaded samples different" in result.output


def test_rerun_refuses_a_folder_without_logs(tmp_path):
    result = _rerun(str(tmp_path))
    assert result.exit_code == 2 and "detail log" in result.output
