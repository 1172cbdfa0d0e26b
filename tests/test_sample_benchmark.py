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
