"""A rules from A008: accuracy recomputed from the accuracy log, coverage, hash, the plug-in interface.

* Synthetic logs built from the real ImageNet labels with a known number of wrong predictions give
  exactly the expected accuracy, in every output encoding submitters used.
* Every classification result of the corpus with a full accuracy log is recomputed; the figures are
  pinned (one published claim is not supported by its log).
* Coverage, duplicates, hash and the tree's own label file, on edited copies of corpus results.
* A toy plug-in registered through the interface is used end to end.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from tree_builder import copy_system

from checker.check import run_check
from checker.checks.accuracy_recompute import log_entries
from checker.discover import discover
from checker.engine.rulepack import load_pack, rules_dir
from checker.engine.runner import run_checks
from checker.metrics import LogEntries, Score, get_plugin, plugin_names, register
from checker.metrics.base import printed_tolerance, significant_tolerance, unregister
from checker.metrics.imagenet import decode_classes, load_val_map

VAL_MAP = "closed/Alibaba/data_maps/imagenet/val_map.txt"


@pytest.fixture(scope="module")
def val_map(corpus) -> Path:
    return corpus("v1.0") / VAL_MAP


@pytest.fixture(scope="module")
def labels(val_map) -> np.ndarray:
    return load_val_map(val_map).values


def write_log(path: Path, qsl: list[int], payloads: list[bytes]) -> None:
    """An accuracy log in LoadGen's own layout."""
    lines = [f'{{ "seq_id" : {seq}, "qsl_idx" : {idx}, "data" : "{data.hex().upper()}" }}'
             for seq, (idx, data) in enumerate(zip(qsl, payloads, strict=True))]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")


