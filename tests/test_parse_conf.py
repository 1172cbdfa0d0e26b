"""LoadGen config parser: real files, precedence, every quirk with its code and line, broken input,
and agreement with the real LoadGen (``mlperf_loadgen.TestSettings.FromConfig``) in a subprocess."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from corpus_cache import ROUNDS
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.parse.conf import (
    LOADGEN_KEYS,
    ConfFile,
    c_strtod,
    c_strtoull,
    is_c_number,
    key_specs,
    parse_conf,
)

MIN_CONFS_PER_ROUND = {"v0.5": 100, "v0.7": 150, "v1.0": 150, "v4.1": 200, "v6-sample": 30}


def conf_files(root: Path) -> list[Path]:
    """Every LoadGen config in a tree: mlperf.conf, audit.config, user.conf and its variants."""
    found = []
    for path in root.rglob("*"):
        name = path.name
        is_conf = name in ("mlperf.conf", "audit.config") or (name.startswith("user") and ".conf" in name)
        if is_conf and path.is_file():
            found.append(path)
    return sorted(found)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def model_of(path: Path, **kw) -> ConfFile:
    result = parse_conf(path, **kw)
    assert result.model is not None, result.problems
    return result.model


def codes_at(conf: ConfFile) -> set[tuple[str, int]]:
    return {(n.code, n.line) for n in conf.notes}


# --- the real corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_conf_parses(corpus, round_name):
    root = corpus(round_name)
    files = conf_files(root)
    assert len(files) >= MIN_CONFS_PER_ROUND[round_name]
    for path in files:
        result = parse_conf(path, root=root)
        assert result.path == path.relative_to(root).as_posix()
        assert result.kind in ("user.conf", "mlperf.conf", "audit.config")
        # the only problem real files have is being empty (zero-byte confs exist in v0.5 and v1.0)
        assert {p.code for p in result.problems} <= {"empty"}, (path, result.problems)
        conf = result.model
        assert conf is not None
        # no real file in the corpus is rejected by LoadGen (checked against LoadGen below)
        assert not conf.loadgen_rejects_file, (path, conf.reject_lines)
        lines = path.read_bytes().split(b"\n")
        for entry in conf.entries:
            assert 1 <= entry.line <= conf.line_count
            assert entry.key.encode() in lines[entry.line - 1]
        for note in conf.notes:
            assert 1 <= note.line <= conf.line_count


def test_real_user_conf_target_qps(corpus):
    root = corpus("v0.5")
    conf = model_of(root / "closed/Alibaba/measurements/alibaba_HanGuang/resnet/Offline/user.conf")
    entry = conf.lookup("resnet50", "Offline", "target_qps")
    assert entry is not None
    assert (entry.line, entry.raw, entry.number) == (1, "69000.0", 69000.0)
    assert conf.settings("resnet50", "Offline")["offline_expected_qps"].value == 69000.0
    # the v0.5 benchmark folder is "resnet", but the line names model "resnet50": under "resnet" it does nothing
    assert conf.lookup("resnet", "Offline", "target_qps") is None

    conf = model_of(
        corpus("v4.1") / "closed/AMD/measurements/8xMI300X_2xEPYC-TURIN/llama2-70b-99/Server/user.conf"
    )
    assert [(e.full_key, e.number, e.line) for e in conf.entries] == [
        ("llama2-70b.Offline.target_qps", 83, 6),
        ("llama2-70b.Server.target_qps", 76, 7),
    ]
    assert conf.notes == []
    assert conf.lookup("llama2-70b", "Server", "target_qps").number == 76


def test_real_mlperf_conf_oddities(corpus):
    root = corpus("v0.5")
    conf = model_of(root / "closed/Alibaba/measurements/alibaba_HanGuang/resnet/Offline/mlperf.conf")
    assert conf.kind == "mlperf.conf"
    # *.Server.target_duration: in every mlperf.conf of the time, read by no LoadGen
    assert ("unknown_key", 28) in codes_at(conf)
    assert ("key_not_read_for_scenario", 38) in codes_at(conf)  # *.Offline.target_latency_percentile
    assert any(n.code == "legacy_key" and "MultiStream.target_qps" in n.message for n in conf.notes)

    dup = model_of(root / "closed/CentaurTechnology/measurements/0/gnmt/Offline/mlperf.conf")
    note = next(n for n in dup.notes if n.code == "duplicate_key" and n.line == 6)
    assert note.effect == "overridden" and "line 61" in note.message
    assert dup.lookup("gnmt", "SingleStream", "target_latency").line == 61

    mobilint = model_of(
        corpus("v0.7") / "closed/Mobilint/measurements/mobilint_edge/resnet/Offline/user.conf"
    )
    note = next(n for n in mobilint.notes if n.code == "dotted_model")
    assert note.line == 40 and note.effect == "ignored"
    assert note.text == "*.Server.Server.target_latency = 90"


def test_real_audit_configs(corpus):
    inspur = model_of(corpus("v0.5") / "open/Inspur/code/resnet/schedule/src/python/audit.config")
    assert inspur.kind == "audit.config"
    seeds = [n for n in inspur.notes if n.code == "mlperf_conf_only_key"]
    assert [n.line for n in seeds] == [9, 12, 15, 18]  # accuracy_log_probability = 10, per scenario
    assert all(n.effect == "era_dependent" for n in seeds)
    by_line = {e.line: e for e in inspur.entries}
    assert inspur.applies_as_audit_config(by_line[7])  # *.MultiStream.mode = 2
    assert not inspur.applies_as_audit_config(by_line[9])  # seeds-type key, not read from audit.config today
    assert inspur.applies_as_audit_config(by_line[7], scenario="MultiStream")
    assert not inspur.applies_as_audit_config(by_line[7], scenario="Offline")

    test05 = (
        corpus("v1.0")
        / "closed/Edgecortix/compliance/edgecortix-DNA_F_SERIES/resnet50/SingleStream/TEST05/run"
    )
    conf = model_of(test05 / "audit.config")
    assert [n.line for n in conf.notes if n.code == "mlperf_conf_only_key"] == [8, 9, 10]
    applied = conf.settings("*", "SingleStream")
    assert set(applied) == {"mode"} and applied["mode"].value == 2 and applied["mode"].entry.line == 7


# --- precedence -----------------------------------------------------------------------------------


def test_lookup_precedence(tmp_path):
    path = write(
        tmp_path,
        "user.conf",
        "*.*.min_duration = 1\n"
        "resnet50.*.min_duration = 2\n"
        "*.Offline.min_duration = 3\n"
        "resnet50.Offline.min_duration = 4\n"
        "*.*.min_query_count = 10\n"
        "resnet50.*.min_query_count = 20\n"
        "*.Server.target_qps = 5\n"
        "*.Server.target_qps = 6\n",
    )
    conf = model_of(path)
    assert conf.lookup("resnet50", "Offline", "min_duration").line == 4  # model.scenario
    assert conf.lookup("bert", "Offline", "min_duration").line == 3  # *.scenario
    assert conf.lookup("resnet50", "Server", "min_duration").line == 2  # model.*
    assert conf.lookup("bert", "Server", "min_duration").line == 1  # *.*
    assert conf.lookup("resnet50", "Offline", "min_query_count").number == 20  # model.* beats *.*
    assert conf.lookup("bert", "Offline", "max_query_count") is None
    # duplicate full key: the last line read wins, and the earlier one is reported as overridden
    assert conf.lookup("bert", "Server", "target_qps").line == 8
    assert [(n.code, n.line, n.effect) for n in conf.notes] == [("duplicate_key", 7, "overridden")]
    assert "line 8" in conf.notes[0].message
    assert list(conf.duplicates()) == ["*.Server.target_qps"]

    # *.scenario.key beats model.*.key
    path = write(tmp_path, "second.conf", "resnet50.*.min_duration = 2\n*.Offline.min_duration = 3\n")
    assert model_of(path).lookup("resnet50", "Offline", "min_duration").number == 3

    # scenario-specific keys are looked up under their own scenario whatever is being run
    settings = conf.settings("bert", "Offline")
    assert settings["server_target_qps"].value == 6.0
    assert settings["min_duration_ms"].value == 3


# --- quirks ---------------------------------------------------------------------------------------


def test_no_space_equals_is_silently_ignored(tmp_path):
    conf = model_of(
        write(tmp_path, "user.conf", "# tuned\n*.*.min_duration=5000\n*.Offline.target_qps = 10\n")
    )
    note = conf.notes_with("no_spaces_around_equals")
    assert [(n.line, n.effect) for n in note] == [(2, "ignored")]
    assert not conf.loadgen_rejects_file
    assert conf.lookup("resnet50", "Offline", "min_duration") is None
    assert conf.lookup("resnet50", "Offline", "target_qps").number == 10


def test_trailing_comment_rejects_whole_file(tmp_path):
    text = "*.*.min_duration = 5000\n*.Offline.target_qps = 100 # tuned on 2024-05-01\n"
    conf = model_of(write(tmp_path, "user.conf", text))
    assert conf.loadgen_rejects_file
    assert conf.reject_line == 2 and conf.reject_lines == [2]
    assert [(n.code, n.line, n.effect) for n in conf.notes] == [("trailing_comment", 2, "rejects_file")]
    # nothing from the file applies, not even the valid first line
    assert conf.lookup("resnet50", "Offline", "min_duration") is None
    assert conf.settings("resnet50", "Offline") == {}
    # what the author meant is still available
    assert conf.lookup("resnet50", "Offline", "target_qps", even_if_rejected=True).number == 100
    # a comment glued to the value is the same mistake
    glued = model_of(write(tmp_path, "glued.conf", "*.MultiStream.samples_per_query = 8# empty\n"))
    assert [(n.code, n.line) for n in glued.notes] == [("trailing_comment", 1)]


def test_unknown_key_and_misplaced_keys(tmp_path):
    text = (
        "*.Offline.target_qpps = 5\n"  # typo
        "*.Offline.target_latency = 10\n"  # read for SingleStream/MultiStream/Server only
        "*.offline.target_qps = 5\n"  # lower-case scenario
        "Offline.target_qps = 5\n"  # two parts
        "*.MultiStream.target_qps = 20\n"  # read before v2.0 only
        "*.Server.performance_sample_count = 64\n"  # missing _override
        "*..min_duration = 5\n"  # empty scenario part
    )
    conf = model_of(write(tmp_path, "user.conf", text))
    assert codes_at(conf) == {
        ("unknown_key", 1),
        ("key_not_read_for_scenario", 2),
        ("unknown_scenario", 3),
        ("too_few_parts", 4),
        ("legacy_key", 5),
        ("unknown_key", 6),
        ("too_few_parts", 7),
    }
    assert "Offline" in conf.notes_with("unknown_scenario")[0].message  # names the right spelling
    assert not conf.loadgen_rejects_file
    assert conf.settings("resnet50", "Offline") == {}


def test_model_specific_audit_config_line_is_ignored(tmp_path):
    text = "*.Offline.mode = 2\nresnet50.Offline.min_query_count = 5\n*.*.performance_issue_same = 1\n"
    conf = model_of(write(tmp_path, "audit.config", text))
    assert conf.kind == "audit.config"
    assert [(n.code, n.line, n.effect) for n in conf.notes] == [
        ("model_specific_in_audit_config", 2, "ignored")
    ]
    first, second, third = conf.entries
    assert conf.applies_as_audit_config(first) and conf.applies_as_audit_config(third)
    assert not conf.applies_as_audit_config(second)
    applied = conf.settings("*", "Offline")
    assert set(applied) == {"mode", "performance_issue_same"}
    # the same text as a user.conf has no such note: a user.conf is read with the real model name
    as_user = model_of(write(tmp_path, "user.conf", text))
    assert as_user.notes == []
    assert as_user.settings("resnet50", "Offline")["min_query_count"].value == 5


def test_comment_forms(tmp_path):
    text = (
        "# a proper comment\n"
        "#*.Offline.target_qps = 10\n"  # stored under key '#*.Offline.target_qps', harmless
        "#tuned\n"  # one token: harmless
        "#tuned by hand\n"  # '#tuned' is a key, 'by' is not '=': rejects the file
        "*.*.min_duration # no value yet\n"  # a lone '#' before the value ends the line: ignored
    )
    conf = model_of(write(tmp_path, "user.conf", text))
    assert codes_at(conf) == {
        ("commented_out_assignment", 2),
        ("hash_comment_without_space", 4),
        ("incomplete_assignment", 5),
    }
    assert conf.reject_lines == [4]
    conf = model_of(write(tmp_path, "eq.conf", "#note = see README\n"))
    assert [(n.code, n.line) for n in conf.notes] == [("hash_comment_without_space", 1)]
    assert conf.loadgen_rejects_file


def test_syntax_errors_that_reject(tmp_path):
    text = "*.*.min_duration =600\n*.Offline.target_qps= 5\n*.Server.target_qps = fast\n"
    conf = model_of(write(tmp_path, "user.conf", text))
    assert codes_at(conf) == {("expected_equals", 1), ("expected_equals", 2), ("non_numeric_value", 3)}
    assert conf.reject_lines == [1, 2, 3]


def test_value_conversions(tmp_path):
    text = (
        "*.*.min_duration = 11.5\n"
        "*.*.min_query_count = 010\n"
        "*.*.max_query_count = -1\n"
        "*.*.mode = 7\n"
        "*.Offline.target_qps = 010\n"
        "*.Server.target_latency = 12.5\n"
        "*.SingleStream.target_latency = 12.5\n"
        "*.*.performance_sample_count_override = 64 128\n"
    )
    conf = model_of(write(tmp_path, "user.conf", text))
    assert codes_at(conf) == {
        ("fraction_truncated", 1),
        ("octal_value", 2),
        ("negative_wraps", 3),
        ("mode_out_of_range", 4),
        ("fraction_truncated", 6),
        ("extra_values", 8),
    }
    got = {k: v.value for k, v in conf.settings("resnet50", "Offline").items()}
    assert got["min_duration_ms"] == 11
    assert got["min_query_count"] == 8
    assert got["max_query_count"] == 2**64 - 1
    assert "mode" not in got
    assert got["offline_expected_qps"] == 10.0  # double settings read 010 as ten
    assert got["server_target_latency_ns"] == 12_000_000  # integer ms
    assert got["single_stream_expected_latency_ns"] == 12_500_000.0
    assert got["performance_sample_count_override"] == 128
    entry = conf.lookup("x", "Offline", "performance_sample_count_override")
    assert (entry.raw, entry.number) == ("128", 128)


def test_c_number_helpers():
    assert is_c_number("0x1A") and is_c_number("1e3") and is_c_number(".5") and is_c_number("inf")
    assert (
        not is_c_number("1_000") and not is_c_number("5#") and not is_c_number("1e") and not is_c_number("")
    )
    assert c_strtoull("08") == 0 and c_strtoull("0x10") == 16 and c_strtoull("1e3") == 1
    assert c_strtoull("-1") == 2**64 - 1 and c_strtoull("99999999999999999999999") == 2**64 - 1
    assert c_strtod("0x1p4") == 16.0 and c_strtod("010") == 10.0 and math.isnan(c_strtod("nan"))
    assert key_specs("*", "target_qps") and {s.setting for s in key_specs("*", "target_qps")} >= {
        "server_target_qps",
        "offline_expected_qps",
    }
    assert key_specs("Offline", "target_latency") == []


# --- broken input ---------------------------------------------------------------------------------


def test_empty_and_whitespace(tmp_path):
    result = parse_conf(write(tmp_path, "user.conf", b""))
    assert [p.code for p in result.problems] == ["empty"]
    assert result.model is not None and result.model.entries == []
    result = parse_conf(write(tmp_path, "blank.conf", "  \n\t\n"))
    assert [p.code for p in result.problems] == ["empty"]
    result = parse_conf(write(tmp_path, "comments.conf", "# only a comment\n"))
    assert result.problems == [] and result.model.entries == []


def test_binary_missing_and_directory(tmp_path):
    result = parse_conf(write(tmp_path, "user.conf", bytes(range(256)) * 8))
    assert [p.code for p in result.problems] == ["binary"] and result.model is None
    result = parse_conf(tmp_path / "nope" / "user.conf")
    assert [p.code for p in result.problems] == ["missing"] and result.model is None
    (tmp_path / "dir.conf").mkdir()
    result = parse_conf(tmp_path / "dir.conf")
    assert [p.code for p in result.problems] == ["not_a_file"] and result.model is None


def test_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "user.conf"
    os.mkfifo(fifo)
    result = parse_conf(fifo)  # opening a FIFO would block forever
    assert [p.code for p in result.problems] == ["not_a_file"] and result.model is None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet=" =#.*\t\r\n0123456789abex+-_OfflineServer", max_size=300))
def test_arbitrary_bytes_never_raise(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "user.conf"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        result = parse_conf(path)
        assert result.kind == "user.conf"
        if result.model is not None:
            conf = result.model
            assert conf.loadgen_rejects_file == any(n.effect == "rejects_file" for n in conf.notes)
            assert all(1 <= n.line <= max(conf.line_count, 1) for n in conf.notes)


def test_non_utf8_and_crlf(tmp_path):
    raw = b"# caf\xe9 r\xe9glages\r\n*.Offline.target_qps = 7\r\n*.Server.target_qps = 9\xff\r\n"
    result = parse_conf(write(tmp_path, "user.conf", raw))
    assert [(p.code, p.line) for p in result.problems] == [("encoding", 1)]
    conf = result.model
    # the undecodable byte glued to a value makes it non-numeric: LoadGen rejects the file too
    assert [(n.code, n.line) for n in conf.notes] == [("non_numeric_value", 3)]
    assert conf.loadgen_rejects_file and conf.lookup("m", "Offline", "target_qps") is None
    # CR is whitespace, not part of the value
    assert conf.lookup("m", "Offline", "target_qps", even_if_rejected=True).number == 7


def test_truncated_last_line(tmp_path):
    conf = model_of(write(tmp_path, "user.conf", "*.Offline.target_qps = 7\n*.*.min_duration ="))
    assert [(n.code, n.line) for n in conf.notes] == [("incomplete_assignment", 2)]
    assert conf.lookup("m", "Offline", "target_qps").number == 7


def test_ten_megabyte_line(tmp_path):
    path = tmp_path / "user.conf"
    with open(path, "wb") as handle:
        handle.write(b"*.Offline.target_qps = 7\n# ")
        handle.write(b"x" * (10 * 1024 * 1024))
        handle.write(b"\n*.*.min_duration = 600000\n")
    result = parse_conf(path)
    assert [(p.code, p.line) for p in result.problems] == [("line_too_long", 2)]
    conf = result.model
    assert conf.lookup("m", "Offline", "target_qps").line == 1
    assert conf.lookup("m", "Offline", "min_duration").line == 3


# --- agreement with the real LoadGen ----------------------------------------------------------------

_LOADGEN_SCRIPT = r"""
import json, sys
import mlperf_loadgen as lg
files, combos = json.load(sys.stdin)
attrs = [a for a in dir(lg.TestSettings()) if not a.startswith("_") and a not in ("FromConfig", "scenario")]
def snap(s):
    out = {}
    for a in attrs:
        v = getattr(s, a)
        out[a] = v if isinstance(v, (bool, int, float)) else int(v)
    return out
