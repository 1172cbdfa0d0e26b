"""accuracy.txt: every metric format of every round, hash lines (fused too), broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from corpus_cache import ROUNDS

from checker.parse.accuracy_log import parse_accuracy_log
from checker.parse.accuracy_txt import (
    ACCURACY_PATTERNS,
    AccuracyPattern,
    canonical_metric,
    parse_accuracy_txt,
)

SHA = "5fa4bf4bafd04638481611a05806ebd4808a5d29be082f6f19a9e695bee96d7e"


def write(tmp_path: Path, text: str | bytes, name: str = "accuracy.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def codes(result) -> list[str]:
    return [p.code for p in result.problems]


def values(model, metric, **kw) -> list[tuple[float, int]]:
    return [(r.value, r.line) for r in model.records(metric, **kw)]


# --------------------------------------------------------------------------------------------------
# The pattern table


def test_pattern_table_is_data():
    ids = [p.id for p in ACCURACY_PATTERNS]
    assert len(ids) == len(set(ids))
    for p in ACCURACY_PATTERNS:
        assert "v" in p.compiled().groupindex, p.id
        assert p.anchor in ("start", "anywhere")
    metrics = {p.metric for p in ACCURACY_PATTERNS}
    for name in ("acc", "mAP", "bleu", "F1", "exact_match", "AUC", "DICE", "WER_accuracy", "ROUGE1", "ROUGE2",
                 "ROUGEL", "ROUGELSUM", "GEN_LEN", "TOKENS_PER_SAMPLE", "CLIP_SCORE", "FID_SCORE", "gsm8k",
                 "mbxp", "mean-accuracy", "DLRM_NE", "DLRM_ACC", "DLRM_AUC", "F1_HIERARCHICAL", "E2E_ACCURACY"):
        assert name in metrics, name
    assert canonical_metric("WER") == canonical_metric("ACCURACY") == "WER_accuracy"
    assert canonical_metric("mAP") == "mAP"


def test_custom_pattern_table(tmp_path):
    path = write(tmp_path, "score: 12.5\naccuracy=70.1%\n")
    only = [AccuracyPattern(id="score", metric="score", regex=r"score:\s*(?P<v>[\d.]+)", anchor="start")]
    model = parse_accuracy_txt(path, patterns=only).model
    assert [(r.metric, r.value, r.line) for r in model.metrics] == [("score", 12.5, 1)]


# --------------------------------------------------------------------------------------------------
# Synthetic lines of every format


def test_every_format(tmp_path):
    lines = [
        "accuracy=76.482%, good=38241, total=50000",  # 1
        "mAP=37.307%",  # 2
        "BLEU: 23.8",  # 3
        '{"exact_match": 83.9, "f1": 90.97}',  # 4
        "AUC=80.185%, accuracy=96.608%, good=86114148, total=89137319, queries=330067",  # 5
        "Word Error Rate: 7.44%, accuracy=92.56%",  # 6
        "Accuracy: mean = 0.86112, kidney = 0.9346, tumor = 0.7877",  # 7
        "{'rouge1': 44.46, 'rouge2': 22.45, 'rougeL': 29.95, 'rougeLsum': 42.04, 'gen_len': 22306465, "
        "'gen_num': 24576, 'gen_tok_len': 5761019, 'tokens_per_sample': 234.4}",  # 8
        "Accuracy Results: {'FID_SCORE': '23.9', 'CLIP_SCORE': 31.75}",  # 9
        "{'gsm8k': 73.16, 'mbxp': 60.42, 'exact_match': 90.1}",  # 10
        "{'mean-accuracy': '0.5', 'vbench_score': 81.2}",  # 11
        "metric/lifetime_ne/rating: 0.86 metric/lifetime_accuracy/rating: 0.79",  # 12
        "metric/lifetime_gauc/rating: 0.81",  # 13
        "{'Total': 0.377}",  # 14
        "Accuracy: 0.91",  # 15
        'INFO {"accuracy": 1.5e-3}',  # 16
    ]
    res = parse_accuracy_txt(write(tmp_path, "\n".join(lines) + "\n"))
    assert res.ok, res.problems
    m = res.model
    assert m.line_count == 16
    assert values(m, "acc", patterns=["acc.eq"], at_line_start=True) == [(76.482, 1)]
    assert values(m, "acc", patterns=["acc.eq"]) == [(76.482, 1), (96.608, 5), (92.56, 6)]
    assert values(m, "acc", patterns=["acc.loose"], at_line_start=False) == [(96.608, 5), (92.56, 6), (1.5e-3, 16)]
    assert values(m, "mAP") == [(37.307, 2), (0.377, 14)]
    assert values(m, "bleu") == [(23.8, 3)]
    assert values(m, "F1") == [(90.97, 4)]
    assert values(m, "exact_match") == [(83.9, 4), (90.1, 10)]
    assert values(m, "AUC") == [(80.185, 5)]
    assert values(m, "WER_accuracy") == values(m, "ACCURACY") == [(92.56, 6)]
    assert values(m, "WER") == [(92.56, 6)]  # the checker name maps to the accuracy figure
    assert values(m, "word_error_rate") == [(7.44, 6)]
    assert values(m, "DICE") == [(0.86112, 7)]
    assert values(m, "ROUGE1") == [(44.46, 8)]
    assert values(m, "ROUGE2") == [(22.45, 8)]
    assert values(m, "ROUGEL") == [(29.95, 8)]
    assert values(m, "ROUGELSUM") == [(42.04, 8)]
    assert values(m, "GEN_LEN") == [(22306465.0, 8)]
    assert values(m, "TOKENS_PER_SAMPLE") == [(234.4, 8)]
    assert values(m, "FID_SCORE") == [(23.9, 9)]
    assert values(m, "CLIP_SCORE") == [(31.75, 9)]
    assert values(m, "gsm8k") == values(m, "gsm8k_accuracy") == [(73.16, 10)]
    assert values(m, "mbxp") == [(60.42, 10)]
    assert values(m, "mean-accuracy") == values(m, "meanAcc") == [(0.5, 11)]
    assert values(m, "vbench_score") == [(81.2, 11)]
    assert values(m, "DLRM_NE") == [(0.86, 12)]
    assert values(m, "DLRM_ACC") == [(0.79, 12)]
    assert values(m, "DLRM_AUC") == [(0.81, 13)]
    assert values(m, "F1_HIERARCHICAL") == [(90.97, 4)]
    assert values(m, "E2E_ACCURACY") == [(0.91, 15)]
    first = m.first("acc", patterns=["acc.eq"])
    assert first.raw == "76.482" and first.percent and first.column == 0 and first.at_line_start
    mbxp = m.first("mbxp")
    assert mbxp.column == lines[9].index("'mbxp'") and not mbxp.at_line_start and not mbxp.percent
    assert [(c.good, c.total, c.queries, c.line) for c in m.counts] == [
        (38241, 50000, None, 1),
        (86114148, 89137319, 330067, 5),
    ]
    assert m.hashes == [] and not m.has_fused_hash


def test_first_and_last_matching_line(tmp_path):
    """v0.5 takes the first line whose start matches, v0.7/v1.0 the last one."""
    text = "accuracy=70.0%, good=1, total=2\nnoise accuracy=99.0%\naccuracy=71.5%, good=3, total=4\n"
    m = parse_accuracy_txt(write(tmp_path, text)).model
    assert m.first("acc", patterns=["acc.eq"], at_line_start=True).value == 70.0
    assert m.last("acc", patterns=["acc.eq"], at_line_start=True).value == 71.5
    assert m.last("acc", patterns=["acc.eq"]).line == 3
    assert [r.line for r in m.records("acc", patterns=["acc.eq"], at_line_start=False)] == [2]
    assert m.first("bleu") is None and m.last("bleu") is None


# --------------------------------------------------------------------------------------------------
# Hash lines


def test_round_selection_helpers(tmp_path):
    """values_of: one record per line under a round's anchoring; hash/hash_fused for line readers."""
    text = "accuracy=70.0%, good=1, total=2\nAUC=80.1%, accuracy=96.6%\n{'mbxp': 60.4}\nmAP=20.0%hash=" + SHA
    m = parse_accuracy_txt(write(tmp_path, text)).model
    assert [(r.value, r.pattern) for r in m.values_of("acc")] == [(70.0, "acc.eq")]
    assert [(r.value, r.line) for r in m.values_of("acc", variant="anywhere")] == [(70.0, 1), (96.6, 2)]
    assert [r.value for r in m.values_of("acc", variant="start")] == [70.0]
    assert [r.value for r in m.values_of("mbxp")] == [60.4]  # an 'anywhere' format
    assert m.values_of("mbxp", variant="start") == []
    assert m.hash is None and m.hash_fused and m.hash_fused_line == 4
    clean = parse_accuracy_txt(write(tmp_path, f"mAP=20.0%\nhash={SHA}\n", "b.txt")).model
    assert clean.hash.value == SHA and clean.hash.line == 2 and not clean.hash_fused
    assert clean.hash_fused_line is None