def predictions(labels: np.ndarray, wrong: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(qsl order, predicted class per qsl_idx) with exactly ``wrong`` wrong predictions."""
    rng = np.random.default_rng(seed)
    predicted = labels.copy()
    bad = rng.choice(labels.size, size=wrong, replace=False)
    predicted[bad] = (labels[bad] + 1 + rng.integers(0, 998, size=wrong)) % 1000
    return rng.permutation(labels.size), predicted


# --------------------------------------------------------------------------------------------------
# The plug-in on every encoding


ENCODINGS = {
    "int32": (lambda c: np.int32(c).tobytes(), "int32 class index, 0-based"),
    "int64": (lambda c: np.int64(c).tobytes(), "int64 class index, 0-based"),
    "float32": (lambda c: np.float32(c).tobytes(), "float32 class index, 0-based"),
    "int32-in-8-bytes": (lambda c: np.int32(c).tobytes() + b"\x7f\x13\xa0\x55",
                         "int32 class index in the first 4 of 8 bytes, 0-based"),
    "one-based-int32": (lambda c: np.int32(c + 1).tobytes(), "int32 class index, 1-based (1001-class"),
    "1001-scores": (lambda c: np.eye(1001, dtype=np.float32)[c + 1].tobytes(), "1001 float32 scores"),
    "1000-uint8-scores": (lambda c: (np.eye(1000, dtype=np.uint8)[c] * 200).tobytes(), "1000 uint8 scores"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_synthetic_log_gives_exactly_the_expected_accuracy(labels, val_map, tmp_path, encoding):
    size, wrong = 2000, 137
    order, predicted = predictions(labels[:size], wrong)
    encode, described = ENCODINGS[encoding]
    path = tmp_path / "mlperf_log_accuracy.json"
    write_log(path, order.tolist(), [encode(int(predicted[i])) for i in order])
    plugin = get_plugin("imagenet-top1")
    score = plugin.score(log_entries(path), plugin.load_annotations(val_map), size)
    assert score.counts == {"good": size - wrong, "total": size}
    assert score.value == 100.0 * (size - wrong) / size
    assert score.encoding.startswith(described), score.encoding


def test_undecodable_payloads_are_a_score_error():
    from checker.metrics import ScoreError

    with pytest.raises(ScoreError, match="different sizes"):
        decode_classes([b"\x00" * 4, b"\x00" * 8])
    with pytest.raises(ScoreError, match="neither a class index"):
        decode_classes([np.float32(0.5).tobytes()])


def test_tolerances():
    assert significant_tolerance(76.038) == pytest.approx(0.0005)
    assert significant_tolerance(0.86112) == pytest.approx(0.000005)
    assert printed_tolerance("76.04") == pytest.approx(0.005)
    assert printed_tolerance("76") == pytest.approx(0.5)


# --------------------------------------------------------------------------------------------------
# End to end on a copied v0.5 result


RESULT = "closed/Alibaba/results/alibaba_cloud_t4/resnet/Offline"


@pytest.fixture
def v05_tree(corpus, tmp_path) -> Path:
    return copy_system(corpus("v0.5"), tmp_path / "tree", "closed", "Alibaba", "alibaba_cloud_t4")


def _a_findings(root: Path, round_name: str, annotations=None, result: str = RESULT):
    doc = run_check(root, round_name=round_name, select=["A0", "A1"], annotations=annotations)
    found = [f for r in doc.results if r.path == result for f in r.findings]
    return {rule: [f for f in found if f.rule == rule] for rule in {f.rule for f in found}}


def _write_full_log(root: Path, labels: np.ndarray, wrong: int, drop: int = 0, repeat: int = 0) -> tuple[int, int]:
    order, predicted = predictions(labels, wrong)
    qsl = [int(i) for i in order if i >= drop]  # drop the first `drop` indices
    qsl += qsl[:repeat]
    write_log(root / RESULT / "accuracy/mlperf_log_accuracy.json", qsl,
              [np.int32(predicted[i]).tobytes() for i in qsl])
    return labels.size - wrong, labels.size


def test_supported_claim_is_an_info_with_both_figures(v05_tree, labels, val_map):
    good, total = _write_full_log(v05_tree, labels, wrong=1234)
    (v05_tree / RESULT / "accuracy/accuracy.txt").write_text(f"accuracy=97.532%, good={good}, total={total}\n")
    found = _a_findings(v05_tree, "v0.5", {"imagenet": val_map})
    [a011] = found["A011"]
    assert a011.severity == "info" and a011.line == 1
    assert "recomputed acc = 97.532 (48766 of 50000 correct; int32 class index, 0-based" in a011.message
    assert "A008" not in found and "A009" not in found and "A012" not in found


def test_claim_beyond_five_significant_figures_is_an_error(v05_tree, labels, val_map):
    _write_full_log(v05_tree, labels, wrong=1234)
    (v05_tree / RESULT / "accuracy/accuracy.txt").write_text("accuracy=97.534%, good=48767, total=50000\n")
    [a011] = _a_findings(v05_tree, "v0.5", {"imagenet": val_map})["A011"]
    assert a011.severity == "error" and a011.found == "97.534" and a011.expected.startswith("97.532")
    assert "it states good=48767, total=50000" in a011.message


def test_recomputed_below_target_is_a012(v05_tree, labels, val_map):
    _write_full_log(v05_tree, labels, wrong=20000)
    (v05_tree / RESULT / "accuracy/accuracy.txt").write_text("accuracy=76.000%, good=38000, total=50000\n")
    found = _a_findings(v05_tree, "v0.5", {"imagenet": val_map})
    assert [f.severity for f in found["A011"]] == ["error"]
    [a012] = found["A012"]
    assert a012.severity == "error" and a012.found == "60.000" and a012.expected == ">= 75.6954"


def test_missing_and_repeated_samples(v05_tree, labels, val_map):
    _write_full_log(v05_tree, labels, wrong=0, drop=10, repeat=3)
    found = _a_findings(v05_tree, "v0.5", {"imagenet": val_map})
    [a008] = found["A008"]
    assert a008.severity == "error" and "10 of the 50000 samples" in a008.message and "qsl_idx 0, 1, 2" in a008.message
    assert a008.found == "49990 distinct in range"
    [a009] = found["A009"]
    assert a009.severity == "warning" and "3 entries repeat" in a009.message and a009.line is not None


def test_without_labels_it_says_so_once(v05_tree):
    found = _a_findings(v05_tree, "v0.5")
    [a013] = found["A013"]
    assert a013.severity == "info" and "--annotations imagenet=PATH" in a013.message
    assert "A011" not in found


# --------------------------------------------------------------------------------------------------
# v1.0: the tree's own val_map.txt, truncated logs, the hash


V10_RESULT = "closed/Alibaba/results/A10x1_TRT/resnet50/Offline"


@pytest.fixture
def v10_tree(corpus, tmp_path) -> Path:
    root = copy_system(corpus("v1.0"), tmp_path / "tree", "closed", "Alibaba", "A10x1_TRT")
    shutil.copytree(corpus("v1.0") / "closed/Alibaba/data_maps", root / "closed/Alibaba/data_maps")
    return root


def test_truncated_log_is_reported_once_with_the_visible_entries(v10_tree):
    found = _a_findings(v10_tree, "v1.0", result=V10_RESULT)
    [a013] = found["A013"]
    assert "published truncated copy (135 entries visible" in a013.message
    assert "the visible entries score 82.96: 112 of 135 correct; int32 class index" in a013.message
    assert set(found) == {"A013"}


def test_complete_log_uses_the_trees_val_map_and_checks_the_hash(v10_tree, labels):
    log = v10_tree / V10_RESULT / "accuracy/mlperf_log_accuracy.json"
    order, predicted = predictions(labels, 12000)
    write_log(log, order.tolist(), [np.int32(predicted[i]).tobytes() for i in order])
    digest = hashlib.sha256(log.read_bytes()).hexdigest()
    txt = v10_tree / V10_RESULT / "accuracy/accuracy.txt"
    txt.write_text(f"accuracy=76.000%, good=38000, total=50000\nhash={digest}\n")
    found = _a_findings(v10_tree, "v1.0", result=V10_RESULT)
    assert [f.severity for f in found["A010"]] == ["info"]
    [a011] = found["A011"]
    assert a011.severity == "info" and "labels closed/Alibaba/data_maps/imagenet/val_map.txt" in a011.message
    txt.write_text(f"accuracy=76.000%, good=38000, total=50000\nhash={'0' * 64}\n")
    [a010] = _a_findings(v10_tree, "v1.0", result=V10_RESULT)["A010"]
    assert a010.severity == "error" and a010.line == 2 and a010.expected == digest


def test_a_tampered_tree_val_map_is_not_used(v10_tree, labels):
    order, predicted = predictions(labels, 12000)
    write_log(v10_tree / V10_RESULT / "accuracy/mlperf_log_accuracy.json", order.tolist(),
              [np.int32(predicted[i]).tobytes() for i in order])
    val_map = v10_tree / VAL_MAP
    val_map.write_text(val_map.read_text().replace("\t65\n", "\t66\n", 1))
    found = _a_findings(v10_tree, "v1.0", result=V10_RESULT)
    [a013] = found["A013"]
    assert a013.severity == "warning" and "is not the official imagenet file" in a013.message
    assert "A011" not in found


# --------------------------------------------------------------------------------------------------
# The corpus: every classification result with a full accuracy log, recomputed

#: result -> (A011 severity, good, total, detected encoding); all v0.5 (later rounds publish truncated logs).
V05_RECOMPUTED = {
    "closed/Alibaba/results/alibaba_HanGuang/resnet/Offline": ("info", 38019, 50000, "int32 class index, 0-based"),
    "closed/Alibaba/results/alibaba_HanGuang/resnet/Server": ("info", 38019, 50000, "int32 class index, 0-based"),
    "closed/Alibaba/results/alibaba_HanGuang/resnet/SingleStream": ("info", 38019, 50000, "int32 class index, 0-based"),
    "closed/Alibaba/results/alibaba_cloud_t4/mobilenet/Offline": ("info", 35407, 50000, "int32 class index, 0-based"),
    "closed/Alibaba/results/alibaba_cloud_t4/resnet/Offline": ("info", 38017, 50000, "int32 class index, 0-based"),
    "closed/CentaurTechnology/results/0/mobilenet/Offline": ("info", 35367, 50000, "float32 class index, 0-based"),
    "closed/CentaurTechnology/results/0/mobilenet/SingleStream": ("info", 35367, 50000, "float32 class index, 0-based"),
    "closed/CentaurTechnology/results/0/resnet/Offline": ("info", 38072, 50000, "float32 class index, 0-based"),
    "closed/CentaurTechnology/results/0/resnet/SingleStream": ("info", 38073, 50000, "float32 class index, 0-based"),
    "closed/FuriosaAI/results/furiosa-multi-fpga/mobilenet/Offline": ("info", 35381, 50000, "int32 class index, 0-based"),
    "closed/FuriosaAI/results/furiosa-single-fpga/mobilenet/SingleStream": ("info", 35381, 50000,
                                                                           "int32 class index, 0-based"),
    "closed/Habana/results/Goya_1/resnet/Offline": ("info", 38103, 50000, "float32 class index, 0-based"),
    "closed/Habana/results/Goya_1/resnet/SingleStream": ("info", 38054, 50000, "float32 class index, 0-based"),
    "closed/Qualcomm/results/SDM855/mobilenet/SingleStream": ("info", 35219, 50000, "float32 class index, 0-based"),
    "closed/Qualcomm/results/SDM855/resnet/SingleStream": ("info", 38022, 50000, "float32 class index, 0-based"),
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/mobilenet/offline": ("info", 35196, 50000,
                                                                             "int64 class index, 0-based"),
    # accuracy.txt claims 70.408 (good=35204); the log holds 35210 correct answers
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/mobilenet/server": ("error", 35210, 50000,
                                                                            "int64 class index, 0-based"),
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/mobilenet/singlestream": (
        "info", 35197, 50000, "int32 class index in the first 4 of 8 bytes, 0-based"),
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/resnet50/offline": ("info", 37855, 50000,
                                                                            "int64 class index, 0-based"),
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/resnet50/server": ("info", 38062, 50000,
                                                                           "int64 class index, 0-based"),
    "closed/Tencent/results/clx-8255c-4s_pytorch-caffe2/resnet50/singlestream": ("info", 38062, 50000,
                                                                                 "int64 class index, 0-based"),
    "open/Habana/results/Goya_fast_latency/resnet/MultiStream": ("info", 38103, 50000, "float32 class index, 0-based"),
    "open/Habana/results/Goya_med_latency/resnet/MultiStream": ("info", 38103, 50000, "float32 class index, 0-based"),
    "open/Qualcomm/results/SDM855/mobilenet/MultiStream": ("info", 35291, 50000, "float32 class index, 0-based"),
}


@pytest.mark.parametrize("round_name", ["v0.5", "v0.7", "v1.0"])
def test_every_full_classification_log_is_recomputed(corpus, val_map, round_name):
    import re

    doc = run_check(corpus(round_name), round_name=round_name, select=["A011", "A013"],
                    annotations={"imagenet": val_map})
    pack = load_pack(round_name)
    recomputed, eligible = {}, set()
    for result in doc.results:
        _, bench = pack.benchmark_for(result.benchmark, result.division)
        log = corpus(round_name) / result.path / "accuracy/mlperf_log_accuracy.json"
        if bench is not None and bench.recompute is not None and log.is_file() and log.stat().st_size > 20000:
            eligible.add(result.path)
        for f in result.findings:
            if f.rule == "A011":
                found = re.search(r"(?:=|gives) [\d.]+ \((\d+) of (\d+) correct; ([^;]*);", f.message)
                recomputed[result.path] = (f.severity, int(found.group(1)), int(found.group(2)), found.group(3))
    assert set(recomputed) == eligible
    expected = V05_RECOMPUTED if round_name == "v0.5" else {}
    assert recomputed == expected


# --------------------------------------------------------------------------------------------------
# The plug-in interface


class CountingPlugin:
    """A toy metric: the share of entries whose first payload byte is even, as 'BLEU'."""

    name = "test-even-bytes"
    metric = "bleu"

    def load_annotations(self, path: Path) -> str:
        return path.read_text().strip()

    def score(self, entries: LogEntries, annotations: str, dataset_size: int | None) -> Score:
        even = sum(1 for p in entries.payloads if p and p[0] % 2 == 0)
        return Score(metric="bleu", value=100.0 * even / len(entries), detail=f"{even} of {len(entries)} even",
                     counts={}, encoding=f"toy ({annotations})")


def test_a_registered_plugin_is_used_end_to_end(corpus, tmp_path):
    plugin = register(CountingPlugin())
    try:
        assert "test-even-bytes" in plugin_names() and get_plugin("test-even-bytes") is plugin
        folder = tmp_path / "packs"
        folder.mkdir()
        for path in rules_dir().glob("*.yaml"):
            shutil.copy(path, folder / path.name)
        (folder / "plugin-test.yaml").write_text(
            "round: plugin-test\ntitle: v0.5 with a toy GNMT metric\nextends: v0.5\nbenchmarks:\n  gnmt:\n"
            "    recompute: {plugin: test-even-bytes, metric: bleu, dataset: toy}\n")
        load_pack.cache_clear()
        pack = load_pack("plugin-test", str(folder))
        root = copy_system(corpus("v0.5"), tmp_path / "tree", "closed", "Alibaba", "alibaba_cloud_t4")
        notes = tmp_path / "toy.txt"
        notes.write_text("toy annotations\n")
        outcome = run_checks(discover(root), pack, select=["A011"], options={"annotations": {"toy": notes}})
        [finding] = [f for r in outcome.results if r.unit.benchmark == "gnmt" for f in r.findings]
        assert finding.rule == "A011" and "toy (toy annotations)" in finding.message
        assert finding.severity == "error"  # the toy figure is not the claimed BLEU
    finally:
        unregister("test-even-bytes")
        load_pack.cache_clear()


@pytest.mark.parametrize(("line", "problem"), [
    ("ILSVRC2012_val_00000002.JPEG ²", "expected '<image> <class>'"),  # a digit to isdigit(), not to int()
    ("ILSVRC2012_val_00000002.JPEG 123456789012345678901234567890", "class ids outside"),
    ("ILSVRC2012_val_00000002.JPEG", "expected '<image> <class>'"),
])
def test_a_bad_label_file_is_an_annotation_error(tmp_path, line, problem):
    """Bad labels are an AnnotationError (a finding), never another exception (an internal error)."""
    from checker.metrics.base import AnnotationError

    path = tmp_path / "val_map.txt"
    path.write_text(f"ILSVRC2012_val_00000001.JPEG 65\n{line}\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match=problem):
        load_val_map(path)
    path.write_text("ILSVRC2012_val_00000001.JPEG 65\n\nILSVRC2012_val_00000002.JPEG 970\n", encoding="utf-8")
    assert load_val_map(path).values.tolist() == [65, 970]


def _read_both_ways(path: Path) -> tuple[object, object]:
    """load_val_map with its fast path and with the line-by-line reading alone: labels or error text."""
    import re

    from checker.metrics import imagenet
    from checker.metrics.base import AnnotationError

    def outcome() -> object:
        try:
            return load_val_map(path).values.tolist()
        except AnnotationError as exc:
            return str(exc)

    fast = outcome()
    plain, imagenet._PLAIN_VAL_MAP = imagenet._PLAIN_VAL_MAP, re.compile(r"(?!)")
    try:
        return fast, outcome()
    finally:
        imagenet._PLAIN_VAL_MAP = plain


def test_val_map_fast_path_reads_the_official_file_as_the_line_reading_does(val_map):
    fast, careful = _read_both_ways(val_map)
    assert fast == careful and len(fast) == 50_000


def test_val_map_fast_path_agrees_with_the_line_reading_on_any_text(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    names = st.sampled_from(["ILSVRC2012_val_1.JPEG", "b", "x²", "a b", ""])
    separators = st.sampled_from([" ", "\t", "  ", " \t", "\u00a0", ""])
    labels = st.sampled_from(["0", "65", "999", "007", "-1", "1000", "²", "", "12345678901234567890123"])
    endings = st.sampled_from(["\n", "\n", "\r\n", "\n\n", "\x1e", ""])
    lines = st.lists(st.tuples(names, separators, labels, endings), max_size=6)
    path = tmp_path / "val_map.txt"

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(lines)
    def agree(rows):
        path.write_text("".join(name + sep + label + end for name, sep, label, end in rows), encoding="utf-8")
        fast, careful = _read_both_ways(path)
        assert fast == careful

    agree()
