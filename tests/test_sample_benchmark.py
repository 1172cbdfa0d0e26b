"""The bundled sample benchmark: bit-for-bit rebuild, integrity, and its recorded reference accuracy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from checker.rerun.inference import reference_outputs
from checker.rerun.sample_data import load_sample, sample_folder

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "reference_runs" / "build_sample.py"
FILES = ("digits.npz", "digits_mlp.onnx", "sample.json")


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                    reason="the rebuild needs scikit-learn (in the test extra)")
def test_rebuild_is_bit_for_bit(tmp_path):
    completed = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--out", str(tmp_path)],
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (sample_folder() / name).read_bytes(), name


def test_committed_files_match_their_hashes_and_stay_small():
    sample = load_sample()
    sample.verify()
    assert sum((sample_folder() / name).stat().st_size for name in FILES) < 200_000


def test_subsets_are_disjoint_and_cover_the_data():
    sample = load_sample()
    with np.load(sample.data_path) as archive:
        train, calibration, accuracy = (set(archive[k].tolist()) for k in ("train_idx", "calibration_idx", "accuracy_idx"))
        count = len(archive["labels"])
    assert train.isdisjoint(accuracy)
    assert calibration <= train
    assert train | accuracy == set(range(count))
    assert len(accuracy) == sample.qsl_size == 500


def test_reference_accuracy_holds_under_onnx_runtime():
    sample = load_sample()
    logits = reference_outputs(sample.model_path, sample.qsl_samples())
    assert logits.shape == (sample.qsl_size, 10)
    good = int((logits.argmax(axis=1) == sample.qsl_labels()).sum())
    assert good == sample.meta["reference_accuracy"]["good"]
    assert sample.reference_accuracy == pytest.approx(100.0 * good / sample.qsl_size)
    assert sample.reference_accuracy > 95.0  # a real classifier, not chance


# ------------------------------------------------------------------------------------------------
# The sample round's rule pack
# ------------------------------------------------------------------------------------------------

def test_sample_pack_loads_and_has_its_own_seeds():
    from checker.engine.rulepack import known_rounds, load_pack

    pack = load_pack("sample")
    assert pack.log_format == "mllog" and pack.extends == "v1.0"
    others = {name: load_pack(name).seeds for name in known_rounds() if name != "sample"}
    for seeds in others.values():
        assert set(seeds.values()).isdisjoint(pack.seeds.values())
    bench = pack.benchmarks["digits"]
    sample = load_sample()
    assert bench.accuracy[0].target == pytest.approx(0.99 * sample.reference_accuracy, abs=5e-4)
    assert bench.dataset_size == sample.qsl_size


def test_sample_pack_enables_every_v1_rule():
    from checker.engine.rulepack import load_pack

    v1, sample = load_pack("v1.0"), load_pack("sample")
    enabled_v1 = {rule for rule, setting in v1.rules.items() if setting.severity != "off"}
    enabled_sample = {rule for rule, setting in sample.rules.items() if setting.severity != "off"}
    assert enabled_v1 <= enabled_sample


def test_rules_command_lists_the_sample_round():
    from click.testing import CliRunner

    from checker.cli import main

    result = CliRunner().invoke(main, ["rules", "--round", "sample"])
    assert result.exit_code == 0, result.output
    assert "sample round (digits)" in result.output and "P008" in result.output
    assert "sample" in CliRunner().invoke(main, ["rules"]).output.splitlines()[0]


# ------------------------------------------------------------------------------------------------
# The bundled sample submission (reference_runs/sample_submission)
# ------------------------------------------------------------------------------------------------

def test_check_without_path_checks_the_bundled_sample_cleanly():
    from click.testing import CliRunner

    from checker.cli import main

    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "bundled sample submission" in result.output
    assert "sample round (digits)" in result.output and "detected" in result.output
    assert "4 results: 4 valid, 0 invalid, 0 waived · 0 errors, 0 warnings" in result.output


def test_bundled_sample_json_report_stays_pure_json():
    import json

    from click.testing import CliRunner

    from checker.cli import main

    result = CliRunner().invoke(main, ["check", "--format", "json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["round"] == "sample"
    assert {r["scenario"] for r in document["results"]} == {"SingleStream", "MultiStream", "Server", "Offline"}
    assert all(r["verdict"] == "valid" for r in document["results"])


def test_bundled_sample_is_small():
    folder = sample_folder().parent
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert size <= 2 * 1024 * 1024