def test_hash_line(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, f"accuracy=76.028%, good=38014, total=50000\nhash={SHA}\n"))
    assert res.ok, res.problems
    (h,) = res.model.hashes
    assert (h.value, h.line, h.column) == (SHA, 2, 0)
    assert h.exact_line and h.well_formed and not h.fused and h.prefix == ""
    assert not res.model.has_fused_hash
    assert res.model.hash_value().value == SHA and res.model.hash_value().line == 2


def test_hash_fused_onto_the_last_line(tmp_path):
    """v1.0's truncation tool wrote 'hash=…' without a leading newline after an unterminated line."""
    res = parse_accuracy_txt(write(tmp_path, f"loading annotations into memory...\nmAP=37.307%hash={SHA}\n"))
    m = res.model
    assert m.has_fused_hash
    (h,) = m.hashes
    assert h.fused and h.line == 2 and h.value == SHA and h.prefix == "mAP=37.307%"
    assert not h.exact_line and h.well_formed and h.column == len("mAP=37.307%")
    assert codes(res) == ["hash_fused"] and res.problems[0].line == 2
    assert m.hash_value(exact_only=True) is None and m.hash_value().value == SHA
    assert values(m, "mAP") == [(37.307, 2)]  # the metric on the same line is still read


def test_hash_fused_after_digits(tmp_path):
    text = f"AUC=80.23785974349185hash={SHA}"  # no newline at all
    m = parse_accuracy_txt(write(tmp_path, text)).model
    assert values(m, "AUC") == [(80.23785974349185, 1)]
    assert m.hashes[0].fused and m.hashes[0].value == SHA


