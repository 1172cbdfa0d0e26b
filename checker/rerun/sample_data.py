"""The bundled sample benchmark ``digits``: its data, reference model and accuracy computation.

The files live in ``reference_runs/digits`` (rebuilt bit for bit by
``reference_runs/build_sample.py``; only that script needs scikit-learn). This module is the only
place the product reads them, so the QSL order, the preprocessing and the accuracy formula are
defined once and shared by the demo, the tests and (later) ``rerun``.

The QSL is the held-out accuracy subset in ``accuracy_idx`` order: ``qsl_idx`` *i* is image
``accuracy_idx[i]``, its label ``labels[accuracy_idx[i]]``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from checker.resources import data_dir

BENCHMARK = "digits"
SAMPLE_FOLDER = "digits"
META_NAME = "sample.json"
PIXEL_SCALE = np.float32(16.0)


class SampleDataError(Exception):
    """The bundled sample files are missing or do not match their recorded SHA-256."""


@dataclass(frozen=True)
class DigitsSample:
    """The loaded sample benchmark. Arrays are read lazily from the committed ``.npz``."""

    folder: Path
    meta: dict[str, Any]

    @property
    def data_path(self) -> Path:
        return self.folder / self.meta["files"]["data"]

    @property
    def model_path(self) -> Path:
        return self.folder / self.meta["files"]["model"]

    @cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.data_path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    @property
    def accuracy_idx(self) -> np.ndarray:
        return self._arrays["accuracy_idx"].astype(np.int64)

    @property
    def calibration_idx(self) -> np.ndarray:
        return self._arrays["calibration_idx"].astype(np.int64)

    @property
    def qsl_size(self) -> int:
        return int(len(self.accuracy_idx))

    def qsl_samples(self) -> np.ndarray:
        """float32 [N, 1, 8, 8]: the model input for every qsl_idx, in QSL order."""
        images = self._arrays["images"][self.accuracy_idx]
        return np.ascontiguousarray((images.astype(np.float32) / PIXEL_SCALE).reshape(-1, 1, 8, 8))

    def qsl_labels(self) -> np.ndarray:
        """The label of every qsl_idx, in QSL order."""
        return self._arrays["labels"][self.accuracy_idx].astype(np.int64)

    @property
    def reference_accuracy(self) -> float:
        """FP32 reference top-1 accuracy on the QSL, in percent (as recorded by the build)."""
        return float(self.meta["reference_accuracy"]["percent"])

    def write_qsl_npy(self, path: Path) -> Path:
        """Write the QSL samples as the ``.npy`` the LoadGen harness reads; returns ``path``."""
        buffer = io.BytesIO()
        np.save(buffer, self.qsl_samples(), allow_pickle=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        return path

    def verify(self) -> None:
        """Raise :class:`SampleDataError` unless both files match the SHA-256 in sample.json."""
        for name, expected in self.meta["files"]["sha256"].items():
            path = self.folder / name
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                raise SampleDataError(f"cannot read {path}: {exc}") from exc
            if digest != expected:
                raise SampleDataError(f"{path} does not match sample.json (sha256 {digest}, expected {expected})")


def sample_folder() -> Path:
    return data_dir("reference_runs") / SAMPLE_FOLDER


def load_sample(folder: Path | None = None) -> DigitsSample:
    """Read sample.json of the bundled (or the given) sample folder."""
    folder = folder or sample_folder()
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SampleDataError(f"cannot read {folder / META_NAME}: {exc}") from exc
    return DigitsSample(folder=folder, meta=meta)


@dataclass(frozen=True)
class AccuracyScore:
    """Top-1 accuracy of accuracy-log entries against the labels."""

    good: int
    total: int
    undecodable: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.good / self.total if self.total else 0.0

    def line(self) -> str:
        """The classification line of accuracy.txt, in the reference script's format."""
        return f"accuracy={self.percent:.3f}%, good={self.good}, total={self.total}"


def decode_logits(data_hex: str, classes: int = 10) -> np.ndarray | None:
    """An accuracy-log ``data`` field as float32 logits; None when it is not ``classes`` floats."""
    try:
        raw = bytes.fromhex(data_hex)
    except ValueError:
        return None
    if len(raw) != 4 * classes:
        return None
    return np.frombuffer(raw, dtype="<f4")


def score_entries(entries: list[dict[str, Any]], labels: np.ndarray) -> AccuracyScore:
    """Top-1 accuracy of LoadGen accuracy-log entries. Each qsl_idx counts once (the first entry),
    as the reference accuracy scripts deduplicate; an undecodable payload counts as wrong."""
    seen: set[int] = set()
    good = undecodable = 0
    for entry in entries:
        index = int(entry["qsl_idx"])
        if index in seen:
            continue
        seen.add(index)
        logits = decode_logits(str(entry.get("data", "")))
        if logits is None or not 0 <= index < len(labels):
            undecodable += 1
            continue
        if int(np.argmax(logits)) == int(labels[index]):
            good += 1
    return AccuracyScore(good=good, total=len(seen), undecodable=undecodable)
