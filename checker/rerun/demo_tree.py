"""Writing a submission tree around real LoadGen output: everything that is not a LoadGen log.

A closed-division result needs more than LoadGen's logs: the system description, the
measurements folder (README, user.conf, mlperf.conf, implementation JSON), the code folder, and
the accuracy report with the hash of the full accuracy log (the published log itself truncated
when the round requires it). This module writes those files for the demo tree; LoadGen's own logs
are copied unchanged.

Files are written into a staging folder that the caller renames into place, so no reader ever sees
a half-written tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from checker.engine.rulepack import RulePack
from checker.rerun.sample_data import score_entries
from checker.rerun.settings import RunSpec

#: The official truncation keeps this many characters from each end around the marker.
TRUNCATE_KEEP_CHARS = 4096
TRUNCATION_MARKER = "\n\n...\n\n"

IMPLEMENTATION = "onnxruntime"


# ------------------------------------------------------------------------------------------------
# System description
# ------------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def system_description(submitter: str, division: str, system_name: str) -> dict[str, Any]:
    """A system description with every field the v1.0-style rounds require, for this host."""
    import mlperf_loadgen
    import onnxruntime

    loadgen = getattr(mlperf_loadgen, "__version__", None) or _loadgen_version()
    return {
        "division": division,
        "submitter": submitter,
        "status": "rdi",
        "system_name": system_name,
        "system_type": "datacenter,edge",
        "number_of_nodes": "1",
        "host_processor_model_name": _cpu_model(),
        "host_processors_per_node": "1",
        "host_processor_core_count": str(os.cpu_count() or 1),
        "host_processor_frequency": "not recorded",
        "host_processor_caches": "not recorded",
        "host_processor_interconnect": "N/A",
        "host_memory_capacity": _memory(),
        "host_memory_configuration": "not recorded",
        "host_storage_capacity": "not recorded",
        "host_storage_type": "not recorded",
        "host_networking": "N/A",
        "host_networking_topology": "N/A",
        "accelerators_per_node": "0",
        "accelerator_model_name": "N/A",
        "accelerator_frequency": "N/A",
        "accelerator_host_interconnect": "N/A",
        "accelerator_interconnect": "N/A",
        "accelerator_interconnect_topology": "N/A",
        "accelerator_memory_capacity": "N/A",
        "accelerator_memory_configuration": "N/A",
        "accelerator_on-chip_memories": "N/A",
        "cooling": "not recorded",
        "framework": f"ONNX Runtime {onnxruntime.__version__} (CPU), mlcommons-loadgen {loadgen}",
        "operating_system": platform.platform(),
        "other_software_stack": f"Python {platform.python_version()}, numpy {np.__version__}",
        "hw_notes": "the machine mlperf-audit demo ran on",
        "sw_notes": "made by mlperf-audit demo: the real LoadGen driving the digits reference model",
    }


def _loadgen_version() -> str:
    try:
        from importlib.metadata import version

        return version("mlcommons-loadgen")
    except Exception:  # noqa: BLE001 - a version string is only informative
        return "unknown"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# Measurements and code
# ------------------------------------------------------------------------------------------------

def mlperf_conf(pack: RulePack, benchmark: str) -> str:
    """The round's mlperf.conf, from the rule pack (so the two can never disagree)."""
    bench = pack.benchmarks[benchmark]
    name = bench.mlperf_conf_name or benchmark
    lines = [f"# mlperf.conf of {pack.title} (rules/{pack.source_file})", "# Seeds of the round"]
    lines += [f"*.*.{key} = {value}" for key, value in pack.seeds.items()]
    lines += [f"*.*.min_duration = {pack.min_duration_ms}"]
    if bench.performance_sample_count:
        lines.append(f"{name}.*.performance_sample_count_override = {bench.performance_sample_count}")
    for scenario, count in bench.min_query_count.items():
        lines.append(f"{name}.{scenario}.min_query_count = {count}")
    for scenario, bound in bench.latency_bounds.items():
        lines.append(f"{name}.{scenario}.target_latency_percentile = {bound.percentile:g}")
        lines.append(f"{name}.{scenario}.target_latency = {bound.ns / 1e6:g}")
    lines.append("*.SingleStream.target_latency_percentile = 90")
    return "\n".join(lines) + "\n"