def test_hash_word_inside_other_text_is_not_a_hash(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, "Namespace(model='x', hash=None, accuracy=True)\nmAP=20.1%\n"))
    assert res.ok and res.model.hashes == [] and not res.model.has_fused_hash


def test_bad_and_repeated_hashes(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, f"hash=abc\nhash={SHA}\nhash={SHA}\n"))
    m = res.model
    assert [(h.line, h.well_formed) for h in m.hashes] == [(1, False), (2, True), (3, True)]
    assert [(p.code, p.line) for p in res.problems] == [("bad_hash", 1)]
    assert m.metrics == []


# --------------------------------------------------------------------------------------------------
# Broken files


def test_empty_file(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, ""))
    assert codes(res) == ["empty"] and res.model is not None and res.model.line_count == 0


def test_nothing_recognised(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, "Done (t=0.44s)\nloading annotations into memory...\n"))
    assert codes(res) == ["no_metric"] and res.model.metrics == []


def test_binary_garbage(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, bytes(range(32)) * 200))
    assert codes(res) == ["binary"] and res.model is None


def test_non_utf8(tmp_path):
    res = parse_accuracy_txt(write(tmp_path, b"caf\xe9 \xff\naccuracy=75.1%, good=1, total=2\n"))
    assert [(p.code, p.line) for p in res.problems] == [("encoding", 1)]
    assert values(res.model, "acc", patterns=["acc.eq"]) == [(75.1, 2)]


