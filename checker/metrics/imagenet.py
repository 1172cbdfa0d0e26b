"""ImageNet top-1 accuracy (ResNet-50, MobileNet and their open-division variants).

Labels come from ``val_map.txt`` (``<file name> <class>`` per line; line i is the label of
``qsl_idx`` i, as the reference QSL orders the validation set). The SUT's response bytes are the
submitter's business, so the encoding is detected from the data instead of assumed:

* a class index in one value: int32, int64, float32 or float64 little-endian, or an int32/float32
  in the first half of an 8-byte response (the rest left uninitialised, as some v0.5 SUTs did);
* a vector of 1000 or 1001 scores (float32, float16, float64, int8, uint8): the argmax;
* what the bytes alone cannot tell, the labels decide: a class index may be 0-based or follow the
  1001-class convention (0 = background, ImageNet classes 1..1000), one-byte scores may be signed
  or unsigned. Every such reading is scored, the one that agrees best with the labels is taken, and
  when it is not the first reading the figure of the first is stated too (a choice between two
  fixed readings cannot flatter a result noticeably: the wrong one scores about 0.1 %).

An encoding is accepted only when every payload decodes to a finite integral class index in range;
the first accepted candidate in the order above wins, and the Score says which one it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checker.metrics.base import AnnotationError, LogEntries, Score, ScoreError, register

CLASSES = 1000
_SCALARS = (("int32", "<i4"), ("float32", "<f4"), ("int64", "<i8"), ("float64", "<f8"),
            ("int16", "<i2"), ("float16", "<f2"))
_VECTORS = (("float32", "<f4"), ("float16", "<f2"), ("float64", "<f8"), ("int8", "<i1"), ("uint8", "<u1"),
            ("int32", "<i4"))


@dataclass
class Labels:
    values: np.ndarray
    path: Path


@dataclass
class Decoded:
    """The predicted classes and how they were read; ``alternatives`` are readings the bytes alone
    cannot rule out (1-based class ids, signed or unsigned one-byte scores): the labels decide."""

    classes: np.ndarray
    description: str
    alternatives: list[tuple[np.ndarray, str]]


#: The shape of every real val_map.txt: ``<file name><one space or tab><ASCII digits>`` per line, each
#: line ending in a newline but perhaps the last. Such a text's labels are every second word.
_PLAIN_VAL_MAP = re.compile(r"(?:[^\s]++[ \t][0-9]++\n)*+(?:[^\s]++[ \t][0-9]++)?+")


def load_val_map(path: Path) -> Labels:
    """``val_map.txt`` -> labels by line. Raises AnnotationError on anything unexpected.

    A text of the plain shape (:data:`_PLAIN_VAL_MAP`, checked by one match) is read by splitting it
    into words: 14 instead of 19 ms for the 50,000 lines, in every worker process that scores ImageNet
    results; anything else (blank lines, CRLF, more columns, a bad label) takes the line-by-line
    reading, which also says where the text is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AnnotationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if text and _PLAIN_VAL_MAP.fullmatch(text):
        return _labels([int(word) for word in text.split()[1::2]], path)
    labels = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        # ASCII digits only: str.isdigit() also takes superscripts, which int() rejects
        if len(parts) < 2 or not (parts[-1].isascii() and parts[-1].lstrip("-").isdigit()):
            raise AnnotationError(f"{path}:{number}: expected '<image> <class>', found {line[:80]!r}")
        labels.append(int(parts[-1]))
    return _labels(labels, path)


def _labels(labels: list[int], path: Path) -> Labels:
    if not labels:
        raise AnnotationError(f"{path}: no labels")
    if min(labels) < 0 or max(labels) >= CLASSES:  # before int64: a 30-digit id must not overflow
        raise AnnotationError(f"{path}: class ids outside 0..{CLASSES - 1}")
    return Labels(values=np.asarray(labels, dtype=np.int64), path=Path(path))