runs = []
for f in files:
    for model, scenario in combos:
        s = lg.TestSettings()
        rc = s.FromConfig(f, model, scenario, 2)
        runs.append([f, model, scenario, rc, snap(s)])
print(json.dumps({"default": snap(lg.TestSettings()), "runs": runs}))
"""


def run_loadgen(files: list[Path], combos: list[tuple[str, str]]) -> tuple[dict, list]:
    """FromConfig(file, model, scenario, 2) on a fresh TestSettings per case, in a child process."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOADGEN_SCRIPT],
        input=json.dumps([[str(f) for f in files], combos]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    return data["default"], data["runs"]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def compare_with_loadgen(files: list[Path], combos: list[tuple[str, str]]) -> dict[str, int]:
    """Assert that, for every file and (model, scenario), our emulation gives LoadGen's settings exactly."""
    default, runs = run_loadgen(files, combos)
    assert len(default) >= 30
    parsed = {str(f): parse_conf(f, kind="user.conf").model for f in files}
    stats = {"rejected": 0, "changed": 0, "unchanged": 0}
    for fname, model, scenario, rc, got in runs:
        conf = parsed[fname]
        assert conf is not None
        assert (rc == -22) == conf.loadgen_rejects_file, (fname, rc, conf.notes)
        assert rc in (0, -22)
        expected = dict(default)
        for setting, applied in conf.settings(model, scenario, conf_type=2).items():
            expected[setting] = applied.value
        for attr, value in got.items():
            assert same(expected[attr], value), (
                Path(fname).name,
                model,
                scenario,
                attr,
                expected[attr],
                value,
            )
        if rc == -22:
            stats["rejected"] += 1
        elif got != default:
            stats["changed"] += 1
        else:
            stats["unchanged"] += 1
    return stats


QUIRK_FILES = {
    "plain": "*.*.min_duration = 1234\n",
    "nospace": "*.*.min_duration=1234\n*.Offline.target_qps = 7\n",
    "leftspace": "*.*.min_duration =1234\n",
    "rightspace": "*.*.min_duration= 1234\n",
    "trailing_comment": "*.*.min_duration = 1234 # c\n",
    "glued_comment": "*.*.min_duration = 1234# c\n",
    "hash_key": "#*.*.min_duration = 1234\n*.Offline.target_qps = 7\n",
    "hash_words": "#Habana config file\n*.Offline.target_qps = 7\n",
    "hash_eq_word": "#foo = bar\n*.Offline.target_qps = 7\n",
    "hash_space": "# Habana config file\n*.Offline.target_qps = 7\n",
    "unknown_key": "*.Offline.target_qpps = 5\n*.Offline.min_duration = 5\n",
    "model_lines": "resnet50.Offline.min_query_count = 5\nbert.Offline.min_query_count = 6\n*.Server.mode = 1\n",
    "precedence": "*.*.min_duration = 1\nresnet50.*.min_duration = 2\n*.Offline.min_duration = 3\n",
    "precedence2": "*.*.min_duration = 1\nresnet50.*.min_duration = 2\n*.SingleStream.min_duration = 9\n",
    "dup": "*.*.min_duration = 5\n*.*.min_duration = 6\n",
    "two_values": "*.*.min_duration = 5 6\n",
    "novalue": "*.*.min_duration =\n*.Offline.target_qps = 7\n",
    "keyonly": "*.*.min_duration\n*.Offline.target_qps = 7\n",
    "nonnumeric": "*.*.min_duration = abc\n",
    "crlf": "*.*.min_duration = 1234\r\n*.Offline.target_qps = 7\r\n",
    "tabs": "*.*.min_duration\t=\t1234\n",
    "nbsp": "*.*.min_duration\u00a0=\u00a01234\n*.Offline.target_qps = 7\n",
    "token_latency": "*.Server.ttft_latency = 3\n*.*.use_token_latencies = 1\n*.*.token_latency_scaling_factor = 4\n",
    "token_latency_off": "*.Server.ttft_latency = 3\n*.*.token_latency_scaling_factor = 4\n",
    "seeds": "*.*.qsl_rng_seed = 77\n*.*.accuracy_log_probability = 50\n*.MultiStream.target_qps = 3\n",
    "audit_test04": "*.Offline.mode = 2\n*.Offline.performance_issue_same = 1\n*.Offline.performance_issue_same_index = 3\n",
    "eq_only": "=\n*.Offline.target_qps = 7\n",
    "empty": "",
    "star_scenario": "*.*.target_qps = 11\n*.*.target_latency = 2.5\n*.*.target_latency_percentile = 97\n",
    "dotted": "*.Server.Server.target_latency = 90\nresnet50.x.Offline.min_duration = 4\n",
    "lowercase": "*.offline.target_qps = 5\n*.server.target_qps = 5\n",
    "empty_part": "*..min_duration = 5\n.Offline.min_duration = 6\n*.*. = 3\n",
}

TRICKY_VALUES = ("3", "2.5", "0.5", "-1", "0x1A", "1e2", "010", "08", "7", "1", "0", ".5", "inf")

COMBOS = [("resnet50", "Offline"), ("resnet50", "Server"), ("*", "SingleStream"), ("bert", "MultiStream")]


@pytest.mark.loadgen
def test_quirks_agree_with_real_loadgen(tmp_path):
    files = []
    for name, text in QUIRK_FILES.items():
        files.append(write(tmp_path, f"{name}.conf", text))
    # every key LoadGen reads from a file, with values that exercise integer/double/flag conversion
    for index, spec in enumerate(s for s in LOADGEN_KEYS if not s.legacy and not s.mlperf_conf_only):
        for value in TRICKY_VALUES:
            text = f"*.{spec.scenario or '*'}.{spec.key} = {value}\n"
            if spec.requires:
                text += f"*.*.{spec.requires} = 1\n"
            files.append(write(tmp_path, f"key{index}_{spec.key}_{value}.conf", text))
    stats = compare_with_loadgen(files, COMBOS)
    # the set really exercises rejection, application and silence
    assert stats["rejected"] >= 6 * len(COMBOS)
    assert stats["changed"] > 300
    assert stats["unchanged"] >= 1


def random_conf_texts(count: int, seed: int = 20240501) -> list[str]:
    """Deterministic random config files: mostly valid lines, with every kind of near miss mixed in."""
    rng = random.Random(seed)
    models = ["*", "*", "resnet50", "bert", "llama2-70b", "resnet", ""]
    scenarios = ["*", "*", "Offline", "Server", "SingleStream", "MultiStream", "offline", "Interactive", ""]
    keys = sorted({s.key for s in LOADGEN_KEYS}) + [
        "target_qpps",
        "target_duration",
        "performance_sample_count",
    ]
    good_seps = [" = ", "\t=\t", "  =  "]
    bad_seps = ["=", " =", "= ", " = # "]
    bad_values = ["abc", "5#", "#", "# c", "0x", "1e", "5 # c"]
    odd_values = ["1 2", "+5", "-0", "nan", "0x1p4", "99999999999999999999", "1e400"]
    extras = [
        "# comment",
        "#comment",
        "#x y",
        "#*.*.min_duration = 5",
        "",
        "   ",
        "=",
        "a.b",
        "*.*.mode",
        "k # c",
    ]
    texts = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.1:
                lines.append(rng.choice(extras))
                continue
            key = f"{rng.choice(models)}.{rng.choice(scenarios)}.{rng.choice(keys)}"
            sep = rng.choice(bad_seps) if roll < 0.14 else rng.choice(good_seps)
            value = (
                rng.choice(bad_values) if roll > 0.96 else rng.choice(odd_values + list(TRICKY_VALUES) * 2)
            )
            lines.append(key + sep + value)
        texts.append("\n".join(lines) + rng.choice(["\n", "", "\r\n"]))
    return texts


@pytest.mark.loadgen
def test_random_confs_agree_with_real_loadgen(tmp_path):
    files = [write(tmp_path, f"r{i}.conf", text) for i, text in enumerate(random_conf_texts(400))]
    stats = compare_with_loadgen(files, [("resnet50", "Offline"), ("bert", "Server"), ("*", "MultiStream")])
    assert stats["rejected"] > 100 and stats["changed"] > 100


@pytest.mark.loadgen
def test_corpus_confs_agree_with_real_loadgen(corpus):
    files = [path for round_name in ROUNDS for path in conf_files(corpus(round_name))]
    assert len(files) > 800
    stats = compare_with_loadgen(
        files, [("resnet50", "Offline"), ("llama2-70b", "Server"), ("*", "SingleStream")]
    )
    assert stats["changed"] > 1000