def test_ten_megabyte_line(tmp_path):
    text = "x" * (10 << 20) + "\nmAP=21.9%\n"
    res = parse_accuracy_txt(write(tmp_path, text))
    assert [(p.code, p.line) for p in res.problems] == [("line_too_long", 1)]
    assert values(res.model, "mAP") == [(21.9, 2)]


def test_missing_file_and_directory(tmp_path):
    assert codes(parse_accuracy_txt(tmp_path / "none.txt")) == ["missing"]
    res = parse_accuracy_txt(tmp_path)
    assert res.model is None and codes(res) == ["not_a_file"]


# --------------------------------------------------------------------------------------------------
# The real corpus


def test_every_corpus_file_parses(corpus):
    """Every accuracy.txt of every round: a model, and only the one empty file is a problem."""
    seen = 0
    problems = []
    for round_name in ROUNDS:
        root = corpus(round_name)
        for path in sorted(root.rglob("accuracy.txt")):
            res = parse_accuracy_txt(path, root)
            assert res.model is not None, path
            assert res.model.metrics or res.model.hashes or res.problems, path
            problems += [(round_name, p.path, p.code) for p in res.problems]
            seen += 1
    assert seen > 600
    assert problems == [("v0.5", "open/Inspur/code/resnet/schedule/src/python/accuracy.txt", "empty")]


def test_v05_classification_first_line(corpus):
    root = corpus("v0.5")
    res = parse_accuracy_txt(root / "closed/Alibaba/results/alibaba_HanGuang/resnet/Offline/accuracy/accuracy.txt",
                             root)
    m = res.model
    rec = m.first("acc", patterns=["acc.eq"], at_line_start=True)
    assert (rec.value, rec.line, rec.raw) == (76.038, 1, "76.038")
    assert [(c.good, c.total, c.line) for c in m.counts] == [(38019, 50000, 1)]
    assert m.hashes == []  # v0.5 had no hash lines
    assert res.path == "closed/Alibaba/results/alibaba_HanGuang/resnet/Offline/accuracy/accuracy.txt"


def test_v05_coco_output_before_map(corpus):
    root = corpus("v0.5")
    m = parse_accuracy_txt(root / "closed/Alibaba/audit/alibaba_cloud_t4/ssd-large/Offline/TEST03/accuracy/accuracy.txt"
                           ).model
    assert values(m, "mAP") == [(16.477, 26)]
    assert m.first("mAP", at_line_start=True).percent


def test_v05_bleu(corpus):
    root = corpus("v0.5")
    m = parse_accuracy_txt(root / "closed/Alibaba/results/alibaba_cloud_t4/gnmt/Offline/accuracy/accuracy.txt").model
    assert values(m, "bleu", at_line_start=True) == [(23.8, 1)]


def test_v10_hash_and_truncated_log(corpus):
    root = corpus("v1.0")
    folder = root / "closed/Alibaba/results/A10x1_TRT/resnet50/Offline/accuracy"
    res = parse_accuracy_txt(folder / "accuracy.txt", root)
    assert res.ok
    m = res.model
    assert values(m, "acc", patterns=["acc.eq"], at_line_start=True) == [(76.028, 1)]
    (h,) = m.hashes
    assert (h.value, h.line, h.fused, h.exact_line) == (SHA, 2, False, True)
    log = parse_accuracy_log(folder / "mlperf_log_accuracy.json", root).model
    assert log.truncated and not log.complete_json
    # The hash is of the full log, which the truncated copy cannot reproduce.
    assert log.content_sha256() != h.value


