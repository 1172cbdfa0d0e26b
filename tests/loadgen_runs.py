"""Fresh real-LoadGen logs for the test suite: the run matrix and minimal log readers.

The readers here are deliberately tiny and independent of ``checker.parse``: these tests check
the harness (what LoadGen was told and what the SUT returned), so they must not share a bug with
the parsers that other tests check against these very logs.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from checker.rerun.harness import RunOutcome, run_many
from checker.rerun.inference import reference_outputs
from checker.rerun.presets import SCENARIOS, fast_spec
from checker.rerun.settings import RunSpec
from checker.rerun.tiny_model import TinyAssets, write_tiny_assets

MODES = ("PerformanceOnly", "AccuracyOnly")
MLLOG_PREFIX = ":::MLLOG "
#: The fixture's runs must finish well within this; a hang is a harness bug, not a slow host.
MATRIX_TIMEOUT_S = 60.0

RunKey = tuple[str, str]


# ------------------------------------------------------------------------------------------------
# Minimal readers
# ------------------------------------------------------------------------------------------------

def read_mllog(path: Path) -> list[dict[str, Any]]:
    """All ``:::MLLOG {json}`` records of a detail log, in file order."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(MLLOG_PREFIX):
                records.append(json.loads(line[len(MLLOG_PREFIX):]))
    return records


def mllog_values(path: Path) -> dict[str, Any]:
    """key -> value of the first record with that key (what the official log parser keeps)."""
    values: dict[str, Any] = {}
    for record in read_mllog(path):
        values.setdefault(record["key"], record["value"])
    return values


def mllog_errors(path: Path) -> list[dict[str, Any]]:
    """Records flagged ``is_error`` (AccuracyOnly logs have no ``num_errors`` key)."""
    return [r for r in read_mllog(path) if r.get("metadata", {}).get("is_error")]


def read_accuracy_log(path: Path) -> list[dict[str, Any]]:
    """The entries of ``mlperf_log_accuracy.json``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def decode_payload(entry: dict[str, Any]) -> np.ndarray:
    """An accuracy-log entry's ``data`` (upper-case hex) as the float32 logits the SUT returned."""
    return np.frombuffer(bytes.fromhex(entry["data"]), dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# The matrix
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadgenLogs(Mapping[RunKey, Path]):
    """(scenario, mode) -> folder of a finished run, plus what produced it.

    ``reference`` holds the model's own float32 logits per sample (row = qsl_idx), computed in the
    parent with a plain ONNX Runtime pass: an honest SUT's accuracy-log payloads equal these rows
    bit for bit.
    """

    folders: dict[RunKey, Path]
    specs: dict[RunKey, RunSpec]
    outcomes: dict[RunKey, RunOutcome]
    assets: TinyAssets
    reference: np.ndarray
    wall_s: float
    retried: list[RunKey] = field(default_factory=list)

    def __getitem__(self, key: RunKey) -> Path:
        return self.folders[key]

    def __iter__(self) -> Iterator[RunKey]:
        return iter(self.folders)

    def __len__(self) -> int:
        return len(self.folders)

    def detail(self, key: RunKey) -> Path:
        return self.specs[key].log_file("detail")

    def summary(self, key: RunKey) -> Path:
        return self.specs[key].log_file("summary")

    def accuracy(self, key: RunKey) -> Path:
        return self.specs[key].log_file("accuracy")


def matrix_specs(assets: TinyAssets, base_dir: Path, **overrides: Any) -> dict[RunKey, RunSpec]:
    """The 4 scenarios x {PerformanceOnly, AccuracyOnly}, slowest first (for parallel packing)."""
    specs: dict[RunKey, RunSpec] = {}
    for mode in MODES:
        for scenario in SCENARIOS:
            specs[(scenario, mode)] = fast_spec(
                scenario,
                mode,
                model_path=assets.model_path,
                samples_path=assets.samples_path,
                output_dir=base_dir / f"{scenario}_{mode}",
                timeout_s=MATRIX_TIMEOUT_S,
                **overrides,
            )
    return specs


def _invalid_performance_runs(specs: dict[RunKey, RunSpec], outcomes: dict[RunKey, RunOutcome]) -> list[RunKey]:
    bad = []
    for key, spec in specs.items():
        outcome = outcomes[key]
        if spec.mode != "PerformanceOnly" or not outcome.ok:
            continue
        if mllog_values(spec.log_file("detail")).get("result_validity") != "VALID":
            bad.append(key)
    return bad


def run_matrix(base_dir: Path, *, jobs: int = 2, retry_invalid: bool = True) -> LoadgenLogs:
    """Run the matrix into ``base_dir`` and compute the reference logits.

    A performance run that comes out INVALID is re-run once (with a warning): the settings are
    calibrated to be VALID, but on a shared 2-core host a long stall of the whole machine can
    still starve a one-second run. A second INVALID result is left for the tests to report.
    """
    started = time.perf_counter()
    assets = write_tiny_assets(base_dir / "assets")
    specs = matrix_specs(assets, base_dir)
    outcomes = dict(zip(specs, run_many(specs.values(), jobs=jobs), strict=True))
    retried: list[RunKey] = []
    if retry_invalid:
        retried = _invalid_performance_runs(specs, outcomes)
        if retried:
            warnings.warn(f"re-running INVALID LoadGen performance runs: {retried}", stacklevel=2)
            redo = run_many([specs[key] for key in retried], jobs=jobs)
            outcomes.update(zip(retried, redo, strict=True))
    reference = reference_outputs(assets.model_path, assets.samples_path)
    return LoadgenLogs(
        folders={key: spec.resolved().output_dir for key, spec in specs.items()},
        specs={key: outcome.spec for key, outcome in outcomes.items()},
        outcomes=outcomes,
        assets=assets,
        reference=reference,
        wall_s=time.perf_counter() - started,
        retried=retried,
    )
