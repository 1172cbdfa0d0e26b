"""Measurements JSON parser and the measurements-folder scan: every real file and folder, the eras'
naming rules with real examples, empty required files, and broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_cache import ROUNDS

from checker.parse.measurements import (
    MEASUREMENTS_KEYS,
    MeasurementsJson,
    parse_measurements_json,
    scan_measurements_dir,
)


def measurement_jsons(root: Path) -> list[Path]:
    """Every JSON under a measurements/ folder (v0.5-v5.x) and every v6 results/.../measurements.json."""
    found = {p for p in root.glob("*/*/measurements/**/*.json") if p.is_file()}
    found |= {p for p in root.glob("*/*/results/*/*/*/measurements.json") if p.is_file()}
    return sorted(found)


def measurement_dirs(root: Path) -> list[Path]:
    dirs = [d for d in root.glob("*/*/measurements/*/*/*") if d.is_dir()]
    dirs += [p.parent for p in root.glob("*/*/results/*/*/*/measurements.json")]
    return sorted(dirs)


def write(path: Path, data: str | bytes = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


GOOD = json.dumps({k: "x" for k in MEASUREMENTS_KEYS}, indent=2)


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_measurements_json(corpus, round_name):
    root = corpus(round_name)
    files = measurement_jsons(root)
    assert len(files) >= 20
    with_all_five = 0
    for path in files:
        result = parse_measurements_json(path, root=root)
        assert result.kind == "measurements_json"
        assert result.problems == [], (path, result.problems)
        model = result.model
        expected = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(expected, dict):  # no real file is, but the parser must not care
            continue
        assert model.to_plain() == expected
        lines = path.read_text(encoding="utf-8").split("\n")
        for name, item in model.fields().items():
            assert json.dumps(name)[1:-1] in lines[item.line - 1]
        with_all_five += all(model.has(k) for k in MEASUREMENTS_KEYS)
    assert with_all_five >= len(files) // 2


@pytest.mark.parametrize("round_name", ROUNDS)
def test_every_corpus_measurements_dir(corpus, round_name):
    root = corpus(round_name)
    dirs = measurement_dirs(root)
    assert len(dirs) >= 20
    chosen = 0
    for folder in dirs:
        scan = scan_measurements_dir(folder, root=root)
        assert scan.exists and scan.path == folder.relative_to(root).as_posix()
        assert scan.layout == ("results" if round_name == "v6-sample" else "measurements")
        assert set(scan.files) == {p.name for p in folder.iterdir() if p.is_file()}
        if scan.measurements_json is not None:
            chosen += 1
            assert (folder / scan.measurements_json.name).is_file()
            assert scan.measurements_json in scan.json_candidates
        else:
            assert "measurements JSON" in scan.absent
        for name in scan.empty_required:
            assert (folder / name).stat().st_size == 0
    assert chosen >= len(dirs) * 3 // 4


def test_real_selection_rules(corpus):
    v41 = corpus("v4.1") / "open/NVIDIA/measurements/H200-SXM-141GBx1_TRT_Sparse/llama2-70b-99/Offline"
    scan = scan_measurements_dir(v41)
    assert scan.system == "H200-SXM-141GBx1_TRT_Sparse" and scan.scenario == "Offline"
    assert scan.selection == "system_scenario"
    assert scan.measurements_json.name == "H200-SXM-141GBx1_TRT_Sparse_Offline.json"
    assert [f.name for f in scan.calibration_docs] == ["calibration_process.adoc"]
    assert scan.absent == [] and scan.notes == []

    # v1.0 Edgecortix: the Offline folder holds a JSON named for SingleStream, picked by the <sys>*.json fallback
    edge = scan_measurements_dir(
        corpus("v1.0") / "closed/Edgecortix/measurements/edgecortix-DNA_F_SERIES/resnet50/Offline"
    )
    assert edge.selection == "system_only"
    assert edge.measurements_json.name == "edgecortix-DNA_F_SERIES_SingleStream.json"
    assert [n.code for n in edge.notes] == ["json_names_other_scenario"]
    assert edge.empty_required == ["README.md"]

    # v0.7 Deci: the JSON does not start with the system name, so no rule picks it
    deci = scan_measurements_dir(corpus("v0.7") / "open/Deci/measurements/n2-highcpu-16/resnet/Offline")
    assert deci.measurements_json is None and deci.selection is None
    assert [f.name for f in deci.json_candidates] == ["openvino-cpu_reference_Offline.json"]
    assert [n.code for n in deci.notes] == ["no_matching_json"]
    assert deci.empty_required == ["README.md"]

    # v1.0 Xilinx: README.md, user.conf and mlperf.conf are all zero bytes
    xilinx = scan_measurements_dir(
        corpus("v1.0") / "closed/Xilinx/measurements/R7525_Xilinx_VCK5000/resnet50/Server"
    )
    assert xilinx.empty_required == ["README.md", "user.conf", "mlperf.conf"]
    assert xilinx.selection == "system_only" and xilinx.measurements_json.name == "R7525_Xilinx_VCK5000.json"

    # v0.5 Tencent: lower-case folder, user.conf only as user.conf.resnet50, Intel calibration notes
    tencent = scan_measurements_dir(
        corpus("v0.5") / "closed/Tencent/measurements/clx-8255c-4s_pytorch-caffe2/resnet50/offline"
    )
    assert tencent.selection == "system_scenario"
    assert tencent.user_conf is None and [f.name for f in tencent.other_confs] == ["user.conf.resnet50"]
    assert tencent.absent == ["user.conf"]
    assert [f.name for f in tencent.calibration_docs] == ["intel_calibration.adoc"]

    # v4.1 Cisco retinanet Server has a stray Offline sub-folder
    cisco = scan_measurements_dir(
        corpus("v4.1") / "closed/Cisco/measurements/C240M7-1-node-2S-EMR-PyTorch/retinanet/Server"
    )
    assert cisco.subdirs == ["Offline"] and cisco.selection == "system_only"


def test_v6_measurements_json(corpus):
    folder = corpus("v6-sample") / "closed/AMD/results/8xMI300X_2xEPYC_9575F/llama2-70b-99/Interactive"
    scan = scan_measurements_dir(folder)
    assert scan.layout == "results" and scan.selection == "v6_measurements_json"
    assert scan.measurements_json.name == "measurements.json"
    assert {"TEST06", "accuracy", "performance"} <= set(scan.subdirs)
    model = parse_measurements_json(folder / "measurements.json").model
    assert model.weight_data_types.value == "fp8" and model.weight_data_types.line == 5
    assert model.starting_weights_filename.line == 4
    assert model.extra == {} and model.notes is None


def test_real_curly_apostrophe(corpus):
    path = (
        corpus("v0.5")
        / "closed/Tencent/measurements/clx-8255c-4s_pytorch-caffe2/resnet50/offline"
        / "clx-8255c-4s_pytorch-caffe2_pytorch-caffe2_offline.json"
    )
    model = parse_measurements_json(path).model
    assert model.retraining.value == "We don\u2019t retrain the model weight." and model.retraining.line == 3


# --- written folders ------------------------------------------------------------------------------


def test_selection_preferences(tmp_path):
    folder = tmp_path / "measurements" / "sysA" / "resnet50" / "Offline"
    write(folder / "README.md", "# readme")
    write(folder / "user.conf", "*.Offline.target_qps = 1\n")
    write(folder / "sysA.json", GOOD)
    write(folder / "sysA_tf_Offline.json", GOOD)
    write(folder / "other_Offline.json", GOOD)
    scan = scan_measurements_dir(folder, root=tmp_path)
    assert scan.selection == "system_scenario" and scan.measurements_json.name == "sysA_tf_Offline.json"
    assert scan.measurements_json.path == "measurements/sysA/resnet50/Offline/sysA_tf_Offline.json"
    assert scan.absent == ["mlperf.conf"]

    write(folder / "sysA_pt_Offline.json", GOOD)
    scan = scan_measurements_dir(folder)
    assert scan.measurements_json.name == "sysA_pt_Offline.json"
    assert [n.code for n in scan.notes] == ["ambiguous_json"]

    lower = tmp_path / "measurements" / "sysA" / "resnet50" / "offline"
    write(lower / "sysA_tf_Offline.json", GOOD)
    write(lower / "sysA.json", GOOD)
    scan = scan_measurements_dir(lower)
    assert (
        scan.selection == "system_scenario_casefold" and scan.measurements_json.name == "sysA_tf_Offline.json"
    )

    # explicit system/scenario override the folder names
    scan = scan_measurements_dir(lower, system="other", scenario="Offline")
    assert scan.selection is None and [n.code for n in scan.notes] == ["no_matching_json"]


def test_v6_and_legacy_names_together(tmp_path):
    v6 = tmp_path / "results" / "sysB" / "bert-99" / "Server"
    write(v6 / "measurements.json", GOOD)
    write(v6 / "sysB_Server.json", GOOD)
    scan = scan_measurements_dir(v6)
    assert scan.selection == "v6_measurements_json"
    assert [n.code for n in scan.notes] == ["both_naming_schemes"]
    old = tmp_path / "measurements" / "sysB" / "bert-99" / "Server"
    write(old / "measurements.json", GOOD)
    write(old / "sysB_Server.json", GOOD)
    assert scan_measurements_dir(old).measurements_json.name == "sysB_Server.json"
    write(old / "sysB_Server.json", GOOD)
    (old / "sysB_Server.json").unlink()
    assert scan_measurements_dir(old).selection == "v6_measurements_json"  # last resort in the old layout


def test_empty_required_and_missing_dir(tmp_path):
    folder = tmp_path / "measurements" / "s" / "m" / "SingleStream"
    for name in ("README.md", "user.conf", "mlperf.conf", "s_x_SingleStream.json", "calibration.md"):
        write(folder / name, b"")
    scan = scan_measurements_dir(folder)
    assert scan.empty_required == ["README.md", "user.conf", "mlperf.conf", "s_x_SingleStream.json"]
    assert [f.empty for f in scan.calibration_docs] == [True]
    result = parse_measurements_json(folder / "s_x_SingleStream.json")
    assert [(p.code, p.line) for p in result.problems] == [("empty", 1)] and result.model is None

    gone = scan_measurements_dir(tmp_path / "nowhere")
    assert not gone.exists and [n.code for n in gone.notes] == ["missing"]
    assert "README.md" in gone.absent
    not_dir = scan_measurements_dir(folder / "README.md")
    assert not not_dir.exists and [n.code for n in not_dir.notes] == ["not_a_directory"]


# --- broken measurements JSON ---------------------------------------------------------------------


def test_broken_measurements_json(tmp_path):
    result = parse_measurements_json(write(tmp_path / "l.json", '[{"retraining": "no"}]'))
    assert [p.code for p in result.problems] == ["not_an_object"] and result.model is None
    result = parse_measurements_json(write(tmp_path / "t.json", '{\n "retraining": "no",\n "weight_'))
    assert [(p.code, p.line) for p in result.problems] == [("truncated", 3)]
    result = parse_measurements_json(write(tmp_path / "b.json", b"\x00\x01\x02" * 500))
    assert [p.code for p in result.problems] == ["binary"]
    result = parse_measurements_json(write(tmp_path / "u.json", b'{"retraining": "n\xe4"}'))
    assert [p.code for p in result.problems] == ["encoding"] and result.model.retraining.value == "n\ufffd"
    text = '{\n "retraining": "no",\n "Notes": "fine",\n "retraining": "yes",\n "scenario": "Offline"\n}'
    result = parse_measurements_json(write(tmp_path / "d.json", text))
    assert [(p.code, p.line, p.found) for p in result.problems] == [("duplicate_key", 2, "lines 2, 4")]
    model = result.model
    assert isinstance(model, MeasurementsJson)
    assert model.retraining.value == "yes" and model.notes.value == "fine" and model.get("Notes").line == 3
    assert model.unknown_keys() == ["scenario"]
    assert model.is_empty("weight_data_types")