def test_v10_dlrm_and_v07_rnnt(corpus):
    m = parse_accuracy_txt(corpus("v1.0") / "closed/GIGABYTE/results/GIGABYTE_G492-ZD0_A100-SXM-80GBx8/dlrm-99.9/"
                           "Offline/accuracy/accuracy.txt").model
    assert values(m, "AUC", at_line_start=True) == [(80.185, 7)]
    assert values(m, "acc", patterns=["acc.eq"], at_line_start=True) == []  # not at line start
    assert [(c.good, c.total, c.queries) for c in m.counts] == [(86114148, 89137319, 330067)]
    m = parse_accuracy_txt(corpus("v0.7") / "closed/Altos/results/T4x4_TRT/rnnt/Offline/accuracy/accuracy.txt").model
    assert values(m, "WER") == [(92.5567656542425, 2)]
    assert m.hashes[0].line == 3


def test_v41_json_dump_and_dice(corpus):
    root = corpus("v4.1")
    m = parse_accuracy_txt(root / "closed/Cisco/results/C240M7-1-node-2S-EMR-PyTorch/dlrm-v2-99/Server/accuracy/"
                           "accuracy.txt").model
    assert values(m, "AUC") == [(80.23785974349185, 25)]
    loose = m.records("acc", patterns=["acc.loose"])
    assert [(r.value, r.line, r.at_line_start) for r in loose] == [(96.60492249507031, 3, False)]
    assert m.hashes[0].line == 26
    m = parse_accuracy_txt(root / "closed/Oracle/results/GH200-GraceHopper-Superchip_GH200-96GB_aarch64x1_TRT/"
                           "3d-unet-99/Offline/accuracy/accuracy.txt").model
    assert values(m, "DICE") == [(0.86112, 7)]


def test_v6_llm_and_sdxl(corpus):
    root = corpus("v6-sample")
    m = parse_accuracy_txt(root / "closed/AMD/results/8xMI325X_2xEPYC_9575F_1/mixtral-8x7b/Offline/accuracy/"
                           "accuracy.txt").model
    assert values(m, "gsm8k") == [(73.14, 7)]
    assert values(m, "mbxp") == [(59.9, 7)]
    assert values(m, "ROUGE1") == [(45.2486, 7)]
    assert values(m, "TOKENS_PER_SAMPLE") == [(143.3, 7)]
    assert m.hashes[0].value == "9d3e5546dc8ff4aad413611c57f2e7e207ac881229e8c409d7e9d2aeca0a3088"
    m = parse_accuracy_txt(root / "closed/AMD/results/8xMI325x_2xEPYC-9655/stable-diffusion-xl/Offline/accuracy/"
                           "accuracy.txt").model
    assert values(m, "FID_SCORE") == [(23.909064176163497, 1)]
    assert values(m, "CLIP_SCORE") == [(31.749353325665, 1)]
    assert m.first("FID_SCORE").raw == "23.909064176163497"


@pytest.mark.parametrize("round_name", ROUNDS)
def test_no_false_positive_metrics_in_tool_chatter(corpus, round_name):
    """COCO/nnU-Net/pandas lines never yield a metric: every record comes from a known metric line."""
    metric_line = re.compile(
        r"accuracy|mAP=|BLEU|exact_match|AUC=|Accuracy|rouge|FID_SCORE|CLIP_SCORE|gsm8k|mbxp|Word Error"
    )
    root = corpus(round_name)
    for path in sorted(root.rglob("accuracy.txt")):
        m = parse_accuracy_txt(path).model
        lines = path.read_bytes().decode(errors="replace").split("\n")  # iter_lines splits on newlines only
        for r in m.metrics:
            assert metric_line.search(lines[r.line - 1]), (path, r)