def user_conf(spec: RunSpec, benchmark: str) -> str:
    """The scenario's settings of the run, in config-file units (ms, qps)."""
    s = spec.scenario
    lines = [f"# Settings of the {s} runs (set on TestSettings by the harness; see README.md)"]
    lines.append(f"{benchmark}.{s}.min_duration = {spec.min_duration_ms}")
    lines.append(f"{benchmark}.{s}.min_query_count = {spec.min_query_count}")
    if s in ("SingleStream", "MultiStream"):
        lines.append(f"{benchmark}.{s}.target_latency = {spec.expected_latency_ns / 1e6:g}")
    if s == "MultiStream":
        lines.append(f"{benchmark}.{s}.samples_per_query = {spec.samples_per_query}")
    if s == "Server":
        lines.append(f"{benchmark}.{s}.target_qps = {spec.target_qps:g}")
        lines.append(f"{benchmark}.{s}.target_latency = {spec.target_latency_ns / 1e6:g}")
    if s == "Offline":
        lines.append(f"{benchmark}.{s}.target_qps = {spec.offline_expected_qps:g}")
    return "\n".join(lines) + "\n"


def measurements_readme(spec: RunSpec, benchmark: str, scenario: str) -> str:
    return (
        f"# {benchmark} {scenario}: how this result was made\n\n"
        "Made by `mlperf-audit demo` (checker/rerun/demo.py): the real LoadGen (mlcommons-loadgen)\n"
        "driving an ONNX Runtime SUT (checker/rerun/runner_child.py) with the digits reference model\n"
        "(reference_runs/digits), each LoadGen test in its own subprocess.\n\n"
        "The settings in user.conf and the round's seeds and minimums in mlperf.conf were set on\n"
        "LoadGen's TestSettings directly (the wheel's compiled-in mlperf.conf carries another round's\n"
        "seeds); the effective values are in each run's mlperf_log_detail.txt.\n\n"
        "To reproduce: `pip install mlperf-audit && mlperf-audit demo`.\n\n"
        f"QSL: {spec.total_sample_count} samples, performance sample count {spec.performance_sample_count}.\n"
    )


def implementation_json() -> dict[str, str]:
    return {
        "input_data_types": "fp32",
        "retraining": "no",
        "starting_weights_filename": "digits_mlp.onnx (reference_runs/digits)",
        "weight_data_types": "fp32",
        "weight_transformations": "none",
    }


def write_measurements(folder: Path, pack: RulePack, benchmark: str, system: str, spec: RunSpec) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(measurements_readme(spec, benchmark, spec.scenario), encoding="utf-8")
    (folder / "user.conf").write_text(user_conf(spec, benchmark), encoding="utf-8")
    (folder / "mlperf.conf").write_text(mlperf_conf(pack, benchmark), encoding="utf-8")
    write_json(folder / f"{system}_{IMPLEMENTATION}_{spec.scenario}.json", implementation_json())


def write_code(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(
        "# digits / onnxruntime\n\n"
        "The implementation is mlperf-audit's LoadGen harness: checker/rerun/runner_child.py (the SUT\n"
        "and QSL), checker/rerun/settings.py (the TestSettings), checker/rerun/harness.py (one\n"
        "subprocess per LoadGen test), with the model and data of reference_runs/digits.\n",
        encoding="utf-8",
    )


# ------------------------------------------------------------------------------------------------
# LoadGen logs and the accuracy report
# ------------------------------------------------------------------------------------------------

def copy_logs(run_dir: Path, target: Path, names: tuple[str, ...]) -> None:
    """Copy LoadGen's files unchanged (the tree's evidence is the logs as LoadGen wrote them)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(run_dir / name, target / name)


def truncate_text(text: str) -> str:
    """First and last 4096 characters around the marker: the published shape of a large log."""
    return text[:TRUNCATE_KEEP_CHARS] + TRUNCATION_MARKER + text[-TRUNCATE_KEEP_CHARS:]


def publish_accuracy(run_dir: Path, target: Path, labels: np.ndarray, max_log_bytes: int | None) -> str:
    """Copy an accuracy run, write accuracy.txt (score + hash of the full log); return its first line.

    The accuracy is computed from the full log before it is truncated; the hash is the SHA-256
    of the full file, which is what ties the truncated published copy to the run.
    """
    copy_logs(run_dir, target, ("mlperf_log_summary.txt", "mlperf_log_detail.txt"))
    raw = (run_dir / "mlperf_log_accuracy.json").read_bytes()
    score = score_entries(json.loads(raw), labels)
    line = score.line()
    (target / "accuracy.txt").write_text(f"{line}\nhash={hashlib.sha256(raw).hexdigest()}\n", encoding="utf-8")
    if max_log_bytes is not None and len(raw) > max_log_bytes:
        published = truncate_text(raw.decode("utf-8")).encode("utf-8")
    else:
        published = raw
    (target / "mlperf_log_accuracy.json").write_bytes(published)
    return line
