"""Re-running LoadGen: the real ``mlperf_loadgen`` driving an ONNX Runtime SUT in subprocesses.

Public API:

- :class:`~checker.rerun.settings.RunSpec`: one LoadGen test as data (scenario, mode, seeds,
  durations, config files, SUT behaviour, timeout).
- :func:`~checker.rerun.harness.run_loadgen` / :func:`~checker.rerun.harness.run_many`: run
  specs in supervised subprocesses; every failure comes back as a
  :class:`~checker.rerun.harness.RunOutcome`, never as an exception.
- :func:`~checker.rerun.presets.fast_spec`: calibrated short-but-VALID settings per scenario.
- :func:`~checker.rerun.tiny_model.write_tiny_assets`: the reproducible tiny ONNX classifier
  and its data set; :func:`~checker.rerun.inference.reference_outputs` its reference logits.
"""

from checker.rerun.harness import RunOutcome, run_loadgen, run_many
from checker.rerun.presets import FAST_VALID, SCENARIOS, fast_spec
from checker.rerun.settings import SEEDS_V6_0, SEEDS_V6_1, RunSpec
from checker.rerun.tiny_model import TinyAssets, write_tiny_assets

__all__ = [
    "FAST_VALID",
    "SCENARIOS",
    "SEEDS_V6_0",
    "SEEDS_V6_1",
    "RunOutcome",
    "RunSpec",
    "TinyAssets",
    "fast_spec",
    "run_loadgen",
    "run_many",
    "write_tiny_assets",
]