def _matrix(payloads: list[bytes], size: int) -> np.ndarray:
    return np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(len(payloads), size)


def _integral_in_range(values: np.ndarray, high: int) -> bool:
    if values.dtype.kind == "f" and (not np.all(np.isfinite(values)) or not np.all(values == np.floor(values))):
        return False
    return bool(values.size) and values.min() >= 0 and values.max() <= high


def decode_classes(payloads: list[bytes]) -> Decoded:
    """Detect the encoding of classification responses and return the predicted class per entry."""
    if not payloads:
        raise ScoreError("no entries to score")
    sizes = {len(p) for p in payloads}
    if len(sizes) != 1:
        raise ScoreError(f"payloads of {len(sizes)} different sizes ({', '.join(map(str, sorted(sizes)[:5]))} bytes)")
    size = sizes.pop()
    raw = _matrix(payloads, size)
    candidates = [(n, c) for n, c in _SCALARS if np.dtype(c).itemsize == size]
    if size == 8:  # a 4-byte value in an 8-byte response, the other half left uninitialised
        candidates += [(n, c) for n, c in _SCALARS if np.dtype(c).itemsize == 4]
    for name, code in candidates:
        width = np.dtype(code).itemsize
        first = raw[:, :width].copy().view(code).reshape(-1)
        if _integral_in_range(first, CLASSES):
            where = "" if size == width else f" in the first {width} of {size} bytes"
            text = f"{name} class index{where}"
            classes = first.astype(np.int64)
            return Decoded(classes, f"{text}, 0-based",
                           [(classes - 1, f"{text}, 1-based (1001-class convention, 0 = background)")])
    for count in (CLASSES + 1, CLASSES):
        readings: list[tuple[np.ndarray, str]] = []
        for name, code in _VECTORS:
            width = np.dtype(code).itemsize
            if size != count * width:
                continue
            scores = raw.copy().view(code).reshape(len(payloads), count)
            if scores.dtype.kind == "f" and not np.all(np.isfinite(scores)):
                continue
            arg = scores.argmax(axis=1).astype(np.int64)
            if count == CLASSES + 1:
                readings.append((arg - 1, f"{count} {name} scores (argmax; index 0 = background, minus 1)"))
            else:
                readings.append((arg, f"{count} {name} scores (argmax)"))
            if width > 1:
                break  # a multi-byte float/int vector is unambiguous once its values are finite
        if readings:
            return Decoded(readings[0][0], readings[0][1], readings[1:])
    raise ScoreError(f"{size}-byte responses are neither a class index (int/float) nor 1000/1001 scores")


class ImagenetTop1:
    name = "imagenet-top1"
    metric = "acc"

    def load_annotations(self, path: Path) -> Labels:
        return load_val_map(path)

    def score(self, entries: LogEntries, annotations: Labels, dataset_size: int | None) -> Score:
        labels = annotations.values
        if len(entries) == 0:
            raise ScoreError("the log has no entries")
        idx = entries.qsl_idx.astype(np.int64)
        if idx.max() >= labels.size:
            raise ScoreError(f"qsl_idx {int(idx.max())} beyond the {labels.size} labels of {annotations.path.name}")
        decoded = decode_classes(entries.payloads)
        truth = labels[idx]
        readings = [(decoded.classes, decoded.description), *decoded.alternatives]
        counted = [(int(np.count_nonzero(classes == truth)), text) for classes, text in readings]
        good, encoding = counted[0]
        for other_good, other_text in counted[1:]:
            if other_good > good:
                good, encoding = other_good, other_text
        if encoding != counted[0][1]:
            encoding += f" (read as {counted[0][1]} it scores {100 * counted[0][0] / len(idx):.3f}%)"
        total = len(idx)
        value = 100.0 * good / total
        detail = f"{good} of {total} correct"
        return Score(metric=self.metric, value=value, detail=detail, counts={"good": good, "total": total},
                     encoding=encoding)


PLUGIN = register(ImagenetTop1())
