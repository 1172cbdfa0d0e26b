"""ONNX Runtime helpers shared by the SUT (in the child process) and the reference pass (parent).

Both sides must build the session the same way: the accuracy check in the tests is bit-exact
(max abs diff 0), so the reference logits have to come from the same runtime, provider and
thread settings as the SUT's. Keeping one constructor here is what guarantees that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from checker.rerun.tiny_model import INPUT_NAME


def make_session(model_path: Path | str, *, intra_op_threads: int = 1) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider with a small, fixed thread pool.

    A small intra-op pool matters on a 2-core host: ORT's default (one thread per core, spinning)
    competes with LoadGen's issue and logging threads and with a parallel test, which turns into
    latency jitter and flaky validity. Spinning is disabled for the same reason.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: warnings would land in the child's stderr tail
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


def run_batch(session: Any, batch: np.ndarray) -> np.ndarray:
    """Logits for one batch as a C-contiguous float32 array (rows are handed to LoadGen by address)."""
    output = session.run(None, {INPUT_NAME: batch})[0]
    return np.ascontiguousarray(output, dtype=np.float32)


def reference_outputs(
    model_path: Path | str,
    samples: np.ndarray | Path | str,
    *,
    batch_size: int = 64,
    intra_op_threads: int = 1,
) -> np.ndarray:
    """The model's own float32 logits for every sample, from a plain batched ORT pass (no LoadGen).

    This is what an honest SUT must return; tests compare accuracy-log payloads against it.
    """
    data = np.load(samples) if isinstance(samples, (str, Path)) else samples
    data = np.ascontiguousarray(data, dtype=np.float32)
    session = make_session(model_path, intra_op_threads=intra_op_threads)
    parts = [run_batch(session, data[start:start + batch_size]) for start in range(0, len(data), batch_size)]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0,), np.float32)
